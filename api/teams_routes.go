package api

import (
	"github.com/gin-gonic/gin"

	"personas/models"
)

// Who may call a route of issue #19 (teams): anyone (public: the link, reset and second-factor
// steps, which carry their own proof), any signed-in caller (their own account), or a project
// member of at least a role (teamsProjectRoutes, in the project policy table).
const (
	teamsPublic   = "public"
	teamsSignedIn = "signed-in"
)

type teamsRoute struct {
	method, path string
	who          string
	handler      gin.HandlerFunc
}

// teamsTable is every /v1 and /auth route of teams outside a project. The routes need
// Deps.Accounts; without it they are not registered.
func (s *Server) teamsTable() []teamsRoute {
	return []teamsRoute{
		{"POST", "/v1/invitations/accept", teamsPublic, s.acceptInvitation},
		{"POST", "/v1/password-strength", teamsPublic, s.passwordStrength},
		{"POST", "/v1/password-resets", teamsPublic, s.requestReset},
		{"POST", "/v1/password-resets/complete", teamsPublic, s.completeReset},
		{"POST", "/v1/login/second-factor", teamsPublic, s.secondFactor},
		{"GET", "/auth/oidc/start", teamsPublic, s.oidcStart},
		{"GET", "/auth/oidc/callback", teamsPublic, s.oidcCallback},
		{"GET", "/v1/me/sessions", teamsSignedIn, s.listMySessions},
		{"DELETE", "/v1/me/sessions/:session_id", teamsSignedIn, s.revokeMySession},
		{"POST", "/v1/me/two-factor", teamsSignedIn, s.beginTwoFactor},
		{"POST", "/v1/me/two-factor/confirm", teamsSignedIn, s.confirmTwoFactor},
		{"DELETE", "/v1/me/two-factor", teamsSignedIn, s.disableTwoFactor},
		{"POST", "/v1/me/two-factor/recovery-codes", teamsSignedIn, s.regenerateRecoveryCodes},
	}
}

// teamsProjectRoutes join the project policy table (projectRoutes): requireRole checks them.
func (s *Server) teamsProjectRoutes() []route {
	return []route{
		{"GET", "/invitations", models.RoleAdmin, s.withAccounts(s.listInvitations)},
		{"POST", "/invitations", models.RoleAdmin, s.withAccounts(s.invite)},
		{"POST", "/invitations/:invitation_id/resend", models.RoleAdmin, s.withAccounts(s.resendInvitation)},
		{"DELETE", "/invitations/:invitation_id", models.RoleAdmin, s.withAccounts(s.revokeInvitation)},
		{"PUT", "/two-factor", models.RoleOwner, s.withAccounts(s.requireTwoFactor)},
	}
}

// teamsRoutes registers teamsTable on r.
func (s *Server) teamsRoutes(r *gin.Engine) {
	for _, rt := range s.teamsTable() {
		hs := []gin.HandlerFunc{limitBody(maxManagementBody)}
		if rt.who == teamsSignedIn {
			hs = append(hs, s.authenticate)
		}
		r.Handle(rt.method, rt.path, append(hs, s.withAccounts(rt.handler))...)
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
