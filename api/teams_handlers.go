package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/accounts"
	"personas/models"
	"personas/privacy"
)

// Cookies of a sign-in in progress: the pending sign-in waiting for its second factor, and the
// state, PKCE verifier and nonce of a single sign-on round trip. Both live five minutes.
const (
	pendingCookie = "personas_pending"
	oidcCookie    = "personas_oidc"
	pendingMaxAge = 5 * 60
)

// errSecondFactorPending is a correct password of a user with two-factor sign-in: the pending
// cookie is set and the code is asked for.
var errSecondFactorPending = errors.New("second factor required")

func (s *Server) setShortCookie(c *gin.Context, name, value string, maxAge int, site http.SameSite) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.cfg.Production, SameSite: site})
}

func deviceClass(c *gin.Context) string { return privacy.DeviceClass(c.Request.UserAgent(), 0) }

// startSession opens the session of a user whose password was right: with Accounts, one with
// its device class, pending (errSecondFactorPending) when the user has two-factor sign-in on.
func (s *Server) startSession(c *gin.Context, u models.User) (models.Session, error) {
	if s.accounts == nil {
		se, err := s.store.CreateSession(c, u.ID)
		if err == nil {
			s.setSessionCookie(c, se.Secret, int(models.SessionTTL.Seconds()))
		}
		return se, err
	}
	has, err := s.store.HasTwoFactor(c, u.ID)
	if err != nil {
		return models.Session{}, err
	}
	se, err := s.store.OpenSession(c, models.NewSession{UserID: u.ID, DeviceClass: deviceClass(c), PendingSecondFactor: has})
	if err != nil {
		return models.Session{}, err
	}
	if has {
		s.setShortCookie(c, pendingCookie, se.Secret, pendingMaxAge, http.SameSiteStrictMode)
		return models.Session{}, errSecondFactorPending
	}
	s.setSessionCookie(c, se.Secret, int(models.SessionTTL.Seconds()))
	s.accounts.AuditSignIn(c, u.ID, "password")
	return se, nil
}

// signedIn sets the cookie of a finished sign-in and drops the pending one.
func (s *Server) signedIn(c *gin.Context, in accounts.SignIn) {
	s.setShortCookie(c, pendingCookie, "", -1, http.SameSiteStrictMode)
	if in.SecondFactor {
		s.setShortCookie(c, pendingCookie, in.Session.Secret, pendingMaxAge, http.SameSiteStrictMode)
		return
	}
	s.setSessionCookie(c, in.Session.Secret, int(models.SessionTTL.Seconds()))
}

func signInBody(in accounts.SignIn) gin.H {
	if in.SecondFactor {
		return gin.H{"second_factor_required": true}
	}
	return gin.H{"user": in.User, "csrf_token": in.Session.CSRF, "expires_at": in.Session.ExpiresAt}
}

// teamsFail maps the teams domain's errors to their status and plain message, then fails.
func (s *Server) teamsFail(c *gin.Context, err error) { s.fail(c, teamsErr(c, err)) }

// teamsErr is the teams domain's error as the API answers it.
func teamsErr(c *gin.Context, err error) error {
	var tm *accounts.TooManyAttemptsError
	if errors.As(err, &tm) {
		c.Header("Retry-After", strconv.Itoa(int(tm.Wait.Seconds())+1))
	}
	return teamsKind(err)
}

