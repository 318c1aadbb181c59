package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"personas/accounts"
	"personas/internal/testenv"
	"personas/models"
)

// TestResetPasswordPrintsALink issues a reset link from the command line, completes it through
// the accounts domain, and checks the new password signs in, the old one no longer does, and
// an unknown address or a missing --email fails.
func TestResetPasswordPrintsALink(t *testing.T) {
	e := testenv.New(t)
	env := cliEnv(t, e)
	env["PERSONAS_PUBLIC_URL"] = "https://personas.example"
	mustCLI(t, env, bootstrapPassword+"\n", bootstrapArgs()...)
	out := decodeKeys(t, mustCLI(t, env, "", "admin", "reset-password", "--email", "admin@cli.example", "--json"), "link", "expires_at")
	token, ok := strings.CutPrefix(out["link"], "https://personas.example/reset-password/")
	if !ok || !strings.HasPrefix(token, models.ResetPrefix) {
		t.Fatalf("link %q, want a reset link under PERSONAS_PUBLIC_URL", out["link"])
	}
	expires, err := time.Parse(time.RFC3339, out["expires_at"])
	if err != nil || time.Until(expires) < 59*time.Minute || time.Until(expires) > 61*time.Minute {
		t.Errorf("expires_at %q, want about an hour from now", out["expires_at"])
	}
	ctx := context.Background()
	svc := accounts.New(e.Store, accounts.Options{PublicURL: "https://personas.example"})
	defer svc.Close(ctx)
	if _, err := svc.CompleteReset(ctx, token, "a new passphrase for the admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Authenticate(ctx, "admin@cli.example", "a new passphrase for the admin"); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if _, err := e.Store.Authenticate(ctx, "admin@cli.example", bootstrapPassword); !errors.Is(err, models.ErrUnauthenticated) {
		t.Errorf("the old password still signs in (%v)", err)
	}
	human := mustCLI(t, env, "", "admin", "reset-password", "--email", "admin@cli.example")
	if !strings.Contains(human, "https://personas.example/reset-password/rst_") {
		t.Errorf("output %q holds no link", human)
	}
	if _, err := runCLI(t, env, "", "admin", "reset-password", "--email", "nobody@cli.example"); err == nil {
		t.Error("reset-password for an unknown email succeeded")
	}
	if _, err := runCLI(t, env, "", "admin", "reset-password"); !errors.Is(err, errUsage) {
		t.Errorf("reset-password without --email = %v, want a usage error", err)
	}
}
