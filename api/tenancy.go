package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
	"personas/privacy"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// login opens a dashboard session: JSON or form body. Unknown email and wrong password answer
// the same, in the same time; repeated attempts back off (signInLimits). A form posted from
// another site is refused, as on /login: login CSRF would sign the victim into the attacker's
// account.
func (s *Server) login(c *gin.Context) {
	if !s.sameOrigin(c.Request) {
		s.fail(c, errStatus(http.StatusForbidden, "csrf", "cross-site request refused"))
		return
	}
	var req loginRequest
	if isForm(c.Request) {
		req.Email, req.Password = c.PostForm("email"), c.PostForm("password")
	} else if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	u, se, err := s.openSession(c, req.Email, req.Password)
	if errors.Is(err, errSecondFactorPending) {
		s.secondFactorPending(c)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if isForm(c.Request) {
		c.Redirect(http.StatusSeeOther, safeNext(c.PostForm("next")))
		return
	}
	c.JSON(http.StatusOK, gin.H{"user": u, "csrf_token": se.CSRF, "expires_at": se.ExpiresAt})
}

// Sign-in back-off: how many attempts in models.LoginWindow pass before each further one waits
// (1 s, doubling). The (client, account) pair is the tight limit: failures on other accounts,
// or from other clients behind the same address, never lock an account out. One client's
// attempts on every account, and one account's from every client, have looser limits of
// their own, so neither guessing many passwords nor many accounts goes unchecked.
const (
	signInFreePerPair    = 3
	signInFreePerAccount = 10
	signInFreePerClient  = 20
)

// signInLimits are the back-off rules of a sign-in attempt.
func (s *Server) signInLimits(client, email string) []models.LoginLimit {
	return []models.LoginLimit{
		{Subject: s.store.LoginSubject("pair", client+"\x00"+email), Free: signInFreePerPair},
		{Subject: s.store.LoginSubject("account", email), Free: signInFreePerAccount},
		{Subject: s.store.LoginSubject("client", client), Free: signInFreePerClient},
	}
}

// openSession checks a sign-in, opens a session and sets its cookie; the API's login and the
// dashboard's login form share it. The order is what keeps a flood cheap: an over-long password
// is refused before anything; the attempt takes one of the few hashing slots (or answers 503
// when none comes free soon); it is recorded, and refused while its limits back off, before the
// password is hashed; only then does argon2id run.
func (s *Server) openSession(c *gin.Context, email, password string) (models.User, models.Session, error) {
	if len(password) > privacy.MaxPasswordBytes {
		return models.User{}, models.Session{}, models.Invalid("password", "must be at most %d bytes", privacy.MaxPasswordBytes)
	}
	limits := s.signInLimits(clientKey(c), email)
	var u models.User
	var wait time.Duration
	var err error
	herr := s.hashes.Do(c.Request.Context(), func() {
		if wait, err = s.store.BeginLogin(c, limits...); err != nil || wait > 0 {
			return
		}
		u, err = s.store.Authenticate(c, email, password)
	})
	switch {
	case herr != nil:
		c.Header("Retry-After", "2")
		return models.User{}, models.Session{}, errStatus(http.StatusServiceUnavailable, "busy", "too many sign-ins at once; try again in a moment")
	case err != nil && errors.Is(err, models.ErrUnauthenticated):
		if s.accounts != nil {
			s.accounts.AuditFailedSignIn(c, email) // counted: one entry per account and hour
		}
		return models.User{}, models.Session{}, errStatus(http.StatusUnauthorized, "unauthenticated", "wrong email or password")
	case err != nil:
		return models.User{}, models.Session{}, err
	case wait > 0:
		c.Header("Retry-After", retryAfter(wait))
		return models.User{}, models.Session{}, errStatus(http.StatusTooManyRequests, "rate_limited", "too many sign-in attempts; wait before trying again")
	}
	for _, l := range limits[:2] { // the pair and the account start afresh
		_ = s.store.ClearLoginFailures(c, l.Subject)
	}
	// The client's earlier failures still count; this success does not.
	_ = s.store.ForgiveLoginAttempt(c, limits[2].Subject)
	se, err := s.startSession(c, u)
	if err != nil {
		return models.User{}, models.Session{}, err
	}
	return u, se, nil
}

func (s *Server) setSessionCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.cfg.Production, SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) logout(c *gin.Context) {
	if cookie, err := c.Cookie(SessionCookie); err == nil {
		if err := s.store.DeleteSession(c, cookie); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.setSessionCookie(c, "", -1)
	if isForm(c.Request) {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	c.Status(http.StatusNoContent)
}

// endSessions is "sign out everywhere": every dashboard session of the caller ends, the
// current one included.
func (s *Server) endSessions(c *gin.Context) {
	p := principalFrom(c)
	n, err := s.store.EndSessions(c, p.UserID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, models.AccountScope, "session.revoke_all", p.UserID.String(), map[string]any{"sessions": n})
	if p.SessionCSRF != "" {
		s.setSessionCookie(c, "", -1)
	}
	if isForm(c.Request) {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	c.JSON(http.StatusOK, gin.H{"ended": n})
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword replaces the caller's password; every other session of the user ends. Wrong
// current passwords back off like failed logins.
func (s *Server) changePassword(c *gin.Context) {
	var req passwordRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req.CurrentPassword) > privacy.MaxPasswordBytes || len(req.NewPassword) > privacy.MaxPasswordBytes {
		s.fail(c, models.Invalid("password", "must be at most %d bytes", privacy.MaxPasswordBytes))
		return
	}
	p := principalFrom(c)
	if err := s.passwordPolicy(c, p.UserID, req.NewPassword); err != nil {
		s.fail(c, err)
		return
	}
	// Like a sign-in: one of the few hashing slots, the attempt recorded (and refused while it
	// backs off) before argon2id runs on the current password.
	limit := models.LoginLimit{Subject: s.store.LoginSubject("password", p.UserID.String()), Free: signInFreePerPair}
	subject := limit.Subject
	var wait time.Duration
	var n int64
	var err error
	herr := s.hashes.Do(c.Request.Context(), func() {
		if wait, err = s.store.BeginLogin(c, limit); err != nil || wait > 0 {
			return
		}
		n, err = s.store.ChangePassword(c, p, req.CurrentPassword, req.NewPassword)
	})
	switch {
	case herr != nil:
		c.Header("Retry-After", "2")
		s.fail(c, errStatus(http.StatusServiceUnavailable, "busy", "too many password checks at once; try again in a moment"))
		return
	case errors.Is(err, models.ErrUnauthenticated):
		s.fail(c, errStatus(http.StatusUnauthorized, "unauthenticated", "wrong current password"))
		return
	case err != nil:
		s.fail(c, err)
		return
	case wait > 0:
		c.Header("Retry-After", retryAfter(wait))
		s.fail(c, errStatus(http.StatusTooManyRequests, "rate_limited", "too many wrong passwords; wait before trying again"))
		return
	}
	_ = s.store.ClearLoginFailures(c, subject)
	s.audit(c, models.AccountScope, "password.change", p.UserID.String(), map[string]any{"sessions_ended": n})
	c.JSON(http.StatusOK, s.passwordChanged(c, p.UserID, n))
}

func (s *Server) me(c *gin.Context) {
	p := principalFrom(c)
	u, err := s.store.User(c, p.UserID)
	if err != nil {
		s.fail(c, err)
		return
	}
	body := gin.H{"user": u}
	if p.SessionCSRF != "" {
		body["csrf_token"] = p.SessionCSRF
	}
	c.JSON(http.StatusOK, body)
}

func (s *Server) listProjects(c *gin.Context) {
	ps, err := s.store.ProjectsOf(c, principalFrom(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]models.Project, len(ps))
	for i, p := range ps {
		out[i] = projectBody(p, p.Role)
	}
	c.JSON(http.StatusOK, gin.H{"projects": out})
}

type createProjectRequest struct {
	Name           string   `json:"name"`
	AllowedOrigins []string `json:"allowed_origins"`
}

func (s *Server) createProject(c *gin.Context) {
	var req createProjectRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.AllowedOrigins == nil {
		req.AllowedOrigins = []string{}
	}
	p, err := s.store.CreateProject(c, principalFrom(c).UserID, req.Name, req.AllowedOrigins)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, p.ID, "project.create", p.ID.String(), nil)
	c.JSON(http.StatusCreated, projectBody(p, models.RoleOwner))
}

func (s *Server) getProject(c *gin.Context) {
	c.JSON(http.StatusOK, projectBody(projectFrom(c), roleFrom(c)))
}

// projectBody is a project as the API answers it: the caller's role, and the retention in
// effect, each period filled with its default when the project keeps it (as the dashboard
// shows it).
func projectBody(p models.Project, role models.Role) models.Project {
	p.Role = role
	p.Retention = p.Retention.Effective()
	return p
}

// updateProject changes settings: capture settings for editors, origins and retention for
// admins.
func (s *Server) updateProject(c *gin.Context) {
	var set models.Settings
	if err := decodeJSON(c, &set); err != nil {
		s.fail(c, err)
		return
	}
	if set.AdminOnly() && !s.need(c, actEditAccess) {
		return
	}
	if len(set.Fields()) == 0 {
		s.fail(c, badRequest("no setting given"))
		return
	}
	p, err := s.store.UpdateSettings(c, projectFrom(c).ID, set)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, p.ID, "project.update", p.ID.String(), map[string]any{"fields": set.Fields()})
	c.JSON(http.StatusOK, projectBody(p, roleFrom(c)))
}

func (s *Server) listMembers(c *gin.Context) {
	ms, err := s.store.Members(c, projectFrom(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if ms == nil {
		ms = []models.Member{}
	}
	c.JSON(http.StatusOK, gin.H{"members": ms})
}

type memberRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

func (s *Server) addMember(c *gin.Context) {
	if s.accounts != nil {
		s.invite(c) // adding a member is inviting them: they join by accepting
		return
	}
	var req memberRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	role, err := models.ParseRole(req.Role)
	if err != nil {
		s.fail(c, err)
		return
	}
	pid := projectFrom(c).ID
	uid, err := s.store.AddMember(c, pid, req.Email, role)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, pid, "member.add", uid.String(), map[string]any{"role": role})
	c.JSON(http.StatusCreated, gin.H{"user_id": uid, "role": role})
}

func (s *Server) memberParam(c *gin.Context) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param("user_id"))
	if err != nil {
		s.fail(c, models.ErrNotFound)
		return uuid.Nil, false
	}
	return id, true
}

