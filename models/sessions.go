package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgxExecer is a pool or a transaction.
type pgxExecer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

// NewSession describes a dashboard session to open.
type NewSession struct {
	UserID uuid.UUID
	// DeviceClass is the coarse device ("desktop", "mobile", "tablet", "bot"), from
	// privacy.DeviceClass; the user agent itself and the IP address are never stored.
	DeviceClass string
	// PendingSecondFactor opens a session that authenticates nothing until its second factor
	// is given (CompleteSecondFactor).
	PendingSecondFactor bool
	// TwoFactorOK records that the sign-in gave a second factor.
	TwoFactorOK bool
}

// PendingSessionTTL is how long a sign-in may wait for its second factor.
const PendingSessionTTL = 10 * time.Minute

// OpenSession opens a dashboard session and returns it with its secret, shown once.
func (s *Store) OpenSession(ctx context.Context, ns NewSession) (Session, error) {
	return s.openSession(ctx, s.pool, ns)
}

func (s *Store) openSession(ctx context.Context, q pgxExecer, ns NewSession) (Session, error) {
	if len(ns.DeviceClass) > 20 {
		ns.DeviceClass = ns.DeviceClass[:20]
	}
	now := s.now().UTC()
	ttl := SessionTTL
	if ns.PendingSecondFactor {
		ttl = PendingSessionTTL
	}
	se := Session{ID: uuid.New(), Secret: randomString(32), CSRF: randomString(24), ExpiresAt: now.Add(ttl)}
	_, err := q.Exec(ctx, `/* Store.OpenSession */
		INSERT INTO sessions (hash, id, user_id, csrf_token, created_at, expires_at, device_class, last_seen_at,
		                      two_factor_ok, pending_second_factor)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		hashSecret(se.Secret), se.ID, ns.UserID, se.CSRF, now, se.ExpiresAt, ns.DeviceClass, now.Truncate(time.Minute),
		ns.TwoFactorOK && !ns.PendingSecondFactor, ns.PendingSecondFactor)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", translate(err))
	}
	return se, nil
}

// PendingSession resolves the cookie of a sign-in that awaits its second factor and returns
// its user. Any other cookie (unknown, expired, already complete) is ErrUnauthenticated.
func (s *Store) PendingSession(ctx context.Context, secret string) (uuid.UUID, error) {
	if secret == "" || len(secret) > 100 {
		return uuid.Nil, ErrUnauthenticated
	}
	var userID uuid.UUID
	err := s.pool.QueryRow(ctx, `/* Store.PendingSession */
		SELECT user_id FROM sessions WHERE hash = $1 AND expires_at > $2 AND pending_second_factor`,
		hashSecret(secret), s.now().UTC()).Scan(&userID)
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return uuid.Nil, ErrUnauthenticated
		}
		return uuid.Nil, fmt.Errorf("look up pending session: %w", translate(err))
	}
	return userID, nil
}

// CompleteSecondFactor ends a pending sign-in once its second factor was checked and opens
// the full session in its place, with a new secret (the pending cookie never becomes a
// session: nothing learnt before the second factor carries over). A cookie that is not a
// pending sign-in of that user is ErrUnauthenticated.
func (s *Store) CompleteSecondFactor(ctx context.Context, secret string, userID uuid.UUID) (Session, error) {
	var se Session
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var device string
		err := tx.QueryRow(ctx, `/* Store.CompleteSecondFactor */
			DELETE FROM sessions WHERE hash = $1 AND user_id = $2 AND expires_at > $3 AND pending_second_factor
			RETURNING device_class`, hashSecret(secret), userID, s.now().UTC()).Scan(&device)
		if err != nil {
			return err
		}
		se, err = s.openSession(ctx, tx, NewSession{UserID: userID, DeviceClass: device, TwoFactorOK: true})
		return err
	})
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return Session{}, ErrUnauthenticated
		}
		return Session{}, fmt.Errorf("complete sign-in: %w", translate(err))
	}
	return se, nil
}

// UserSession is one of a user's active dashboard sessions as the user reviews it: no secret,
// no address, only the device class and coarse times.
type UserSession struct {
	ID          uuid.UUID `json:"id"`
	DeviceClass string    `json:"device_class"`
	CreatedAt   time.Time `json:"created_at"`
	LastSeenAt  time.Time `json:"last_seen_at"` // to the minute
	ExpiresAt   time.Time `json:"expires_at"`
	TwoFactorOK bool      `json:"two_factor"`
	Current     bool      `json:"current"` // the session of the request
}

// Sessions lists the caller's active sessions, most recently seen first; the caller's own
// session, when it is one, is marked Current. Sign-ins awaiting a second factor are not listed.
func (s *Store) Sessions(ctx context.Context, p Principal) ([]UserSession, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.Sessions */
		SELECT id, device_class, created_at, last_seen_at, expires_at, two_factor_ok, ($3::bytea IS NOT NULL AND hash = $3)
		FROM sessions WHERE user_id = $1 AND expires_at > $2 AND NOT pending_second_factor
		ORDER BY last_seen_at DESC, created_at DESC`, p.UserID, s.now().UTC(), p.session)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[UserSession])
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", translate(err))
	}
	if out == nil {
		out = []UserSession{}
	}
	return out, nil
}

// RevokeSession ends one of the user's sessions by its public id; another user's session, or
// one that does not exist, is ErrNotFound.
func (s *Store) RevokeSession(ctx context.Context, userID, sessionID uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `/* Store.RevokeSession */
		DELETE FROM sessions WHERE user_id = $1 AND id = $2`, userID, sessionID)
	if err != nil {
		return fmt.Errorf("revoke session: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// EndOtherSessions ends every session of the caller but the caller's own (all of them when the
// caller uses a token). It returns the sessions ended.
func (s *Store) EndOtherSessions(ctx context.Context, p Principal) (int64, error) {
	n, err := endSessions(ctx, s.pool, p.UserID, p.session)
	if err != nil {
		return 0, fmt.Errorf("end other sessions: %w", translate(err))
	}
	return n, nil
}
