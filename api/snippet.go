package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"personas/collector"
)

// snippet returns the install snippet: the anti-flicker style and the pinned script tag.
func (s *Server) snippet(c *gin.Context) {
	p := projectFrom(c)
	c.JSON(http.StatusOK, gin.H{"snippet": collector.Snippet(s.cfg.PublicURL, p.SiteKey),
		"script_url": s.cfg.PublicURL + collector.Path(), "integrity": collector.Integrity(),
		"anti_flicker_css": collector.AntiFlickerCSS()})
}
