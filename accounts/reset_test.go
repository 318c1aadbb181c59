package accounts_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"personas/accounts"
	"personas/models"
)

// TestResetMailedCompletedEndsSessions asks for a reset by mail, completes it, and checks that
// every session ended, no token was revoked (they are returned for review), the new password
// signs in, and a second link asked before it died.
func TestResetMailedCompletedEndsSessions(t *testing.T) {
	f := newFixture(t, fixtureOptions{mail: true, resetMin: 20 * time.Millisecond})
	ctx := context.Background()
	m := f.member("jane@example.test", models.RoleViewer)
	se, err := f.st.CreateSession(ctx, m.UserID)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.st.CreateToken(ctx, m.UserID, "ci", 30)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the second within a minute of the first: no mail
		if err := f.svc.RequestReset(ctx, "Jane@example.test"); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(40 * time.Second)
	}
	msgs := f.smtp.Wait(t, 2, 10*time.Second)
	var tokens []string
	for _, msg := range msgs {
		text, err := msg.Part("text/plain")
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tokenOf(t, text, "/reset-password/"))
	}
	ts, err := f.svc.CompleteReset(ctx, tokens[1], "a brand new passphrase of mine")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].ID != tok.ID || ts[0].RevokedAt != nil {
		t.Errorf("CompleteReset returned tokens %+v, want the one token, not revoked", ts)
	}
	if _, err := f.st.AuthenticateToken(ctx, tokSecret(t, f, m)); err != nil {
		t.Errorf("the API token stopped working: %v", err)
	}
	if _, ok := f.authenticated(se.Secret); ok {
		t.Error("a session from before the reset still signs in")
	}
	if _, err := f.st.Authenticate(ctx, "jane@example.test", "a brand new passphrase of mine"); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if _, err := f.svc.CompleteReset(ctx, tokens[0], "yet another passphrase here"); !errors.Is(err, accounts.ErrResetUsed) {
		t.Errorf("the other open link = %v, want ErrResetUsed (a reset kills every link)", err)
	}
	got := f.actions()
	f.svc.Close(ctx)
	if n := len(f.smtp.Messages()); n != 2 {
		t.Errorf("%d reset mails for three requests within 80 s, want 2 (at most one a minute)", n)
	}
	if got["password.reset_request"] != 2 || got["password.reset_request_throttled"] != 1 || got["password.reset_complete"] != 1 {
		t.Errorf("audit actions %v", got)
	}
	f.checkAuditClean(tokens[0], tokens[1], "a brand new passphrase")
}

// tokSecret mints a fresh token for m to check tokens keep working (the secret of the first
// one is not kept by CreateToken's caller above).
func tokSecret(t *testing.T, f *fixture, m models.Principal) string {
	t.Helper()
	_, secret, err := f.st.CreateToken(context.Background(), m.UserID, "probe", 1)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestResetHostileLinks is the table of reset links that must not change a password.
func TestResetHostileLinks(t *testing.T) {
	f := newFixture(t, fixtureOptions{resetMin: time.Millisecond})
	ctx := context.Background()
	f.member("jane@example.test", models.RoleViewer)
	issue := func() string {
		link, expires, err := f.svc.IssueReset(ctx, "jane@example.test")
		if err != nil {
			t.Fatal(err)
		}
		if d := expires.Sub(f.clock.Now()); d != time.Hour {
			t.Errorf("a reset link lasts %v, want 1 h", d)
		}
		return tokenOf(t, link, "/reset-password/")
	}
	used := issue()
	if _, err := f.svc.CompleteReset(ctx, used, "first new passphrase here"); err != nil {
		t.Fatal(err)
	}
	expired := issue()
	f.clock.Add(time.Hour)
	tests := []struct {
		name, token string
		want        error
	}{
		{"used twice", used, accounts.ErrResetUsed},
		{"expired", expired, accounts.ErrResetExpired},
		{"forged", "rst_" + strings.Repeat("B", 43), accounts.ErrResetUnknown},
		{"an invitation token", "inv_" + strings.Repeat("B", 43), accounts.ErrResetUnknown},
		{"huge", strings.Repeat("r", 5000), accounts.ErrResetUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.CompleteReset(ctx, tt.token, "second new passphrase here")
			if !errors.Is(err, tt.want) {
				t.Fatalf("CompleteReset = %v, want %v", err, tt.want)
			}
			for _, other := range []error{accounts.ErrResetUsed, accounts.ErrResetExpired, accounts.ErrResetUnknown} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("%v is also %v", err, other)
				}
			}
		})
	}
	if _, err := f.st.Authenticate(ctx, "jane@example.test", "first new passphrase here"); err != nil {
		t.Errorf("a refused link changed the password: %v", err)
	}
	weak := issue()
	if _, err := f.svc.CompleteReset(ctx, weak, "password12"); !errors.As(err, new(*models.ValidationError)) {
		t.Errorf("a weak password = %v, want a validation error", err)
	}
	if _, err := f.svc.CompleteReset(ctx, weak, "third new passphrase here"); err != nil {
		t.Errorf("the link died on a refused password: %v", err)
	}
	if _, _, err := f.svc.IssueReset(ctx, "nobody@example.test"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("IssueReset for an unknown address = %v, want ErrNotFound", err)
	}
}

// TestRequestResetTellsNothing checks that "forgot password" answers the same for an address
// with an account and one without, in the same time: medians over interleaved tries, compared
// with each other (a relative bound with a generous margin), never with an absolute speed.
func TestRequestResetTellsNothing(t *testing.T) {
	const minimum = 60 * time.Millisecond
	f := newFixture(t, fixtureOptions{mail: true, resetMin: minimum})
	ctx := context.Background()
	f.member("jane@example.test", models.RoleViewer)
	const tries = 9
	var known, unknown []time.Duration
	for i := range 2 * tries {
		email := "jane@example.test"
		if i%2 == 1 {
			email = "nobody@example.test"
		}
		f.clock.Add(resetSpacing)
		start := time.Now()
		err := f.svc.RequestReset(ctx, email)
		d := time.Since(start)
		if err != nil {
			t.Fatalf("RequestReset(%s) = %v, want nil for every address", email, err)
		}
		if i%2 == 0 {
			known = append(known, d)
		} else {
			unknown = append(unknown, d)
		}
	}
	mk, mu := median(known), median(unknown)
	t.Logf("median answer: %v with an account, %v without (%d tries each)", mk, mu, tries)
	if mk < minimum || mu < minimum {
		t.Errorf("medians %v (account) and %v (none): both must wait at least %v", mk, mu, minimum)
	}
	ratio := float64(mk) / float64(mu)
	if ratio < 0.75 || ratio > 1.33 {
		t.Errorf("median %v with an account, %v without (ratio %.2f): the timing tells them apart", mk, mu, ratio)
	}
	f.svc.Close(ctx) // waits for every delivery in flight
	if n := len(f.smtp.Messages()); n != tries {
		t.Errorf("%d mails, want %d: one per request for the real account, none for the other", n, tries)
	}
}

// resetSpacing moves the clock past the one-mail-a-minute limit between tries.
const resetSpacing = accounts.ResetMailInterval + time.Second

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
