package api

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
)

// sitePolicy is what the site gate applies for one public route.
type sitePolicy struct {
	// route names the route's own per-client buckets: a page's classify and forget calls do
	// not spend its collect budget.
	route string
	// perSite takes from the site's bucket too, shared by all the site's visitors, before the
	// client's.
	perSite bool
	// countDrops counts the events of a refused request as dropped, by reason (the delivery
	// counters: origin, rate), in /metrics and the project's ingest_stats.
	countDrops bool
}

// The site policies of the public routes. Only collect's refusals lose events, so only collect
// counts them; classify's inline events are never stored and forget carries none.
var (
	collectSite  = sitePolicy{route: "collect", perSite: true, countDrops: true}
	classifySite = sitePolicy{route: "classify"}
	forgetSite   = sitePolicy{route: "forget"}
)

// siteGate is the one check of a page request (collect, classify, forget) before its body is
// acted on: the site key names a project (through the site cache), the request comes from one
// of the project's allowed origins, and neither the client nor (per policy) the site is over its
// rate. events is how many events the request carries, for the drop counts. When the request
// may not go on, the gate writes the answer (403 site_key or origin, 429 with Retry-After, or
// the storage error) and reports false.
func (s *Server) siteGate(c *gin.Context, pol sitePolicy, siteKey string, events int64) (models.Project, bool) {
	p, err := s.projectBySiteKey(c, siteKey)
	if err != nil {
		if isNotFound(err) {
			if pol.countDrops {
				// No project to count them against: only /metrics sees them.
				s.metrics.dropped.WithLabelValues("unknown_site_key").Add(float64(events))
			}
			s.fail(c, errStatus(http.StatusForbidden, "site_key", "unknown site key"))
			return models.Project{}, false
		}
		s.fail(c, err)
		return models.Project{}, false
	}
	if !models.OriginAllowed(p.AllowedOrigins, requestOrigin(c.Request)) {
		if pol.countDrops {
			s.metrics.dropped.WithLabelValues(models.ReasonOrigin).Add(float64(events))
			if err := s.ingester.CountDropped(c, p.ID, models.ReasonOrigin, events); err != nil {
				s.logger.Warn("count dropped events", append(logAttrs(c), "err", err.Error())...)
			}
		}
		s.fail(c, errStatus(http.StatusForbidden, "origin", "origin not allowed for this site key"))
		return models.Project{}, false
	}
	if (pol.perSite && !s.siteLimits.allow(p.SiteKey)) || !s.clientLimits.allow(pol.route+":"+clientKey(c)) {
		if pol.countDrops {
			s.metrics.dropped.WithLabelValues(models.ReasonRate).Add(float64(events))
			_ = s.ingester.CountDropped(c, p.ID, models.ReasonRate, events)
		}
		c.Header("Retry-After", "1")
		s.fail(c, errStatus(http.StatusTooManyRequests, "rate_limited", "too many requests; retry later"))
		return models.Project{}, false
	}
	return p, true
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
// as the last known mapping while storage is unavailable. It also ends the back-off of a refresh
// that failed a moment ago: the change notification (or resync) that invalidates comes from a
// storage that answers again, and says the mapping changed; kept, the back-off answered the old
// mapping (a model version already replaced) for up to the TTL after a failover.
func (sc *siteCache) invalidate() {
	sc.mu.Lock()
	for k, e := range sc.m {
		e.at, e.failed = time.Time{}, time.Time{}
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
