package api_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/pquerna/otp/totp"

	"personas/accounts"
	"personas/internal/smtptest"
	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/mail"
	"personas/models"
)

var (
	inviteLinkRe = regexp.MustCompile(`https?://[^\s"<>]+/accept-invitation/[A-Za-z0-9_-]+`)
	resetLinkRe  = regexp.MustCompile(`https?://[^\s"<>]+/reset-password/[A-Za-z0-9_-]+`)
)

func mailedLink(t *testing.T, m smtptest.Message, re *regexp.Regexp) string {
	t.Helper()
	text, err := m.Part("text/plain")
	if err != nil {
		t.Fatal(err)
	}
	link := re.FindString(text)
	if link == "" {
		t.Fatalf("no link in the mail: %s", text)
	}
	return link
}

// TestTeamsBrowserFlows drives Chromium through the teams flows on a test server that mails
// through a real SMTP server: an invitation opened from its mail sets a password (its strength
// shown) and signs in as viewer; forgot password mails a link that sets a new one and ends the
// other session; two-factor set-up with a code computed from the secret, after which sign-in
// asks for the code; the owner requiring two-factor sign-in sends a member without it to the
// set-up; the Security page lists the sessions and signs out everywhere.
func TestTeamsBrowserFlows(t *testing.T) {
	t.Parallel()
	smtp := smtptest.New(t, smtptest.Options{})
	m, err := mail.New(smtp.URL(), "Personas <noreply@personas.test>", mail.WithRootCAs(smtp.RootCAs))
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.New(t, testserver.Options{NoWorker: true, Accounts: accounts.Options{Mailer: m, ResetMinDuration: 50 * time.Millisecond}})
	ctx := context.Background()
	owner := srv.NewAccount(t, "owner@browser.example", false)
	pid := owner.ProjectID.String()
	const email = "new@browser.example"
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + pid + "/invitations", Token: owner.Token,
		Body: map[string]string{"email": email, "role": "viewer"}})
	if r.Status != 201 || regexp.MustCompile(`"link"`).Match(r.Body) {
		t.Fatalf("invite: %d %s (a mailed invitation has no link in the answer)", r.Status, r.Body)
	}
	msgs := smtp.Wait(t, 1, 10*time.Second)
	link := mailedLink(t, msgs[0], inviteLinkRe)

	b := testenv.Browser(t)
	first := testenv.Tab(t, b)
	testenv.Do(t, first, chromedp.Navigate(link))
	testenv.WaitAcross(t, first, `document.getElementById("password") !== null`)
	testenv.Do(t, first, chromedp.SendKeys(chromedp.ID("password"), "password1"))
	testenv.WaitAcross(t, first, `document.getElementById("strength").dataset.ok === "no"`)
	testenv.Eval[bool](t, first, `(document.getElementById("password").value = "") === ""`)
	testenv.Do(t, first, chromedp.SendKeys(chromedp.ID("password"), strongPassword))
	testenv.WaitAcross(t, first, `document.getElementById("strength").dataset.ok === "yes"`)
	testenv.Do(t, first, chromedp.Click(chromedp.ID("submit-password")))
	testenv.WaitAcross(t, first, `location.pathname === "/" && document.readyState === "complete"`)
	role := testenv.Eval[string](t, first, `fetch("/v1/projects/`+pid+`").then(r => r.json()).then(j => j.role)`)
	if role != "viewer" {
		t.Fatalf("after accepting, the project's role is %q, want viewer", role)
	}

	// Forgot password in a second browser: the mail's link sets a new password and the first
	// browser's session ends.
	second := testenv.Tab(t, b)
	testenv.Do(t, second, chromedp.Navigate(srv.URL+"/login"), chromedp.Click(chromedp.ID("forgot-link")))
	testenv.WaitAcross(t, second, `document.getElementById("email") !== null && location.pathname === "/forgot-password"`)
	testenv.Do(t, second, chromedp.SendKeys(chromedp.ID("email"), email), chromedp.Click(chromedp.ID("send-link")))
	testenv.WaitAcross(t, second, `document.getElementById("forgot-sent") !== null`)
	msgs = smtp.Wait(t, 2, 10*time.Second)
	reset := mailedLink(t, msgs[1], resetLinkRe)
	const newPassword = "another long passphrase 9"
	testenv.Do(t, second, chromedp.Navigate(reset))
	testenv.WaitAcross(t, second, `document.getElementById("password") !== null`)
	testenv.Do(t, second, chromedp.SendKeys(chromedp.ID("password"), newPassword), chromedp.Click(chromedp.ID("submit-password")))
	testenv.WaitAcross(t, second, `location.pathname === "/login" && document.getElementById("signin") !== null`)
	if st := testenv.Eval[int](t, first, `fetch("/v1/me").then(r => r.status)`); st != 401 {
		t.Fatalf("the other session survived the reset: /v1/me answers %d", st)
	}
	signIn := func(tab context.Context, pw string) {
		t.Helper()
		testenv.Do(t, tab, chromedp.Navigate(srv.URL+"/login"))
		testenv.WaitAcross(t, tab, `document.getElementById("signin") !== null`)
		testenv.Do(t, tab, chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), pw),
			chromedp.Click(chromedp.ID("signin")))
	}
	signIn(second, newPassword)
	testenv.WaitAcross(t, second, `location.pathname === "/" && document.readyState === "complete"`)

	// Two-factor set-up on the Security page, with a code computed from the key shown.
	testenv.Do(t, second, chromedp.Navigate(srv.URL+"/security"))
	testenv.WaitAcross(t, second, `document.getElementById("begin-two-factor") !== null`)
	testenv.Do(t, second, chromedp.Click(chromedp.ID("begin-two-factor")))
	testenv.WaitAcross(t, second, `document.getElementById("totp-secret") !== null`)
	if !testenv.Eval[bool](t, second, `document.querySelector("#qr svg") !== null`) {
		t.Fatal("the set-up shows no QR code")
	}
	secret := testenv.Eval[string](t, second, `document.getElementById("totp-secret").textContent`)
	now := time.Now()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Do(t, second, chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(chromedp.ID("confirm-two-factor")))
	testenv.WaitAcross(t, second, `document.querySelectorAll("#recovery-codes li").length === 10`)

	// Sign-in now asks for the code.
	third := testenv.Tab(t, b)
	signIn(third, newPassword)
	testenv.WaitAcross(t, third, `location.pathname === "/login/code" && document.getElementById("code") !== null`)
	next, err := totp.GenerateCode(secret, now.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Do(t, third, chromedp.SendKeys(chromedp.ID("code"), next), chromedp.Click(chromedp.ID("submit-code")))
	testenv.WaitAcross(t, third, `location.pathname === "/" && document.readyState === "complete"`)
	if st := testenv.Eval[int](t, third, `fetch("/v1/me").then(r => r.status)`); st != 200 {
		t.Fatalf("after the code, /v1/me answers %d", st)
	}

	// The owner requires two-factor sign-in: a member without it is sent to the set-up.
	const plain = "plain@browser.example"
	uid, _ := srv.Member(t, owner.ProjectID, plain, models.RoleViewer)
	if err := srv.Store.SetPassword(ctx, uid, strongPassword); err != nil {
		t.Fatal(err)
	}
	setUpTwoFactor(t, srv, owner.UserID) // the owner needs it to require it
	if r := srv.Do(t, testserver.Request{Method: "PUT", Path: "/v1/projects/" + pid + "/two-factor", Token: owner.Token, Body: map[string]bool{"required": true}}); r.Status != 200 {
		t.Fatalf("require two-factor: %d %s", r.Status, r.Body)
	}
	fourth := testenv.Tab(t, b)
	testenv.Do(t, fourth, chromedp.Navigate(srv.URL+"/login?next=/projects/"+pid))
	testenv.WaitAcross(t, fourth, `document.getElementById("signin") !== null`)
	testenv.Do(t, fourth, chromedp.SendKeys(chromedp.ID("email"), plain), chromedp.SendKeys(chromedp.ID("password"), strongPassword),
		chromedp.Click(chromedp.ID("signin")))
	testenv.WaitAcross(t, fourth, `location.pathname === "/security" && document.getElementById("setup-required") !== null`)

	// The Security page lists the sessions (the second and the third browser) and the API
	// tokens, revokes a token, and signs out everywhere.
	u, err := srv.Store.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	_, apiToken, err := srv.Store.CreateToken(ctx, u.ID, "laptop script", 30)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Do(t, third, chromedp.Navigate(srv.URL+"/security"))
	testenv.WaitAcross(t, third, `document.querySelectorAll("#sessions tbody tr").length === 2 && document.querySelectorAll("#tokens tbody tr").length === 1`)
	testenv.Do(t, third, chromedp.Click(chromedp.CSS(`#tokens button.danger`)))
	testenv.WaitAcross(t, third, `document.querySelector("#tokens tbody tr td:last-child") !== null && document.querySelector("#tokens tbody tr td:last-child").textContent.trim() === "revoked"`)
	if r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/me", Token: apiToken}); r.Status != 401 {
		t.Fatalf("the token revoked on the Security page still works: %d", r.Status)
	}
	testenv.Do(t, third, chromedp.Click(chromedp.ID("security-sign-out-everywhere")))
	testenv.WaitAcross(t, third, `location.pathname === "/login"`)
	for _, tab := range []context.Context{second, third} {
		if st := testenv.Eval[int](t, tab, `fetch("/v1/me").then(r => r.status)`); st != 401 {
			t.Fatalf("a session survived sign out everywhere: /v1/me answers %d", st)
		}
	}
}

