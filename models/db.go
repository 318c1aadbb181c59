package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"personas/migrations"
)

// OpenPool builds a pgx pool without waiting for the server: pgxpool connects lazily, so a
// service can start while PostgreSQL is still down and report itself not ready.
func OpenPool(ctx context.Context, databaseURL string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	return pool, nil
}

// WaitFor pings until ping succeeds or ctx ends, with exponential back-off capped at 5 s, and
// logs each failure once per attempt so an operator sees why the service is not ready.
func WaitFor(ctx context.Context, logger *slog.Logger, what string, ping func(context.Context) error) error {
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := ping(pctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				logger.Info(what+" reachable", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		logger.Warn(what+" unreachable, retrying", "attempt", attempt, "retry_in", delay.String(), "err", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// EnsureDatabase creates the database named in databaseURL if it does not exist, connecting to
// the server's "postgres" database to do so.
func EnsureDatabase(ctx context.Context, databaseURL string) error {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return errors.New("database URL names no database")
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to create database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var pgErr interface{ SQLState() string }
		if errors.As(err, &pgErr) && pgErr.SQLState() == "42P04" { // created concurrently
			return nil
		}
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Schema identifies one of the two databases and its migrations.
type Schema struct {
	Name       string
	Migrations fs.FS
}

// The two schemas of the service.
var (
	DataSchema     = Schema{"data", migrations.Data()}
	KeystoreSchema = Schema{"keystore", migrations.Keystore()}
)

func (s Schema) provider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, s.Migrations)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("load %s migrations: %w", s.Name, err)
	}
	return p, db, nil
}

// Migrate applies the pending migrations of s and returns the resulting version.
func (s Schema) Migrate(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	p, db, err := s.provider(pool)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("migrate %s database: %w", s.Name, err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read %s schema version: %w", s.Name, err)
	}
	return v, nil
}

// SchemaStatus is the applied and the wanted version of a database.
type SchemaStatus struct {
	Current, Wanted int64
	Pending         []string
}

// UpToDate reports whether every migration the binary knows is applied.
func (s SchemaStatus) UpToDate() bool { return s.Current >= s.Wanted }

// Status reads the schema version of the database behind pool.
func (s Schema) Status(ctx context.Context, pool *pgxpool.Pool) (SchemaStatus, error) {
	p, db, err := s.provider(pool)
	if err != nil {
		return SchemaStatus{}, err
	}
	defer db.Close()
	st := SchemaStatus{}
	sources := p.ListSources()
	if len(sources) > 0 {
		st.Wanted = sources[len(sources)-1].Version
	}
	results, err := p.Status(ctx)
	if err != nil {
		return st, fmt.Errorf("read %s schema status: %w", s.Name, err)
	}
	for _, r := range results {
		if r.State == goose.StateApplied {
			st.Current = max(st.Current, r.Source.Version)
		} else {
			st.Pending = append(st.Pending, fmt.Sprintf("%05d %s", r.Source.Version, r.Source.Path))
		}
	}
	return st, nil
}
