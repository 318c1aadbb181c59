// Package testserver runs the whole service in-process for tests, built by internal/wiring as
// cmd/personas builds it: a real Store on fresh databases, the group-commit ingester, the API on
// a loopback port, and the job workers on a Redis database of the test's own (or on the Redis
// Cluster or Sentinel set the test started, Options.RedisURL). The test-only
// settings are options (rate limits off, a short poll interval, log capture, no worker).
// Everything stops in t.Cleanup.
package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"personas/accounts"
	"personas/api"
	"personas/classifier"
	"personas/config"
	"personas/enrichment"
	"personas/internal/openapitest"
	"personas/internal/testenv"
	"personas/internal/wiring"
	"personas/jobs"
	"personas/jobs/queue"
	"personas/models"
	"personas/privacy"
)

// Options tune a test server.
type Options struct {
	// NoWorker leaves the job workers off (tasks stay queued in Redis).
	NoWorker bool
	// Enricher replaces the rule-based enricher (e.g. one pointed at an Azure double).
	Enricher *enrichment.Enricher
	// Env reuses databases and secrets (a second instance on the same databases).
	Env *testenv.Env
	// Redis reuses a Redis client (with Env, for a second instance).
	Redis redis.UniversalClient
	// RedisURL, when set (and Redis is not), is a PERSONAS_REDIS_URL the test runs Redis at (a
	// private cluster or Sentinel set of internal/testenv): parsed and opened as the binary
	// does, closed when the test ends.
	RedisURL string
	// TrainOptions tune the classifier for small test populations.
	TrainOptions classifier.TrainOptions
	// RetrainDelay of the debounced retrain after erasures.
	RetrainDelay time.Duration
	// SafetyNetInterval of the scheduler's safety net (automatic training); default a minute.
	SafetyNetInterval time.Duration
	// RetentionInterval of the scheduler's retention sweep; default an hour.
	RetentionInterval time.Duration
	// APIConfig overrides parts of the API configuration.
	APIConfig api.Config
	// LogOutput, when set, receives the service's logs at the production level (info) instead of
	// the in-memory capture at debug level: for load runs, whose capture would grow without end.
	// The end-of-test log check then has nothing to read.
	LogOutput io.Writer
	// Accounts tune the teams domain (Mailer, OIDC, ResetMinDuration…); Store, PublicURL,
	// Hashes and Logger are the server's.
	Accounts accounts.Options
	// OIDC, when set, builds the single sign-on provider for the server's public URL.
	OIDC func(publicURL string) *accounts.OIDC
}

// Server is a running service.
type Server struct {
	*testenv.Env
	URL      string
	HTTP     *httptest.Server
	API      *api.Server
	Redis    redis.UniversalClient
	Jobs     *queue.Client
	Signer   *privacy.Signer
	Logs     *SyncBuffer
	Logger   *slog.Logger
	Ingester *models.Ingester
	Accounts *accounts.Service
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	worker   *jobs.Worker
	stopOnce sync.Once
}

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything logged so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// New starts a service for the test.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	env := opts.Env
	if env == nil {
		env = testenv.New(t)
	}
	rdb := opts.Redis
	switch {
	case rdb != nil:
	case opts.RedisURL != "":
		r, err := config.ParseRedisURL(opts.RedisURL)
		if err != nil {
			t.Fatalf("PERSONAS_REDIS_URL of the test: %v", err)
		}
		rdb = queue.NewRedis(wiring.RedisOptions(r))
		t.Cleanup(func() { _ = rdb.Close() })
	default:
		rdb, _ = testenv.Redis(t)
	}
	signer, err := privacy.NewSigner(env.Secrets.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	logs := &SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.LogOutput != nil {
		logger = slog.New(slog.NewJSONHandler(opts.LogOutput, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Env: env, Redis: rdb, Jobs: queue.NewClient(rdb), Signer: signer, Logs: logs, Logger: logger, cancel: cancel}
	svc := wiring.Service{Store: env.Store, Redis: rdb, Jobs: s.Jobs, Signer: signer, Logger: logger}
	s.Ingester = svc.Ingester()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.Ingester.Run(ctx) }()
	cfg := opts.APIConfig
	if cfg.RatePerClient == 0 {
		cfg.RatePerClient = -1
	}
	if cfg.RatePerSite == 0 {
		cfg.RatePerSite = -1
	}
	if cfg.TokenFailures == 0 {
		cfg.TokenFailures = -1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.URL = "http://" + ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = s.URL
	}
	hashes := privacy.NewHashLimiter(cfg.PasswordHashes, cfg.PasswordWait)
	ao := opts.Accounts
	ao.PublicURL, ao.Hashes, ao.Logger = cfg.PublicURL, hashes, logger
	if opts.OIDC != nil {
		ao.OIDC = opts.OIDC(cfg.PublicURL)
	}
	s.Accounts = accounts.New(env.Store, ao)
	svc.Accounts, svc.Hashes = s.Accounts, hashes
	// Every answer of the service is checked against docs/openapi.yaml; a drift fails the test.
	svc.WrapHTTP = func(h http.Handler) http.Handler { return openapitest.Handler(t, h) }
	s.API = svc.API(s.Ingester, cfg, nil)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = s.API.Serve(ctx, ln, 5*time.Second) }()
	if !opts.NoWorker {
		to := opts.TrainOptions
		if to.MinClusterSize == 0 {
			to.MinClusterSize = 10
		}
		w, err := svc.Worker(wiring.WorkerOptions{
			Worker:   jobs.WorkerConfig{PollInterval: 10 * time.Millisecond, ShutdownTimeout: 5 * time.Second},
			Enricher: opts.Enricher, TrainOptions: to, RetrainDelay: opts.RetrainDelay, SafetyNetInterval: opts.SafetyNetInterval,
			RetentionInterval: opts.RetentionInterval})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		s.worker = w
	}
	t.Cleanup(func() {
		s.Stop()
		s.checkLogs(t)
	})
	return s
}

