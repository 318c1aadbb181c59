package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"personas/mail"
	"personas/models"
	"personas/privacy"
)

// Product is the name shown in mail, in authenticator apps and given to the password
// strength estimator as a word a password must not lean on.
const Product = "Personas"

// Errors of the domain. Those of links are models' own, so the API's one error map finds them
// whether they come from here or from models.
var (
	ErrInvitationUnknown = models.ErrInvitationUnknown
	ErrInvitationUsed    = models.ErrInvitationUsed
	ErrInvitationExpired = models.ErrInvitationExpired
	ErrInvitationRevoked = models.ErrInvitationRevoked
	ErrResetUnknown      = models.ErrResetUnknown
	ErrResetUsed         = models.ErrResetUsed
	ErrResetExpired      = models.ErrResetExpired

	// ErrSecondFactor is a wrong TOTP or recovery code.
	ErrSecondFactor = fmt.Errorf("%w: the code is not right", models.ErrUnauthenticated)
	// ErrCodeReplayed is a TOTP code that was used already within its window.
	ErrCodeReplayed = fmt.Errorf("%w: this code was used already: wait for the next one", models.ErrUnauthenticated)
	// ErrExistingAccount is an invitation accepted for an address that has an account with a
	// password, without that password: the link alone must not take an account over.
	ErrExistingAccount = fmt.Errorf("%w: this address already has an account: enter its current password to accept", models.ErrUnauthenticated)
	// ErrTwoFactorSetupRequired means the project requires two-factor sign-in and the user has
	// not set it up yet.
	ErrTwoFactorSetupRequired = fmt.Errorf("%w: this project requires two-factor sign-in: set it up first", models.ErrForbidden)
	// ErrTwoFactorRequired means the user has two-factor sign-in but this session was opened
	// without it (it predates the set-up): sign in again.
	ErrTwoFactorRequired = fmt.Errorf("%w: this project requires two-factor sign-in: sign in again with your code", models.ErrForbidden)
)

// TooManyAttemptsError is a second-factor attempt refused by the back-off; retry after Wait.
type TooManyAttemptsError struct{ Wait time.Duration }

func (e *TooManyAttemptsError) Error() string {
	return fmt.Sprintf("too many attempts: try again in %s", e.Wait.Round(time.Second))
}

// DefaultResetMinDuration is the least time RequestReset takes, whether the address has an
// account or not: far above the work of either path, so the answer's timing tells nothing.
const DefaultResetMinDuration = 400 * time.Millisecond

// Options are a Service's optional dependencies and settings.
type Options struct {
	// Mailer sends invitations and reset links; nil: links are shown to the admin (invitations)
	// or issued from the command line (resets).
	Mailer *mail.Mailer
	// PublicURL is the service's external base URL, the start of every link.
	PublicURL string
	// InviteTTL is how long an invitation works unless the inviter chooses (default 7 days).
	InviteTTL time.Duration
	// ResetMinDuration is the least time RequestReset takes (DefaultResetMinDuration).
	ResetMinDuration time.Duration
	// Hashes bounds concurrent password hashing with the sign-in path's limiter; nil: unbounded.
	Hashes *privacy.HashLimiter
	// OIDC is the single sign-on provider; nil when single sign-on is off.
	OIDC *OIDC
	// Logger receives delivery failures (never a link, a body or an address).
	Logger *slog.Logger
}

// Service is the teams domain. It is built once in main and shared; Close waits for the mail
// it sends in the background.
type Service struct {
	store     *models.Store
	mailer    *mail.Mailer
	publicURL string
	inviteTTL time.Duration
	resetMin  time.Duration
	hashes    *privacy.HashLimiter
	oidc      *OIDC
	logger    *slog.Logger

	wg     sync.WaitGroup
	ctx    context.Context // ends at Close: background deliveries stop
	cancel context.CancelFunc
}

