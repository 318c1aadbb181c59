// Package wiring is part of cmd: it builds the running service from its dependencies (the
// group-commit ingester, the API server, the job worker with every handler and periodic task),
// once, for both cmd/personas and internal/testserver, so that the tests run the service as the
// binary wires it. The options are the few settings tests turn (poll interval, training options,
// schedules); everything else is what production runs.
package wiring

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"personas/accounts"
	"personas/api"
	"personas/classifier"
	"personas/config"
	"personas/enrichment"
	"personas/jobs"
	"personas/jobs/queue"
	"personas/models"
	"personas/privacy"
)

// Service holds what every part of the service is built from.
type Service struct {
	Store  *models.Store
	Redis  redis.UniversalClient
	Jobs   *queue.Client
	Signer *privacy.Signer
	Logger *slog.Logger
	// Accounts is the teams domain (invitations, resets, two-factor, single sign-on); nil: off.
	Accounts *accounts.Service
	// Hashes are the argon2id slots that sign-in shares with Accounts; nil: the API's own.
	Hashes *privacy.HashLimiter
	// WrapHTTP, when set, wraps the API's router (the tests' OpenAPI check).
	WrapHTTP func(http.Handler) http.Handler
}

// Ingester builds the group-commit ingester that collect and import submit to; the caller runs
// it (Run) for as long as requests may arrive.
func (s Service) Ingester() *models.Ingester {
	return models.NewIngester(s.Store, models.IngesterConfig{}, s.Logger)
}

// API builds the HTTP API and dashboard on the ingester. schemaCheck, when not nil, is the
// readiness check of the schema.
func (s Service) API(in *models.Ingester, cfg api.Config, schemaCheck func(context.Context) error) *api.Server {
	return api.NewServer(api.Deps{Store: s.Store, Ingester: in, Jobs: s.Jobs, Redis: s.Redis, Logger: s.Logger,
		Signer: s.Signer, Config: cfg, SchemaCheck: schemaCheck, Accounts: s.Accounts, Hashes: s.Hashes, Wrap: s.WrapHTTP})
}

// WorkerOptions tune the job worker; zero values are production's defaults.
type WorkerOptions struct {
	Worker jobs.WorkerConfig
	// Enricher names the personas (nil: the rule-based namer).
	Enricher          *enrichment.Enricher
	TrainOptions      classifier.TrainOptions
	RetrainDelay      time.Duration
	SafetyNetInterval time.Duration
	RetentionInterval time.Duration
}

// Worker builds the job worker with every task handler and periodic task registered; the
// caller starts and shuts it down.
func (s Service) Worker(o WorkerOptions) (*jobs.Worker, error) {
	w := jobs.NewWorker(s.Redis, o.Worker, s.Logger)
	if err := jobs.Register(w, jobs.Deps{Store: s.Store, Client: s.Jobs, Redis: s.Redis, Signer: s.Signer,
		Enricher: o.Enricher, Logger: s.Logger, TrainOptions: o.TrainOptions, RetrainDelay: o.RetrainDelay,
		SafetyNetInterval: o.SafetyNetInterval, RetentionInterval: o.RetentionInterval}); err != nil {
		return nil, err
	}
	return w, nil
}

// RedisOptions are go-redis's options for the Redis that PERSONAS_REDIS_URL names: one
// server, a Redis Cluster (its seed nodes; the client learns the rest and follows failovers
// through MOVED answers) or the sentinels of a master (the client asks them for the master
// and follows their switch-master messages). queue.NewRedis opens the client.
func RedisOptions(r config.Redis) *redis.UniversalOptions {
	o := &redis.UniversalOptions{Addrs: r.Addrs, Username: r.Username, Password: r.Password, DB: r.DB}
	if r.TLS {
		// The server name is each node's host (crypto/tls takes it from the address).
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch r.Kind {
	case config.RedisCluster:
		o.IsClusterMode = true
	case config.RedisSentinel:
		o.MasterName = r.MasterName
		o.SentinelUsername, o.SentinelPassword = r.SentinelUsername, r.SentinelPassword
	}
	return o
}
