package api

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"personas/models"
)

// Body limits: the collector contract allows 64 KiB; management bodies are small; forms (the
// dashboard's, sign-in) smaller still; imports stream.
const (
	maxManagementBody = 256 << 10
	maxCollectBody    = 64 << 10
	maxFormBody       = 64 << 10
)

// route is one line of the policy table: who may call what.
type route struct {
	method, path string
	role         models.Role // minimum project role; RoleNone for routes outside a project
	handler      gin.HandlerFunc
}

// routes registers every route, grouped by who may call it.
func (s *Server) routes() *gin.Engine {
	r := gin.New()
	// ClientIP is the peer address, unless the peer is a trusted proxy: then X-Forwarded-For is
	// read from the right, skipping trusted hops, and the first other address is the client.
	proxies := make([]string, len(s.cfg.TrustedProxies))
	for i, p := range s.cfg.TrustedProxies {
		proxies[i] = p.String()
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		panic(fmt.Sprintf("trusted proxies %v: %v", proxies, err)) // parsed by config: cannot happen
	}
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	r.ForwardedByClientIP = true
	r.HandleMethodNotAllowed = true
	r.Use(withRequestID, s.recovery, s.metricsMiddleware, s.accessLog, s.securityHeaders)
	r.NoRoute(func(c *gin.Context) { writeError(c, http.StatusNotFound, "not_found", "no such route", "") })
	r.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route", "")
	})

	// Operations: anyone on the network the service listens on.
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metricsHandler())

	// The collector's public API is registered by s.publicRoutes (site key + origin checks).
	s.publicRoutes(r)

	v1 := r.Group("/v1", limitBody(maxManagementBody))
	v1.POST("/session", formBody(maxFormBody, s.fail), s.login)

	// Any authenticated user: their own account, tokens and projects.
	authed := v1.Group("", s.authenticate)
	authed.DELETE("/session", s.logout)
	authed.POST("/sessions/revoke", s.endSessions)
	authed.GET("/me", s.me)
	authed.PUT("/me/password", s.changePassword)
	authed.GET("/tokens", s.listTokens)
	authed.POST("/tokens", s.createToken)
	authed.DELETE("/tokens/:token_id", s.revokeToken)
	authed.GET("/projects", s.listProjects)
	authed.POST("/projects", s.createProject)

	// Project routes: the policy table. Non-members get 404, members below the role 403.
	for _, rt := range s.projectRoutes() {
		authed.Handle(rt.method, "/projects/:id"+rt.path, s.requireRole(rt.role), rt.handler)
	}

	// Deletion status and receipts outlive the project: the requester and platform admins may
	// read them after it is gone, so these two check access themselves (deletionFor).
	authed.GET("/projects/:id/deletions/:did", s.getDeletion)
	authed.GET("/projects/:id/deletions/:did/receipt", s.getReceipt)

	s.teamsRoutes(r)
	s.teamsDashboardRoutes(r)
	s.dashboardRoutes(r)
	return r
}

// projectRoutes is the policy table of project-scoped routes (DESIGN.md's roles).
func (s *Server) projectRoutes() []route {
	const (
		viewer = models.RoleViewer
		editor = models.RoleEditor
		admin  = models.RoleAdmin
		owner  = models.RoleOwner
	)
	rs := []route{
		{"GET", "", viewer, s.getProject},
		{"PATCH", "", editor, s.updateProject}, // origins and retention: admin, checked on the body
		{"GET", "/members", admin, s.listMembers},
		{"POST", "/members", admin, s.addMember},
		{"PATCH", "/members/:user_id", admin, s.updateMember},
		{"DELETE", "/members/:user_id", admin, s.removeMember},
		{"POST", "/transfer", owner, s.transferOwnership},
		{"GET", "/audit", admin, s.auditLog},
	}
	return append(append(rs, s.moreProjectRoutes()...), s.teamsProjectRoutes()...)
}
