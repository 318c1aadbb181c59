package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/pquerna/otp/totp"

	"personas/accounts"
	"personas/internal/testserver"
	"personas/models"
)

// TestTeamsLinkErrors: reused, expired, withdrawn and forged invitation and reset links each
// get their status and a plain sentence (no "not found:" prefix), on pages that send no
// referrer.
func TestTeamsLinkErrors(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	ctx := context.Background()
	owner := srv.NewAccount(t, "owner@links.example", false)
	actor := models.Principal{UserID: owner.UserID}
	invite := func(email string) string {
		t.Helper()
		link, _, err := srv.Accounts.Invite(ctx, actor, owner.ProjectID, email, models.RoleViewer, 0)
		if err != nil {
			t.Fatal(err)
		}
		return link[strings.LastIndex(link, "/")+1:]
	}
	accept := func(token string) testserver.Response {
		return srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/invitations/accept", Body: map[string]string{"token": token, "password": strongPassword}})
	}
	used := invite("used@links.example")
	if r := accept(used); r.Status != 200 {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	expired := invite("expired@links.example")
	if _, err := srv.Pool.Exec(ctx, `UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE project_id = $1 AND accepted_at IS NULL`, owner.ProjectID); err != nil {
		t.Fatal(err)
	}
	revoked := invite("revoked@links.example")
	invs, err := srv.Accounts.List(ctx, actor, owner.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range invs {
		if inv.Status == models.InvitationPending {
			if _, err := srv.Accounts.Revoke(ctx, actor, owner.ProjectID, inv.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	resetLink := func() string {
		t.Helper()
		link, _, err := srv.Accounts.IssueReset(ctx, owner.Email)
		if err != nil {
			t.Fatal(err)
		}
		return link[strings.LastIndex(link, "/")+1:]
	}
	complete := func(token string) testserver.Response {
		return srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/password-resets/complete", Body: map[string]string{"token": token, "password": strongPassword}})
	}
	rUsed := resetLink()
	if r := complete(rUsed); r.Status != 200 {
		t.Fatalf("complete reset: %d %s", r.Status, r.Body)
	}
	rExpired := resetLink()
	if _, err := srv.Pool.Exec(ctx, `UPDATE password_resets SET expires_at = now() - interval '1 minute'`); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		call   func(string) testserver.Response
		token  string
		status int
		code   string
		msg    string
	}{
		{"reused invitation", accept, used, 409, "link_used", "this invitation was already accepted"},
		{"expired invitation", accept, expired, 410, "link_expired", "this invitation has expired: ask for a new one"},
		{"withdrawn invitation", accept, revoked, 410, "link_revoked", "this invitation was withdrawn"},
		{"forged invitation", accept, models.InvitationPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 404, "link_invalid", "this invitation link is not valid"},
		{"empty invitation", accept, "", 404, "link_invalid", "this invitation link is not valid"},
		{"reused reset", complete, rUsed, 409, "link_used", "this password reset link was already used"},
		{"expired reset", complete, rExpired, 410, "link_expired", "this password reset link has expired: ask for a new one"},
		{"forged reset", complete, models.ResetPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 404, "link_invalid", "this password reset link is not valid"},
		{"invitation token as a reset", complete, revoked, 404, "link_invalid", "this password reset link is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.call(tt.token)
			e := errOf(t, r)
			if r.Status != tt.status || e.Error.Code != tt.code || e.Error.Message != tt.msg {
				t.Fatalf("status %d %s, want %d %s %q", r.Status, r.Body, tt.status, tt.code, tt.msg)
			}
			if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy %q", got)
			}
		})
	}
}

// TestTeamsForgotPasswordSameAnswer: a known and an unknown address get the same status and
// the same body.
func TestTeamsForgotPasswordSameAnswer(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true, Accounts: accounts.Options{ResetMinDuration: 50 * time.Millisecond}})
	owner := srv.NewAccount(t, "known@forgot.example", false)
	known := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/password-resets", Body: map[string]string{"email": owner.Email}})
	unknown := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/password-resets", Body: map[string]string{"email": "nobody@forgot.example"}})
	if known.Status != http.StatusAccepted || unknown.Status != known.Status || string(known.Body) != string(unknown.Body) {
		t.Fatalf("known %d %s, unknown %d %s: the answers must be the same", known.Status, known.Body, unknown.Status, unknown.Body)
	}
}