// teamsKind translates an error of the teams domain into its status and code; statusOf applies
// it to every error, so the JSON and HTML paths answer the teams errors alike.
func teamsKind(err error) error {
	var tm *accounts.TooManyAttemptsError
	msg := func(e error) string { return plainMessage(e) }
	switch {
	case errors.As(err, &tm):
		err = errStatus(http.StatusTooManyRequests, "rate_limited", tm.Error())
	case errors.Is(err, models.ErrInvitationUnknown), errors.Is(err, models.ErrResetUnknown):
		err = errStatus(http.StatusNotFound, "link_invalid", msg(err))
	case errors.Is(err, models.ErrInvitationUsed), errors.Is(err, models.ErrResetUsed):
		err = errStatus(http.StatusConflict, "link_used", msg(err))
	case errors.Is(err, models.ErrInvitationExpired), errors.Is(err, models.ErrResetExpired):
		err = errStatus(http.StatusGone, "link_expired", msg(err))
	case errors.Is(err, models.ErrInvitationRevoked):
		err = errStatus(http.StatusGone, "link_revoked", msg(err))
	case errors.Is(err, accounts.ErrCodeReplayed):
		err = errStatus(http.StatusUnauthorized, "code_replayed", msg(err))
	case errors.Is(err, accounts.ErrSecondFactor):
		err = errStatus(http.StatusUnauthorized, "wrong_code", msg(err))
	case errors.Is(err, accounts.ErrExistingAccount):
		err = errStatus(http.StatusUnauthorized, "existing_account", msg(err))
	case errors.Is(err, accounts.ErrTwoFactorSetupRequired):
		err = errStatus(http.StatusForbidden, "two_factor_setup_required", msg(err))
	case errors.Is(err, accounts.ErrTwoFactorRequired):
		err = errStatus(http.StatusForbidden, "two_factor_required", msg(err))
	case errors.Is(err, accounts.ErrOIDCEmailUnverified), errors.Is(err, accounts.ErrOIDCDomain),
		errors.Is(err, accounts.ErrOIDCUnknownPerson):
		err = errStatus(http.StatusForbidden, "sso_refused", msg(err))
	case errors.Is(err, accounts.ErrOIDCNonce), errors.Is(err, accounts.ErrOIDCExchange):
		err = errStatus(http.StatusUnauthorized, "sso_failed", msg(err))
	}
	return err
}

// plainMessage drops the wrapped sentinel's prefix ("conflict: …"): the person reads the reason.
func plainMessage(err error) string {
	m := err.Error()
	for _, base := range []error{models.ErrNotFound, models.ErrConflict, models.ErrUnauthenticated, models.ErrForbidden} {
		if p := base.Error() + ": "; len(m) > len(p) && m[:len(p)] == p {
			return m[len(p):]
		}
	}
	return m
}

// Link pages and answers are never sent on as a referrer: the token is in their URL.
func noReferrer(c *gin.Context) { c.Header("Referrer-Policy", "no-referrer") }

type acceptRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// acceptInvitation accepts an invitation link: a new account gets the password (the policy
// applies), an existing one proves its own; the person is signed in.
func (s *Server) acceptInvitation(c *gin.Context) {
	noReferrer(c)
	if !s.sameOrigin(c.Request) {
		s.fail(c, errStatus(http.StatusForbidden, "csrf", "cross-site request refused"))
		return
	}
	var req acceptRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req.Password) > privacy.MaxPasswordBytes {
		s.fail(c, models.Invalid("password", "must be at most %d bytes", privacy.MaxPasswordBytes))
		return
	}
	in, err := s.accounts.Accept(c, req.Token, req.Password, deviceClass(c))
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	s.signedIn(c, in)
	c.JSON(http.StatusOK, signInBody(in))
}

type strengthRequest struct {
	Password string `json:"password"`
	Email    string `json:"email"`
}

// passwordStrength is the meter of the password forms: the score, whether the policy accepts
// it and a hint. Nothing is stored or logged.
func (s *Server) passwordStrength(c *gin.Context) {
	var req strengthRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req.Password) > privacy.MaxPasswordBytes {
		s.fail(c, models.Invalid("password", "must be at most %d bytes", privacy.MaxPasswordBytes))
		return
	}
	c.JSON(http.StatusOK, accounts.PasswordStrength(req.Password, req.Email))
}

