package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"personas/collector"
)

// firstPartyGuide names the guide to first-party serving: the reverse proxy configurations
// the first-party snippet relies on.
const firstPartyGuide = "docs/deploy.md#first-party-serving-reverse-proxy"

// snippet returns the install snippet: the anti-flicker style and the pinned script tag, and
// its first-party variant for a site that forwards /_p/ to Personas (docs/deploy.md).
func (s *Server) snippet(c *gin.Context) {
	p := projectFrom(c)
	c.JSON(http.StatusOK, gin.H{"snippet": collector.Snippet(s.cfg.PublicURL, p.SiteKey),
		"script_url": s.cfg.PublicURL + collector.Path(), "integrity": collector.Integrity(),
		"anti_flicker_css": collector.AntiFlickerCSS(),
		"first_party": gin.H{"snippet": collector.FirstPartySnippet(p.SiteKey),
			"script_path": collector.FirstPartyPrefix + collector.Path(), "api": collector.FirstPartyPrefix,
			"upstream": s.cfg.PublicURL, "guide": firstPartyGuide}})
}