// TestTeamsTwoFactorHTTP: set-up with a code computed from the secret, then sign-in asks for
// the code; a code replayed within its window is refused; every new form refuses missing and
// wrong CSRF tokens and cross-site origins; an owner requiring two-factor sign-in sends a
// member without it to the set-up.
func TestTeamsTwoFactorHTTP(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	ctx := context.Background()
	owner := srv.NewAccount(t, "owner@twofactor.example", false)
	_, viewerTok := srv.Member(t, owner.ProjectID, "viewer@twofactor.example", models.RoleViewer)
	// The owner's password is set through a reset link, so the test knows it.
	link, _, err := srv.Accounts.IssueReset(ctx, owner.Email)
	if err != nil {
		t.Fatal(err)
	}
	if r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/password-resets/complete",
		Body: map[string]string{"token": link[strings.LastIndex(link, "/")+1:], "password": strongPassword}}); r.Status != 200 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}

	b := newCookieClient(t, srv)
	for range 2 { // two wrong passwords: one counted audit entry, not two
		if st, _ := newCookieClient(t, srv).signIn(owner.Email, "not-the-password-at-all"); st != 401 {
			t.Fatalf("wrong password: %d", st)
		}
	}
	var fails int
	var count string
	if err := srv.Pool.QueryRow(ctx, `SELECT count(*), max(details->>'count') FROM audit_log WHERE action = 'signin.fail' AND target = $1`,
		owner.UserID.String()).Scan(&fails, &count); err != nil || fails != 1 || count != "2" {
		t.Fatalf("failed sign-ins in the audit log: %d entries, count %q, err %v; want one entry counting 2", fails, count, err)
	}
	status, csrf := b.signIn(owner.Email, strongPassword)
	if status != 200 || csrf == "" {
		t.Fatalf("sign-in: %d", status)
	}
	// CSRF on the new forms: a missing or wrong token, or another site's origin, is refused.
	for _, h := range []map[string]string{nil, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}} {
		for _, path := range []string{"/v1/me/two-factor", "/v1/me/two-factor/confirm", "/v1/me/two-factor/recovery-codes"} {
			if r := b.do("POST", path, map[string]string{"code": "000000"}, h); r.Status != 403 || errOf(t, r).Error.Code != "csrf" {
				t.Fatalf("POST %s with %v: %d %s, want 403 csrf", path, h, r.Status, r.Body)
			}
		}
		if r := b.do("DELETE", "/v1/me/two-factor", map[string]string{"code": "000000"}, h); r.Status != 403 {
			t.Fatalf("DELETE two-factor with %v: %d", h, r.Status)
		}
	}
	for _, path := range []string{"/v1/invitations/accept", "/v1/password-resets/complete", "/v1/login/second-factor"} {
		if r := b.do("POST", path, map[string]string{}, map[string]string{"Origin": "https://evil.example"}); r.Status != 403 || errOf(t, r).Error.Code != "csrf" {
			t.Fatalf("cross-site POST %s: %d %s", path, r.Status, r.Body)
		}
	}

	ok := map[string]string{"X-CSRF-Token": csrf}
	r := b.do("POST", "/v1/me/two-factor", nil, ok)
	var setup accounts.TOTPSetup
	r.JSON(t, &setup)
	if r.Status != 200 || setup.Secret == "" || !strings.HasPrefix(setup.URL, "otpauth://totp/") || !strings.HasPrefix(setup.QRSVG, "<svg") {
		t.Fatalf("begin: %d %s", r.Status, r.Body)
	}
	now := time.Now()
	code, err := totp.GenerateCode(setup.Secret, now)
	if err != nil {
		t.Fatal(err)
	}
	r = b.do("POST", "/v1/me/two-factor/confirm", map[string]string{"code": code}, ok)
	var rc struct {
		Codes []string `json:"recovery_codes"`
	}
	r.JSON(t, &rc)
	if r.Status != 200 || len(rc.Codes) != accounts.RecoveryCodes {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}

	// Sign-in now asks for the code; the one just used is refused, the next one opens the session.
	b2 := newCookieClient(t, srv)
	r = b2.do("POST", "/v1/session", map[string]string{"email": owner.Email, "password": strongPassword}, nil)
	if r.Status != http.StatusAccepted || !strings.Contains(string(r.Body), `"second_factor_required":true`) {
		t.Fatalf("sign-in of a two-factor user: %d %s", r.Status, r.Body)
	}
	if r := b2.do("GET", "/v1/me", nil, nil); r.Status != 401 {
		t.Fatalf("a pending sign-in authenticates: %d", r.Status)
	}
	r = b2.do("POST", "/v1/login/second-factor", map[string]string{"code": code}, nil)
	if e := errOf(t, r); r.Status != 401 || e.Error.Code != "code_replayed" {
		t.Fatalf("replayed code: %d %s", r.Status, r.Body)
	}
	if r := b2.do("POST", "/v1/login/second-factor", map[string]string{"code": "123456"}, nil); r.Status != 401 {
		t.Fatalf("wrong code: %d %s", r.Status, r.Body)
	}
	next, err := totp.GenerateCode(setup.Secret, now.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r = b2.do("POST", "/v1/login/second-factor", map[string]string{"code": next}, nil)
	var in struct {
		CSRF string `json:"csrf_token"`
	}
	r.JSON(t, &in)
	if r.Status != 200 || in.CSRF == "" {
		t.Fatalf("second factor: %d %s", r.Status, r.Body)
	}
	r = b2.do("GET", "/v1/me/sessions", nil, nil)
	var ss struct {
		Sessions []models.UserSession `json:"sessions"`
	}
	r.JSON(t, &ss)
	current := 0
	for _, s := range ss.Sessions {
		if s.Current {
			current++
			if !s.TwoFactorOK {
				t.Errorf("the session opened with a code is not marked two-factor: %+v", s)
			}
		}
	}
	if r.Status != 200 || len(ss.Sessions) != 2 || current != 1 {
		t.Fatalf("sessions: %d %s", r.Status, r.Body)
	}

	// The owner requires two-factor sign-in: the viewer, who has none, is sent to set it up.
	p := "/v1/projects/" + owner.ProjectID.String()
	if r := srv.Do(t, testserver.Request{Method: "PUT", Path: p + "/two-factor", Token: viewerTok, Body: map[string]bool{"required": true}}); r.Status != 403 {
		t.Fatalf("viewer requires two-factor: %d", r.Status)
	}
	if r := srv.Do(t, testserver.Request{Method: "PUT", Path: p + "/two-factor", Token: owner.Token, Body: map[string]bool{"required": true}}); r.Status != 200 {
		t.Fatalf("owner requires two-factor: %d %s", r.Status, r.Body)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: viewerTok})
	if e := errOf(t, r); r.Status != 403 || e.Error.Code != "two_factor_setup_required" {
		t.Fatalf("viewer without two-factor opens the project: %d %s", r.Status, r.Body)
	}
	// The owner's first session predates the set-up: it must sign in again with the code.
	r = b.do("GET", p, nil, nil)
	if e := errOf(t, r); r.Status != 403 || e.Error.Code != "two_factor_required" {
		t.Fatalf("session without the code opens the project: %d %s", r.Status, r.Body)
	}
	if r := b2.do("GET", p, nil, nil); r.Status != 200 {
		t.Fatalf("session with the code: %d %s", r.Status, r.Body)
	}

	// Audit: the set-up, the sign-in with the code and the requirement, by ids only.
	rows, err := srv.Pool.Query(ctx, `SELECT action, target, coalesce(details::text, '') FROM audit_log
		WHERE action IN ('two_factor.enable', 'project.require_two_factor', 'signin') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for rows.Next() {
		var action, target, details string
		if err := rows.Scan(&action, &target, &details); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(target+details, "@") || strings.Contains(details, setup.Secret) {
			t.Errorf("audit %s holds an address or the secret: %s %s", action, target, details)
		}
		seen = append(seen, action+" "+details)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	want := []string{`signin {"method": "password", "two_factor": false}`, `two_factor.enable {}`, `signin {"two_factor": true}`,
		`project.require_two_factor {"on": true}`}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("audit entries %q, want %q", seen, want)
	}
}

// TestTeamsOIDCHTTP: single sign-on against mockoidc running in the test: a wrong state is
// refused; the invited person is signed in through the provider.
func TestTeamsOIDCHTTP(t *testing.T) {
	t.Parallel()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	cfg := m.Config()
	srv := testserver.New(t, testserver.Options{NoWorker: true, OIDC: func(publicURL string) *accounts.OIDC {
		o, err := accounts.NewOIDC(context.Background(), accounts.OIDCConfig{Issuer: cfg.Issuer, ClientID: cfg.ClientID,
			ClientSecret: cfg.ClientSecret, RedirectURL: publicURL + "/auth/oidc/callback"})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}})
	owner := srv.NewAccount(t, "owner@sso.example", false)
	if _, _, err := srv.Accounts.Invite(context.Background(), models.Principal{UserID: owner.UserID}, owner.ProjectID, "new@sso.example", models.RoleEditor, 0); err != nil {
		t.Fatal(err)
	}

	start := func(b *cookieClient) *url.URL {
		t.Helper()
		r := b.do("GET", "/auth/oidc/start", nil, nil)
		u, err := url.Parse(r.Header.Get("Location"))
		if r.Status != http.StatusSeeOther || err != nil || !strings.HasPrefix(u.String(), cfg.Issuer) {
			t.Fatalf("start: %d to %q", r.Status, r.Header.Get("Location"))
		}
		return u
	}
	// The provider's answer: it signs the queued user in and redirects to the callback.
	provider := func(authURL *url.URL, user *mockoidc.MockUser) url.Values {
		t.Helper()
		m.QueueUser(user)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(authURL.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("provider: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query()
	}

	b := newCookieClient(t, srv)
	q := provider(start(b), &mockoidc.MockUser{Subject: "sub-new", Email: "new@sso.example", EmailVerified: true})
	r := b.do("GET", "/auth/oidc/callback?state=forged&code="+url.QueryEscape(q.Get("code")), nil, nil)
	if e := errOf(t, r); r.Status != 403 || e.Error.Code != "sso_state" {
		t.Fatalf("wrong state: %d %s", r.Status, r.Body)
	}
	// The state cookie is spent by the refused answer: even the right state fails now.
	r = b.do("GET", "/auth/oidc/callback?state="+url.QueryEscape(q.Get("state"))+"&code="+url.QueryEscape(q.Get("code")), nil, nil)
	if r.Status != 403 {
		t.Fatalf("callback after a refused one: %d %s", r.Status, r.Body)
	}

	b = newCookieClient(t, srv)
	q = provider(start(b), &mockoidc.MockUser{Subject: "sub-new", Email: "new@sso.example", EmailVerified: true})
	r = b.do("GET", "/auth/oidc/callback?state="+url.QueryEscape(q.Get("state"))+"&code="+url.QueryEscape(q.Get("code")), nil, nil)
	if r.Status != 200 || r.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(string(r.Body), `url=/"`) {
		t.Fatalf("callback: %d %s", r.Status, r.Body)
	}
	r = b.do("GET", "/v1/projects/"+owner.ProjectID.String(), nil, nil)
	var p models.Project
	r.JSON(t, &p)
	if r.Status != 200 || p.Role != models.RoleEditor {
		t.Fatalf("the invited person signed in by single sign-on opens the project: %d %s", r.Status, r.Body)
	}
}

