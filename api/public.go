package api

import (
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"personas/models"
)

// limiters holds token buckets per key, forgotten after a quiet while.
type limiters struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	m     map[string]*limiterEntry
	swept time.Time
}

type limiterEntry struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{rate: rate.Limit(perSecond), burst: burst, m: map[string]*limiterEntry{}, swept: time.Now()}
}

func (l *limiters) allow(key string) bool {
	if l.rate <= 0 {
		return true
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entry(key, now).l.AllowN(now, 1)
}

// cors answers the browser's preflight and marks allowed answers readable by the page. The
// origin check itself is done per project once the body names the site key.
func cors(c *gin.Context) {
	if o := c.GetHeader("Origin"); o != "" {
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", o)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "Retry-After")
		if c.Request.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type")
			h.Set("Access-Control-Max-Age", "86400")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
	}
	c.Next()
}

// siteConfig is what the collector needs to know about its project, by site key.
func (s *Server) siteConfig(c *gin.Context) {
	p, err := s.projectBySiteKey(c, c.Query("site_key"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if !models.OriginAllowed(p.AllowedOrigins, requestOrigin(c.Request)) {
		s.fail(c, errStatus(http.StatusForbidden, "origin", "origin not allowed for this site key"))
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, gin.H{
		"sample_rate": p.SampleRate, "exclude": p.ExcludedSelectors, "respect_gpc": p.RespectGPC,
		"respect_dnt": p.RespectDNT, "cookieless": p.Cookieless, "data_attrs": p.DataAttributes,
		"classify": p.ModelVersion != nil,
	})
}