// New builds a Service on store.
func New(store *models.Store, o Options) *Service {
	s := &Service{store: store, mailer: o.Mailer, publicURL: strings.TrimRight(o.PublicURL, "/"), inviteTTL: o.InviteTTL,
		resetMin: o.ResetMinDuration, hashes: o.Hashes, oidc: o.OIDC, logger: o.Logger}
	if s.inviteTTL == 0 {
		s.inviteTTL = models.DefaultInvitationTTL
	}
	if s.resetMin <= 0 {
		s.resetMin = DefaultResetMinDuration
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Close waits for background deliveries (reset mail) to finish, at most until ctx ends, when
// it stops them.
func (s *Service) Close(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
	}
	s.cancel()
}

// Mails reports whether the service sends links by mail.
func (s *Service) Mails() bool { return s.mailer != nil }

// InvitationLink is the page where an invitation is accepted.
func (s *Service) InvitationLink(token string) string {
	return s.publicURL + "/accept-invitation/" + token
}

// ResetLink is the page where a password is reset.
func (s *Service) ResetLink(token string) string { return s.publicURL + "/reset-password/" + token }

// hash runs argon2id work under the limiter, when there is one.
func (s *Service) hash(ctx context.Context, fn func()) error {
	if s.hashes == nil {
		fn()
		return nil
	}
	return s.hashes.Do(ctx, fn)
}

// hashPassword checks a new password against the policy and hashes it.
func (s *Service) hashPassword(ctx context.Context, password, email string) (string, error) {
	if err := CheckPassword(password, email); err != nil {
		return "", err
	}
	var h string
	var herr error
	if err := s.hash(ctx, func() { h, herr = privacy.HashPassword(password) }); err != nil {
		return "", err
	}
	if herr != nil {
		return "", fmt.Errorf("hash password: %w", herr)
	}
	return h, nil
}

// audit writes an audit entry; a failure is logged, not returned: the action itself happened.
func (s *Service) audit(ctx context.Context, projectID, actor uuid.UUID, action, target string, details map[string]any) {
	if err := s.store.Audit(ctx, projectID, actor, action, target, details); err != nil {
		s.logger.Warn("audit entry not written", "action", action, "err", err)
	}
}

// auditCounted writes a counted audit entry (AuditCounted), one per hour and subject.
func (s *Service) auditCounted(ctx context.Context, projectID, actor uuid.UUID, action, target string) {
	if err := s.store.AuditCounted(ctx, projectID, actor, action, target, nil, time.Hour); err != nil {
		s.logger.Warn("audit entry not written", "action", action, "err", err)
	}
}

// send delivers a message; a failure is logged without the recipient or the body.
func (s *Service) send(ctx context.Context, kind string, msg mail.Message) bool {
	if s.mailer == nil {
		return false
	}
	if err := s.mailer.Send(ctx, msg); err != nil {
		s.logger.Warn("mail not sent", "kind", kind, "err", err)
		return false
	}
	return true
}

// sendLater delivers a message in the background, owned by the Service (Close waits).
func (s *Service) sendLater(kind string, msg mail.Message) {
	if s.mailer == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.send(s.ctx, kind, msg)
	}()
}

// requireRole checks that actor holds at least min in the project (platform admins do). A
// non-member learns nothing of the project: ErrNotFound, as cross-tenant reads answer.
func (s *Service) requireRole(ctx context.Context, actor models.Principal, projectID uuid.UUID, min models.Role) (models.Role, error) {
	r, err := s.store.RoleOf(ctx, projectID, actor.UserID)
	if err != nil {
		return models.RoleNone, err
	}
	if actor.PlatformAdmin {
		if _, err := s.store.Project(ctx, projectID); err != nil {
			return models.RoleNone, err
		}
		return models.RoleOwner, nil
	}
	if r == models.RoleNone {
		return models.RoleNone, models.ErrNotFound
	}
	if !r.AtLeast(min) {
		return r, models.ErrForbidden
	}
	return r, nil
}

// isNotFound reports a models.ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, models.ErrNotFound) }
