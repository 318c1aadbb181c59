package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"personas/privacy"
)

// User is an account. Its email is stored sealed under the keyring, with a blind index for
// look-up; it is decrypted only when shown to the user or an admin.
type User struct {
	ID            uuid.UUID `json:"id"`
	Email         string    `json:"email,omitempty"`
	PlatformAdmin bool      `json:"platform_admin"`
	CreatedAt     time.Time `json:"created_at"`
}

// Principal is who is calling: a user authenticated by an API token or a dashboard session.
type Principal struct {
	UserID        uuid.UUID
	PlatformAdmin bool
	TokenID       uuid.UUID // zero for sessions
	SessionCSRF   string    // non-empty for cookie sessions: writes must present it
	SessionID     uuid.UUID // the session's public id; zero for tokens
	TwoFactorOK   bool      // the session was opened with a second factor
	session       []byte    // the session's hash, for "every other session"
}

// NormalizeEmail validates an email address and returns its canonical form.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > 254 {
		return "", Invalid("email", "too long")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e, "@") || strings.ContainsAny(e, " <>") {
		return "", Invalid("email", "not a valid email address")
	}
	return e, nil
}

// userEmailAD binds a sealed email to its user's row: a ciphertext copied to another user's
// row does not open.
func userEmailAD(userID uuid.UUID) []byte { return privacy.AD("users", "email", userID.String()) }

const (
	insertUser = `/* Store.EnsureUser */
	INSERT INTO users (id, email_enc, email_index, password_hash, platform_admin)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (email_index) DO NOTHING`
	selectUserByIndex = `/* Store.UserByEmail */
	SELECT id, email_enc, platform_admin, created_at FROM users WHERE email_index = $1`
	selectUserByID = `/* Store.User */
	SELECT id, email_enc, platform_admin, created_at FROM users WHERE id = $1`
)

// EnsureUser finds the user with this email or creates it (with password if not empty). The
// second result is true when the user was created.
func (s *Store) EnsureUser(ctx context.Context, email, password string, platformAdmin bool) (User, bool, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, false, err
	}
	hash := ""
	if password != "" {
		if err := CheckPassword(password); err != nil {
			return User{}, false, err
		}
		if hash, err = privacy.HashPassword(password); err != nil {
			return User{}, false, fmt.Errorf("hash password: %w", err)
		}
	}
	id := uuid.New()
	enc, err := s.keyring.Seal([]byte(e), userEmailAD(id))
	if err != nil {
		return User{}, false, fmt.Errorf("seal email: %w", err)
	}
	tag, err := s.pool.Exec(ctx, insertUser, id, enc, s.index.Email(e), hash, platformAdmin)
	if err != nil {
		return User{}, false, fmt.Errorf("create user: %w", translate(err))
	}
	u, err := s.UserByEmail(ctx, e)
	if err != nil {
		return User{}, false, err
	}
	return u, tag.RowsAffected() == 1, nil
}

// CheckPassword enforces the password policy.
func CheckPassword(pw string) error {
	if len(pw) < 10 {
		return Invalid("password", "must be at least 10 characters")
	}
	if len(pw) > 1024 {
		return Invalid("password", "must be at most 1024 bytes")
	}
	return nil
}

// SetPassword replaces a user's password (the CLI, a reset) and ends every session of the user:
// whoever held one signed in with the old password.
func (s *Store) SetPassword(ctx context.Context, userID uuid.UUID, password string) error {
	_, err := s.setPassword(ctx, userID, password, nil)
	return err
}

// ChangePassword replaces the caller's password after checking the current one, and ends every
// other session of the user in the same transaction; the caller's own session (if it is one)
// stays. A wrong current password is ErrUnauthenticated. It returns the sessions ended.
func (s *Store) ChangePassword(ctx context.Context, p Principal, current, next string) (int64, error) {
	if err := CheckPassword(next); err != nil {
		return 0, err
	}
	var hash string
	if err := s.pool.QueryRow(ctx, `/* Store.ChangePassword */
		SELECT password_hash FROM users WHERE id = $1`, p.UserID).Scan(&hash); err != nil {
		return 0, fmt.Errorf("look up user: %w", translate(err))
	}
	if hash == "" {
		privacy.DummyVerify(current)
		return 0, ErrUnauthenticated
	}
	if ok, err := privacy.VerifyPassword(hash, current); err != nil || !ok {
		return 0, ErrUnauthenticated
	}
	return s.setPassword(ctx, p.UserID, next, p.session)
}

