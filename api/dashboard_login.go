package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"personas/models"
)

// loginView is the login page's data.
type loginView struct {
	Next, Email, Error string
	SSO                bool // single sign-on is configured: the page offers it
}

// safeNext keeps a post-login redirect on this site. It accepts only an absolute path of
// printable ASCII (no space, control character, backslash or non-ASCII byte: browsers drop
// some of them and turn a backslash into a slash before following a Location), whose second
// character is not a slash, that has no scheme or host however it is parsed, and whose
// percent-decoded forms neither start with two slashes nor hold a backslash or a control
// character. Anything else becomes "/".
func safeNext(next string) string {
	if len(next) > 2048 || !sameSitePath(next, true) {
		return "/"
	}
	cur := next
	for range 3 {
		dec, err := url.PathUnescape(cur)
		if err != nil {
			return "/"
		}
		if dec == cur {
			return next
		}
		if !sameSitePath(dec, false) {
			return "/"
		}
		cur = dec
	}
	return "/" // encoded more than three times over: no link of this site is
}

// sameSitePath is safeNext's test of one form of the path; raw is the form as sent, held to
// printable ASCII.
func sameSitePath(p string, raw bool) bool {
	if len(p) == 0 || p[0] != '/' || (len(p) > 1 && (p[1] == '/' || p[1] == '\\')) {
		return false
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		if b < ' ' || b == 0x7f || b == '\\' || (raw && (b == ' ' || b > 0x7f)) {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.Opaque == "" && u.User == nil && strings.HasPrefix(u.Path, "/")
}

func (s *Server) loginPage(c *gin.Context) {
	if p, err := s.principal(c); err == nil && p.SessionCSRF != "" {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
		return
	}
	s.render(c, http.StatusOK, "login", page{Title: "Sign in", Data: loginView{Next: safeNext(c.Query("next")), SSO: s.ssoOn()}})
}

// loginForm opens a session from the login form. A login form posted from another site is
// refused (login CSRF would sign the victim into the attacker's account).
func (s *Server) loginForm(c *gin.Context) {
	v := loginView{Next: safeNext(c.PostForm("next")), Email: c.PostForm("email"), SSO: s.ssoOn()}
	if !s.sameOrigin(c.Request) {
		s.errorPage(c, errStatus(http.StatusForbidden, "csrf", "cross-site request refused"))
		return
	}
	if _, _, err := s.openSession(c, v.Email, c.PostForm("password")); errors.Is(err, errSecondFactorPending) {
		s.secondFactorPending(c)
		return
	} else if err != nil {
		var ae *apiError
		var ve *models.ValidationError
		status := http.StatusUnauthorized
		switch {
		case errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusTooManyRequests ||
			ae.Status == http.StatusServiceUnavailable):
			v.Error, status = ae.Message, ae.Status
		case errors.As(err, &ve):
			v.Error, status = "The "+ve.Field+" "+ve.Message+".", http.StatusBadRequest
		default:
			s.errorPage(c, err)
			return
		}
		if v.Error == "wrong email or password" {
			v.Error = "Wrong email or password."
		}
		s.render(c, status, "login", page{Title: "Sign in", Data: v})
		return
	}
	c.Redirect(http.StatusSeeOther, v.Next)
}

func (s *Server) logoutForm(c *gin.Context) error {
	if cookie, err := c.Cookie(SessionCookie); err == nil {
		if err := s.store.DeleteSession(c, cookie); err != nil {
			return err
		}
	}
	s.setSessionCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/login")
	return nil
}

// logoutEverywhereForm is the dashboard's "sign out everywhere": every session of the user ends,
// this one included.
func (s *Server) logoutEverywhereForm(c *gin.Context) error {
	p := principalFrom(c)
	n, err := s.store.EndSessions(c, p.UserID)
	if err != nil {
		return err
	}
	s.audit(c, models.AccountScope, "session.revoke_all", p.UserID.String(), map[string]any{"sessions": n})
	s.setSessionCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/login")
	return nil
}

// projectsPage lists the user's projects; with one project it is the way in.
func (s *Server) projectsPage(c *gin.Context) error {
	ps, err := s.store.ProjectsOf(c, principalFrom(c))
	if err != nil {
		return err
	}
	p, err := s.newPage(c, "Projects", "", ps)
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "projects", p)
	return nil
}
