package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"personas/accounts"
	"personas/models"
)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol sets up TOTP for a user and returns the secret and recovery codes.
func enrol(t *testing.T, f *fixture, p models.Principal) (string, []string) {
	t.Helper()
	ctx := context.Background()
	setup, err := f.svc.BeginTOTP(ctx, p.UserID)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, p.UserID, code(t, setup.Secret, f.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return setup.Secret, codes
}

// TestTwoFactorSignIn walks the set-up and a sign-in with a code computed from the secret,
// and the hostile cases: a wrong code, a code replayed within its window, a wrong recovery
// code, a reused recovery code, a pending sign-in used as a session, and guessing.
func TestTwoFactorSignIn(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	m := f.member("jane@example.test", models.RoleViewer)

	setup, err := f.svc.BeginTOTP(ctx, m.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(setup.QRSVG, "<svg ") || !strings.HasSuffix(setup.QRSVG, "</svg>") || strings.Count(setup.QRSVG, "<rect") < 50 ||
		strings.Contains(setup.QRSVG, "script") || strings.Contains(setup.QRSVG, "href") {
		t.Errorf("QR code is not a plain SVG of rects: %.200s", setup.QRSVG)
	}
	if !strings.HasPrefix(setup.URL, "otpauth://totp/Personas:jane@example.test?") || !strings.Contains(setup.URL, "secret="+setup.Secret) {
		t.Errorf("otpauth URL %q", setup.URL)
	}
	if on, _ := f.st.HasTwoFactor(ctx, m.UserID); on {
		t.Error("two-factor sign-in is on before the first code")
	}
	if _, err := f.svc.ConfirmTOTP(ctx, m.UserID, "000000"); !errors.Is(err, accounts.ErrSecondFactor) && code(t, setup.Secret, f.clock.Now()) != "000000" {
		t.Errorf("ConfirmTOTP with a wrong code = %v, want ErrSecondFactor", err)
	}
	confirmed := code(t, setup.Secret, f.clock.Now())
	codes, err := f.svc.ConfirmTOTP(ctx, m.UserID, confirmed)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	var stored int
	if err := f.env.Pool.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND code_hash <> convert_to($2, 'UTF8')`,
		m.UserID, strings.ReplaceAll(codes[0], "-", "")).Scan(&stored); err != nil || stored != 10 {
		t.Errorf("%d recovery codes stored hashed (%v), want 10", stored, err)
	}
	var sealed []byte
	if err := f.env.Pool.QueryRow(ctx, `SELECT secret_enc FROM user_totp WHERE user_id = $1`, m.UserID).Scan(&sealed); err != nil ||
		strings.Contains(string(sealed), setup.Secret) {
		t.Errorf("the TOTP secret is stored in clear (%v)", err)
	}

	signIn := func() accounts.SignIn {
		t.Helper()
		in, err := f.svc.SignIn(ctx, "jane@example.test", strongPassword, "mobile")
		if err != nil {
			t.Fatal(err)
		}
		if !in.SecondFactor {
			t.Fatal("a user with two-factor sign-in got a session without the second factor")
		}
		if _, ok := f.authenticated(in.Session.Secret); ok {
			t.Fatal("a sign-in awaiting its second factor authenticates")
		}
		return in
	}

	// The code that confirmed the set-up cannot sign in again within its window.
	pending := signIn()
	if _, err := f.svc.CompleteSignIn(ctx, pending.Session.Secret, confirmed); !errors.Is(err, accounts.ErrCodeReplayed) {
		t.Errorf("the confirming code replayed = %v, want ErrCodeReplayed", err)
	}
	f.clock.Add(30 * time.Second)
	fresh := code(t, setup.Secret, f.clock.Now())
	done, err := f.svc.CompleteSignIn(ctx, pending.Session.Secret, fresh)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := f.authenticated(done.Session.Secret)
	if !ok || !p.TwoFactorOK || done.Session.Secret == pending.Session.Secret {
		t.Errorf("completed sign-in: authenticated %v, two factor %v, new secret %v", ok, p.TwoFactorOK, done.Session.Secret != pending.Session.Secret)
	}
	if _, err := f.svc.CompleteSignIn(ctx, pending.Session.Secret, fresh); !errors.Is(err, models.ErrUnauthenticated) {
		t.Errorf("the pending sign-in used twice = %v, want ErrUnauthenticated", err)
	}

	tests := []struct {
		name string
		code func() string
		want error
	}{
		{"same code again within its window", func() string { return fresh }, accounts.ErrCodeReplayed},
		{"code of the step before, already past", func() string { return confirmed }, accounts.ErrCodeReplayed},
		{"code of two steps ahead", func() string { return code(t, setup.Secret, f.clock.Now().Add(90*time.Second)) }, accounts.ErrSecondFactor},
		{"recovery code", func() string { return strings.ToUpper(codes[3]) }, nil}, // a success ends the back-off count
		{"recovery code reused", func() string { return codes[3] }, accounts.ErrSecondFactor},
		{"wrong recovery code", func() string { return "aaaaa-aaaaa" }, accounts.ErrSecondFactor},
		{"garbage", func() string { return "'; DROP TABLE users; --" }, accounts.ErrSecondFactor},
		{"next step's code, within the skew", func() string { return code(t, setup.Secret, f.clock.Now().Add(30*time.Second)) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := signIn()
			_, err := f.svc.CompleteSignIn(ctx, in.Session.Secret, tt.code())
			checkErr(t, err, tt.want)
		})
	}
	if got := f.actions(); got["two_factor.enable"] != 1 || got["two_factor.recovery_code_use"] != 1 || got["signin.second_factor_fail"] != 1 {
		t.Errorf("audit actions %v: want one enable, one recovery code use and one counted failure entry", got)
	}
	f.checkAuditClean(setup.Secret, fresh, codes[3])

	// Guessing: after five wrong codes within the hour, attempts wait.
	f.clock.Add(time.Hour)
	in := signIn()
	var wait *accounts.TooManyAttemptsError
	for i := range 7 {
		_, err := f.svc.CompleteSignIn(ctx, in.Session.Secret, "zzzzz-zzzzz")
		if i < 5 && !errors.Is(err, accounts.ErrSecondFactor) {
			t.Fatalf("wrong code %d = %v, want ErrSecondFactor", i+1, err)
		}
		if i >= 5 && !errors.As(err, &wait) {
			t.Fatalf("wrong code %d = %v, want *TooManyAttemptsError", i+1, err)
		}
	}
	if wait.Wait <= 0 {
		t.Errorf("back-off %v", wait.Wait)
	}

	// Turning it off needs a current code.
	if err := f.svc.DisableTOTP(ctx, m.UserID, "123"); !errors.Is(err, accounts.ErrSecondFactor) {
		t.Errorf("DisableTOTP without a code = %v", err)
	}
	f.clock.Add(time.Minute)
	if err := f.svc.DisableTOTP(ctx, m.UserID, code(t, setup.Secret, f.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if in, err := f.svc.SignIn(ctx, "jane@example.test", strongPassword, "desktop"); err != nil || in.SecondFactor {
		t.Errorf("after DisableTOTP: %+v, %v; want a plain session", in.SecondFactor, err)
	}
	if _, err := f.svc.CompleteSignIn(ctx, "not-a-pending-sign-in", "123456"); !errors.Is(err, models.ErrUnauthenticated) {
		t.Errorf("CompleteSignIn with an unknown cookie = %v", err)
	}
}

// TestRequireTwoFactor is the project's requirement: only the owner sets it, and only with
// two-factor sign-in of their own; members without it are sent to the set-up, and a session
// opened without the second factor must sign in again.
func TestRequireTwoFactor(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	admin := f.member("admin@example.test", models.RoleAdmin)
	viewer := f.member("viewer@example.test", models.RoleViewer)

	checkErr(t, f.svc.RequireTwoFactor(ctx, f.owner, f.project.ID, true), errValidation)
	checkErr(t, f.svc.RequireTwoFactor(ctx, admin, f.project.ID, true), models.ErrForbidden)
	enrol(t, f, f.owner)
	if err := f.svc.RequireTwoFactor(ctx, f.owner, f.project.ID, true); err != nil {
		t.Fatal(err)
	}
	if need, err := f.svc.NeedsTwoFactorSetup(ctx, viewer.UserID, f.project.ID); err != nil || !need {
		t.Errorf("NeedsTwoFactorSetup(viewer) = %v, %v; want true", need, err)
	}
	if need, err := f.svc.NeedsTwoFactorSetup(ctx, f.owner.UserID, f.project.ID); err != nil || need {
		t.Errorf("NeedsTwoFactorSetup(owner) = %v, %v; want false", need, err)
	}

	// The viewer's session from before the set-up.
	old, err := f.svc.SignIn(ctx, "viewer@example.test", strongPassword, "desktop")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := f.authenticated(old.Session.Secret)
	checkErr(t, f.svc.CheckTwoFactor(ctx, p, f.project.ID), accounts.ErrTwoFactorSetupRequired)
	secret, _ := enrol(t, f, viewer)
	checkErr(t, f.svc.CheckTwoFactor(ctx, p, f.project.ID), accounts.ErrTwoFactorRequired)
	f.clock.Add(30 * time.Second)
	in, err := f.svc.SignIn(ctx, "viewer@example.test", strongPassword, "desktop")
	if err != nil {
		t.Fatal(err)
	}
	done, err := f.svc.CompleteSignIn(ctx, in.Session.Secret, code(t, secret, f.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := f.authenticated(done.Session.Secret)
	checkErr(t, f.svc.CheckTwoFactor(ctx, p2, f.project.ID), nil)

	// Another project without the requirement lets the same old session in.
	other, err := f.st.CreateProject(ctx, viewer.UserID, "Blog", []string{"https://blog.example"})
	if err != nil {
		t.Fatal(err)
	}
	checkErr(t, f.svc.CheckTwoFactor(ctx, p, other.ID), nil)
	if err := f.svc.RequireTwoFactor(ctx, f.owner, f.project.ID, false); err != nil {
		t.Fatal(err)
	}
	checkErr(t, f.svc.CheckTwoFactor(ctx, p, f.project.ID), nil)
	if got := f.actions()["project.require_two_factor"]; got != 2 {
		t.Errorf("%d project.require_two_factor entries, want 2", got)
	}
}
