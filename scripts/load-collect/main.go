// Command load-collect measures the collect path over loopback: it starts the API and the
// group-commit ingester in-process on fresh databases (or on PERSONAS_DATABASE_URL and
// PERSONAS_KEYSTORE_URL when both are set), sends 20-event batches from concurrent clients
// for a bounded time and request count, and reports durable events per second (events whose
// request got 204, checked against the events table) with p50/p99 latency. Side by side it
// times a bare pgx CopyFrom of the same number of rows into the same table, the ceiling the
// ingester is compared with.
//
// The first -warmup (2 s) of load opens the connections and creates the first visitors' rows;
// it is left out of the figures, though its events are checked with the rest.
//
//	go run ./scripts/load-collect -duration 15s -clients 32
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"personas/api"
	"personas/models"
	"personas/privacy"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load-collect:", err)
		os.Exit(1)
	}
}

type options struct {
	duration   time.Duration
	requests   int64
	clients    int
	batch      int
	visitors   int
	keep       bool
	adminURL   string
	copyBatch  int
	cpuProfile string
	rate       float64
	committers int
	warmup     time.Duration
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("load-collect", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "how long to send")
	fs.Int64Var(&o.requests, "requests", 200000, "stop after this many requests")
	fs.IntVar(&o.clients, "clients", 32, "concurrent clients")
	fs.Float64Var(&o.rate, "rate", 0, "offered requests per second (open loop); 0 sends as fast as the clients can (closed loop)")
	fs.IntVar(&o.batch, "batch", 20, "events per request")
	fs.IntVar(&o.visitors, "visitors", 20000, "distinct visitors")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load sent first and left out of the figures (connections, first rows, caches)")
	fs.IntVar(&o.committers, "committers", 0, "ingester committers (0: the service's default)")
	fs.IntVar(&o.copyBatch, "copy-batch", 2000, "rows per transaction of the bare CopyFrom")
	fs.BoolVar(&o.keep, "keep", false, "keep the fresh databases")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the load phase to this file")
	fs.StringVar(&o.adminURL, "admin-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "server to create fresh databases on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dataURL, keysURL := getenv("PERSONAS_DATABASE_URL"), getenv("PERSONAS_KEYSTORE_URL")
	if dataURL == "" || keysURL == "" {
		var drop func()
		var err error
		dataURL, keysURL, drop, err = freshDatabases(ctx, o.adminURL)
		if err != nil {
			return err
		}
		if !o.keep {
			defer drop()
		} else {
			fmt.Fprintf(out, "databases kept: %s %s\n", dataURL, keysURL)
		}
	}
	pool, err := models.OpenPool(ctx, dataURL, 16)
	if err != nil {
		return err
	}
	defer pool.Close()
	keys, err := models.OpenPool(ctx, keysURL, 4)
	if err != nil {
		return err
	}
	defer keys.Close()
	if _, err := models.DataSchema.Migrate(ctx, pool); err != nil {
		return err
	}
	if _, err := models.KeystoreSchema.Migrate(ctx, keys); err != nil {
		return err
	}
	spec, err := privacy.GenerateKeyringSpec("load")
	if err != nil {
		return err
	}
	keyring, err := privacy.ParseKeyring(spec)
	if err != nil {
		return err
	}
	index, err := privacy.NewBlindIndex(randomBytes(32))
	if err != nil {
		return err
	}
	store := models.NewStore(pool, keys, keyring, index)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	const origin = "https://load.example"
	user, _, err := store.EnsureUser(ctx, "load-"+hex.EncodeToString(randomBytes(4))+"@example.com", "correct horse battery staple", false)
	if err != nil {
		return err
	}
	project, err := store.CreateProject(ctx, user.ID, "load "+time.Now().Format(time.RFC3339Nano), []string{origin})
	if err != nil {
		return err
	}
	now := time.Now()
	if err := store.EnsurePartitions(ctx, now.Add(-24*time.Hour), now.Add(24*time.Hour)); err != nil {
		return err
	}

	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	ingester := models.NewIngester(store, models.IngesterConfig{Committers: o.committers}, logger)
	wg.Add(1)
	go func() { defer wg.Done(); ingester.Run(sctx) }()
	srv := api.NewServer(api.Deps{Store: store, Ingester: ingester, Logger: logger,
		Config: api.Config{PublicURL: "http://127.0.0.1", RatePerClient: -1, RatePerSite: -1}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Serve(sctx, ln, 5*time.Second) }()
	endpoint := "http://" + ln.Addr().String() + "/v1/collect"

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	res, err := load(ctx, o, endpoint, origin, project.SiteKey)
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	var stored int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE project_id = $1`, project.ID).Scan(&stored); err != nil {
		return err
	}
	if stored != res.ackedAll*int64(o.batch) {
		return fmt.Errorf("%d events acknowledged but %d stored", res.ackedAll*int64(o.batch), stored)
	}
	if err := printDisk(ctx, out, pool, stored); err != nil {
		return err
	}
	// The bare CopyFrom's rate varies from run to run (checkpoints, autovacuum after the load):
	// the best of three rounds is the ceiling the ingester is compared with.
	var copyRates []float64
	for range 3 {
		r, err := bareCopy(ctx, pool, index, stored, o.copyBatch)
		if err != nil {
			return err
		}
		copyRates = append(copyRates, r)
	}
	copyRate := slices.Max(copyRates)
	ingestRate := float64(res.acked*int64(o.batch)) / res.elapsed.Seconds()
	fmt.Fprintf(out, "machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(out, "collect: %d requests of %d events from %d clients in %.1fs after a %s warm-up; %d answered 204, %d other\n",
		res.sent, o.batch, o.clients, res.elapsed.Seconds(), o.warmup, res.acked, res.sent-res.acked)
	fmt.Fprintf(out, "durable events/s: %.0f (all %d acknowledged events, warm-up included, found in PostgreSQL)\n", ingestRate, stored)
	fmt.Fprintf(out, "latency: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		ms(res.quantile(0.50)), ms(res.quantile(0.90)), ms(res.quantile(0.99)), ms(res.quantile(1)))
	fmt.Fprintf(out, "bare CopyFrom of %d rows in %d-row transactions: %.0f rows/s (best of %.0f, %.0f, %.0f)\n",
		stored, o.copyBatch, copyRate, copyRates[0], copyRates[1], copyRates[2])
	fmt.Fprintf(out, "ingest / bare CopyFrom: %.2f\n", ingestRate/copyRate)
	return nil
}

type result struct {
	sent, acked int64 // after the warm-up
	ackedAll    int64 // warm-up included
	elapsed     time.Duration
	latencies   []time.Duration
}

func (r *result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.latencies)-1))
	return r.latencies[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// load sends batches until the duration or the request budget runs out.
func load(ctx context.Context, o options, endpoint, origin, siteKey string) (*result, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients, MaxConnsPerHost: o.clients}}
	var sentAll, sent, acked, ackedAll atomic.Int64
	var mu sync.Mutex
	res := &result{}
	// Bodies are built before the clock starts: the generator shares the CPUs with the server.
	bodies := make([][]byte, min(o.visitors, 4000))
	for v := range bodies {
		bodies[v] = batchBody(siteKey, v, o.batch)
	}
	begin := time.Now()
	start := begin.Add(o.warmup) // figures count requests sent from here
	deadline := start.Add(o.duration)
	// Open loop: a pacer hands out one token per request at the offered rate, so latency is
	// measured at a given load instead of being set by the number of clients (Little's law).
	var tokens chan struct{}
	if o.rate > 0 {
		tokens = make(chan struct{}, o.clients)
		pctx, stopPacer := context.WithDeadline(ctx, deadline)
		defer stopPacer()
		go func() {
			defer close(tokens)
			interval := time.Duration(float64(time.Second) / o.rate)
			next := begin
			for {
				next = next.Add(interval)
				time.Sleep(time.Until(next))
				select {
				case tokens <- struct{}{}:
				case <-pctx.Done():
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	errc := make(chan error, o.clients)
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			defer func() { mu.Lock(); res.latencies = append(res.latencies, lat...); mu.Unlock() }()
			for i := 0; time.Now().Before(deadline); i++ {
				if tokens != nil {
					if _, ok := <-tokens; !ok {
						return
					}
				}
				if sentAll.Add(1) > o.requests {
					sentAll.Add(-1)
					return
				}
				body := bodies[(c*7919+i*104729)%len(bodies)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Origin", origin)
				t0 := time.Now()
				measured := !t0.Before(start)
				resp, err := client.Do(req)
				if err != nil {
					errc <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok := resp.StatusCode == http.StatusNoContent
				if ok {
					ackedAll.Add(1)
				}
				if measured {
					lat = append(lat, time.Since(t0))
					sent.Add(1)
					if ok {
						acked.Add(1)
					}
				}
			}
		}(c)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	res.sent, res.acked, res.ackedAll = sent.Load(), acked.Load(), ackedAll.Load()
	slices.Sort(res.latencies)
	return res, nil
}

// batchBody is a realistic batch: page views, clicks with text and attributes, a leave.
func batchBody(siteKey string, visitor, n int) []byte {
	ts := time.Now().UnixMilli()
	events := make([]map[string]any, n)
	for i := range events {
		u := fmt.Sprintf("https://load.example/p/%d?utm_source=news", (visitor+i)%500)
		switch i % 4 {
		case 0:
			events[i] = map[string]any{"type": "pageview", "ts": ts, "url": u, "referrer": "https://www.google.com/"}
		case 3:
			events[i] = map[string]any{"type": "leave", "ts": ts, "url": u, "duration_ms": 12000, "scroll_depth": 0.6}
		default:
			events[i] = map[string]any{"type": "click", "ts": ts, "url": u, "element": map[string]any{
				"tag": "button", "classes": []string{"btn", "primary"}, "text": "Add to cart",
				"attrs": map[string]string{"role": "button", "aria-label": "Add to cart"}, "selector": "main > button.btn"}}
		}
	}
	b, _ := json.Marshal(map[string]any{"site_key": siteKey, "visitor_id": fmt.Sprintf("%032x", visitor),
		"session_id": fmt.Sprintf("%032x", visitor+1), "context": map[string]any{"tz": "Europe/Paris", "screen": []int{1440, 900}},
		"events": events})
	return b
}

// bareCopy copies n rows shaped like the ingester's into events, in transactions of size
// rows, through one connection, and returns rows per second. Text and attributes are
// random bytes of the sealed size: the ceiling without the privacy pass or aggregates.
func bareCopy(ctx context.Context, pool *pgxpool.Pool, index *privacy.BlindIndex, n int64, size int) (float64, error) {
	pid := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO projects (id, name, site_key, allowed_origins) VALUES ($1, 'bare copy', $2, '{}')`,
		pid, "pk_bare_"+hex.EncodeToString(randomBytes(6))); err != nil {
		return 0, fmt.Errorf("bare copy project: %w", err)
	}
	cols := []string{"project_id", "ts", "visitor_hash", "session_hash", "type", "path", "path_group",
		"channel", "device", "el_tag", "el_category", "el_classes", "el_text_enc", "el_attrs_enc", "goal",
		"duration_ms", "scroll_depth", "utm"}
	ts := time.Now()
	text, attrs := randomBytes(40), randomBytes(80)
	utm := []byte(`{"utm_source":"news"}`)
	rows := make([][]any, size)
	for i := range rows {
		v := fmt.Sprintf("%032x", i%20000)
		rows[i] = []any{pid, ts, index.VisitorHash(pid.String(), v), index.Sum("s", v), "click", "/p/:id", "/p",
			"search", "desktop", "button", "action", []string{"btn", "primary"}, text, attrs, "", nil, nil, utm}
	}
	start := time.Now()
	for done := int64(0); done < n; done += int64(size) {
		k := min(int64(size), n-done)
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, cols, pgx.CopyFromRows(rows[:k]))
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("bare copy: %w", err)
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// freshDatabases creates a data and a key store database with random names.
func freshDatabases(ctx context.Context, adminURL string) (dataURL, keysURL string, drop func(), err error) {
	name := "personas_load_" + hex.EncodeToString(randomBytes(4))
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", "", nil, err
	}
	with := func(db string) string { c := *u; c.Path = "/" + db; return c.String() }
	dataURL, keysURL = with(name), with(name+"_keys")
	for _, d := range []string{dataURL, keysURL} {
		if err := models.EnsureDatabase(ctx, d); err != nil {
			return "", "", nil, err
		}
	}
	drop = func() {
		conn, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for _, d := range []string{name, name + "_keys"} {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{d}.Sanitize()+" WITH (FORCE)")
		}
	}
	return dataURL, keysURL, drop, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// printDisk prints the disk the stored events and their visitors' aggregates take, indexes and
// TOAST included, after a VACUUM ANALYZE (the sizing figures of docs/deploy.md).
func printDisk(ctx context.Context, out io.Writer, pool *pgxpool.Pool, events int64) error {
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return err
	}
	var eventsBytes, featuresBytes, statsBytes, visitors int64
	if err := pool.QueryRow(ctx, `
		SELECT (SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_partition_tree('events')),
		       pg_total_relation_size('visitor_features'), pg_total_relation_size('ingest_stats'),
		       (SELECT count(*) FROM visitor_features)`).Scan(&eventsBytes, &featuresBytes, &statsBytes, &visitors); err != nil {
		return err
	}
	fmt.Fprintf(out, "disk: events %.1f MB (%.0f bytes/event, %.0f MB per million events), visitor_features %.1f MB for %d visitors (%.0f bytes/visitor), ingest_stats %.2f MB\n",
		float64(eventsBytes)/1e6, float64(eventsBytes)/float64(max(events, 1)), float64(eventsBytes)/float64(max(events, 1)),
		float64(featuresBytes)/1e6, visitors, float64(featuresBytes)/float64(max(visitors, 1)), float64(statsBytes)/1e6)
	return nil
}
