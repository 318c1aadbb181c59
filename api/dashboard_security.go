package api

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/accounts"
	"personas/models"
)

// The dashboard's pages of issue #19: the link pages (accept an invitation, reset a password),
// forgot password, the second sign-in step and the Security page. The link and sign-in pages
// are public and refuse forms from another site, as /login does; the Security page's forms
// carry the session's CSRF token (guard checks it).

// teamsPages are the templates of these pages, parsed with the layout.
var teamsPages = []string{"password", "forgot", "code", "security", "invited"}

func (s *Server) withAccountsPage(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.accounts == nil {
			s.errorPage(c, models.ErrNotFound)
			return
		}
		h(c)
	}
}

// passwordView is a link page: the form that sets a password from a token.
type passwordView struct {
	Heading, Label, Button, Action, Autocomplete string
	Token, Error, Strength                       string
}

func acceptView(token string) passwordView {
	return passwordView{Heading: "Join the project", Label: "Choose a password (or, if you have an account, enter yours)",
		Button: "Accept the invitation", Action: "/accept-invitation", Autocomplete: "new-password", Token: token}
}

func resetView(token string) passwordView {
	return passwordView{Heading: "Choose a new password", Label: "New password", Button: "Set the password",
		Action: "/reset-password", Autocomplete: "new-password", Token: token}
}

// linkPage renders a link page; the token in its URL never leaves as a referrer.
func (s *Server) linkPage(c *gin.Context, status int, v passwordView) {
	noReferrer(c)
	s.render(c, status, "password", page{Title: v.Heading, Data: v})
}

// linkFailure shows a refused form on its page: a link error in plain words (the form goes),
// a weak password with its strength (the form stays).
func (s *Server) linkFailure(c *gin.Context, v passwordView, err error) {
	var ae *apiError
	var ve *models.ValidationError
	switch e := teamsErr(c, err); {
	case errors.As(e, &ae) && ae.Status < 500:
		v.Error = ae.Message
		if ae.Code != "existing_account" && ae.Status != http.StatusTooManyRequests && ae.Status != http.StatusUnauthorized {
			v.Token = "" // the link itself is refused: nothing to retry with it
		}
		s.linkPage(c, ae.Status, v)
	case errors.As(e, &ve):
		v.Error = "The " + ve.Field + " " + ve.Message + "."
		st := accounts.PasswordStrength(c.PostForm("password"), "")
		v.Strength = st.Hint
		s.linkPage(c, http.StatusBadRequest, v)
	default:
		s.errorPage(c, e)
	}
}

func (s *Server) refuseCrossSite(c *gin.Context) bool {
	if !s.sameOrigin(c.Request) {
		s.errorPage(c, errStatus(http.StatusForbidden, "csrf", "cross-site request refused"))
		return true
	}
	return false
}

func (s *Server) acceptPage(c *gin.Context) {
	s.linkPage(c, http.StatusOK, acceptView(c.Param("token")))
}

func (s *Server) acceptForm(c *gin.Context) {
	if s.refuseCrossSite(c) {
		return
	}
	v := acceptView(c.PostForm("token"))
	in, err := s.accounts.Accept(c, v.Token, c.PostForm("password"), deviceClass(c))
	if err != nil {
		s.linkFailure(c, v, err)
		return
	}
	s.signedIn(c, in)
	if in.SecondFactor {
		c.Redirect(http.StatusSeeOther, "/login/code")
		return
	}
	c.Redirect(http.StatusSeeOther, "/")
}

func (s *Server) resetPage(c *gin.Context) { s.linkPage(c, http.StatusOK, resetView(c.Param("token"))) }