// setPassword stores a new password hash and deletes the user's sessions except keep (a
// session hash, or nil for all), in one transaction.
func (s *Store) setPassword(ctx context.Context, userID uuid.UUID, password string, keep []byte) (int64, error) {
	if err := CheckPassword(password); err != nil {
		return 0, err
	}
	hash, err := privacy.HashPassword(password)
	if err != nil {
		return 0, fmt.Errorf("hash password: %w", err)
	}
	var ended int64
	err = s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* Store.SetPassword */
			UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1`, userID, hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		ended, err = endSessions(ctx, tx, userID, keep)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return 0, err
		}
		return 0, fmt.Errorf("set password: %w", translate(err))
	}
	return ended, nil
}

func endSessions(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, userID uuid.UUID, keep []byte) (int64, error) {
	tag, err := q.Exec(ctx, `/* Store.EndSessions */
		DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR hash <> $2)`, userID, keep)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// EndSessions signs a user out everywhere: every dashboard session of the user ends, the
// caller's own included. API tokens are not sessions and stay. It returns the sessions ended.
func (s *Store) EndSessions(ctx context.Context, userID uuid.UUID) (int64, error) {
	n, err := endSessions(ctx, s.pool, userID, nil)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", translate(err))
	}
	return n, nil
}

// SetPlatformAdmin grants or removes the platform-admin flag.
func (s *Store) SetPlatformAdmin(ctx context.Context, userID uuid.UUID, on bool) error {
	_, err := s.pool.Exec(ctx, `/* Store.SetPlatformAdmin */
		UPDATE users SET platform_admin = $2, updated_at = now() WHERE id = $1`, userID, on)
	return translate(err)
}

func (s *Store) scanUser(row pgx.Row) (User, error) {
	var u User
	var enc []byte
	if err := row.Scan(&u.ID, &enc, &u.PlatformAdmin, &u.CreatedAt); err != nil {
		return User{}, translate(err)
	}
	e, err := s.keyring.Open(enc, userEmailAD(u.ID))
	if err != nil {
		return User{}, fmt.Errorf("open email of user %s: %w", u.ID, err)
	}
	u.Email = string(e)
	return u, nil
}

// UserByEmail finds a user by email through the blind index.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, ErrNotFound
	}
	return s.scanUser(s.pool.QueryRow(ctx, selectUserByIndex, s.index.Email(e)))
}

// User returns a user by id.
func (s *Store) User(ctx context.Context, id uuid.UUID) (User, error) {
	return s.scanUser(s.pool.QueryRow(ctx, selectUserByID, id))
}

// Authenticate checks an email and password. Unknown email and wrong password take the same
// time and give the same error, ErrUnauthenticated.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	var id uuid.UUID
	var hash string
	e, nerr := NormalizeEmail(email)
	err := nerr
	if err == nil {
		err = s.pool.QueryRow(ctx, `/* Store.Authenticate */
			SELECT id, password_hash FROM users WHERE email_index = $1`, s.index.Email(e)).Scan(&id, &hash)
	}
	if err != nil && !errors.Is(translate(err), ErrNotFound) && nerr == nil {
		return User{}, fmt.Errorf("look up user: %w", translate(err))
	}
	if err != nil || hash == "" {
		privacy.DummyVerify(password)
		return User{}, ErrUnauthenticated
	}
	ok, verr := privacy.VerifyPassword(hash, password)
	if verr != nil || !ok {
		return User{}, ErrUnauthenticated
	}
	return s.User(ctx, id)
}

// Token is an API token's metadata. The secret is shown once, at creation, and stored only as
// its SHA-256. A token minted with another token names it as its parent: it expires no later,
// and it stops working when any ancestor is revoked or expires.
type Token struct {
	ID         uuid.UUID  `json:"id"`
	UserID     uuid.UUID  `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	ParentID   *uuid.UUID `json:"parent_id"`
}

// TokenPrefix starts every API token.
const TokenPrefix = "psn_"

// maxTokenDepth bounds the lineage walked at authentication; minting refuses to go deeper.
const maxTokenDepth = 16

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no randomness: nothing is safe
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateToken mints a root token for a user (from a dashboard session, the CLI or bootstrap)
// and returns it with the secret, shown once.
func (s *Store) CreateToken(ctx context.Context, userID uuid.UUID, name string, expiresInDays int) (Token, string, error) {
	return s.MintToken(ctx, Principal{UserID: userID}, name, expiresInDays)
}

// tokenChain is the recursive query that walks a token's lineage, the token itself at depth 0
// (selected by where, on $1), one primary-key look-up per ancestor. A lineage longer than
// maxTokenDepth, or one whose parent row is missing, ends at a row whose parent_id is set: a
// dead chain. $2 is now; dead is true when any token of the chain is revoked or expired.
func tokenChain(where string) string {
	return fmt.Sprintf(`WITH RECURSIVE chain AS (
		SELECT id, parent_id, user_id, expires_at, revoked_at, last_used_at, 0 AS depth FROM api_tokens WHERE %[1]s
		UNION ALL
		SELECT t.id, t.parent_id, t.user_id, t.expires_at, t.revoked_at, t.last_used_at, c.depth + 1
		FROM api_tokens t JOIN chain c ON t.id = c.parent_id WHERE c.depth < %[2]d
	), verdict AS (
		SELECT bool_or(revoked_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= $2)
		               OR (depth = %[2]d AND parent_id IS NOT NULL)) AS dead,
		       max(depth) AS depth, min(expires_at) AS expires_at
		FROM chain
	)`, where, maxTokenDepth)
}