// TestTeamsPasswordChange: the new password passes the policy, and the answer lists the API
// tokens for review (none is revoked).
func TestTeamsPasswordChange(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@change.example", false)
	change := func(next string) testserver.Response {
		return srv.Do(t, testserver.Request{Method: "PUT", Path: "/v1/me/password", Token: owner.Token,
			Body: map[string]string{"current_password": sessionPassword, "new_password": next}})
	}
	for _, weak := range []string{"password1234", "owner@change.example1", "aaaaaaaaaaaa"} {
		r := change(weak)
		var e struct {
			Error struct {
				Field string `json:"field"`
			} `json:"error"`
		}
		r.JSON(t, &e)
		if r.Status != 400 || e.Error.Field != "password" {
			t.Fatalf("weak password %q: %d %s", weak, r.Status, r.Body)
		}
	}
	r := change(strongPassword)
	var body struct {
		SessionsEnded int64          `json:"sessions_ended"`
		Tokens        []models.Token `json:"tokens"`
	}
	r.JSON(t, &body)
	if r.Status != 200 || len(body.Tokens) != 1 {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	if r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/me", Token: owner.Token}); r.Status != 200 {
		t.Fatalf("the token stopped working with the password change: %d", r.Status)
	}
}

// TestTeamsDashboardFormsCSRF: every new dashboard form refuses a post without the session's
// CSRF token, with a wrong one, or from another site; the public ones refuse another site.
func TestTeamsDashboardFormsCSRF(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@forms.example", false)
	inv, _, err := srv.Store.CreateInvitation(context.Background(), models.NewInvitation{ProjectID: owner.ProjectID,
		Email: "invited@forms.example", Role: models.RoleViewer, CreatedBy: owner.UserID})
	if err != nil {
		t.Fatal(err)
	}
	b := newCookieClient(t, srv)
	if status, csrf := b.signIn(owner.Email, sessionPassword); status != 200 || csrf == "" {
		t.Fatalf("sign-in: %d", status)
	}
	post := func(path, form string, header map[string]string) int {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+path, strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	p := "/projects/" + owner.ProjectID.String()
	signedIn := []string{"/security/two-factor", "/security/two-factor/confirm", "/security/sessions/" + inv.ID.String() + "/revoke",
		"/security/tokens/" + inv.ID.String() + "/revoke", p + "/settings/two-factor", p + "/invitations/" + inv.ID.String() + "/resend",
		p + "/invitations/" + inv.ID.String() + "/revoke", p + "/members"}
	for _, path := range signedIn {
		for name, form := range map[string]string{"no token": "code=1&required=on&email=x%40forms.example&role=viewer",
			"wrong token": "csrf_token=wrong&code=1&required=on&email=x%40forms.example&role=viewer"} {
			if st := post(path, form, nil); st != http.StatusForbidden {
				t.Errorf("POST %s with %s: %d, want 403", path, name, st)
			}
		}
	}
	for _, path := range []string{"/accept-invitation", "/reset-password", "/forgot-password", "/login/code"} {
		if st := post(path, "token=x&password=y&email=z&code=1", map[string]string{"Origin": "https://evil.example"}); st != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, st)
		}
		if st := post(path, "token=x&password=y&email=z&code=1", map[string]string{"Sec-Fetch-Site": "cross-site"}); st != http.StatusForbidden {
			t.Errorf("cross-site (Sec-Fetch-Site) POST %s: %d, want 403", path, st)
		}
	}
	// Nothing changed: the invitation is still open.
	got, err := srv.Store.Invitation(context.Background(), owner.ProjectID, inv.ID)
	if err != nil || got.Status != models.InvitationPending || got.Resent != 0 {
		t.Fatalf("invitation after refused forms: %+v %v", got, err)
	}
}
