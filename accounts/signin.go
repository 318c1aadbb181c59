package accounts

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"personas/models"
)

// SignIn is the outcome of a sign-in step.
type SignIn struct {
	User models.User
	// Session is the new session; when SecondFactor is true it is a pending sign-in that
	// authenticates nothing: its secret goes in a short-lived cookie and CompleteSignIn turns it
	// into a session once the code is given.
	Session      models.Session
	SecondFactor bool
}

// secondFactorFree is how many wrong codes a pending sign-in may try before backing off.
const secondFactorFree = 5

// SignIn checks an email and password (the caller applies its back-off per account and client
// first, as the API does with models.BeginLogin) and opens a session, pending when the user
// has two-factor sign-in on. A failure is models.ErrUnauthenticated, the same for an unknown
// address and a wrong password, and is audited as a counted entry per account and hour.
func (s *Service) SignIn(ctx context.Context, email, password, device string) (SignIn, error) {
	u, err := s.verifyPassword(ctx, email, password)
	if err != nil {
		if errors.Is(err, models.ErrUnauthenticated) {
			s.AuditFailedSignIn(ctx, email)
		}
		return SignIn{}, err
	}
	return s.openSession(ctx, u, device, "password")
}

// AuditFailedSignIn counts a failed sign-in under the account it was for (its id, never the
// address), or under "unknown account": one entry per account and hour, however many tries.
func (s *Service) AuditFailedSignIn(ctx context.Context, email string) {
	if u, err := s.store.UserByEmail(ctx, email); err == nil {
		s.auditCounted(ctx, models.AccountScope, u.ID, "signin.fail", u.ID.String())
		return
	}
	s.auditCounted(ctx, models.AccountScope, uuid.Nil, "signin.fail", "unknown account")
}

// openSession opens the session of a user who proved a first factor: pending when the user has
// two-factor sign-in on, complete (and audited) otherwise.
func (s *Service) openSession(ctx context.Context, u models.User, device, method string) (SignIn, error) {
	has, err := s.store.HasTwoFactor(ctx, u.ID)
	if err != nil {
		return SignIn{}, err
	}
	se, err := s.store.OpenSession(ctx, models.NewSession{UserID: u.ID, DeviceClass: device, PendingSecondFactor: has})
	if err != nil {
		return SignIn{}, err
	}
	if !has {
		s.AuditSignIn(ctx, u.ID, method)
	}
	return SignIn{User: u, Session: se, SecondFactor: has}, nil
}

// AuditSignIn records a finished sign-in without a second factor, by the user's id and how
// they proved it (password, sso, invitation).
func (s *Service) AuditSignIn(ctx context.Context, userID uuid.UUID, method string) {
	s.audit(ctx, models.AccountScope, userID, "signin", userID.String(), map[string]any{"method": method, "two_factor": false})
}

// CompleteSignIn takes the second factor of a pending sign-in (its cookie secret) and opens the
// session in its place, with a new secret. A wrong code is ErrSecondFactor (or
// ErrCodeReplayed), counted in the audit log; after five wrong codes within the hour further
// attempts wait, doubling (*TooManyAttemptsError). An unknown or expired pending sign-in is
// models.ErrUnauthenticated.
func (s *Service) CompleteSignIn(ctx context.Context, pendingSecret, code string) (SignIn, error) {
	userID, err := s.store.PendingSession(ctx, pendingSecret)
	if err != nil {
		return SignIn{}, err
	}
	subject := s.store.LoginSubject("second-factor", userID.String())
	wait, err := s.store.BeginLogin(ctx, models.LoginLimit{Subject: subject, Free: secondFactorFree})
	if err != nil {
		return SignIn{}, err
	}
	if wait > 0 {
		return SignIn{}, &TooManyAttemptsError{Wait: wait}
	}
	if err := s.VerifySecondFactor(ctx, userID, code); err != nil {
		if errors.Is(err, models.ErrUnauthenticated) {
			s.auditCounted(ctx, models.AccountScope, userID, "signin.second_factor_fail", userID.String())
		}
		return SignIn{}, err
	}
	if err := s.store.ClearLoginFailures(ctx, subject); err != nil {
		return SignIn{}, err
	}
	se, err := s.store.CompleteSecondFactor(ctx, pendingSecret, userID)
	if err != nil {
		return SignIn{}, err
	}
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return SignIn{}, err
	}
	s.audit(ctx, models.AccountScope, userID, "signin", userID.String(), map[string]any{"two_factor": true})
	return SignIn{User: u, Session: se}, nil
}

// Sessions lists the caller's active sessions (device class, created, last seen; no address).
func (s *Service) Sessions(ctx context.Context, p models.Principal) ([]models.UserSession, error) {
	return s.store.Sessions(ctx, p)
}

// RevokeSession ends one of the caller's sessions by its id (another user's is
// models.ErrNotFound).
func (s *Service) RevokeSession(ctx context.Context, p models.Principal, sessionID uuid.UUID) error {
	if err := s.store.RevokeSession(ctx, p.UserID, sessionID); err != nil {
		return err
	}
	s.audit(ctx, models.AccountScope, p.UserID, "session.revoke", sessionID.String(), nil)
	return nil
}

// SignOutEverywhere ends every session of the caller, the caller's own included; API tokens
// stay (they are listed for review). It returns the sessions ended.
func (s *Service) SignOutEverywhere(ctx context.Context, p models.Principal) (int64, error) {
	n, err := s.store.EndSessions(ctx, p.UserID)
	if err != nil {
		return 0, err
	}
	s.audit(ctx, models.AccountScope, p.UserID, "session.end_all", p.UserID.String(), map[string]any{"sessions_ended": n})
	return n, nil
}
