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

// Errors of invitation and reset links, each plain and distinct so a person is told what
// happened to the link they hold. They wrap ErrNotFound (a link that never existed) or
// ErrConflict (a link whose state forbids the use), so a status map that knows only those
// still answers sensibly.
var (
	ErrInvitationUnknown = fmt.Errorf("%w: this invitation link is not valid", ErrNotFound)
	ErrInvitationUsed    = fmt.Errorf("%w: this invitation was already accepted", ErrConflict)
	ErrInvitationExpired = fmt.Errorf("%w: this invitation has expired: ask for a new one", ErrConflict)
	ErrInvitationRevoked = fmt.Errorf("%w: this invitation was withdrawn", ErrConflict)

	ErrResetUnknown = fmt.Errorf("%w: this password reset link is not valid", ErrNotFound)
	ErrResetUsed    = fmt.Errorf("%w: this password reset link was already used", ErrConflict)
	ErrResetExpired = fmt.Errorf("%w: this password reset link has expired: ask for a new one", ErrConflict)
)

// Invitation lifetimes: the default, and the bounds a setting may choose.
const (
	DefaultInvitationTTL = 7 * 24 * time.Hour
	MinInvitationTTL     = time.Hour
	MaxInvitationTTL     = 30 * 24 * time.Hour
)

// Invitation statuses, derived from the row at read time.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationRevoked  = "revoked"
	InvitationExpired  = "expired"
)

// InvitationPrefix starts every invitation link token.
const InvitationPrefix = "inv_"

