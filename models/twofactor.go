package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"personas/privacy"
)

// TOTP is a user's TOTP enrolment. Secret is the base32 secret, opened from its sealed column.
type TOTP struct {
	Secret       string
	CreatedAt    time.Time
	ConfirmedAt  *time.Time
	LastUsedStep int64
}

func totpSecretAD(userID uuid.UUID) []byte {
	return privacy.AD("user_totp", "secret", userID.String())
}

// SaveTOTPSecret stores a new, unconfirmed TOTP secret for a user, replacing an unconfirmed
// one. A user whose two-factor sign-in is on (confirmed) must disable it first: ErrConflict.
func (s *Store) SaveTOTPSecret(ctx context.Context, userID uuid.UUID, secret string) error {
	enc, err := s.keyring.Seal([]byte(secret), totpSecretAD(userID))
	if err != nil {
		return fmt.Errorf("seal TOTP secret: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `/* Store.SaveTOTPSecret */
		INSERT INTO user_totp (user_id, secret_enc, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET secret_enc = excluded.secret_enc, created_at = excluded.created_at,
		    last_used_step = 0
		WHERE user_totp.confirmed_at IS NULL`, userID, enc, s.now().UTC())
	if err != nil {
		return fmt.Errorf("save TOTP secret: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: two-factor sign-in is already on: turn it off first", ErrConflict)
	}
	return nil
}

// UserTOTP returns a user's TOTP enrolment, confirmed or not; ErrNotFound when there is none.
func (s *Store) UserTOTP(ctx context.Context, userID uuid.UUID) (TOTP, error) {
	var t TOTP
	var enc []byte
	err := s.pool.QueryRow(ctx, `/* Store.UserTOTP */
		SELECT secret_enc, created_at, confirmed_at, last_used_step FROM user_totp WHERE user_id = $1`, userID).
		Scan(&enc, &t.CreatedAt, &t.ConfirmedAt, &t.LastUsedStep)
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return TOTP{}, ErrNotFound
		}
		return TOTP{}, fmt.Errorf("read TOTP of user %s: %w", userID, translate(err))
	}
	secret, err := s.keyring.Open(enc, totpSecretAD(userID))
	if err != nil {
		return TOTP{}, fmt.Errorf("open TOTP secret of user %s: %w", userID, err)
	}
	t.Secret = string(secret)
	return t, nil
}

// ConfirmTOTP turns two-factor sign-in on once the user typed a code of time step step, and
// stores the recovery codes' hashes (replacing any). A code of a step not after the last one
// used is refused (ErrConflict), as is a user with no pending secret (ErrNotFound).
func (s *Store) ConfirmTOTP(ctx context.Context, userID uuid.UUID, step int64, codeHashes [][]byte) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* Store.ConfirmTOTP */
			UPDATE user_totp SET confirmed_at = $2, last_used_step = $3
			WHERE user_id = $1 AND confirmed_at IS NULL AND last_used_step < $3`, userID, s.now().UTC(), step)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return replaceRecoveryCodes(ctx, tx, userID, codeHashes)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("confirm TOTP: %w", translate(err))
	}
	return nil
}

func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, userID uuid.UUID, codeHashes [][]byte) error {
	if _, err := tx.Exec(ctx, `/* Store.replaceRecoveryCodes */ DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `/* Store.replaceRecoveryCodes */
		INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])`, userID, codeHashes)
	return err
}

// ReplaceRecoveryCodes stores a new set of recovery codes' hashes for a user whose two-factor
// sign-in is on; the old codes stop working.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, codeHashes [][]byte) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var on bool
		if err := tx.QueryRow(ctx, `/* Store.ReplaceRecoveryCodes */
			SELECT EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)`, userID).Scan(&on); err != nil {
			return err
		}
		if !on {
			return ErrNotFound
		}
		return replaceRecoveryCodes(ctx, tx, userID, codeHashes)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("replace recovery codes: %w", translate(err))
	}
	return nil
}

// UseTOTPStep records that a confirmed TOTP code of time step step was used, and reports
// whether it may be: false when a code of this step or a later one was used already (a replay
// within the window). The check and the record are one statement, so two requests racing with
// the same code cannot both pass.
func (s *Store) UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `/* Store.UseTOTPStep */
		UPDATE user_totp SET last_used_step = $2
		WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_used_step < $2`, userID, step)
	if err != nil {
		return false, fmt.Errorf("record TOTP use: %w", translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// UseRecoveryCode spends one unused recovery code of a user, by its hash, and returns how many
// remain unused; ok is false when no unused code has that hash.
func (s *Store) UseRecoveryCode(ctx context.Context, userID uuid.UUID, codeHash []byte) (remaining int, ok bool, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* Store.UseRecoveryCode */
			UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
			userID, codeHash, s.now().UTC())
		if err != nil {
			return err
		}
		ok = tag.RowsAffected() == 1
		return tx.QueryRow(ctx, `/* Store.UseRecoveryCode */
			SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&remaining)
	})
	if err != nil {
		return 0, false, fmt.Errorf("use recovery code: %w", translate(err))
	}
	return remaining, ok, nil
}

