package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"personas/models"
)

// siteCache maps site keys to projects for a few seconds, so the hot public routes do not read
// the projects table on every request. Settings changes make entries stale (read again on next
// use); a deleted project's entries go at once. A stale entry is kept as the last known mapping:
// while PostgreSQL is unavailable, a request is still attributed to its project, so its events
// are counted as dropped (storage_unavailable) instead of vanishing uncounted.
type siteCache struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[string]siteEntry
}

type siteEntry struct {
	p      models.Project
	err    error     // ErrNotFound for an unknown key; outages are never cached
	at     time.Time // when read; zero once stale
	failed time.Time // when a refresh last failed: the last known mapping serves until ttl after it
}

// maxSiteEntries bounds the cache: site keys come from clients.
const maxSiteEntries = 100000

func newSiteCache(ttl time.Duration) *siteCache {
	return &siteCache{ttl: ttl, max: maxSiteEntries, m: map[string]siteEntry{}}
}

func (s *Server) projectBySiteKey(ctx context.Context, key string) (models.Project, error) {
	sc := s.sites
	sc.mu.Lock()
	e, ok := sc.m[key]
	sc.mu.Unlock()
	now := time.Now()
	if ok && now.Sub(e.at) < sc.ttl {
		return e.p, e.err
	}
	known := ok && e.err == nil
	if known && now.Sub(e.failed) < sc.ttl {
		return e.p, nil // storage failed a moment ago: do not ask again on every request
	}
	p, err := s.store.ProjectBySiteKey(ctx, key)
	if err != nil && !isNotFound(err) {
		if known {
			// Storage is failing: keep answering from the last known mapping, so the request
			// is still attributed to its project and its events are counted as dropped.
			sc.mu.Lock()
			if cur, ok := sc.m[key]; ok && cur.err == nil {
				cur.failed = now
				sc.m[key] = cur
			}
			sc.mu.Unlock()
			return e.p, nil
		}
		return p, err // do not cache outages
	}
	sc.mu.Lock()
	if _, ok := sc.m[key]; !ok && len(sc.m) >= sc.max {
		sc.shrink()
	}
	sc.m[key] = siteEntry{p: p, err: err, at: now}
	sc.mu.Unlock()
	return p, err
}

// shrink makes room when the cache is full: unknown keys (what a client can invent) go first,
// then, if that was not enough, half of the rest. Called with mu held.
func (sc *siteCache) shrink() {
	for k, e := range sc.m {
		if e.err != nil {
			delete(sc.m, k)
		}
	}
	for k := range sc.m {
		if len(sc.m) < sc.max/2 {
			break
		}
		delete(sc.m, k)
	}
}

// invalidate makes every entry stale: it is read again on next use, and serves meanwhile only
// as the last known mapping while storage is unavailable.
func (sc *siteCache) invalidate() {
	sc.mu.Lock()
	for k, e := range sc.m {
		e.at = time.Time{}
		sc.m[k] = e
	}
	sc.mu.Unlock()
}

// forgetProject drops every entry of a project (deleted): nothing is attributed to it any more.
func (sc *siteCache) forgetProject(id uuid.UUID) {
	sc.mu.Lock()
	for k, e := range sc.m {
		if e.err == nil && e.p.ID == id {
			delete(sc.m, k)
		}
	}
	sc.mu.Unlock()
}

// EvictProject forgets the cached look-up of a site key (its project was deleted or its key
// changed); with an empty key it makes every entry stale (settings may have changed).
func (s *Server) EvictProject(siteKey string) {
	if siteKey == "" {
		s.sites.invalidate()
		return
	}
	s.sites.mu.Lock()
	delete(s.sites.m, siteKey)
	s.sites.mu.Unlock()
}

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

// requestOrigin is the Origin header, or the origin of the Referer.
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return o
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		if u, err := url.Parse(ref); err == nil && u.Scheme != "" && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	return ""
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

