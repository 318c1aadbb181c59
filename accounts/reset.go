package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"time"

	"github.com/google/uuid"

	"personas/mail"
	"personas/models"
)

// ResetMailInterval is the least time between two reset mails to one account.
const ResetMailInterval = time.Minute

// RequestReset is "forgot password": when email has an account, a single-use link valid one
// hour is mailed to it (in the background). It answers the same, nil, whether or not the
// address has an account, and takes the same time: both paths do the same look-up and token
// work, and the answer waits until the service's minimum duration has passed. At most one
// link a minute is mailed to an account (ResetMailInterval). Only a storage failure is an
// error.
func (s *Service) RequestReset(ctx context.Context, email string) error {
	deadline := time.Now().Add(s.resetMin)
	defer func() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}()
	u, err := s.store.UserByEmail(ctx, email)
	if isNotFound(err) {
		// The same token work as the other path, thrown away.
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		_ = models.HashResetToken(models.ResetPrefix + base64.RawURLEncoding.EncodeToString(b))
		s.auditCounted(ctx, models.AccountScope, uuid.Nil, "password.reset_request_unknown", "")
		return nil
	}
	if err != nil {
		return err
	}
	last, err := s.store.LastPasswordReset(ctx, u.ID)
	if err != nil {
		return err
	}
	if !last.IsZero() && s.store.Now().Sub(last) < ResetMailInterval {
		// A link went out a moment ago: "forgot password" must not fill someone's inbox.
		s.auditCounted(ctx, models.AccountScope, u.ID, "password.reset_request_throttled", u.ID.String())
		return nil
	}
	token, expires, err := s.store.CreatePasswordReset(ctx, u.ID)
	if err != nil {
		return err
	}
	s.audit(ctx, models.AccountScope, u.ID, "password.reset_request", u.ID.String(), map[string]any{"mailed": s.mailer != nil})
	s.sendLater("reset", resetMessage(u.Email, s.ResetLink(token), expires))
	return nil
}

func resetMessage(to, link string, expires time.Time) mail.Message {
	return mail.Message{To: to, Subject: "Reset your " + Product + " password",
		Text: fmt.Sprintf("Someone asked to reset the password of your %s account.\n\nOpen this link to choose a new one:\n%s\n\n"+
			"The link works once, until %s. Resetting signs you out everywhere. If you did not ask, ignore this message: "+
			"your password stays as it is.\n", Product, link, expires.UTC().Format("15:04 MST")),
		HTML: fmt.Sprintf(`<p>Someone asked to reset the password of your %s account.</p><p><a href="%s">Choose a new password</a></p>`+
			`<p>The link works once, until %s. Resetting signs you out everywhere. If you did not ask, ignore this message: `+
			`your password stays as it is.</p>`, Product, html.EscapeString(link), expires.UTC().Format("15:04 MST"))}
}

// IssueReset makes a reset link for an existing account and returns it, for
// `personas admin reset-password --email E` when no mail is sent (or to hand it over another
// way). An unknown address is models.ErrNotFound: the command line is an operator's.
func (s *Service) IssueReset(ctx context.Context, email string) (string, time.Time, error) {
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil {
		return "", time.Time{}, err
	}
	token, expires, err := s.store.CreatePasswordReset(ctx, u.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	s.audit(ctx, models.AccountScope, u.ID, "password.reset_issue", u.ID.String(), map[string]any{"by": "cli"})
	return s.ResetLink(token), expires, nil
}

// CompleteReset uses a reset link once: the new password (checked against the policy) is
// set, every session of the user ends, every other open reset link dies, and no API token is
// revoked: the user's tokens are returned for the person to review. A used, expired or forged
// link is ErrResetUsed, ErrResetExpired or ErrResetUnknown.
func (s *Service) CompleteReset(ctx context.Context, token, password string) ([]models.Token, error) {
	userID, err := s.store.ResetUser(ctx, token)
	if err != nil {
		return nil, err
	}
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, password, u.Email)
	if err != nil {
		return nil, err
	}
	_, ended, err := s.store.CompletePasswordReset(ctx, token, hash)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, models.AccountScope, u.ID, "password.reset_complete", u.ID.String(), map[string]any{"sessions_ended": ended})
	return s.store.Tokens(ctx, u.ID)
}

// ChangePassword replaces the caller's password after checking the current one (the policy
// applies to the new one) and ends every other session of the caller; the caller's own
// session stays. No API token is revoked: the caller's tokens are returned for review, with
// the sessions ended.
func (s *Service) ChangePassword(ctx context.Context, p models.Principal, current, next string) ([]models.Token, int64, error) {
	u, err := s.store.User(ctx, p.UserID)
	if err != nil {
		return nil, 0, err
	}
	if err := CheckPassword(next, u.Email); err != nil {
		return nil, 0, err
	}
	var ended int64
	var cerr error
	if err := s.hash(ctx, func() { ended, cerr = s.store.ChangePassword(ctx, p, current, next) }); err != nil {
		return nil, 0, err
	}
	if cerr != nil {
		return nil, 0, cerr
	}
	s.audit(ctx, models.AccountScope, u.ID, "password.change", u.ID.String(), map[string]any{"sessions_ended": ended})
	ts, err := s.store.Tokens(ctx, u.ID)
	return ts, ended, err
}
