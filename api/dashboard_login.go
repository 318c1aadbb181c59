package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"personas/models"
)

// loginView is the login page's data.
type loginView struct {
	Next, Email, Error string
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(c *gin.Context) {
	if p, err := s.principal(c); err == nil && p.SessionCSRF != "" {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
		return
	}
	s.render(c, http.StatusOK, "login", page{Title: "Sign in", Data: loginView{Next: safeNext(c.Query("next"))}})
}

// loginForm opens a session from the login form. A login form posted from another site is
// refused (login CSRF would sign the victim into the attacker's account).
func (s *Server) loginForm(c *gin.Context) {
	v := loginView{Next: safeNext(c.PostForm("next")), Email: c.PostForm("email")}
	if !s.sameOrigin(c.Request) {
		s.errorPage(c, errStatus(http.StatusForbidden, "csrf", "cross-site request refused"))
		return
	}
	if _, _, err := s.openSession(c, v.Email, c.PostForm("password")); err != nil {
		var ae *apiError
		var ve *models.ValidationError
		switch {
		case errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusTooManyRequests):
			v.Error = ae.Message
		case errors.As(err, &ve):
			v.Error = "Wrong email or password."
		default:
			s.errorPage(c, err)
			return
		}
		if v.Error == "wrong email or password" {
			v.Error = "Wrong email or password."
		}
		status := http.StatusUnauthorized
		if ae != nil {
			status = ae.Status
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