// Invitation is an invitation to join a project with a role. Its link token is shown once and
// stored only as a hash; the email is sealed under the keyring.
type Invitation struct {
	ID         uuid.UUID  `json:"id"`
	ProjectID  uuid.UUID  `json:"project_id"`
	Email      string     `json:"email"`
	Role       Role       `json:"role"`
	CreatedBy  *uuid.UUID `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at"`
	AcceptedBy *uuid.UUID `json:"accepted_by"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Resent     int        `json:"resent"`
	Status     string     `json:"status"`
}

// err is why the invitation cannot be accepted at now, nil when it can.
func (inv Invitation) err(now time.Time) error {
	switch {
	case inv.AcceptedAt != nil:
		return ErrInvitationUsed
	case inv.RevokedAt != nil:
		return ErrInvitationRevoked
	case !now.Before(inv.ExpiresAt):
		return ErrInvitationExpired
	}
	return nil
}

func (inv *Invitation) setStatus(now time.Time) {
	switch inv.err(now) {
	case ErrInvitationUsed:
		inv.Status = InvitationAccepted
	case ErrInvitationRevoked:
		inv.Status = InvitationRevoked
	case ErrInvitationExpired:
		inv.Status = InvitationExpired
	default:
		inv.Status = InvitationPending
	}
}

func invitationEmailAD(projectID, id uuid.UUID) []byte {
	return privacy.AD("invitations", "email", projectID.String()+"/"+id.String())
}

const invitationColumns = `project_id, id, role, email_enc, created_by, created_at, expires_at, accepted_at, accepted_by,
	revoked_at, resent`

func (s *Store) scanInvitation(row pgx.Row) (Invitation, error) {
	var inv Invitation
	var enc []byte
	if err := row.Scan(&inv.ProjectID, &inv.ID, &inv.Role, &enc, &inv.CreatedBy, &inv.CreatedAt, &inv.ExpiresAt,
		&inv.AcceptedAt, &inv.AcceptedBy, &inv.RevokedAt, &inv.Resent); err != nil {
		return Invitation{}, translate(err)
	}
	e, err := s.keyring.Open(enc, invitationEmailAD(inv.ProjectID, inv.ID))
	if err != nil {
		return Invitation{}, fmt.Errorf("open email of invitation %s: %w", inv.ID, err)
	}
	inv.Email = string(e)
	inv.setStatus(s.now())
	return inv, nil
}

// NewInvitation describes an invitation to create.
type NewInvitation struct {
	ProjectID uuid.UUID
	Email     string
	Role      Role
	CreatedBy uuid.UUID
	TTL       time.Duration // 0: DefaultInvitationTTL
}

func checkInvitationTTL(ttl time.Duration) (time.Duration, error) {
	if ttl == 0 {
		return DefaultInvitationTTL, nil
	}
	if ttl < MinInvitationTTL || ttl > MaxInvitationTTL {
		return 0, Invalid("expires_in", "must be between %v and %v", MinInvitationTTL, MaxInvitationTTL)
	}
	return ttl, nil
}

// CreateInvitation records an invitation and returns it with its link token, shown once. An
// address may have one open invitation per project (an expired one is replaced); a member of
// the project is not invited again (ErrConflict). Owners are never invited: ownership is
// transferred.
func (s *Store) CreateInvitation(ctx context.Context, ni NewInvitation) (Invitation, string, error) {
	e, err := NormalizeEmail(ni.Email)
	if err != nil {
		return Invitation{}, "", err
	}
	switch ni.Role {
	case RoleAdmin, RoleEditor, RoleViewer:
	case RoleOwner:
		return Invitation{}, "", Invalid("role", "ownership is transferred, not granted: invite as admin, then transfer")
	default:
		return Invitation{}, "", Invalid("role", "must be admin, editor or viewer")
	}
	ttl, err := checkInvitationTTL(ni.TTL)
	if err != nil {
		return Invitation{}, "", err
	}
	id := uuid.New()
	enc, err := s.keyring.Seal([]byte(e), invitationEmailAD(ni.ProjectID, id))
	if err != nil {
		return Invitation{}, "", fmt.Errorf("seal email: %w", err)
	}
	token := InvitationPrefix + randomString(32)
	now := s.now().UTC()
	var createdBy *uuid.UUID
	if ni.CreatedBy != uuid.Nil {
		createdBy = &ni.CreatedBy
	}
	idx := s.index.Email(e)
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var member bool
		if err := tx.QueryRow(ctx, `/* Store.CreateInvitation */
			SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
			               WHERE m.project_id = $1 AND u.email_index = $2)`, ni.ProjectID, idx).Scan(&member); err != nil {
			return err
		}
		if member {
			return fmt.Errorf("%w: this address is already a member of the project", ErrConflict)
		}
		if _, err := tx.Exec(ctx, `/* Store.CreateInvitation */
			DELETE FROM invitations WHERE project_id = $1 AND email_index = $2
			AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at <= $3`, ni.ProjectID, idx, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `/* Store.CreateInvitation */
			INSERT INTO invitations (project_id, id, role, email_enc, email_index, token_hash, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			ni.ProjectID, id, ni.Role, enc, idx, hashSecret(token), createdBy, now, now.Add(ttl))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return Invitation{}, "", err
		}
		if errors.Is(translate(err), ErrConflict) {
			return Invitation{}, "", fmt.Errorf("%w: an invitation to this address is pending: resend or revoke it", ErrConflict)
		}
		return Invitation{}, "", fmt.Errorf("create invitation: %w", translate(err))
	}
	inv, err := s.Invitation(ctx, ni.ProjectID, id)
	return inv, token, err
}

// Invitation returns one invitation of a project.
func (s *Store) Invitation(ctx context.Context, projectID, id uuid.UUID) (Invitation, error) {
	inv, err := s.scanInvitation(s.pool.QueryRow(ctx, `/* Store.Invitation */
		SELECT `+invitationColumns+` FROM invitations WHERE project_id = $1 AND id = $2`, projectID, id))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Invitation{}, err
		}
		return Invitation{}, fmt.Errorf("read invitation %s: %w", id, err)
	}
	return inv, nil
}

// InvitationByToken finds the invitation of a link token, whatever its state; a token that
// names none is ErrInvitationUnknown.
func (s *Store) InvitationByToken(ctx context.Context, token string) (Invitation, error) {
	if len(token) > 100 {
		return Invitation{}, ErrInvitationUnknown
	}
	inv, err := s.scanInvitation(s.pool.QueryRow(ctx, `/* Store.InvitationByToken */
		SELECT `+invitationColumns+` FROM invitations WHERE token_hash = $1`, hashSecret(token)))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Invitation{}, ErrInvitationUnknown
		}
		return Invitation{}, fmt.Errorf("read invitation: %w", err)
	}
	return inv, nil
}