var (
	tokenInLog = regexp.MustCompile(`psn_[A-Za-z0-9_-]{16,}`)
	emailInLog = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
)

// checkLogs fails the test when anything the service logged during it holds an API token, an
// email address or one of the test's secrets: every test on a test server checks it.
func (s *Server) checkLogs(t testing.TB) {
	logs := s.Logs.String()
	if m := tokenInLog.FindString(logs); m != "" {
		t.Errorf("the service logged an API token (%s…)", m[:8])
	}
	if m := emailInLog.FindString(logs); m != "" {
		t.Errorf("the service logged an email address")
	}
	for name, v := range s.Secrets.Env() {
		if strings.Contains(logs, v) {
			t.Errorf("the service logged %s", name)
		}
	}
}

// Stop stops the service (idempotent).
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.worker != nil {
			s.worker.Shutdown()
		}
		s.cancel()
		s.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.Accounts.Close(ctx)
		cancel()
	})
}

// Account is a user with a token and a project.
type Account struct {
	UserID    uuid.UUID
	Email     string
	Token     string
	ProjectID uuid.UUID
	SiteKey   string
}

// Origin is the allowed origin of projects made by NewAccount.
const Origin = "https://shop.example"

// NewAccount creates a user (platform admin or not), a project it owns and a token.
func (s *Server) NewAccount(t testing.TB, email string, platformAdmin bool) Account {
	t.Helper()
	ctx := context.Background()
	u, _, err := s.Store.EnsureUser(ctx, email, "correct horse battery staple", platformAdmin)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Store.CreateProject(ctx, u.ID, "Project of "+email, []string{Origin})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := s.Store.CreateToken(ctx, u.ID, "test", 30)
	if err != nil {
		t.Fatal(err)
	}
	return Account{UserID: u.ID, Email: email, Token: tok, ProjectID: p.ID, SiteKey: p.SiteKey}
}

// Member adds a user with a role to a project and returns a token of theirs.
func (s *Server) Member(t testing.TB, projectID uuid.UUID, email string, role models.Role) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	uid, err := s.Store.AddMember(ctx, projectID, email, role)
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := s.Store.CreateToken(ctx, uid, "test", 30)
	if err != nil {
		t.Fatal(err)
	}
	return uid, tok
}

// Response is an HTTP answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Request is one call to the API.
type Request struct {
	Method, Path string
	Token        string
	Body         any // string, []byte or a value encoded as JSON
	Header       map[string]string
}

// Do sends a request and reads the answer.
func (s *Server) Do(t testing.TB, r Request) Response {
	t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(r.Method, s.URL+r.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Collect posts events for a visitor from the allowed origin and fails the test unless 204.
func (s *Server) Collect(t testing.TB, siteKey, visitorID, sessionID string, events []map[string]any) {
	t.Helper()
	r := s.Do(t, Request{Method: "POST", Path: "/v1/collect", Header: map[string]string{"Origin": Origin, "Content-Type": "text/plain"},
		Body: map[string]any{"site_key": siteKey, "visitor_id": visitorID, "session_id": sessionID,
			"context": map[string]any{"tz": "UTC", "screen": []int{1440, 900}}, "events": events}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("collect: status %d: %s", r.Status, r.Body)
	}
}

// Eventually polls cond until it holds or the deadline passes.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
