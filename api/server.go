package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"personas/accounts"
	"personas/classify"
	"personas/jobs/queue"
	"personas/models"
	"personas/privacy"
)

// Config is what the server needs to know about its environment.
type Config struct {
	PublicURL  string // external base URL, for snippets and links
	Production bool   // Secure cookies, no development affordances
	// Collect rate limits in requests per second (burst twice as much); 0 takes the default,
	// a negative value disables the limit.
	RatePerClient, RatePerSite float64
	// VersionCheck is how often cached models are compared with the database (default 30 s).
	VersionCheck time.Duration
	// TrustedProxies are the networks whose X-Forwarded-For names the client; none by default,
	// so the client is the peer address.
	TrustedProxies []netip.Prefix
	// PasswordHashes bounds the argon2id computations of sign-in running at once
	// (privacy.DefaultHashSlots when 0); PasswordWait is how long a sign-in waits for a slot
	// before it answers 503 (1 s when 0).
	PasswordHashes int
	PasswordWait   time.Duration
	// TokenFailures limits failed bearer token checks per client, per second with a burst 20
	// times as large; 0 takes the default (1), a negative value disables the limit.
	TokenFailures float64
	// SiteCacheTTL is how long a site key's project is used before it is read again (default
	// 5 s). Past it, the last known project still serves while PostgreSQL is unavailable, so
	// drops stay counted.
	SiteCacheTTL time.Duration
	// VisitorTTL is how long a visitor's aggregates are cached (classify.Config.VisitorTTL,
	// default 1 s); tests lengthen it so that only a notification can refresh them.
	VisitorTTL time.Duration
}

func (c Config) siteCacheTTL() time.Duration {
	if c.SiteCacheTTL > 0 {
		return c.SiteCacheTTL
	}
	return 5 * time.Second
}

func (c Config) versionCheckInterval() time.Duration {
	if c.VersionCheck > 0 {
		return c.VersionCheck
	}
	return 30 * time.Second
}

func (c Config) rates() (client, site float64) {
	client, site = c.RatePerClient, c.RatePerSite
	if client == 0 {
		client = 200
	}
	if site == 0 {
		site = 5000
	}
	return client, site
}

// Deps are the server's collaborators, built once in main.
type Deps struct {
	Store    *models.Store
	Ingester *models.Ingester
	Jobs     *queue.Client
	Redis    redis.UniversalClient
	Logger   *slog.Logger
	Signer   *privacy.Signer
	Accounts *accounts.Service    // teams: invitations, resets, two-factor, single sign-on; nil: off
	Hashes   *privacy.HashLimiter // when set, the argon2id slots sign-in shares with Accounts
	Config   Config
	// SchemaCheck reports whether the data schema is current (readiness).
	SchemaCheck func(context.Context) error
	// Wrap, when set, wraps the router in Handler and Serve: the tests check every answer
	// against the OpenAPI document there (internal/openapitest).
	Wrap func(http.Handler) http.Handler
}

// Server is the HTTP API and dashboard.
type Server struct {
	store   *models.Store
	jobs    *queue.Client
	redis   redis.UniversalClient
	logger  *slog.Logger
	cfg     Config
	metrics *metrics
	schema  func(context.Context) error
	router  *gin.Engine
	handler http.Handler // the router, wrapped by Deps.Wrap
	signer  *privacy.Signer
	dash    *dashboard  // the dashboard's parsed pages
	apiDocs apiDocsView // the API reference page, read from the embedded OpenAPI document

	ingester     *models.Ingester
	classifySvc  *classify.Service // live classification: models, aggregates, assignments
	accounts     *accounts.Service
	sites        *siteCache
	forgetPace   pace // how long a known visitor's forget takes, for the unknown ones
	siteLimits   *limiters
	clientLimits *limiters
	hashes       *privacy.HashLimiter // sign-in's argon2id slots
	tokenFails   *limiters            // failed bearer token checks per client

	schemaOK atomic.Bool // cached once true: migrations only move forward
}