// DeleteTOTP turns a user's two-factor sign-in off: the secret and the recovery codes go. It
// reports whether there was anything to remove.
func (s *Store) DeleteTOTP(ctx context.Context, userID uuid.UUID) (bool, error) {
	var removed bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* Store.DeleteTOTP */ DELETE FROM user_totp WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		removed = tag.RowsAffected() > 0
		_, err = tx.Exec(ctx, `/* Store.DeleteTOTP */ DELETE FROM recovery_codes WHERE user_id = $1`, userID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("turn off TOTP: %w", translate(err))
	}
	return removed, nil
}

// HasTwoFactor reports whether a user's two-factor sign-in is on (a confirmed TOTP secret).
func (s *Store) HasTwoFactor(ctx context.Context, userID uuid.UUID) (bool, error) {
	var on bool
	if err := s.pool.QueryRow(ctx, `/* Store.HasTwoFactor */
		SELECT EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)`, userID).Scan(&on); err != nil {
		return false, fmt.Errorf("read two-factor state: %w", translate(err))
	}
	return on, nil
}

// RequiresTwoFactor reports whether a project requires two-factor sign-in of its members.
func (s *Store) RequiresTwoFactor(ctx context.Context, projectID uuid.UUID) (bool, error) {
	var on bool
	if err := s.pool.QueryRow(ctx, `/* Store.RequiresTwoFactor */
		SELECT require_two_factor FROM projects WHERE id = $1`, projectID).Scan(&on); err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return false, ErrNotFound
		}
		return false, fmt.Errorf("read project %s: %w", projectID, translate(err))
	}
	return on, nil
}

// SetRequireTwoFactor turns the project's two-factor requirement on or off.
func (s *Store) SetRequireTwoFactor(ctx context.Context, projectID uuid.UUID, on bool) error {
	tag, err := s.pool.Exec(ctx, `/* Store.SetRequireTwoFactor */
		UPDATE projects SET require_two_factor = $2, updated_at = now() WHERE id = $1`, projectID, on)
	if err != nil {
		return fmt.Errorf("set two-factor requirement of %s: %w", projectID, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// OIDCSubject is the blind index under which a single sign-on identity (issuer and subject)
// is stored.
func (s *Store) OIDCSubject(issuer, subject string) []byte {
	return s.index.Sum("oidc", issuer, subject)
}

// UserByOIDCSubject finds the user linked to a single sign-on identity (Store.OIDCSubject).
func (s *Store) UserByOIDCSubject(ctx context.Context, subject []byte) (User, error) {
	return s.scanUser(s.pool.QueryRow(ctx, `/* Store.UserByOIDCSubject */
		SELECT id, email_enc, platform_admin, created_at FROM users WHERE oidc_subject = $1`, subject))
}

// LinkOIDCSubject links a user to a single sign-on identity. A user linked to another identity
// already, or an identity linked to another user, is ErrConflict.
func (s *Store) LinkOIDCSubject(ctx context.Context, userID uuid.UUID, subject []byte) error {
	tag, err := s.pool.Exec(ctx, `/* Store.LinkOIDCSubject */
		UPDATE users SET oidc_subject = $2, updated_at = now()
		WHERE id = $1 AND (oidc_subject IS NULL OR oidc_subject = $2)`, userID, subject)
	if err != nil {
		return fmt.Errorf("link single sign-on identity: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: the account is linked to another single sign-on identity", ErrConflict)
	}
	return nil
}