// requestReset is "forgot password": always 202 with the same body, in the same time.
func (s *Server) requestReset(c *gin.Context) {
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.accounts.RequestReset(c, req.Email); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"message": "If this address has an account, a link to choose a new password is on its way."})
}

// completeReset sets the new password of a reset link; every session of the account ends and
// its API tokens are listed for review (none is revoked).
func (s *Server) completeReset(c *gin.Context) {
	noReferrer(c)
	if !s.sameOrigin(c.Request) {
		s.fail(c, errStatus(http.StatusForbidden, "csrf", "cross-site request refused"))
		return
	}
	var req acceptRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req.Password) > privacy.MaxPasswordBytes {
		s.fail(c, models.Invalid("password", "must be at most %d bytes", privacy.MaxPasswordBytes))
		return
	}
	toks, err := s.accounts.CompleteReset(c, req.Token, req.Password)
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	if toks == nil {
		toks = []models.Token{}
	}
	c.JSON(http.StatusOK, gin.H{"tokens": toks})
}

// secondFactor finishes a pending sign-in with a TOTP or recovery code.
func (s *Server) secondFactor(c *gin.Context) {
	if !s.sameOrigin(c.Request) {
		s.fail(c, errStatus(http.StatusForbidden, "csrf", "cross-site request refused"))
		return
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	pending, err := c.Cookie(pendingCookie)
	if err != nil || pending == "" {
		s.fail(c, errStatus(http.StatusUnauthorized, "unauthenticated", "no sign-in is waiting for a code: sign in again"))
		return
	}
	in, err := s.accounts.CompleteSignIn(c, pending, req.Code)
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	s.signedIn(c, in)
	c.JSON(http.StatusOK, signInBody(in))
}

func (s *Server) listMySessions(c *gin.Context) {
	ss, err := s.accounts.Sessions(c, principalFrom(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	if ss == nil {
		ss = []models.UserSession{}
	}
	c.JSON(http.StatusOK, gin.H{"sessions": ss})
}

func (s *Server) revokeMySession(c *gin.Context) {
	id, err := uuid.Parse(c.Param("session_id"))
	if err != nil {
		s.fail(c, models.ErrNotFound)
		return
	}
	if err := s.accounts.RevokeSession(c, principalFrom(c), id); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) beginTwoFactor(c *gin.Context) {
	setup, err := s.accounts.BeginTOTP(c, principalFrom(c).UserID)
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, setup)
}

type codeRequest struct {
	Code string `json:"code"`
}

func (s *Server) confirmTwoFactor(c *gin.Context) {
	var req codeRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	codes, err := s.accounts.ConfirmTOTP(c, principalFrom(c).UserID, req.Code)
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"recovery_codes": codes})
}

func (s *Server) disableTwoFactor(c *gin.Context) {
	var req codeRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.accounts.DisableTOTP(c, principalFrom(c).UserID, req.Code); err != nil {
		s.teamsFail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) regenerateRecoveryCodes(c *gin.Context) {
	var req codeRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	codes, err := s.accounts.RegenerateRecoveryCodes(c, principalFrom(c).UserID, req.Code)
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"recovery_codes": codes})
}

func (s *Server) listInvitations(c *gin.Context) {
	invs, err := s.accounts.List(c, principalFrom(c), projectFrom(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if invs == nil {
		invs = []models.Invitation{}
	}
	c.JSON(http.StatusOK, gin.H{"invitations": invs})
}

type inviteRequest struct {
	Email          string `json:"email"`
	Role           string `json:"role"`
	ExpiresInHours int    `json:"expires_in_hours"`
}

func ttlHours(h int) (time.Duration, error) {
	if h < 0 || h > 24*30 {
		return 0, models.Invalid("expires_in_hours", "must be between 1 and 720")
	}
	return time.Duration(h) * time.Hour, nil
}

// invitationBody is an invitation with its link when it was not mailed (no mailer, or the
// delivery failed): the admin passes it on.
func invitationBody(link string, inv models.Invitation) gin.H {
	b := gin.H{"invitation": inv}
	if link != "" {
		b["link"] = link
	}
	return b
}

func (s *Server) invite(c *gin.Context) {
	var req inviteRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	role, err := models.ParseRole(req.Role)
	if err != nil {
		s.fail(c, err)
		return
	}
	ttl, err := ttlHours(req.ExpiresInHours)
	if err != nil {
		s.fail(c, err)
		return
	}
	link, inv, err := s.accounts.Invite(c, principalFrom(c), projectFrom(c).ID, req.Email, role, ttl)
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, invitationBody(link, inv))
}

func invitationParam(c *gin.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("invitation_id"))
	if err != nil {
		return uuid.Nil, models.ErrNotFound
	}
	return id, nil
}

