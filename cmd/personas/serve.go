package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"golang.org/x/sync/errgroup"

	"personas/api"
	"personas/config"
	"personas/internal/wiring"
	"personas/jobs"
	"personas/models"
)

func (e *environment) cmdServe(ctx context.Context, args []string, httpOn, workerOn bool) error {
	name := map[[2]bool]string{{true, false}: "serve", {false, true}: "worker", {true, true}: "all"}[[2]bool{httpOn, workerOn}]
	fs := e.newFlags(name, name)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	a, err := e.load(ctx)
	if err != nil {
		return err
	}
	defer a.close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(ctx)

	// Wait for PostgreSQL in the background: the HTTP server answers /readyz 503 meanwhile.
	// Once it answers, a schema older than the binary stops the process.
	g.Go(func() error {
		if err := models.WaitFor(gctx, a.logger, "PostgreSQL", a.store.Ping); err != nil {
			return nil // shutting down
		}
		if err := a.schemaCurrent(gctx); err != nil {
			if gctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("refusing to serve: %w", err)
		}
		return nil
	})

	if httpOn {
		ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen on %s (PERSONAS_HTTP_ADDR): %w", a.cfg.HTTPAddr, err)
		}
		svc, hashes, err := a.newAccounts(ctx)
		if err != nil {
			return err
		}
		wired := a.service()
		wired.Accounts, wired.Hashes = svc, hashes
		ingester := wired.Ingester()
		// The ingester outlives the HTTP server: in-flight collect requests still commit.
		ictx, stopIngest := context.WithCancel(context.WithoutCancel(ctx))
		ingestDone := make(chan struct{})
		go func() { ingester.Run(ictx); close(ingestDone) }()
		srv := wired.API(ingester, api.Config{PublicURL: a.cfg.PublicURL, Production: a.cfg.Production(),
			TrustedProxies: a.cfg.TrustedProxies, RatePerClient: a.cfg.RatePerClient, RatePerSite: a.cfg.RatePerSite},
			a.schemaCurrent)
		a.logger.Info("listening", "addr", ln.Addr().String(), "url", a.cfg.PublicURL)
		g.Go(func() error {
			err := srv.Serve(gctx, ln, a.cfg.ShutdownTimeout)
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
			svc.Close(cctx) // mail sent in the background (reset links) goes out or stops
			cancel()
			stopIngest()
			<-ingestDone
			return err
		})
	}
	if workerOn {
		a.limitMemory()
		w, err := a.service().Worker(wiring.WorkerOptions{Worker: jobs.WorkerConfig{ShutdownTimeout: a.cfg.ShutdownTimeout},
			Enricher: a.enricher()})
		if err != nil {
			return err
		}
		g.Go(func() error {
			// asynq gives up on a Redis that is down at start: wait for it first.
			if err := models.WaitFor(gctx, a.logger, "Redis", func(ctx context.Context) error { return a.redis.Ping(ctx).Err() }); err != nil {
				return nil
			}
			if err := w.Start(); err != nil {
				return err
			}
			a.logger.Info("worker started", "redis", a.cfg.Redis.Redacted())
			<-gctx.Done()
			done := make(chan struct{})
			go func() { w.Shutdown(); close(done) }()
			select {
			case <-done:
			case <-time.After(a.cfg.ShutdownTimeout + 5*time.Second):
				a.logger.Error("worker shutdown timed out")
			}
			return nil
		})
	}
	err = g.Wait()
	a.logger.Info("stopped")
	return err
}

// limitMemory gives a process that trains the training's soft memory limit (config.LimitMemory:
// GOMEMLIMIT, when the operator set it, stands).
func (a *app) limitMemory() {
	a.logger.Info("memory limit", "bytes", config.LimitMemory(a.cfg.MemoryLimit))
}

// service is what the wiring builds the API and the worker from.
func (a *app) service() wiring.Service {
	return wiring.Service{Store: a.store, Redis: a.redis, Jobs: a.jobs, Signer: a.signer, Logger: a.logger}
}

func (e *environment) cmdMigrate(ctx context.Context, args []string) error {
	fs := e.newFlags("migrate", "migrate [up|status]")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	verb := "up"
	if fs.NArg() > 0 {
		verb = fs.Arg(0)
	}
	a, err := e.load(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	switch verb {
	case "up":
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := models.WaitFor(wctx, a.logger, "PostgreSQL", func(ctx context.Context) error {
			return models.EnsureDatabase(ctx, a.cfg.DatabaseURL)
		}); err != nil {
			return fmt.Errorf("PostgreSQL did not answer: %w", err)
		}
		d, k, err := a.migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "data schema at version %d, key store at version %d\n", d, k)
		return nil
	case "status":
		for _, s := range []struct {
			schema models.Schema
			a      *app
			keys   bool
		}{{models.DataSchema, a, false}, {models.KeystoreSchema, a, true}} {
			pool := a.pool
			if s.keys {
				pool = a.keys
			}
			st, err := s.schema.Status(ctx, pool)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: version %d of %d", s.schema.Name, st.Current, st.Wanted)
			if st.UpToDate() {
				fmt.Fprintln(e.stdout, " (up to date)")
			} else {
				fmt.Fprintln(e.stdout, " (pending:)")
				for _, p := range st.Pending {
					fmt.Fprintln(e.stdout, "  ", p)
				}
			}
		}
		return nil
	default:
		fmt.Fprintf(e.stderr, "personas migrate: unknown verb %q (want up or status)\n", verb)
		return errUsage
	}
}