func (s *Server) updateMember(c *gin.Context) {
	uid, ok := s.memberParam(c)
	if !ok {
		return
	}
	var req struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	role, err := models.ParseRole(req.Role)
	if err != nil {
		s.fail(c, err)
		return
	}
	pid := projectFrom(c).ID
	if err := s.store.SetMemberRole(c, pid, uid, role); err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, pid, "member.update", uid.String(), map[string]any{"role": role})
	c.JSON(http.StatusOK, gin.H{"user_id": uid, "role": role})
}

func (s *Server) removeMember(c *gin.Context) {
	uid, ok := s.memberParam(c)
	if !ok {
		return
	}
	pid := projectFrom(c).ID
	if err := s.store.RemoveMember(c, pid, uid); err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, pid, "member.remove", uid.String(), nil)
	c.Status(http.StatusNoContent)
}

func (s *Server) transferOwnership(c *gin.Context) {
	var req struct {
		UserID uuid.UUID `json:"user_id"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	pid := projectFrom(c).ID
	if err := s.store.TransferOwnership(c, pid, req.UserID); err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, pid, "project.transfer", req.UserID.String(), nil)
	c.JSON(http.StatusOK, gin.H{"owner": req.UserID})
}

func (s *Server) auditLog(c *gin.Context) {
	limit := 50
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			s.fail(c, models.Invalid("limit", "must be between 1 and 200"))
			return
		}
		limit = n
	}
	entries, next, err := s.store.AuditPage(c, projectFrom(c).ID, c.Query("cursor"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"entries": entries, "next": next})
}

type tokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays *int   `json:"expires_in_days"`
}

func (s *Server) createToken(c *gin.Context) {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	days := 90
	if req.ExpiresInDays != nil {
		days = *req.ExpiresInDays
	}
	// Minted with a token, the new token is its child: it expires no later and dies with it.
	t, secret, err := s.store.MintToken(c, principalFrom(c), req.Name, days)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, models.AccountScope, "token.create", t.ID.String(), nil)
	c.JSON(http.StatusCreated, gin.H{"token": secret, "id": t.ID, "name": t.Name, "prefix": t.Prefix,
		"created_at": t.CreatedAt, "expires_at": t.ExpiresAt, "parent_id": t.ParentID})
}

func (s *Server) listTokens(c *gin.Context) {
	ts, err := s.store.Tokens(c, principalFrom(c).UserID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if ts == nil {
		ts = []models.Token{}
	}
	c.JSON(http.StatusOK, gin.H{"tokens": ts})
}

func (s *Server) revokeToken(c *gin.Context) {
	id, err := uuid.Parse(c.Param("token_id"))
	if err != nil {
		s.fail(c, models.ErrNotFound)
		return
	}
	if err := s.store.RevokeToken(c, principalFrom(c), id); err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, models.AccountScope, "token.revoke", id.String(), nil)
	c.Status(http.StatusNoContent)
}
