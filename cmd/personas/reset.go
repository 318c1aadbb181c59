package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"personas/accounts"
	"personas/models"
)

// cmdResetPassword prints a single-use password reset link for an existing account: the way
// in for someone locked out when the service sends no mail (PERSONAS_SMTP_URL unset).
func (e *environment) cmdResetPassword(ctx context.Context, args []string) error {
	fs := e.newFlags("admin reset-password", "admin reset-password --email E [--json]")
	email := fs.String("email", "", "email of an existing user")
	asJSON := fs.Bool("json", false, "print {link, expires_at} as JSON")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(e.stderr, "personas admin reset-password: --email is required")
		return errUsage
	}
	a, err := e.load(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	svc := accounts.New(a.store, accounts.Options{PublicURL: a.cfg.PublicURL, Logger: a.logger})
	defer svc.Close(ctx)
	link, expires, err := svc.IssueReset(ctx, *email)
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return errors.New("no user with that email")
		}
		return err
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(map[string]string{"link": link, "expires_at": expires.UTC().Format(time.RFC3339)})
	}
	fmt.Fprintf(e.stdout, "reset link (works once, until %s): %s\n", expires.UTC().Format(time.RFC3339), link)
	return nil
}
