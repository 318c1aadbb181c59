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

// SetPassword replaces a user's password.
func (s *Store) SetPassword(ctx context.Context, userID uuid.UUID, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := privacy.HashPassword(password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `/* Store.SetPassword */
		UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1`, userID, hash)
	if err != nil {
		return fmt.Errorf("set password: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
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
// its SHA-256.
type Token struct {
	ID         uuid.UUID  `json:"id"`
	UserID     uuid.UUID  `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// TokenPrefix starts every API token.
const TokenPrefix = "psn_"

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

// CreateToken mints a token for a user and returns it with the secret, shown once.
func (s *Store) CreateToken(ctx context.Context, userID uuid.UUID, name string, expiresInDays int) (Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return Token{}, "", Invalid("name", "required, at most 100 characters")
	}
	if expiresInDays < 0 || expiresInDays > 3650 {
		return Token{}, "", Invalid("expires_in_days", "must be between 0 (never) and 3650")
	}
	secret := TokenPrefix + randomString(32)
	t := Token{ID: uuid.New(), UserID: userID, Name: name, Prefix: secret[:len(TokenPrefix)+6], CreatedAt: s.now().UTC()}
	if expiresInDays > 0 {
		e := t.CreatedAt.Add(time.Duration(expiresInDays) * 24 * time.Hour)
		t.ExpiresAt = &e
	}
	_, err := s.pool.Exec(ctx, `/* Store.CreateToken */
		INSERT INTO api_tokens (id, user_id, name, prefix, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, userID, t.Name, t.Prefix, hashSecret(secret), t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", translate(err))
	}
	return t, secret, nil
}

// Tokens lists a user's tokens.
func (s *Store) Tokens(ctx context.Context, userID uuid.UUID) ([]Token, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.Tokens */
		SELECT id, user_id, name, prefix, created_at, last_used_at, expires_at, revoked_at
		FROM api_tokens WHERE user_id = $1 ORDER BY created_at`, userID)
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Token])
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", translate(err))
	}
	return ts, nil
}

// RevokeToken revokes one of the user's tokens (any user's for a platform admin).
func (s *Store) RevokeToken(ctx context.Context, p Principal, tokenID uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `/* Store.RevokeToken */
		UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3)
		WHERE id = $1 AND (user_id = $2 OR $4)`, tokenID, p.UserID, s.now().UTC(), p.PlatformAdmin)
	if err != nil {
		return fmt.Errorf("revoke token: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AuthenticateToken resolves a bearer token. Unknown, expired and revoked tokens are all
// ErrUnauthenticated.
func (s *Store) AuthenticateToken(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return Principal{}, ErrUnauthenticated
	}
	var p Principal
	var expires, revoked, lastUsed *time.Time
	err := s.pool.QueryRow(ctx, `/* Store.AuthenticateToken */
		SELECT t.id, t.user_id, u.platform_admin, t.expires_at, t.revoked_at, t.last_used_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1`, hashSecret(secret)).
		Scan(&p.TokenID, &p.UserID, &p.PlatformAdmin, &expires, &revoked, &lastUsed)
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return Principal{}, ErrUnauthenticated
		}
		return Principal{}, fmt.Errorf("look up token: %w", translate(err))
	}
	now := s.now()
	if revoked != nil || (expires != nil && !now.Before(*expires)) {
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
	Secret    string // cookie value, shown once
	CSRF      string
	ExpiresAt time.Time
}

// CreateSession opens a dashboard session for a user.
func (s *Store) CreateSession(ctx context.Context, userID uuid.UUID) (Session, error) {
	se := Session{Secret: randomString(32), CSRF: randomString(24), ExpiresAt: s.now().UTC().Add(SessionTTL)}
	_, err := s.pool.Exec(ctx, `/* Store.CreateSession */
		INSERT INTO sessions (hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)`,
		hashSecret(se.Secret), userID, se.CSRF, se.ExpiresAt)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", translate(err))
	}
	return se, nil
}

// AuthenticateSession resolves a session cookie.
func (s *Store) AuthenticateSession(ctx context.Context, secret string) (Principal, error) {
	if secret == "" || len(secret) > 100 {
		return Principal{}, ErrUnauthenticated
	}
	var p Principal
	err := s.pool.QueryRow(ctx, `/* Store.AuthenticateSession */
		SELECT s.user_id, u.platform_admin, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.hash = $1 AND s.expires_at > $2`, hashSecret(secret), s.now().UTC()).Scan(&p.UserID, &p.PlatformAdmin, &p.SessionCSRF)
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return Principal{}, ErrUnauthenticated
		}
		return Principal{}, fmt.Errorf("look up session: %w", translate(err))
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

// LoginSubject is the blinded key under which failed logins of an account or a client count.
func (s *Store) LoginSubject(kind, value string) []byte {
	return s.index.Sum("login", kind, strings.ToLower(strings.TrimSpace(value)))
}