// MintToken mints a token for the caller. Minted with a token (p.TokenID set), the new token
// records it as its parent and its expiry is capped at the earliest expiry in the parent's
// lineage; a dead parent (revoked or expired, itself or an ancestor) mints nothing. Minted from a
// session, the token is a root.
func (s *Store) MintToken(ctx context.Context, p Principal, name string, expiresInDays int) (Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return Token{}, "", Invalid("name", "required, at most 100 characters")
	}
	if expiresInDays < 0 || expiresInDays > 3650 {
		return Token{}, "", Invalid("expires_in_days", "must be between 0 (never) and 3650")
	}
	secret := TokenPrefix + randomString(32)
	t := Token{ID: uuid.New(), UserID: p.UserID, Name: name, Prefix: secret[:len(TokenPrefix)+6],
		CreatedAt: s.now().UTC().Truncate(time.Microsecond)} // what PostgreSQL keeps
	if expiresInDays > 0 {
		e := t.CreatedAt.Add(time.Duration(expiresInDays) * 24 * time.Hour)
		t.ExpiresAt = &e
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if p.TokenID != uuid.Nil {
			parent := p.TokenID
			t.ParentID = &parent
			// No lock on the lineage: a revocation racing this mint may miss the new child in
			// its cascade, but authentication walks the lineage and refuses the child anyway.
			var dead bool
			var depth int
			var capAt *time.Time
			err := tx.QueryRow(ctx, tokenChain("id = $1")+` /* Store.MintToken */
				SELECT dead, depth, expires_at FROM verdict`, parent, t.CreatedAt).Scan(&dead, &depth, &capAt)
			if err != nil {
				return fmt.Errorf("read parent token: %w", err)
			}
			if dead {
				return ErrUnauthenticated
			}
			if depth+1 >= maxTokenDepth {
				return Invalid("token", "minted from a chain of %d tokens: mint from a session or a shorter chain", depth+1)
			}
			if capAt != nil && (t.ExpiresAt == nil || capAt.Before(*t.ExpiresAt)) {
				c := capAt.UTC()
				t.ExpiresAt = &c
			}
		}
		_, err := tx.Exec(ctx, `/* Store.MintToken */
			INSERT INTO api_tokens (id, user_id, name, prefix, hash, created_at, expires_at, parent_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.ID, p.UserID, t.Name, t.Prefix, hashSecret(secret), t.CreatedAt, t.ExpiresAt, t.ParentID)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			return Token{}, "", err
		}
		var ve *ValidationError
		if errors.As(err, &ve) {
			return Token{}, "", err
		}
		return Token{}, "", fmt.Errorf("create token: %w", translate(err))
	}
	return t, secret, nil
}

// Tokens lists a user's tokens.
func (s *Store) Tokens(ctx context.Context, userID uuid.UUID) ([]Token, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.Tokens */
		SELECT id, user_id, name, prefix, created_at, last_used_at, expires_at, revoked_at, parent_id
		FROM api_tokens WHERE user_id = $1 ORDER BY created_at`, userID)
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Token])
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", translate(err))
	}
	return ts, nil
}

