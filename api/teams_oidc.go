package api

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"personas/accounts"
	"personas/models"
)

// oidcStart sends the browser to the identity provider. The state, PKCE verifier and nonce stay
// in a five-minute cookie on /auth/oidc: the callback is a top-level navigation from the
// provider, so the cookie is SameSite=Lax (a Strict one would not come back).
func (s *Server) oidcStart(c *gin.Context) {
	o := s.accounts.OIDC()
	if o == nil {
		s.fail(c, models.ErrNotFound)
		return
	}
	state := accounts.NewState()
	u, verifier, nonce := o.AuthURL(state)
	http.SetCookie(c.Writer, &http.Cookie{Name: oidcCookie, Value: state + "." + verifier + "." + nonce, Path: "/auth/oidc",
		MaxAge: pendingMaxAge, HttpOnly: true, Secure: s.cfg.Production, SameSite: http.SameSiteLaxMode})
	noReferrer(c)
	c.Redirect(http.StatusSeeOther, u)
}

// oidcCallback checks the state against the cookie's, then signs the person in. The answer is a
// page that moves on to the dashboard by itself: the redirect chain began on the provider's
// site, so a redirect would arrive without the Strict session cookie.
func (s *Server) oidcCallback(c *gin.Context) {
	noReferrer(c)
	if s.accounts.OIDC() == nil {
		s.fail(c, models.ErrNotFound)
		return
	}
	raw, _ := c.Cookie(oidcCookie)
	http.SetCookie(c.Writer, &http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/oidc", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.Production, SameSite: http.SameSiteLaxMode})
	parts := strings.Split(raw, ".")
	state := c.Query("state")
	if len(parts) != 3 || state == "" || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(state)) != 1 {
		s.fail(c, errStatus(http.StatusForbidden, "sso_state", "this sign-in answer does not belong to a sign-in started here: start again"))
		return
	}
	if e := c.Query("error"); e != "" {
		s.fail(c, errStatus(http.StatusUnauthorized, "sso_failed", "the identity provider refused the sign-in"))
		return
	}
	in, err := s.accounts.SignInOIDC(c, c.Query("code"), parts[1], parts[2], deviceClass(c))
	if err != nil {
		s.teamsFail(c, err)
		return
	}
	s.signedIn(c, in)
	next := "/"
	if in.SecondFactor {
		next = "/login/code"
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<!doctype html><html><head><meta charset="utf-8">`+
		`<meta http-equiv="refresh" content="0;url=`+next+`"><title>Signed in</title></head>`+
		`<body><p><a href="`+next+`">Continue</a></p></body></html>`))
}
