package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"personas/models"
)

// TOTP parameters (RFC 6238 as every authenticator app reads it): 30 s steps, 6 digits,
// HMAC-SHA1; one step of skew either way.
const (
	totpPeriod = 30
	totpSkew   = 1
	// RecoveryCodes is how many one-time recovery codes a user gets.
	RecoveryCodes = 10
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPSetup is what the set-up page shows once: the secret for manual entry, the otpauth URL
// and its QR code as an inline SVG.
type TOTPSetup struct {
	Secret string `json:"secret"`
	URL    string `json:"otpauth_url"`
	QRSVG  string `json:"qr_svg"`
}

// BeginTOTP draws a new TOTP secret for the user and stores it sealed, unconfirmed: two-factor
// sign-in is on only once ConfirmTOTP has seen a code. A user with two-factor sign-in on must
// turn it off first (models.ErrConflict).
func (s *Service) BeginTOTP(ctx context.Context, userID uuid.UUID) (TOTPSetup, error) {
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return TOTPSetup{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Product, AccountName: u.Email, Period: totpPeriod, SecretSize: 20,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("draw TOTP secret: %w", err)
	}
	if err := s.store.SaveTOTPSecret(ctx, userID, key.Secret()); err != nil {
		return TOTPSetup{}, err
	}
	svg, err := QRSVG(key.URL())
	if err != nil {
		return TOTPSetup{}, err
	}
	return TOTPSetup{Secret: key.Secret(), URL: key.URL(), QRSVG: svg}, nil
}

// matchTOTP finds the time step, within the skew around now, whose code is code.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	cur := now.Unix() / totpPeriod
	found, step := 0, int64(0)
	for st := cur - totpSkew; st <= cur+totpSkew; st++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, step = 1, st
		}
	}
	return step, found == 1
}

// ConfirmTOTP turns two-factor sign-in on with the first code from the user's app, and returns
// the recovery codes, shown once (stored only as keyed hashes).
func (s *Service) ConfirmTOTP(ctx context.Context, userID uuid.UUID, code string) ([]string, error) {
	t, err := s.store.UserTOTP(ctx, userID)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: start the set-up first", models.ErrNotFound)
		}
		return nil, err
	}
	if t.ConfirmedAt != nil {
		return nil, fmt.Errorf("%w: two-factor sign-in is already on", models.ErrConflict)
	}
	step, ok := matchTOTP(t.Secret, normalizeCode(code), s.store.Now())
	if !ok {
		return nil, ErrSecondFactor
	}
	codes, hashes := s.newRecoveryCodes(userID)
	if err := s.store.ConfirmTOTP(ctx, userID, step, hashes); err != nil {
		if isNotFound(err) {
			return nil, ErrCodeReplayed
		}
		return nil, err
	}
	s.audit(ctx, models.AccountScope, userID, "two_factor.enable", userID.String(), nil)
	return codes, nil
}

// VerifySecondFactor checks a second factor of a user with two-factor sign-in on: a TOTP code
// (one step of skew either way; a code of a step already used is ErrCodeReplayed) or an unused
// recovery code (spent by the check). A wrong code is ErrSecondFactor.
func (s *Service) VerifySecondFactor(ctx context.Context, userID uuid.UUID, code string) error {
	c := normalizeCode(code)
	if isTOTPCode(c) {
		t, err := s.store.UserTOTP(ctx, userID)
		if isNotFound(err) {
			return ErrSecondFactor
		}
		if err != nil {
			return err
		}
		if t.ConfirmedAt == nil {
			return ErrSecondFactor
		}
		step, ok := matchTOTP(t.Secret, c, s.store.Now())
		if !ok {
			return ErrSecondFactor
		}
		fresh, err := s.store.UseTOTPStep(ctx, userID, step)
		if err != nil {
			return err
		}
		if !fresh {
			return ErrCodeReplayed
		}
		return nil
	}
	if len(c) != recoveryCodeLength {
		return ErrSecondFactor
	}
	remaining, ok, err := s.store.UseRecoveryCode(ctx, userID, s.recoveryHash(userID, c))
	if err != nil {
		return err
	}
	if !ok {
		return ErrSecondFactor
	}
	s.audit(ctx, models.AccountScope, userID, "two_factor.recovery_code_use", userID.String(), map[string]any{"remaining": remaining})
	return nil
}

// DisableTOTP turns the user's two-factor sign-in off, on a current second factor (a code or a
// recovery code), so that a session left open is not enough to remove it.
func (s *Service) DisableTOTP(ctx context.Context, userID uuid.UUID, code string) error {
	if err := s.VerifySecondFactor(ctx, userID, code); err != nil {
		return err
	}
	if _, err := s.store.DeleteTOTP(ctx, userID); err != nil {
		return err
	}
	s.audit(ctx, models.AccountScope, userID, "two_factor.disable", userID.String(), nil)
	return nil
}