// Invitations lists a project's invitations, newest first, in every state until they are
// purged (InvitationKeepDays after they expire).
func (s *Store) Invitations(ctx context.Context, projectID uuid.UUID) ([]Invitation, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.Invitations */
		SELECT `+invitationColumns+` FROM invitations WHERE project_id = $1 ORDER BY created_at DESC, id`, projectID)
	out := []Invitation{}
	defer rows.Close()
	for rows.Next() {
		inv, err := s.scanInvitation(rows)
		if err != nil {
			return nil, fmt.Errorf("list invitations: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invitations: %w", translate(err))
	}
	return out, nil
}

// OpenInvitations lists the pending invitations of an address across projects, oldest first:
// single sign-on accepts them for a verified address.
func (s *Store) OpenInvitations(ctx context.Context, email string) ([]Invitation, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return []Invitation{}, nil
	}
	rows, _ := s.pool.Query(ctx, `/* Store.OpenInvitations */
		SELECT `+invitationColumns+` FROM invitations
		WHERE email_index = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at`, s.index.Email(e), s.now().UTC())
	out := []Invitation{}
	defer rows.Close()
	for rows.Next() {
		inv, err := s.scanInvitation(rows)
		if err != nil {
			return nil, fmt.Errorf("list open invitations: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list open invitations: %w", translate(err))
	}
	return out, nil
}

// stateError explains why no open invitation of a project matched an update.
func (s *Store) stateError(ctx context.Context, projectID, id uuid.UUID) error {
	inv, err := s.Invitation(ctx, projectID, id)
	if err != nil {
		return err
	}
	if e := inv.err(s.now()); e != nil && e != ErrInvitationExpired {
		return e
	}
	return fmt.Errorf("%w: the invitation changed meanwhile", ErrConflict)
}

// ResendInvitation gives an open invitation (pending or expired) a new link token and a new
// expiry; the old link stops working. It returns the invitation and the new token, shown once.
func (s *Store) ResendInvitation(ctx context.Context, projectID, id uuid.UUID, ttl time.Duration) (Invitation, string, error) {
	ttl, err := checkInvitationTTL(ttl)
	if err != nil {
		return Invitation{}, "", err
	}
	token := InvitationPrefix + randomString(32)
	tag, err := s.pool.Exec(ctx, `/* Store.ResendInvitation */
		UPDATE invitations SET token_hash = $3, expires_at = $4, resent = resent + 1
		WHERE project_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL`,
		projectID, id, hashSecret(token), s.now().UTC().Add(ttl))
	if err != nil {
		return Invitation{}, "", fmt.Errorf("resend invitation: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return Invitation{}, "", s.stateError(ctx, projectID, id)
	}
	inv, err := s.Invitation(ctx, projectID, id)
	return inv, token, err
}

// RevokeInvitation withdraws an invitation that was not accepted; its link stops working.
// Revoking a revoked invitation changes nothing; an accepted one is ErrInvitationUsed.
func (s *Store) RevokeInvitation(ctx context.Context, projectID, id uuid.UUID) (Invitation, error) {
	tag, err := s.pool.Exec(ctx, `/* Store.RevokeInvitation */
		UPDATE invitations SET revoked_at = $3
		WHERE project_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL`, projectID, id, s.now().UTC())
	if err != nil {
		return Invitation{}, fmt.Errorf("revoke invitation: %w", translate(err))
	}
	inv, err := s.Invitation(ctx, projectID, id)
	if err != nil {
		return Invitation{}, err
	}
	if tag.RowsAffected() == 0 && inv.Status == InvitationAccepted {
		return Invitation{}, ErrInvitationUsed
	}
	return inv, nil
}

// Acceptance is what accepting an invitation sets on the invitee's account.
type Acceptance struct {
	// PasswordHash (argon2id) is set on an account that has no password yet, new or not; an
	// account with a password keeps it (the caller checked it).
	PasswordHash string
	// OIDCSubject (Store.OIDCSubject) links the account to a single sign-on identity.
	OIDCSubject []byte
}

// AcceptInvitation accepts the invitation of a link token in one transaction: it creates the
// invitee's account if there is none, makes it a member with the invited role (an existing
// member keeps a higher role; an owner stays owner), and marks the invitation used. A token
// used, expired, revoked or unknown gives the matching Err… error and changes nothing.
func (s *Store) AcceptInvitation(ctx context.Context, token string, a Acceptance) (User, Invitation, error) {
	if len(token) > 100 {
		return User{}, Invitation{}, ErrInvitationUnknown
	}
	return s.acceptInvitation(ctx, "token_hash = $1", []any{hashSecret(token)}, a)
}

// AcceptOpenInvitation accepts an invitation by its id, as AcceptInvitation does by token: for
// single sign-on, which proves the invited address instead of presenting the link.
func (s *Store) AcceptOpenInvitation(ctx context.Context, projectID, id uuid.UUID, a Acceptance) (User, Invitation, error) {
	return s.acceptInvitation(ctx, "project_id = $1 AND id = $2", []any{projectID, id}, a)
}

func (s *Store) acceptInvitation(ctx context.Context, where string, args []any, a Acceptance) (User, Invitation, error) {
	var inv Invitation
	var userID uuid.UUID
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		inv, err = s.scanInvitation(tx.QueryRow(ctx, `/* Store.AcceptInvitation */
			SELECT `+invitationColumns+` FROM invitations WHERE `+where+` FOR UPDATE`, args...))
		if errors.Is(err, ErrNotFound) {
			return ErrInvitationUnknown
		}
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if err := inv.err(now); err != nil {
			return err
		}
		idx := s.index.Email(inv.Email)
		err = tx.QueryRow(ctx, `/* Store.AcceptInvitation */
			SELECT id FROM users WHERE email_index = $1 FOR UPDATE`, idx).Scan(&userID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			userID = uuid.New()
			enc, err := s.keyring.Seal([]byte(inv.Email), userEmailAD(userID))
			if err != nil {
				return fmt.Errorf("seal email: %w", err)
			}
			if _, err := tx.Exec(ctx, `/* Store.AcceptInvitation */
				INSERT INTO users (id, email_enc, email_index, password_hash, oidc_subject) VALUES ($1, $2, $3, $4, $5)`,
				userID, enc, idx, a.PasswordHash, a.OIDCSubject); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.Exec(ctx, `/* Store.AcceptInvitation */
				UPDATE users SET password_hash = CASE WHEN password_hash = '' THEN $2 ELSE password_hash END,
				       oidc_subject = coalesce(oidc_subject, $3), updated_at = now()
				WHERE id = $1`, userID, a.PasswordHash, a.OIDCSubject); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `/* Store.AcceptInvitation */
			INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, $3)
			ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role
			WHERE memberships.role <> 'owner'
			  AND array_position(ARRAY['viewer', 'editor', 'admin'], excluded.role)
			    > array_position(ARRAY['viewer', 'editor', 'admin'], memberships.role)`,
			inv.ProjectID, userID, inv.Role); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `/* Store.AcceptInvitation */
			UPDATE invitations SET accepted_at = $3, accepted_by = $4 WHERE project_id = $1 AND id = $2`,
			inv.ProjectID, inv.ID, now, userID)
		return err
	})
	if err != nil {
		for _, e := range []error{ErrInvitationUnknown, ErrInvitationUsed, ErrInvitationExpired, ErrInvitationRevoked} {
			if errors.Is(err, e) {
				return User{}, Invitation{}, e
			}
		}
		return User{}, Invitation{}, fmt.Errorf("accept invitation: %w", translate(err))
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return User{}, Invitation{}, err
	}
	inv, err = s.Invitation(ctx, inv.ProjectID, inv.ID)
	return u, inv, err
}

// HasPassword reports whether a user can sign in with a password.
func (s *Store) HasPassword(ctx context.Context, userID uuid.UUID) (bool, error) {
	var has bool
	if err := s.pool.QueryRow(ctx, `/* Store.HasPassword */
		SELECT password_hash <> '' FROM users WHERE id = $1`, userID).Scan(&has); err != nil {
		return false, fmt.Errorf("read user %s: %w", userID, translate(err))
	}
	return has, nil
}
