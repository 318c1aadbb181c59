package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"personas/models"
)

// Errors of single sign-on, each plain: the person is told why the provider's answer does not
// sign them in.
var (
	ErrOIDCEmailUnverified = fmt.Errorf("%w: your identity provider has not verified your email address", models.ErrForbidden)
	ErrOIDCDomain          = fmt.Errorf("%w: single sign-on is not open to your email domain", models.ErrForbidden)
	ErrOIDCUnknownPerson   = fmt.Errorf("%w: there is no account or invitation for your address: ask an admin to invite you", models.ErrForbidden)
	ErrOIDCNonce           = fmt.Errorf("%w: the sign-in answer does not belong to this sign-in: start again", models.ErrUnauthenticated)
	ErrOIDCExchange        = fmt.Errorf("%w: the identity provider did not confirm the sign-in: start again", models.ErrUnauthenticated)
)

// OIDCConfig configures single sign-on.
type OIDCConfig struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL is the callback page, PERSONAS_PUBLIC_URL + "/auth/oidc/callback".
	RedirectURL string
	// AllowedDomains are the lower-case email domains accepted; empty accepts any.
	AllowedDomains []string
	// HTTPClient talks to the provider (discovery, keys, token endpoint); nil: a client with a
	// 10 s timeout.
	HTTPClient *http.Client
}

// OIDC is an OpenID Connect relying party: authorization code flow with PKCE (S256) and a
// nonce, ID tokens verified against the provider's published keys (go-oidc).
type OIDC struct {
	issuer   string
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
	domains  []string
	client   *http.Client
}

// NewOIDC discovers the provider (its /.well-known/openid-configuration) and builds the
// relying party.
func NewOIDC(ctx context.Context, c OIDCConfig) (*OIDC, error) {
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover OpenID Connect provider %s: %w", c.Issuer, err)
	}
	domains := make([]string, 0, len(c.AllowedDomains))
	for _, d := range c.AllowedDomains {
		domains = append(domains, strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@")))
	}
	return &OIDC{
		issuer: c.Issuer,
		config: oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email"}},
		verifier: p.Verifier(&oidc.Config{ClientID: c.ClientID}),
		domains:  domains,
		client:   client,
	}, nil
}

// NewState draws a value for the state parameter (and for a nonce): 32 random bytes.
func NewState() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// AuthURL is where the browser goes to sign in, for this state; it returns the PKCE verifier
// and the nonce, which the caller keeps (in a short-lived cookie bound to the state) for
// Exchange. Checking that the callback's state is the one sent is the HTTP layer's.
func (o *OIDC) AuthURL(state string) (authURL, verifier, nonce string) {
	verifier = oauth2.GenerateVerifier()
	nonce = NewState()
	authURL = o.config.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	return authURL, verifier, nonce
}

// Claims are the verified claims of an ID token that sign-in uses.
type Claims struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
}

// Exchange trades the callback's code (with the PKCE verifier) for tokens, verifies the ID
// token (signature by the provider's keys, issuer, audience, expiry) and its nonce, and
// returns its claims.
func (o *OIDC) Exchange(ctx context.Context, code, verifier, nonce string) (Claims, error) {
	ctx = oidc.ClientContext(ctx, o.client)
	tok, err := o.config.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Claims{}, fmt.Errorf("%w (%v)", ErrOIDCExchange, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Claims{}, fmt.Errorf("%w (no ID token in the answer)", ErrOIDCExchange)
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return Claims{}, fmt.Errorf("%w (%v)", ErrOIDCExchange, err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return Claims{}, ErrOIDCNonce
	}
	var c struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"` // some providers send "true"
	}
	if err := idt.Claims(&c); err != nil {
		return Claims{}, fmt.Errorf("%w (claims: %v)", ErrOIDCExchange, err)
	}
	verified := c.EmailVerified == true || c.EmailVerified == "true"
	return Claims{Issuer: idt.Issuer, Subject: idt.Subject, Email: c.Email, EmailVerified: verified}, nil
}

// allowed reports whether an address's domain may sign in.
func (o *OIDC) allowed(email string) bool {
	if len(o.domains) == 0 {
		return true
	}
	_, domain, ok := strings.Cut(email, "@")
	if !ok {
		return false
	}
	for _, d := range o.domains {
		if domain == d {
			return true
		}
	}
	return false
}

// OIDC is the single sign-on provider, nil when single sign-on is off.
func (s *Service) OIDC() *OIDC { return s.oidc }

// SignInOIDC finishes a single sign-on: it exchanges the code, then signs in the person the
// provider vouches for. The email must be verified by the provider (ErrOIDCEmailUnverified)
// and in an allowed domain (ErrOIDCDomain). The account is found by the identity linked to it,
// else by the verified address (and linked); pending invitations of the address are accepted;
// a person with neither account nor invitation is ErrOIDCUnknownPerson. A user with two-factor
// sign-in on gets a pending sign-in, as with a password.
func (s *Service) SignInOIDC(ctx context.Context, code, verifier, nonce, device string) (SignIn, error) {
	if s.oidc == nil {
		return SignIn{}, fmt.Errorf("%w: single sign-on is not configured", models.ErrNotFound)
	}
	c, err := s.oidc.Exchange(ctx, code, verifier, nonce)
	if err != nil {
		s.auditCounted(ctx, models.AccountScope, uuid.Nil, "signin.fail", "single sign-on")
		return SignIn{}, err
	}
	return s.signInClaims(ctx, c, device)
}

func (s *Service) signInClaims(ctx context.Context, c Claims, device string) (SignIn, error) {
	email, err := models.NormalizeEmail(c.Email)
	if err != nil || !c.EmailVerified {
		return SignIn{}, ErrOIDCEmailUnverified
	}
	if !s.oidc.allowed(email) {
		return SignIn{}, ErrOIDCDomain
	}
	subject := s.store.OIDCSubject(c.Issuer, c.Subject)
	u, err := s.store.UserByOIDCSubject(ctx, subject)
	linked := err == nil
	if err != nil && !isNotFound(err) {
		return SignIn{}, err
	}
	if !linked {
		u, err = s.store.UserByEmail(ctx, email)
		if err != nil && !isNotFound(err) {
			return SignIn{}, err
		}
		found := err == nil
		invs, err := s.store.OpenInvitations(ctx, email)
		if err != nil {
			return SignIn{}, err
		}
		if !found && len(invs) == 0 {
			return SignIn{}, ErrOIDCUnknownPerson
		}
		if found {
			if err := s.store.LinkOIDCSubject(ctx, u.ID, subject); err != nil {
				return SignIn{}, err
			}
			s.audit(ctx, models.AccountScope, u.ID, "oidc.link", u.ID.String(), nil)
		}
	}
	invs, err := s.store.OpenInvitations(ctx, email)
	if err != nil {
		return SignIn{}, err
	}
	for _, inv := range invs {
		nu, ai, err := s.store.AcceptOpenInvitation(ctx, inv.ProjectID, inv.ID, models.Acceptance{OIDCSubject: subject})
		if err != nil {
			if errors.Is(err, models.ErrConflict) { // accepted or revoked meanwhile
				continue
			}
			return SignIn{}, err
		}
		u = nu
		s.audit(ctx, ai.ProjectID, u.ID, "invitation.accept", ai.ID.String(), map[string]any{"role": string(ai.Role), "method": "oidc"})
	}
	if u.ID == uuid.Nil {
		return SignIn{}, ErrOIDCUnknownPerson
	}
	return s.openSession(ctx, u, device, "oidc")
}