// collect takes a batch of events: 204 once every kept event is durably stored.
func (s *Server) collect(c *gin.Context) {
	body, err := readCollectBody(c)
	if err != nil {
		s.metrics.dropped.WithLabelValues(models.ReasonBadShape).Inc()
		s.fail(c, err)
		return
	}
	payload, err := ParseCollectPayload(body)
	if err != nil {
		s.countBadShape(c, body)
		s.fail(c, badRequest(err.Error()))
		return
	}
	p, err := s.projectBySiteKey(c, payload.SiteKey)
	if err != nil {
		if isNotFound(err) {
			s.metrics.dropped.WithLabelValues("unknown_site_key").Add(float64(len(payload.Events)))
			s.fail(c, errStatus(http.StatusForbidden, "site_key", "unknown site key"))
			return
		}
		s.fail(c, err)
		return
	}
	n := int64(len(payload.Events))
	if !models.OriginAllowed(p.AllowedOrigins, requestOrigin(c.Request)) {
		s.metrics.dropped.WithLabelValues(models.ReasonOrigin).Add(float64(n))
		if err := s.ingester.CountDropped(c, p.ID, models.ReasonOrigin, n); err != nil {
			s.logger.Warn("count dropped events", append(logAttrs(c), "err", err.Error())...)
		}
		s.fail(c, errStatus(http.StatusForbidden, "origin", "origin not allowed for this site key"))
		return
	}
	if !s.siteLimits.allow(p.SiteKey) || !s.clientLimits.allow(clientKey(c)) {
		s.metrics.dropped.WithLabelValues(models.ReasonRate).Add(float64(n))
		_ = s.ingester.CountDropped(c, p.ID, models.ReasonRate, n)
		c.Header("Retry-After", "1")
		s.fail(c, errStatus(http.StatusTooManyRequests, "rate_limited", "too many requests; retry later"))
		return
	}
	now := s.store.Now().UTC()
	batch := &models.Batch{ProjectID: p.ID, Day: now, Dropped: map[string]int64{}}
	if !sampledIn(payload.VisitorID, p.SampleRate) {
		batch.Dropped[models.ReasonSampled] = n
	} else {
		norm := s.browserNormalizer(c.Request, p, payload.Context, now)
		batch.Events = make([]models.Event, 0, len(payload.Events))
		for i := range payload.Events {
			ev, reason := norm.normalize(&payload.Events[i], payload.VisitorID, payload.SessionID)
			if reason != "" {
				batch.Dropped[reason]++
				continue
			}
			batch.Events = append(batch.Events, ev)
		}
	}
	for r, k := range batch.Dropped {
		s.metrics.dropped.WithLabelValues(r).Add(float64(k))
	}
	ctx, cancel := context.WithTimeout(c, 10*time.Second)
	defer cancel()
	if err := s.ingester.Submit(ctx, batch); err != nil {
		s.metrics.dropped.WithLabelValues(models.ReasonUnavailable).Add(float64(len(batch.Events)))
		s.fail(c, errStatus(http.StatusServiceUnavailable, "unavailable", "storage is unavailable; retry later"))
		return
	}
	c.Status(http.StatusNoContent)
}

func screenWidth(ctx CollectContext) int {
	if len(ctx.Screen) > 0 && ctx.Screen[0] > 0 && ctx.Screen[0] < 100000 {
		return ctx.Screen[0]
	}
	return 0
}

// sampledIn decides, the same way as collector.js, whether a visitor is in the sample: the
// first 32 bits of the (random, hex) visitor id as a fraction of 2^32, below the rate. Ids that
// do not start with 8 hex digits (imports, other clients) use FNV-1a of the whole id.
func sampledIn(visitorID string, rate float64) bool {
	if rate >= 1 {
		return true
	}
	var h uint32
	if v, err := strconv.ParseUint(visitorID[:min(8, len(visitorID))], 16, 32); err == nil && len(visitorID) >= 8 {
		h = uint32(v)
	} else {
		h = 2166136261
		for i := 0; i < len(visitorID); i++ {
			h ^= uint32(visitorID[i])
			h *= 16777619
		}
	}
	return float64(h)/4294967296.0 < rate
}

// countBadShape counts a rejected request's events against its project when the body at least
// names a known site key, so the delivery counters show malformed traffic too.
func (s *Server) countBadShape(c *gin.Context, body []byte) {
	var probe struct {
		SiteKey string            `json:"site_key"`
		Events  []json.RawMessage `json:"events"`
	}
	n := int64(1)
	if json.Unmarshal(body, &probe) == nil && len(probe.Events) > 0 {
		n = int64(len(probe.Events))
	}
	s.metrics.dropped.WithLabelValues(models.ReasonBadShape).Add(float64(n))
	if probe.SiteKey == "" || checkID("site_key", probe.SiteKey) != nil {
		return
	}
	p, err := s.projectBySiteKey(c, probe.SiteKey)
	if err != nil {
		return
	}
	if err := s.ingester.CountDropped(c, p.ID, models.ReasonBadShape, n); err != nil {
		s.logger.Warn("count dropped events", append(logAttrs(c), "err", err.Error())...)
	}
}
