package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"personas/config"
	"personas/enrichment"
	"personas/internal/wiring"
	"personas/jobs/queue"
	"personas/models"
	"personas/privacy"
)

// environment is what a command may touch of the outside world.
type environment struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// app holds the dependencies every long-running command shares.
type app struct {
	cfg    config.Config
	logger *slog.Logger
	pool   *pgxpool.Pool
	keys   *pgxpool.Pool
	read   *pgxpool.Pool // the reports' standby; nil without PERSONAS_DATABASE_READ_URL
	store  *models.Store
	redis  redis.UniversalClient
	jobs   *queue.Client
	signer *privacy.Signer
}

func (e *environment) newLogger(cfg config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

// load reads the configuration and builds the shared dependencies. Nothing here waits for
// PostgreSQL or Redis: pools connect lazily so a service can start while they are down.
func (e *environment) load(ctx context.Context) (*app, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	logger := e.newLogger(cfg)
	if cfg.DevKeysCreated {
		// Expected on a development machine's first run, so not a warning: production refuses
		// to start without real secrets, which is where the operator has something to do.
		logger.Info("created development secrets (PERSONAS_ENV=production refuses them: set PERSONAS_ENCRYPTION_KEYS, PERSONAS_INDEX_KEY and PERSONAS_SIGNING_KEY there)",
			"file", cfg.KeyFile)
	}
	keyring, err := privacy.ParseKeyring(cfg.EncryptionKeys)
	if err != nil {
		return nil, fmt.Errorf("configuration: PERSONAS_ENCRYPTION_KEYS: %w", err)
	}
	index, err := privacy.NewBlindIndex(cfg.IndexKey)
	if err != nil {
		return nil, fmt.Errorf("configuration: PERSONAS_INDEX_KEY: %w", err)
	}
	signer, err := privacy.NewSigner(cfg.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("configuration: PERSONAS_SIGNING_KEY: %w", err)
	}
	pool, err := models.OpenPool(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return nil, fmt.Errorf("configuration: PERSONAS_DATABASE_URL: %w", err)
	}
	keys, err := models.OpenPool(ctx, cfg.KeystoreURL, 4)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("configuration: PERSONAS_KEYSTORE_URL: %w", err)
	}
	var read *pgxpool.Pool
	if cfg.ReadDatabaseURL != "" {
		if read, err = models.OpenPool(ctx, cfg.ReadDatabaseURL, 4); err != nil {
			pool.Close()
			keys.Close()
			return nil, fmt.Errorf("configuration: PERSONAS_DATABASE_READ_URL: %w", err)
		}
	}
	rdb := queue.NewRedis(wiring.RedisOptions(cfg.Redis))
	store := models.NewStore(pool, keys, keyring, index)
	if read != nil {
		store.SetReadPool(read)
	}
	return &app{cfg: cfg, logger: logger, pool: pool, keys: keys, read: read,
		store: store, redis: rdb, jobs: queue.NewClient(rdb), signer: signer}, nil
}

// enricher builds the persona enricher: Azure OpenAI when configured, the rule-based namer
// otherwise. One client per process, so its circuit breaker sees every call.
func (a *app) enricher() *enrichment.Enricher {
	cfg := enrichment.Config{Endpoint: a.cfg.Azure.Endpoint, APIKey: a.cfg.Azure.APIKey,
		Deployment: a.cfg.Azure.Deployment, APIVersion: a.cfg.Azure.APIVersion}
	if !cfg.Enabled() {
		return enrichment.NewEnricher(nil, a.logger)
	}
	return enrichment.NewEnricher(enrichment.NewClient(cfg, a.logger), a.logger)
}

func (a *app) close() {
	a.redis.Close()
	a.pool.Close()
	a.keys.Close()
	if a.read != nil {
		a.read.Close()
	}
}

// migrate creates both databases if needed and applies their migrations.
func (a *app) migrate(ctx context.Context) (data, keystore int64, err error) {
	if err := models.EnsureDatabase(ctx, a.cfg.DatabaseURL); err != nil {
		return 0, 0, err
	}
	if err := models.EnsureDatabase(ctx, a.cfg.KeystoreURL); err != nil {
		return 0, 0, err
	}
	if data, err = models.DataSchema.Migrate(ctx, a.pool); err != nil {
		return 0, 0, err
	}
	if keystore, err = models.KeystoreSchema.Migrate(ctx, a.keys); err != nil {
		return 0, 0, err
	}
	return data, keystore, nil
}

// schemaCurrent fails when either database is behind the binary's migrations.
func (a *app) schemaCurrent(ctx context.Context) error {
	for _, s := range []struct {
		schema models.Schema
		pool   *pgxpool.Pool
	}{{models.DataSchema, a.pool}, {models.KeystoreSchema, a.keys}} {
		st, err := s.schema.Status(ctx, s.pool)
		if err != nil {
			return err
		}
		if !st.UpToDate() {
			return fmt.Errorf("%s schema is at version %d, this binary needs %d: run `personas migrate`",
				s.schema.Name, st.Current, st.Wanted)
		}
	}
	return nil
}

// newFlags makes a flag set that prints its usage to stderr and reports errors as usage errors.
func (e *environment) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: personas %s\n", synopsis)
		if strings.Contains(synopsis, "-") {
			fs.PrintDefaults()
		}
	}
	return fs
}