func (s *Server) resendInvitation(c *gin.Context) {
	var req struct {
		ExpiresInHours int `json:"expires_in_hours"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	id, err := invitationParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ttl, err := ttlHours(req.ExpiresInHours)
	if err != nil {
		s.fail(c, err)
		return
	}
	link, inv, err := s.accounts.Resend(c, principalFrom(c), projectFrom(c).ID, id, ttl)
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, invitationBody(link, inv))
}

func (s *Server) revokeInvitation(c *gin.Context) {
	id, err := invitationParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	inv, err := s.accounts.Revoke(c, principalFrom(c), projectFrom(c).ID, id)
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"invitation": inv})
}

// requireTwoFactor is the owner's switch: members must sign in with a second factor.
func (s *Server) requireTwoFactor(c *gin.Context) {
	var req struct {
		Required *bool `json:"required"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.Required == nil {
		s.fail(c, models.Invalid("required", "is required"))
		return
	}
	pid := projectFrom(c).ID
	if err := s.accounts.RequireTwoFactor(c, principalFrom(c), pid, *req.Required); err != nil {
		s.teamsFail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"require_two_factor": *req.Required})
}

// twoFactorGate is the project gate of two-factor sign-in (accounts.CheckTwoFactor), run by
// projectAccess once the caller's role is known.
func (s *Server) twoFactorGate(c *gin.Context, p models.Principal, projectID uuid.UUID) error {
	if s.accounts == nil {
		return nil
	}
	// One read in the common case: a project that does not require it.
	if req, err := s.store.RequiresTwoFactor(c, projectID); err != nil || !req {
		return err
	}
	return s.accounts.CheckTwoFactor(c, p, projectID)
}

// secondFactorPending answers a right password of a two-factor user: the form goes on to the
// code page, the API says a code is needed (POST /v1/login/second-factor).
func (s *Server) secondFactorPending(c *gin.Context) {
	if isForm(c.Request) {
		c.Redirect(http.StatusSeeOther, "/login/code?next="+url.QueryEscape(safeNext(c.PostForm("next"))))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"second_factor_required": true})
}

// passwordPolicy applies the teams password policy (length, strength, not common, not the
// address) to a new password; without the teams domain the store's own minimum applies.
func (s *Server) passwordPolicy(c *gin.Context, userID uuid.UUID, next string) error {
	if s.accounts == nil {
		return nil
	}
	u, err := s.store.User(c, userID)
	if err != nil {
		return err
	}
	return accounts.CheckPassword(next, u.Email)
}

// passwordChanged is the answer to a password change: the sessions ended and, with the teams
// domain, the API tokens to review (none was revoked).
func (s *Server) passwordChanged(c *gin.Context, userID uuid.UUID, ended int64) gin.H {
	body := gin.H{"sessions_ended": ended}
	if s.accounts != nil {
		toks, err := s.store.Tokens(c, userID)
		if err != nil {
			s.logger.Warn("list tokens after a password change", append(logAttrs(c), "err", err.Error())...)
			return body
		}
		if toks == nil {
			toks = []models.Token{}
		}
		body["tokens"] = toks
	}
	return body
}
