package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
)

const (
	principalKey = "principal"
	projectKey   = "project"
	roleKey      = "role"
	// SessionCookie is the dashboard session cookie's name.
	SessionCookie = "personas_session"
	csrfHeader    = "X-CSRF-Token"
)

func principalFrom(c *gin.Context) models.Principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(models.Principal)
	return pr
}

func projectFrom(c *gin.Context) models.Project {
	p, _ := c.Get(projectKey)
	pr, _ := p.(models.Project)
	return pr
}

func roleFrom(c *gin.Context) models.Role {
	r, _ := c.Get(roleKey)
	rr, _ := r.(models.Role)
	return rr
}

// principal resolves the bearer token or the session cookie. Cookie-authenticated writes
// must carry the session's CSRF token and, when the browser sends one, a same-site Origin.
func (s *Server) principal(c *gin.Context) (models.Principal, error) {
	if h := c.GetHeader("Authorization"); h != "" {
		client := clientKey(c)
		if over, wait := s.tokenFails.exhausted(client); over {
			c.Header("Retry-After", retryAfter(wait))
			return models.Principal{}, errTokenGuessing
		}
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			s.tokenFails.take(client)
			return models.Principal{}, models.ErrUnauthenticated
		}
		p, err := s.store.AuthenticateToken(c, strings.TrimSpace(tok))
		if errors.Is(err, models.ErrUnauthenticated) {
			s.tokenFails.take(client)
		}
		return p, err
	}
	cookie, err := c.Cookie(SessionCookie)
	if err != nil || cookie == "" {
		return models.Principal{}, models.ErrUnauthenticated
	}
	p, err := s.store.AuthenticateSession(c, cookie)
	if err != nil {
		return models.Principal{}, err
	}
	if unsafeMethod(c.Request.Method) {
		if !s.sameOrigin(c.Request) {
			return models.Principal{}, errStatus(http.StatusForbidden, "csrf", "cross-site request refused")
		}
		tok := c.GetHeader(csrfHeader)
		if tok == "" && isForm(c.Request) {
			tok = c.PostForm("csrf_token")
		}
		if !models.CSRFEqual(tok, p.SessionCSRF) {
			return models.Principal{}, errStatus(http.StatusForbidden, "csrf", "missing or wrong CSRF token")
		}
	}
	return p, nil
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// isForm reports a URL-encoded form body, the only form encoding accepted (formBody refuses
// multipart).
func isForm(r *http.Request) bool {
	return mediaType(r) == "application/x-www-form-urlencoded"
}

// mediaType is the request's Content-Type without parameters, in lower case.
func mediaType(r *http.Request) string {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// sameOrigin refuses requests whose Origin (or, failing that, Referer) names another site.
// Sec-Fetch-Site, when the browser sends it, settles the question.
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	case "same-origin":
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		if ref := r.Header.Get("Referer"); ref != "" {
			if u, err := url.Parse(ref); err == nil {
				origin = u.Scheme + "://" + u.Host
			}
		}
	}
	if origin == "" {
		return true // not a browser cross-site form: the CSRF token still has to match
	}
	if pu, err := url.Parse(s.cfg.PublicURL); err == nil && strings.EqualFold(origin, pu.Scheme+"://"+pu.Host) {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.EqualFold(origin, scheme+"://"+r.Host)
}

// projectAccess is the project policy of guard: it resolves the project named by :id and the
// caller's role in it (platform admins act as owners), stores both in c, and returns
// ErrNotFound for non-members (a project of another tenant does not exist for them) and
// ErrForbidden for members whose role does not allow act.
func (s *Server) projectAccess(c *gin.Context, act action) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return models.ErrNotFound
	}
	p := principalFrom(c)
	role, err := s.store.RoleOf(c, id, p.UserID)
	if err != nil {
		return err
	}
	if p.PlatformAdmin {
		role = models.RoleOwner
	}
	if role == models.RoleNone {
		return models.ErrNotFound
	}
	project, err := s.store.Project(c, id)
	if err != nil {
		return err
	}
	if !may(role, act) {
		return models.ErrForbidden
	}
	if err := s.twoFactorGate(c, p, id); err != nil {
		return teamsErr(c, err)
	}
	c.Set(projectKey, project)
	c.Set(roleKey, role)
	return nil
}

// audit records a management write; a failure is logged, never shown to the caller, since the
// write itself succeeded.
func (s *Server) audit(c *gin.Context, projectID uuid.UUID, action, target string, details map[string]any) {
	if err := s.store.Audit(c, projectID, principalFrom(c).UserID, action, target, details); err != nil {
		s.logger.Error("audit write failed", append(logAttrs(c), "action", action, "err", err.Error())...)
	}
}

func isNotFound(err error) bool { return errors.Is(err, models.ErrNotFound) }
