package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ResetTTL is how long a password reset link works.
const ResetTTL = time.Hour

// ResetPrefix starts every password reset link token.
const ResetPrefix = "rst_"

// CreatePasswordReset records a single-use reset link for a user and returns its token, shown
// once (mailed or printed), and when it expires.
func (s *Store) CreatePasswordReset(ctx context.Context, userID uuid.UUID) (string, time.Time, error) {
	token := ResetPrefix + randomString(32)
	now := s.now().UTC()
	_, err := s.pool.Exec(ctx, `/* Store.CreatePasswordReset */
		INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hashSecret(token), userID, now, now.Add(ResetTTL))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create password reset: %w", translate(err))
	}
	return token, now.Add(ResetTTL), nil
}

// LastPasswordReset is when the user's latest reset link was made; zero when none is kept.
func (s *Store) LastPasswordReset(ctx context.Context, userID uuid.UUID) (time.Time, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, `/* Store.LastPasswordReset */
		SELECT max(created_at) FROM password_resets WHERE user_id = $1`, userID).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("read password resets: %w", translate(err))
	}
	if at == nil {
		return time.Time{}, nil
	}
	return *at, nil
}

// HashResetToken does the hashing CreatePasswordReset does, for callers that must spend the
// same work on an address without an account.
func HashResetToken(token string) []byte { return hashSecret(token) }

// ResetUser returns the user a reset token is for, while it can be used; otherwise
// ErrResetUnknown, ErrResetUsed or ErrResetExpired.
func (s *Store) ResetUser(ctx context.Context, token string) (uuid.UUID, error) {
	userID, err := resetUser(ctx, s.pool, token, s.now().UTC(), false)
	if err != nil && !isResetError(err) {
		return uuid.Nil, fmt.Errorf("read password reset: %w", translate(err))
	}
	return userID, err
}

func isResetError(err error) bool {
	return errors.Is(err, ErrResetUnknown) || errors.Is(err, ErrResetUsed) || errors.Is(err, ErrResetExpired)
}

func resetUser(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, token string, now time.Time, lock bool) (uuid.UUID, error) {
	if len(token) > 100 {
		return uuid.Nil, ErrResetUnknown
	}
	sql := `/* Store.ResetUser */ SELECT user_id, expires_at, used_at FROM password_resets WHERE token_hash = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var userID uuid.UUID
	var expires time.Time
	var used *time.Time
	if err := q.QueryRow(ctx, sql, hashSecret(token)).Scan(&userID, &expires, &used); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return uuid.Nil, ErrResetUnknown
		}
		return uuid.Nil, err
	}
	switch {
	case used != nil:
		return uuid.Nil, ErrResetUsed
	case !now.Before(expires):
		return uuid.Nil, ErrResetExpired
	}
	return userID, nil
}

// CompletePasswordReset uses a reset token once: in one transaction it sets the new password
// hash (argon2id, from the caller), marks this and every other open reset link of the user
// used, and ends every session of the user. API tokens are left alone: the caller lists them
// for the person to review. It returns the user and the sessions ended.
func (s *Store) CompletePasswordReset(ctx context.Context, token, passwordHash string) (uuid.UUID, int64, error) {
	var userID uuid.UUID
	var ended int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		now := s.now().UTC()
		var err error
		if userID, err = resetUser(ctx, tx, token, now, true); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `/* Store.CompletePasswordReset */
			UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`, userID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `/* Store.CompletePasswordReset */
			UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1`, userID, passwordHash); err != nil {
			return err
		}
		ended, err = endSessions(ctx, tx, userID, nil)
		return err
	})
	if err != nil {
		if isResetError(err) {
			return uuid.Nil, 0, err
		}
		return uuid.Nil, 0, fmt.Errorf("complete password reset: %w", translate(err))
	}
	return userID, ended, nil
}