// NewServer builds the server and its routes.
func NewServer(d Deps) *Server {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{store: d.Store, jobs: d.Jobs, redis: d.Redis, logger: d.Logger, cfg: d.Config,
		metrics: newMetrics(), schema: d.SchemaCheck, signer: d.Signer, accounts: d.Accounts, ingester: d.Ingester, sites: newSiteCache(d.Config.siteCacheTTL())}
	s.classifySvc = classify.New(classify.Config{Store: d.Store, Logger: d.Logger, VersionCheck: d.Config.versionCheckInterval(),
		VisitorTTL: d.Config.VisitorTTL,
		Metrics: classify.Metrics{ModelErrors: s.metrics.modelErrors, Reasons: s.metrics.classifyReasons,
			AssignmentDrops: s.metrics.assignmentDrops, AssignmentSkips: s.metrics.assignmentSkips,
			Notifications: s.metrics.notifications},
		OnChange: s.applyChange, OnResync: s.dropCaches, OnVersionCheck: s.refreshCaches})
	if d.Ingester != nil {
		d.Ingester.OnCommitted(s.committed)
	}
	cr, sr := d.Config.rates()
	s.clientLimits = newLimiters(cr, max(1, int(2*cr)))
	s.siteLimits = newLimiters(sr, max(1, int(2*sr)))
	s.hashes = d.Hashes
	if s.hashes == nil {
		s.hashes = privacy.NewHashLimiter(d.Config.PasswordHashes, d.Config.PasswordWait)
	}
	tf := d.Config.TokenFailures
	if tf == 0 {
		tf = tokenFailuresPerSecond
	}
	s.tokenFails = newLimiters(tf, max(1, int(tf*tokenFailureBurst)))
	s.metrics.registerHashes(s.hashes)
	if d.Store != nil {
		s.metrics.registry.MustRegister(d.Store.PoolCollector())
		s.metrics.registry.MustRegister(newPeriodicCollector(d.Store.PeriodicTasks, queue.PeriodicTaskTypes()))
	}
	if d.Redis != nil {
		s.metrics.registry.MustRegister(queue.Collector(d.Redis))
	}
	s.metrics.registry.MustRegister(&dependencyCollector{s: s, up: prometheus.NewDesc("personas_dependency_up",
		"1 when a dependency answers a ping at scrape time, 0 when not: postgres (data), keystore, redis.",
		[]string{"dependency"}, nil)})
	s.router = s.routes()
	s.handler = s.router
	if d.Wrap != nil {
		s.handler = d.Wrap(s.router)
	}
	return s
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists the registered method and path templates, for the OpenAPI agreement test.
func (s *Server) Routes() []gin.RouteInfo { return s.router.Routes() }

// Serve answers on ln until ctx ends, then stops accepting, lets in-flight requests finish for
// up to grace, and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Background work of the instance: the change listener and the assignment writer. They stop
	// after the HTTP server, so in-flight requests still find them.
	bctx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); s.classifySvc.Run(bctx) }()
	defer func() { stopBackground(); bg.Wait() }()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("shut down HTTP server: %w", err)
	}
	return nil
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// dependencies pings PostgreSQL (data and key store) and Redis at once, within timeout, and
// reports each one's error (nil when up).
func (s *Server) dependencies(ctx context.Context, timeout time.Duration) map[string]error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pings := map[string]func(context.Context) error{}
	if s.store != nil {
		pings["postgres"] = s.store.Pool().Ping
		pings["keystore"] = s.store.KeyPool().Ping
	}
	if s.redis != nil {
		pings["redis"] = func(ctx context.Context) error { return s.redis.Ping(ctx).Err() }
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := make(map[string]error, len(pings))
	for name, ping := range pings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ping(ctx)
			mu.Lock()
			out[name] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// readyz answers 200 while the instance can serve collect and classify: both PostgreSQL
// databases answer and the schema is current. Redis only carries jobs (training, deletions,
// enrichment), which wait in their tables while it is down, so its state is reported in the
// body, and in personas_dependency_up, but never makes the instance unready: a load balancer
// would pull every healthy instance at once.
func (s *Server) readyz(c *gin.Context) {
	deps := s.dependencies(c, 2*time.Second)
	checks := gin.H{}
	ok := true
	for _, name := range []string{"postgres", "keystore", "redis"} {
		err, known := deps[name]
		switch {
		case !known:
			continue
		case err != nil:
			checks[name] = "unreachable"
			ok = ok && name == "redis"
		default:
			checks[name] = "ok"
		}
	}
	switch {
	case deps["postgres"] != nil:
		checks["schema"] = "unknown"
	case s.schemaOK.Load() || s.schema == nil:
		checks["schema"] = "ok"
	default:
		ctx, cancel := context.WithTimeout(c, 2*time.Second)
		err := s.schema(ctx)
		cancel()
		if err != nil {
			checks["schema"], ok = err.Error(), false
		} else {
			s.schemaOK.Store(true)
			checks["schema"] = "ok"
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
		c.Header("Retry-After", "2")
	}
	c.JSON(status, gin.H{"ready": ok, "checks": checks})
}

func (s *Server) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}