// setUpTwoFactor turns two-factor sign-in on for a user through the domain.
func setUpTwoFactor(t *testing.T, srv *testserver.Server, userID uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	setup, err := srv.Accounts.BeginTOTP(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(setup.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Accounts.ConfirmTOTP(ctx, userID, code); err != nil {
		t.Fatal(err)
	}
}

// TestTeamsBrowserSettingsAndSSO: an owner invites from the settings page (mailed, listed,
// withdrawn); the invited person signs in through single sign-on against mockoidc running in
// the test, from the login page's SSO button, and opens the project.
func TestTeamsBrowserSettingsAndSSO(t *testing.T) {
	t.Parallel()
	smtp := smtptest.New(t, smtptest.Options{})
	m, err := mail.New(smtp.URL(), "Personas <noreply@personas.test>", mail.WithRootCAs(smtp.RootCAs))
	if err != nil {
		t.Fatal(err)
	}
	provider, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = provider.Shutdown() })
	cfg := provider.Config()
	srv := testserver.New(t, testserver.Options{NoWorker: true, Accounts: accounts.Options{Mailer: m},
		OIDC: func(publicURL string) *accounts.OIDC {
			o, err := accounts.NewOIDC(context.Background(), accounts.OIDCConfig{Issuer: cfg.Issuer, ClientID: cfg.ClientID,
				ClientSecret: cfg.ClientSecret, RedirectURL: publicURL + "/auth/oidc/callback"})
			if err != nil {
				t.Fatal(err)
			}
			return o
		}})
	owner := srv.NewAccount(t, "owner@sso-browser.example", false)
	if err := srv.Store.SetPassword(context.Background(), owner.UserID, strongPassword); err != nil {
		t.Fatal(err)
	}
	pid := owner.ProjectID.String()

	b := testenv.Browser(t)
	tab := testenv.Tab(t, b)
	testenv.Do(t, tab, chromedp.Navigate(srv.URL+"/login?next=/projects/"+pid+"/settings"))
	testenv.WaitAcross(t, tab, `document.getElementById("signin") !== null`)
	testenv.Do(t, tab, chromedp.SendKeys(chromedp.ID("email"), owner.Email), chromedp.SendKeys(chromedp.ID("password"), strongPassword),
		chromedp.Click(chromedp.ID("signin")))
	testenv.WaitAcross(t, tab, `document.getElementById("member-email") !== null`)
	invite := func(email string) {
		t.Helper()
		testenv.Do(t, tab, chromedp.SendKeys(chromedp.ID("member-email"), email), chromedp.SetValue(chromedp.ID("member-role"), "editor"),
			chromedp.Click(chromedp.ID("add-member-button")))
		testenv.WaitAcross(t, tab, `document.getElementById("invited-mailed") !== null`)
		testenv.Do(t, tab, chromedp.Navigate(srv.URL+"/projects/"+pid+"/settings"))
		testenv.WaitAcross(t, tab, `document.getElementById("member-email") !== null && document.getElementById("invited-mailed") === null`)
	}
	invite("sso@sso-browser.example")
	invite("withdrawn@sso-browser.example")
	if n := len(smtp.Wait(t, 2, 10*time.Second)); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
	if n := testenv.Eval[int](t, tab, `document.querySelectorAll("#invitations tbody tr").length`); n != 2 {
		t.Fatalf("%d invitations listed, want 2", n)
	}
	// Withdraw the second (the list is newest first).
	testenv.Do(t, tab, chromedp.Click(chromedp.CSS(`#invitations tbody tr:first-child button.danger`)))
	testenv.WaitAcross(t, tab, `Array.from(document.querySelectorAll("#invitations tbody tr td:nth-child(3)")).map(td => td.textContent).sort().join() === "pending,revoked"`)

	// Single sign-on from the login page, in a browser of its own.
	provider.QueueUser(&mockoidc.MockUser{Subject: "sub-sso", Email: "sso@sso-browser.example", EmailVerified: true})
	other := testenv.Tab(t, b)
	testenv.Do(t, other, chromedp.Navigate(srv.URL+"/login"))
	testenv.WaitAcross(t, other, `document.getElementById("sso") !== null`)
	testenv.Do(t, other, chromedp.Click(chromedp.ID("sso")))
	testenv.WaitAcross(t, other, `location.pathname === "/" && document.readyState === "complete" && document.querySelector(".who .email") !== null`)
	role := testenv.Eval[string](t, other, `fetch("/v1/projects/`+pid+`").then(r => r.json()).then(j => j.role)`)
	if role != "editor" {
		t.Fatalf("signed in by single sign-on, the project's role is %q, want editor", role)
	}
}
