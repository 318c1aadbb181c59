package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"personas/collector"
	"personas/models"
)

// morePublicRoutes are the public routes beyond collect.
func (s *Server) morePublicRoutes(g *gin.RouterGroup) {
	g.OPTIONS("/forget", func(c *gin.Context) {})
	g.POST("/forget", s.forget)
	g.GET("/receipt-key", s.receiptKey)
	g.OPTIONS("/classify", func(c *gin.Context) {})
	g.POST("/classify", s.classify)
}

// moreProjectRoutes are the project routes of collection, deletion and modelling.
func (s *Server) moreProjectRoutes() []route {
	const (
		viewer = models.RoleViewer
		editor = models.RoleEditor
		admin  = models.RoleAdmin
	)
	return append([]route{
		{"GET", "/snippet", viewer, s.snippet},
		{"POST", "/import", editor, s.importEvents},
		{"GET", "/visitors/:visitor_id/export", admin, s.exportVisitor},
		{"POST", "/deletions", admin, s.createDeletion}, // scope all: owner, checked on the body
		{"GET", "/deletions", admin, s.listDeletions},
	}, s.modellingRoutes()...)
}

// snippet returns the install snippet: the anti-flicker style and the pinned script tag.
func (s *Server) snippet(c *gin.Context) {
	p := projectFrom(c)
	c.JSON(http.StatusOK, gin.H{"snippet": collector.Snippet(s.cfg.PublicURL, p.SiteKey),
		"script_url": s.cfg.PublicURL + collector.Path(), "integrity": collector.Integrity(),
		"anti_flicker_css": collector.AntiFlickerCSS()})
}

// dashboardRoutes registers the dashboard pages and the collector script.
func (s *Server) dashboardRoutes(r *gin.Engine) {
	h := collector.Handler()
	r.GET(collector.Path(), gin.WrapH(h))
	r.HEAD(collector.Path(), gin.WrapH(h))
	s.registerDashboard(r)
}