// RevokeToken revokes one of the user's tokens (any user's for a platform admin) and, in the
// same transaction, every token descended from it, so the token list shows what
// authentication enforces (which walks the lineage anyway).
func (s *Store) RevokeToken(ctx context.Context, p Principal, tokenID uuid.UUID) error {
	var found bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* Store.RevokeToken */
			UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3)
			WHERE id = $1 AND (user_id = $2 OR $4)`, tokenID, p.UserID, s.now().UTC(), p.PlatformAdmin)
		if err != nil {
			return err
		}
		if found = tag.RowsAffected() > 0; !found {
			return nil
		}
		_, err = tx.Exec(ctx, `/* Store.RevokeToken */
			WITH RECURSIVE descendants AS (
				SELECT id, 0 AS depth FROM api_tokens WHERE parent_id = $1
				UNION ALL
				SELECT t.id, d.depth + 1 FROM api_tokens t JOIN descendants d ON t.parent_id = d.id WHERE d.depth < $3
			)
			UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id IN (SELECT id FROM descendants)`,
			tokenID, s.now().UTC(), maxTokenDepth)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke token: %w", translate(err))
	}
	if !found {
		return ErrNotFound
	}
	return nil
}

// AuthenticateToken resolves a bearer token. Unknown, expired and revoked tokens, and tokens
// with a revoked or expired ancestor, are all ErrUnauthenticated. The lineage is checked on
// every call with one recursive query over the primary key (a chain is a handful of rows).
func (s *Store) AuthenticateToken(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return Principal{}, ErrUnauthenticated
	}
	var p Principal
	var lastUsed *time.Time
	var dead *bool
	now := s.now()
	err := s.pool.QueryRow(ctx, tokenChain("hash = $1")+` /* Store.AuthenticateToken */
		SELECT c.id, c.user_id, u.platform_admin, c.last_used_at, v.dead
		FROM chain c JOIN users u ON u.id = c.user_id CROSS JOIN verdict v WHERE c.depth = 0`, hashSecret(secret), now.UTC()).
		Scan(&p.TokenID, &p.UserID, &p.PlatformAdmin, &lastUsed, &dead)
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return Principal{}, ErrUnauthenticated
		}
		return Principal{}, fmt.Errorf("look up token: %w", translate(err))
	}
	if dead == nil || *dead {
		return Principal{}, ErrUnauthenticated
	}
	if lastUsed == nil || now.Sub(*lastUsed) > time.Minute { // coarse, to spare a write per request
		_, _ = s.pool.Exec(ctx, `/* Store.AuthenticateToken */ UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, p.TokenID, now.UTC())
	}
	return p, nil
}

// SessionTTL is how long a dashboard session lasts.
const SessionTTL = 12 * time.Hour

// Session is a dashboard login.
type Session struct {
	ID        uuid.UUID // public id, for the list of a user's sessions
	Secret    string    // cookie value, shown once
	CSRF      string
	ExpiresAt time.Time
}

// CreateSession opens a dashboard session for a user.
func (s *Store) CreateSession(ctx context.Context, userID uuid.UUID) (Session, error) {
	return s.OpenSession(ctx, NewSession{UserID: userID})
}

// AuthenticateSession resolves a session cookie. A session awaiting its second factor
// authenticates nothing (see PendingSession). The session's last-seen time is kept to the
// minute, to spare a write per request.
func (s *Store) AuthenticateSession(ctx context.Context, secret string) (Principal, error) {
	if secret == "" || len(secret) > 100 {
		return Principal{}, ErrUnauthenticated
	}
	var p Principal
	var lastSeen time.Time
	now := s.now().UTC()
	err := s.pool.QueryRow(ctx, `/* Store.AuthenticateSession */
		SELECT s.user_id, u.platform_admin, s.csrf_token, s.id, s.two_factor_ok, s.last_seen_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.hash = $1 AND s.expires_at > $2 AND NOT s.pending_second_factor`, hashSecret(secret), now).
		Scan(&p.UserID, &p.PlatformAdmin, &p.SessionCSRF, &p.SessionID, &p.TwoFactorOK, &lastSeen)
	p.session = hashSecret(secret)
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return Principal{}, ErrUnauthenticated
		}
		return Principal{}, fmt.Errorf("look up session: %w", translate(err))
	}
	if now.Sub(lastSeen) >= time.Minute {
		_, _ = s.pool.Exec(ctx, `/* Store.AuthenticateSession */ UPDATE sessions SET last_seen_at = $2 WHERE hash = $1`,
			p.session, now.Truncate(time.Minute))
	}
	return p, nil
}

// DeleteSession logs a session out.
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	_, err := s.pool.Exec(ctx, `/* Store.DeleteSession */ DELETE FROM sessions WHERE hash = $1`, hashSecret(secret))
	return translate(err)
}

// CSRFEqual compares CSRF tokens in constant time.
func CSRFEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// ClearLoginFailures forgets the attempts counted under a subject after a successful sign-in.
func (s *Store) ClearLoginFailures(ctx context.Context, subject []byte) error {
	_, err := s.pool.Exec(ctx, `/* Store.ClearLoginFailures */ DELETE FROM login_failures WHERE subject = $1`, subject)
	return translate(err)
}

// ForgiveLoginAttempt uncounts the latest attempt recorded under subject: a sign-in that
// succeeded is not held against its client, so a team behind one address can all sign in, while
// the client's failures (and only they) still add up across accounts.
func (s *Store) ForgiveLoginAttempt(ctx context.Context, subject []byte) error {
	_, err := s.pool.Exec(ctx, `/* Store.ForgiveLoginAttempt */ DELETE FROM login_failures WHERE ctid = (
		SELECT ctid FROM login_failures WHERE subject = $1 ORDER BY at DESC LIMIT 1)`, subject)
	return translate(err)
}

// LoginSubject is the blinded key under which failed logins of an account or a client count.
func (s *Store) LoginSubject(kind, value string) []byte {
	return s.index.Sum("login", kind, strings.ToLower(strings.TrimSpace(value)))
}