// RegenerateRecoveryCodes replaces the user's recovery codes, on a current second factor, and
// returns the new ones, shown once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID uuid.UUID, code string) ([]string, error) {
	if err := s.VerifySecondFactor(ctx, userID, code); err != nil {
		return nil, err
	}
	codes, hashes := s.newRecoveryCodes(userID)
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, err
	}
	s.audit(ctx, models.AccountScope, userID, "two_factor.recovery_codes_replace", userID.String(), nil)
	return codes, nil
}

// RequireTwoFactor turns the project's two-factor requirement on or off (owner, or platform
// admin). An owner turns it on only with two-factor sign-in of their own, so that nobody
// locks themselves out of their own project.
func (s *Service) RequireTwoFactor(ctx context.Context, actor models.Principal, projectID uuid.UUID, on bool) error {
	if _, err := s.requireRole(ctx, actor, projectID, models.RoleOwner); err != nil {
		return err
	}
	if on {
		has, err := s.store.HasTwoFactor(ctx, actor.UserID)
		if err != nil {
			return err
		}
		if !has {
			return models.Invalid("require_two_factor", "set up two-factor sign-in for yourself first")
		}
	}
	if err := s.store.SetRequireTwoFactor(ctx, projectID, on); err != nil {
		return err
	}
	s.audit(ctx, projectID, actor.UserID, "project.require_two_factor", projectID.String(), map[string]any{"on": on})
	return nil
}

// NeedsTwoFactorSetup reports whether the project requires two-factor sign-in and the user has
// not set it up: such a member is sent to the set-up before opening the project.
func (s *Service) NeedsTwoFactorSetup(ctx context.Context, userID, projectID uuid.UUID) (bool, error) {
	req, err := s.store.RequiresTwoFactor(ctx, projectID)
	if err != nil || !req {
		return false, err
	}
	has, err := s.store.HasTwoFactor(ctx, userID)
	return !has, err
}

// CheckTwoFactor is the project gate: nil when the caller may open the project as far as
// two-factor sign-in goes. A project that requires it refuses a member without it
// (ErrTwoFactorSetupRequired) and a dashboard session opened without the second factor
// (ErrTwoFactorRequired; the session predates the set-up). API tokens pass once their user has
// two-factor sign-in: a token is minted from such a session or by an operator.
func (s *Service) CheckTwoFactor(ctx context.Context, p models.Principal, projectID uuid.UUID) error {
	need, err := s.NeedsTwoFactorSetup(ctx, p.UserID, projectID)
	if err != nil {
		return err
	}
	if need {
		return ErrTwoFactorSetupRequired
	}
	req, err := s.store.RequiresTwoFactor(ctx, projectID)
	if err != nil {
		return err
	}
	if req && p.SessionID != uuid.Nil && !p.TwoFactorOK {
		return ErrTwoFactorRequired
	}
	return nil
}

// Recovery codes: 10 characters of a 31-letter alphabet without look-alikes (49 bits), shown
// as two groups of five.
const (
	recoveryAlphabet   = "abcdefghjkmnpqrstuvwxyz23456789"
	recoveryCodeLength = 10
)

func (s *Service) newRecoveryCodes(userID uuid.UUID) ([]string, [][]byte) {
	codes := make([]string, RecoveryCodes)
	hashes := make([][]byte, RecoveryCodes)
	for i := range codes {
		c := randomCode()
		codes[i] = c[:5] + "-" + c[5:]
		hashes[i] = s.recoveryHash(userID, c)
	}
	return codes, hashes
}

// randomCode draws a recovery code, uniformly (bytes of 248 and above are redrawn).
func randomCode() string {
	out := make([]byte, 0, recoveryCodeLength)
	buf := make([]byte, 32)
	for len(out) < recoveryCodeLength {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err)) // no randomness: nothing is safe
		}
		for _, x := range buf {
			if x < 248 && len(out) < recoveryCodeLength {
				out = append(out, recoveryAlphabet[x%31])
			}
		}
	}
	return string(out)
}

// recoveryHash keys a recovery code's hash with the index key: a copy of the database alone
// does not let anyone try the 2^50 codes offline.
func (s *Service) recoveryHash(userID uuid.UUID, normalized string) []byte {
	return s.store.Index().Sum("recovery-code", userID.String(), normalized)
}

// normalizeCode drops spaces and dashes and lower-cases, as people type codes.
func normalizeCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, code)
}

func isTOTPCode(c string) bool {
	if len(c) != 6 {
		return false
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
