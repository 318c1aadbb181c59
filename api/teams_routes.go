package api

import (
	"github.com/gin-gonic/gin"

	"personas/models"
)

// teamsRouteTable is the part of the route table that belongs to teams (issue #19): invitations,
// password resets, the second factor, single sign-on and the caller's sessions. The link, reset
// and code steps are sign-in actions: they carry their own proof in the body. Every handler
// answers 404 while the server runs without the teams domain (Deps.Accounts nil).
func (s *Server) teamsRouteTable() []route {
	api := func(h gin.HandlerFunc) gin.HandlerFunc { return s.withAccounts(h) }
	page := func(h func(*gin.Context) error) gin.HandlerFunc { return s.html(s.needAccounts(h)) }
	return []route{
		// The API outside a project.
		{"POST", "/v1/invitations/accept", actSignIn, api(s.acceptInvitation)},
		{"POST", "/v1/password-strength", actSignIn, api(s.passwordStrength)},
		{"POST", "/v1/password-resets", actSignIn, api(s.requestReset)},
		{"POST", "/v1/password-resets/complete", actSignIn, api(s.completeReset)},
		{"POST", "/v1/login/second-factor", actSignIn, api(s.secondFactor)},
		{"GET", "/auth/oidc/start", actPublic, api(s.oidcStart)},
		{"GET", "/auth/oidc/callback", actPublic, api(s.oidcCallback)},
		{"GET", "/v1/me/sessions", actSignedIn, api(s.listMySessions)},
		{"DELETE", "/v1/me/sessions/:session_id", actSignedIn, api(s.revokeMySession)},
		{"POST", "/v1/me/two-factor", actSignedIn, api(s.beginTwoFactor)},
		{"POST", "/v1/me/two-factor/confirm", actSignedIn, api(s.confirmTwoFactor)},
		{"DELETE", "/v1/me/two-factor", actSignedIn, api(s.disableTwoFactor)},
		{"POST", "/v1/me/two-factor/recovery-codes", actSignedIn, api(s.regenerateRecoveryCodes)},

		// The API in a project.
		{"GET", "/v1/projects/:id/invitations", actManageMembers, api(s.listInvitations)},
		{"POST", "/v1/projects/:id/invitations", actManageMembers, api(s.invite)},
		{"POST", "/v1/projects/:id/invitations/:invitation_id/resend", actManageMembers, api(s.resendInvitation)},
		{"DELETE", "/v1/projects/:id/invitations/:invitation_id", actManageMembers, api(s.revokeInvitation)},
		{"PUT", "/v1/projects/:id/two-factor", actRequireTwoFactor, api(s.requireTwoFactor)},

		// The dashboard's link, reset and code pages (signed out).
		{"GET", "/accept-invitation/:token", actPublic, s.withAccountsPage(s.acceptPage)},
		{"POST", "/accept-invitation", actSignIn, s.withAccountsPage(s.acceptForm)},
		{"GET", "/forgot-password", actPublic, s.withAccountsPage(s.forgotPage)},
		{"POST", "/forgot-password", actSignIn, s.withAccountsPage(s.forgotForm)},
		{"GET", "/reset-password/:token", actPublic, s.withAccountsPage(s.resetPage)},
		{"POST", "/reset-password", actSignIn, s.withAccountsPage(s.resetForm)},
		{"GET", "/login/code", actPublic, s.withAccountsPage(s.codePage)},
		{"POST", "/login/code", actSignIn, s.withAccountsPage(s.codeForm)},

		// The Security page and its forms (the caller's own account).
		{"GET", "/security", actSignedIn, page(s.securityPage)},
		{"POST", "/security/two-factor", actSignedIn, page(s.beginTwoFactorForm)},
		{"POST", "/security/two-factor/confirm", actSignedIn, page(s.confirmTwoFactorForm)},
		{"POST", "/security/sessions/:session_id/revoke", actSignedIn, page(s.revokeSessionForm)},
		{"POST", "/security/tokens/:token_id/revoke", actSignedIn, page(s.revokeTokenForm)},

		// The dashboard's project forms of teams.
		{"POST", "/projects/:id/invitations/:invitation_id/resend", actManageMembers, page(s.resendInvitationForm)},
		{"POST", "/projects/:id/invitations/:invitation_id/revoke", actManageMembers, page(s.revokeInvitationForm)},
		{"POST", "/projects/:id/settings/two-factor", actRequireTwoFactor, page(s.requireTwoFactorForm)},
	}
}

// withAccounts answers 404 when the server runs without the teams domain (Deps.Accounts nil).
func (s *Server) withAccounts(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.accounts == nil {
			s.fail(c, models.ErrNotFound)
			return
		}
		h(c)
	}
}
