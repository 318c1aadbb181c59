package accounts_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"personas/accounts"
	"personas/models"
)

// startProvider runs a real OpenID Connect provider (mockoidc: discovery, JWKS, token
// endpoint, PKCE) for the test and builds the relying party against it.
func startProvider(t *testing.T, domains ...string) (*mockoidc.MockOIDC, *accounts.OIDC) {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	cfg := m.Config()
	o, err := accounts.NewOIDC(context.Background(), accounts.OIDCConfig{Issuer: cfg.Issuer, ClientID: cfg.ClientID,
		ClientSecret: cfg.ClientSecret, RedirectURL: "https://personas.test/auth/oidc/callback", AllowedDomains: domains})
	if err != nil {
		t.Fatal(err)
	}
	return m, o
}

// authorize plays the browser: it follows AuthURL to the provider, which signs user in and
// redirects to the callback; it returns the callback's code with the verifier and nonce kept.
func authorize(t *testing.T, m *mockoidc.MockOIDC, o *accounts.OIDC, user *mockoidc.MockUser) (code, verifier, nonce string) {
	t.Helper()
	m.QueueUser(user)
	state := accounts.NewState()
	authURL, verifier, nonce := o.AuthURL(state)
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") != nonce || q.Get("state") != state {
		t.Fatalf("authorization URL %s lacks PKCE S256, the nonce or the state", authURL)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("state") != state {
		t.Fatalf("provider answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code"), verifier, nonce
}

// TestOIDCSignIn signs people in through the provider: an invited person (the invitation is
// accepted, no password set), the same person again by the linked identity, an existing
// member (linked by verified address); and refuses an unverified address, a domain outside the
// allowed ones, a person with neither account nor invitation, a wrong nonce, a wrong PKCE
// verifier and a code used twice.
func TestOIDCSignIn(t *testing.T) {
	m, o := startProvider(t, "example.test")
	f := newFixture(t, fixtureOptions{oidc: o})
	ctx := context.Background()
	_, inv := f.invite("new@example.test", models.RoleEditor)
	member := f.member("member@example.test", models.RoleViewer)
	if _, _, err := f.svc.Invite(ctx, f.owner, f.project.ID, "someone@elsewhere.test", models.RoleViewer, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Invite(ctx, f.owner, f.project.ID, "unverified@example.test", models.RoleViewer, 0); err != nil {
		t.Fatal(err)
	}

	signIn := func(user *mockoidc.MockUser) (accounts.SignIn, error) {
		code, verifier, nonce := authorize(t, m, o, user)
		return f.svc.SignInOIDC(ctx, code, verifier, nonce, "desktop")
	}
	in, err := signIn(&mockoidc.MockUser{Subject: "sub-new", Email: "New@example.test", EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.authenticated(in.Session.Secret); !ok || in.User.Email != "new@example.test" {
		t.Fatalf("invited person: %+v, session signs in %v", in.User, ok)
	}
	if r := role(t, f.st, f.project.ID, in.User.ID); r != models.RoleEditor {
		t.Errorf("role %q, want editor (the invitation's)", r)
	}
	if got, _ := f.st.Invitation(ctx, f.project.ID, inv.ID); got.Status != models.InvitationAccepted {
		t.Errorf("invitation %s, want accepted", got.Status)
	}
	if has, _ := f.st.HasPassword(ctx, in.User.ID); has {
		t.Error("single sign-on set a password")
	}
	again, err := signIn(&mockoidc.MockUser{Subject: "sub-new", Email: "new@example.test", EmailVerified: true})
	if err != nil || again.User.ID != in.User.ID {
		t.Errorf("second sign-in: %+v, %v; want the same user", again.User, err)
	}
	mem, err := signIn(&mockoidc.MockUser{Subject: "sub-member", Email: "member@example.test", EmailVerified: true})
	if err != nil || mem.User.ID != member.UserID {
		t.Errorf("existing member: %+v, %v", mem.User, err)
	}
	// The member's account is now linked: another identity with the same address is refused.
	if _, err := signIn(&mockoidc.MockUser{Subject: "sub-impostor", Email: "member@example.test", EmailVerified: true}); !errors.Is(err, models.ErrConflict) {
		t.Errorf("a second identity for a linked account = %v, want ErrConflict", err)
	}

	tests := []struct {
		name string
		user *mockoidc.MockUser
		want error
	}{
		{"unverified email", &mockoidc.MockUser{Subject: "u1", Email: "unverified@example.test"}, accounts.ErrOIDCEmailUnverified},
		{"no email", &mockoidc.MockUser{Subject: "u2", EmailVerified: true}, accounts.ErrOIDCEmailUnverified},
		{"domain not allowed, invited", &mockoidc.MockUser{Subject: "u3", Email: "someone@elsewhere.test", EmailVerified: true}, accounts.ErrOIDCDomain},
		{"lookalike domain", &mockoidc.MockUser{Subject: "u4", Email: "x@example.test.evil", EmailVerified: true}, accounts.ErrOIDCDomain},
		{"unknown person", &mockoidc.MockUser{Subject: "u5", Email: "stranger@example.test", EmailVerified: true}, accounts.ErrOIDCUnknownPerson},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signIn(tt.user)
			if !errors.Is(err, tt.want) {
				t.Fatalf("SignInOIDC = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := f.st.UserByEmail(ctx, "stranger@example.test"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("a refused sign-in created an account (%v)", err)
	}

	user := &mockoidc.MockUser{Subject: "sub-new", Email: "new@example.test", EmailVerified: true}
	code, verifier, _ := authorize(t, m, o, user)
	if _, err := f.svc.SignInOIDC(ctx, code, verifier, accounts.NewState(), "desktop"); !errors.Is(err, accounts.ErrOIDCNonce) {
		t.Errorf("wrong nonce = %v, want ErrOIDCNonce", err)
	}
	code, _, nonce := authorize(t, m, o, user)
	if _, err := f.svc.SignInOIDC(ctx, code, "wrong-verifier-wrong-verifier-wrong-verifier-00", nonce, "desktop"); !errors.Is(err, accounts.ErrOIDCExchange) {
		t.Errorf("wrong PKCE verifier = %v, want ErrOIDCExchange", err)
	}
	code, verifier, nonce = authorize(t, m, o, user)
	if _, err := f.svc.SignInOIDC(ctx, code, verifier, nonce, "desktop"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SignInOIDC(ctx, code, verifier, nonce, "desktop"); !errors.Is(err, accounts.ErrOIDCExchange) {
		t.Errorf("a code used twice = %v, want ErrOIDCExchange", err)
	}
	f.checkAuditClean("sub-new", "sub-member")
}