func (s *Server) resetForm(c *gin.Context) {
	if s.refuseCrossSite(c) {
		return
	}
	v := resetView(c.PostForm("token"))
	if _, err := s.accounts.CompleteReset(c, v.Token, c.PostForm("password")); err != nil {
		s.linkFailure(c, v, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

type forgotView struct{ Sent bool }

func (s *Server) forgotPage(c *gin.Context) {
	s.render(c, http.StatusOK, "forgot", page{Title: "Forgot password", Data: forgotView{}})
}

// forgotForm answers the same page whether or not the address has an account.
func (s *Server) forgotForm(c *gin.Context) {
	if s.refuseCrossSite(c) {
		return
	}
	if err := s.accounts.RequestReset(c, c.PostForm("email")); err != nil {
		s.errorPage(c, err)
		return
	}
	s.render(c, http.StatusOK, "forgot", page{Title: "Forgot password", Data: forgotView{Sent: true}})
}

type codeView struct{ Next, Error string }

func (s *Server) codePage(c *gin.Context) {
	s.render(c, http.StatusOK, "code", page{Title: "Two-factor sign-in", Data: codeView{Next: safeNext(c.Query("next"))}})
}

func (s *Server) codeForm(c *gin.Context) {
	if s.refuseCrossSite(c) {
		return
	}
	v := codeView{Next: safeNext(c.PostForm("next"))}
	pending, err := c.Cookie(pendingCookie)
	if err != nil || pending == "" {
		c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(v.Next))
		return
	}
	in, err := s.accounts.CompleteSignIn(c, pending, c.PostForm("code"))
	if err != nil {
		var ae *apiError
		if e := teamsErr(c, err); errors.As(e, &ae) && ae.Status < 500 {
			v.Error = ae.Message
			if ae.Code == "unauthenticated" { // the pending sign-in is gone
				v.Error = "This sign-in has timed out: sign in again."
			}
			s.render(c, ae.Status, "code", page{Title: "Two-factor sign-in", Data: v})
			return
		}
		s.errorPage(c, err)
		return
	}
	s.signedIn(c, in)
	c.Redirect(http.StatusSeeOther, v.Next)
}

// securityView is the Security page: two-factor sign-in, its set-up, and the sessions.
type securityView struct {
	TwoFactor     bool
	Setup         *accounts.TOTPSetup
	QR            template.HTML // the QR code, an SVG drawn by accounts.QRSVG
	RecoveryCodes []string
	Sessions      []models.UserSession
	Tokens        []models.Token
	Error         string
	Required      bool // sent here by a project that requires two-factor sign-in
}

func (s *Server) renderSecurity(c *gin.Context, status int, v securityView) error {
	p := principalFrom(c)
	has, err := s.store.HasTwoFactor(c, p.UserID)
	if err != nil {
		return err
	}
	v.TwoFactor = has
	v.Required = c.Query("setup") == "required" && !has
	if v.Sessions, err = s.accounts.Sessions(c, p); err != nil {
		return err
	}
	if v.Tokens, err = s.store.Tokens(c, p.UserID); err != nil {
		return err
	}
	pg, err := s.newPage(c, "Security", "", v)
	if err != nil {
		return err
	}
	s.render(c, status, "security", pg)
	return nil
}

func (s *Server) securityPage(c *gin.Context) error {
	return s.renderSecurity(c, http.StatusOK, securityView{})
}

func (s *Server) beginTwoFactorForm(c *gin.Context) error {
	setup, err := s.accounts.BeginTOTP(c, principalFrom(c).UserID)
	if err != nil {
		return teamsErr(c, err)
	}
	return s.renderSecurity(c, http.StatusOK, securityView{Setup: &setup, QR: template.HTML(setup.QRSVG)}) // #nosec: our own SVG
}

func (s *Server) confirmTwoFactorForm(c *gin.Context) error {
	codes, err := s.accounts.ConfirmTOTP(c, principalFrom(c).UserID, c.PostForm("code"))
	if err != nil {
		var ae *apiError
		if e := teamsErr(c, err); errors.As(e, &ae) && ae.Status == http.StatusUnauthorized {
			return s.renderSecurity(c, ae.Status, securityView{Error: ae.Message + " Start the set-up again."})
		}
		return teamsErr(c, err)
	}
	return s.renderSecurity(c, http.StatusOK, securityView{RecoveryCodes: codes})
}

func (s *Server) revokeSessionForm(c *gin.Context) error {
	id, err := uuid.Parse(c.Param("session_id"))
	if err != nil {
		return models.ErrNotFound
	}
	if err := s.accounts.RevokeSession(c, principalFrom(c), id); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/security")
	return nil
}

// ssoOn reports whether single sign-on is configured (the login page offers it).
func (s *Server) ssoOn() bool { return s.accounts != nil && s.accounts.OIDC() != nil }

// twoFactorSetupRequired reports the project gate's refusal of a member without two-factor
// sign-in: the dashboard sends them to the set-up.
func twoFactorSetupRequired(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Code == "two_factor_setup_required"
}

// revokeTokenForm revokes one of the user's API tokens from the Security page.
func (s *Server) revokeTokenForm(c *gin.Context) error {
	id, err := uuid.Parse(c.Param("token_id"))
	if err != nil {
		return models.ErrNotFound
	}
	if err := s.store.RevokeToken(c, principalFrom(c), id); err != nil {
		return err
	}
	s.audit(c, models.AccountScope, "token.revoke", id.String(), nil)
	c.Redirect(http.StatusSeeOther, "/security")
	return nil
}
