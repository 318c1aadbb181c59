package models

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Drop reasons of the delivery counters. "stored" counts what was kept.
const (
	ReasonStored      = "stored"
	ReasonOrigin      = "origin"
	ReasonTooOld      = "too_old"
	ReasonAhead       = "ahead"
	ReasonRate        = "rate"
	ReasonBadShape    = "bad_shape"
	ReasonExcluded    = "excluded"
	ReasonSampled     = "sampled"
	ReasonUnavailable = "storage_unavailable"
)

// DropReasons lists every drop reason, in display order.
var DropReasons = []string{ReasonOrigin, ReasonTooOld, ReasonAhead, ReasonRate, ReasonBadShape,
	ReasonExcluded, ReasonSampled, ReasonUnavailable}

// Batch is one request's events for one project, plus the events of the request that were
// dropped, by reason, so the delivery counters are written in the same transaction.
type Batch struct {
	ProjectID uuid.UUID
	Day       time.Time // the day drops are counted under (today, UTC)
	Events    []Event
	Dropped   map[string]int64
	// ByEventDay counts stored events under each event's own day (UTC) instead of Day: imported
	// history then shows on the days it happened, not as one spike on the day of the import.
	ByEventDay bool
}

type ingestRequest struct {
	batch *Batch
	done  chan error
}

// IngesterConfig tunes group commit.
type IngesterConfig struct {
	// MaxEvents per transaction; a commit starts earlier when the queue is empty.
	MaxEvents int
	// Queue is the number of requests that may wait for a commit.
	Queue int
	// CommitTimeout bounds one transaction.
	CommitTimeout time.Duration
	// Committers is how many groups may commit at once (default 2). One committer leaves
	// PostgreSQL idle while its group is prepared (sealing, encoding) and while the group waits
	// for its fsync; two overlap them. More split the waiting requests into smaller groups,
	// more transactions for the same events: on 2 cores, 4 committers had a p99 three times
	// that of 2 at 20,000 events/s (docs/perf.md). Groups lock visitor rows in one order, so
	// they never deadlock.
	Committers int
}

// Ingester commits many requests' events in one transaction (group commit): a request is
// answered only after the transaction holding its events committed. One goroutine, Run, owns
// the database side; Submit is safe for concurrent use.
type Ingester struct {
	store  *Store
	cfg    IngesterConfig
	logger *slog.Logger
	reqs   chan ingestRequest

	mu          sync.Mutex
	partitions  map[string]bool   // days with an events partition
	pendingDrop map[dropKey]int64 // drops counted while the database was unavailable
	uncounted   int64             // drops that found pendingDrop full (logged, never silently)
	downUntil   time.Time         // fail fast for a moment after the database refused us

	committed atomic.Pointer[func(*Batch)] // told of each batch before its request is answered
}

// OnCommitted has fn called with every batch whose transaction ended (committed or not),
// before its Submit returns: caches of visitors' aggregates (classify's) drop the batch's
// visitors, so nothing acknowledged is missed by the next read. fn must be quick.
func (in *Ingester) OnCommitted(fn func(*Batch)) { in.committed.Store(&fn) }

// maxPendingDrops bounds the drop counters kept in memory while PostgreSQL is away: one per
// project, day and reason, so 10,000 keys are about a thousand projects over a day boundary.
const maxPendingDrops = 10000

// pendingFlushInterval is how often counters kept through an outage are retried when no
// commit comes along to carry them.
const pendingFlushInterval = time.Second

type dropKey struct {
	project uuid.UUID
	day     string
	reason  string
}

// NewIngester builds an ingester; start Run in a goroutine.
func NewIngester(store *Store, cfg IngesterConfig, logger *slog.Logger) *Ingester {
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = 10000
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 5 * time.Second
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 2
	}
	return &Ingester{store: store, cfg: cfg, logger: logger.With("component", "ingester"),
		reqs: make(chan ingestRequest, cfg.Queue), partitions: map[string]bool{}, pendingDrop: map[dropKey]int64{}}
}

// Submit hands a batch to the group commit and waits for its transaction. It returns
// ErrUnavailable (wrapped) when the database cannot take it; nothing is then stored.
func (in *Ingester) Submit(ctx context.Context, b *Batch) error {
	in.mu.Lock()
	down := time.Now().Before(in.downUntil)
	in.mu.Unlock()
	if down {
		in.countUnavailable(b)
		return fmt.Errorf("%w: recent commits failed", ErrUnavailable)
	}
	r := ingestRequest{batch: b, done: make(chan error, 1)}
	select {
	case in.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	default:
		in.countUnavailable(b)
		return fmt.Errorf("%w: ingest queue full", ErrUnavailable)
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The commit may still land: the caller gets no acknowledgement, the client retries,
		// and a duplicate is preferable to a loss.
		return ctx.Err()
	}
}

// CountDropped records drops of a request that had nothing to store (wrong origin, all too
// old) through the same group commit.
func (in *Ingester) CountDropped(ctx context.Context, projectID uuid.UUID, reason string, n int64) error {
	if n <= 0 {
		return nil
	}
	return in.Submit(ctx, &Batch{ProjectID: projectID, Day: time.Now().UTC(), Dropped: map[string]int64{reason: n}})
}

func (in *Ingester) countUnavailable(b *Batch) {
	n := int64(len(b.Events))
	for _, c := range b.Dropped {
		n += c
	}
	if n == 0 {
		return
	}
	day := dayString(b.Day)
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(b.Events) > 0 {
		in.addPendingLocked(dropKey{b.ProjectID, day, ReasonUnavailable}, int64(len(b.Events)))
	}
	for r, c := range b.Dropped {
		if c > 0 {
			in.addPendingLocked(dropKey{b.ProjectID, day, r}, c)
		}
	}
}

// addPendingLocked adds to a kept counter; when the map is full, a new key's count is lost and
// logged (the first loss of each outage), never grown without bound. Called with mu held.
func (in *Ingester) addPendingLocked(k dropKey, n int64) {
	if _, ok := in.pendingDrop[k]; !ok && len(in.pendingDrop) >= maxPendingDrops {
		if in.uncounted == 0 {
			in.logger.Warn("drop counters full while the database is unavailable; further drops are not counted",
				"counters", len(in.pendingDrop))
		}
		in.uncounted += n
		return
	}
	in.pendingDrop[k] += n
}

// PendingDrops is the number of dropped events counted in memory, not yet written to
// ingest_stats (while PostgreSQL is unavailable).
func (in *Ingester) PendingDrops() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	var n int64
	for _, c := range in.pendingDrop {
		n += c
	}
	return n
}

// flushPending writes counters kept through an outage once PostgreSQL answers again, when no
// request's commit has carried them.
func (in *Ingester) flushPending(ctx context.Context) {
	t := time.NewTicker(pendingFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		in.mu.Lock()
		idle := len(in.pendingDrop) > 0 && !time.Now().Before(in.downUntil)
		in.mu.Unlock()
		if idle {
			in.commitGroup(nil)
		}
	}
}

// Run commits batches with cfg.Committers goroutines until ctx ends, then drains what is
// queued, and returns when they are all done.
func (in *Ingester) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range in.cfg.Committers {
		wg.Add(1)
		go func() { defer wg.Done(); in.run(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); in.flushPending(ctx) }()
	wg.Wait()
}

func (in *Ingester) run(ctx context.Context) {
	for {
		var first ingestRequest
		select {
		case first = <-in.reqs:
		case <-ctx.Done():
			in.drain()
			return
		}
		group := []ingestRequest{first}
		n := len(first.batch.Events)
	gather:
		for n < in.cfg.MaxEvents {
			select {
			case r := <-in.reqs:
				group = append(group, r)
				n += len(r.batch.Events)
			default:
				break gather
			}
		}
		in.commitGroup(group)
	}
}

func (in *Ingester) drain() {
	for {
		select {
		case r := <-in.reqs:
			in.commitGroup([]ingestRequest{r})
		default:
			return
		}
	}
}

func (in *Ingester) commitGroup(group []ingestRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), in.cfg.CommitTimeout)
	defer cancel()
	batches := make([]*Batch, len(group))
	for i, r := range group {
		batches[i] = r.batch
	}
	err := in.commit(ctx, batches)
	if err != nil {
		err = translate(err)
		if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %v", ErrUnavailable, err)
			in.mu.Lock()
			in.downUntil = time.Now().Add(500 * time.Millisecond)
			in.mu.Unlock()
			for _, b := range batches {
				in.countUnavailable(b)
			}
		} else if len(group) > 1 {
			// PostgreSQL refused some request's data: commit each request alone, so one bad
			// batch fails only its own request and not every request grouped with it.
			for _, r := range group {
				in.commitGroup([]ingestRequest{r})
			}
			return
		} else {
			in.logger.Error("ingest commit failed", "requests", len(group), "err", err.Error())
		}
	}
	if fn := in.committed.Load(); fn != nil {
		for _, b := range batches {
			(*fn)(b)
		}
	}
	for _, r := range group {
		r.done <- err
	}
}

func dayString(t time.Time) string { return t.UTC().Format("2006-01-02") }

// EnsurePartitions creates the daily events partitions covering [from, to].
func (s *Store) EnsurePartitions(ctx context.Context, from, to time.Time) error {
	for d := from.UTC().Truncate(24 * time.Hour); !d.After(to); d = d.Add(24 * time.Hour) {
		if err := s.ensurePartition(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func partitionName(day time.Time) string { return "events_" + day.UTC().Format("20060102") }

func (s *Store) ensurePartition(ctx context.Context, day time.Time) error {
	day = day.UTC().Truncate(24 * time.Hour)
	name := partitionName(day)
	_, err := s.pool.Exec(ctx, fmt.Sprintf(`/* Store.ensurePartition */
		CREATE TABLE IF NOT EXISTS %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')`,
		pgx.Identifier{name}.Sanitize(), day.Format(time.RFC3339), day.Add(24*time.Hour).Format(time.RFC3339)))
	if err != nil {
		var pgErr interface{ SQLState() string }
		if errors.As(err, &pgErr) && (pgErr.SQLState() == "42P07" || pgErr.SQLState() == "23505") {
			return nil // created concurrently by another instance
		}
		return fmt.Errorf("create partition %s: %w", name, translate(err))
	}
	return nil
}

func (in *Ingester) ensurePartitions(ctx context.Context, batches []*Batch) error {
	for _, b := range batches {
		for i := range b.Events {
			day := dayString(b.Events[i].TS)
			in.mu.Lock()
			ok := in.partitions[day]
			in.mu.Unlock()
			if ok {
				continue
			}
			if err := in.store.ensurePartition(ctx, b.Events[i].TS); err != nil {
				return err
			}
			in.mu.Lock()
			in.partitions[day] = true
			in.mu.Unlock()
		}
	}
	return nil
}

var eventColumns = []string{"project_id", "ts", "visitor_hash", "session_hash", "type", "path", "path_group",
	"channel", "device", "el_tag", "el_category", "el_classes", "el_text_enc", "el_attrs_enc", "goal",
	"duration_ms", "scroll_depth", "utm"}

type visitorKey struct {
	project uuid.UUID
	hash    string
}

// commit writes one group: events (CopyFrom), the visitors' aggregates (locked, folded, written
// back) and the delivery counters, in one transaction.
func (in *Ingester) commit(ctx context.Context, batches []*Batch) error {
	if err := in.ensurePartitions(ctx, batches); err != nil {
		return err
	}
	// Seal element text and attributes per project before the transaction.
	rows := make([][]any, 0, 256)
	byVisitor := map[visitorKey][]*Event{}
	stats := map[dropKey]int64{}
	for _, b := range batches {
		var kr interface {
			Seal(pt, ad []byte) ([]byte, error)
		}
		for i := range b.Events {
			e := &b.Events[i]
			var textEnc, attrsEnc []byte
			if e.ElText != "" || len(e.ElAttrs) > 0 {
				if kr == nil {
					k, err := in.store.projectKeyring(ctx, b.ProjectID)
					if err != nil {
						return fmt.Errorf("data key of project %s: %w", b.ProjectID, err)
					}
					kr = k
				}
				var err error
				if e.ElText != "" {
					if textEnc, err = kr.Seal([]byte(e.ElText), eventTextAD(b.ProjectID)); err != nil {
						return err
					}
				}
				if len(e.ElAttrs) > 0 {
					ab, _ := json.Marshal(e.ElAttrs)
					if attrsEnc, err = kr.Seal(ab, eventAttrsAD(b.ProjectID)); err != nil {
						return err
					}
				}
			}
			var utm []byte
			if len(e.UTM) > 0 {
				utm, _ = json.Marshal(e.UTM)
			}
			classes := e.ElClasses
			if classes == nil {
				classes = []string{}
			}
			// [16]byte: pgx's binary uuid encoding, no text round trip.
			rows = append(rows, []any{[16]byte(b.ProjectID), e.TS, e.VisitorHash, e.SessionHash, e.Type, e.Path, e.PathGroup,
				e.Channel, e.Device, e.ElTag, e.ElCategory, classes, textEnc, attrsEnc, e.Goal,
				e.DurationMS, e.ScrollDepth, utm})
			k := visitorKey{b.ProjectID, string(e.VisitorHash)}
			byVisitor[k] = append(byVisitor[k], e)
		}
		day := dayString(b.Day)
		switch {
		case b.ByEventDay:
			for _, e := range b.Events {
				stats[dropKey{b.ProjectID, dayString(e.TS), ReasonStored}]++
			}
		case len(b.Events) > 0:
			stats[dropKey{b.ProjectID, day, ReasonStored}] += int64(len(b.Events))
		}
		for r, n := range b.Dropped {
			if n > 0 {
				stats[dropKey{b.ProjectID, day, r}] += n
			}
		}
	}
	in.mu.Lock()
	pending := in.pendingDrop
	in.pendingDrop = map[dropKey]int64{}
	in.mu.Unlock()
	for k, n := range pending {
		stats[k] += n
	}
	err := pgx.BeginFunc(ctx, in.store.pool, func(tx pgx.Tx) error {
		if len(rows) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy events: %w", err)
			}
		}
		// The aggregates' update and the counters go to PostgreSQL in one round trip.
		var b pgx.Batch
		if err := upsertFeatures(ctx, tx, byVisitor, &b); err != nil {
			return err
		}
		queueStats(&b, stats)
		if b.Len() == 0 {
			return nil
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("update visitor features and counters: %w", err)
		}
		return nil
	})
	if err == nil && len(pending) > 0 {
		in.mu.Lock()
		if in.uncounted > 0 {
			in.logger.Error("dropped events went uncounted while the database was unavailable", "events", in.uncounted)
			in.uncounted = 0
		}
		in.mu.Unlock()
	}
	if err != nil {
		in.mu.Lock() // the counts were not written: keep them for the next commit
		for k, n := range pending {
			in.addPendingLocked(k, n)
		}
		in.mu.Unlock()
	}
	return err
}

func eventTextAD(p uuid.UUID) []byte  { return EncryptedColumn{"events", "el_text_enc"}.AD(p) }
func eventAttrsAD(p uuid.UUID) []byte { return EncryptedColumn{"events", "el_attrs_enc"}.AD(p) }

// queueStats queues the upsert of the delivery counters.
func queueStats(b *pgx.Batch, stats map[dropKey]int64) {
	if len(stats) == 0 {
		return
	}
	keys := make([]dropKey, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { // a stable order: concurrent instances never deadlock
		a, b := keys[i], keys[j]
		if a.project != b.project {
			return strings.Compare(a.project.String(), b.project.String()) < 0
		}
		if a.day != b.day {
			return a.day < b.day
		}
		return a.reason < b.reason
	})
	projects := make([]uuid.UUID, len(keys))
	days := make([]string, len(keys))
	reasons := make([]string, len(keys))
	counts := make([]int64, len(keys))
	for i, k := range keys {
		projects[i], days[i], reasons[i], counts[i] = k.project, k.day, k.reason, stats[k]
	}
	b.Queue(`/* Ingester.writeStats */
		INSERT INTO ingest_stats (project_id, day, reason, events)
		SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::bigint[])
		ON CONFLICT (project_id, day, reason) DO UPDATE SET events = ingest_stats.events + excluded.events`,
		projects, days, reasons, counts).Exec(func(pgconn.CommandTag) error { return nil })
}

const featureColumns = `visits, pageviews, clicks, goals, bounces, time_ms, scroll_sum, scroll_count, active_days,
	first_seen, last_seen, last_day, cur_session, cur_pageviews, cur_clicks, paths, elements, channels, devices,
	goal_names, hours, weekdays`

// upsertFeatures folds the events into each visitor's aggregates: missing rows are created and
// all rows locked in a stable order (one round trip), folded in Go, and the write-back is
// queued in b, one statement.
func upsertFeatures(ctx context.Context, tx pgx.Tx, byVisitor map[visitorKey][]*Event, b *pgx.Batch) error {
	if len(byVisitor) == 0 {
		return nil
	}
	keys := make([]visitorKey, 0, len(byVisitor))
	for k := range byVisitor {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].project != keys[j].project {
			return bytes.Compare(keys[i].project[:], keys[j].project[:]) < 0
		}
		return keys[i].hash < keys[j].hash
	})
	projects := make([][16]byte, len(keys)) // [16]byte: pgx's binary uuid encoding
	hashes := make([][]byte, len(keys))
	firsts := make([]time.Time, len(keys))
	for i, k := range keys {
		projects[i], hashes[i] = k.project, []byte(k.hash)
		firsts[i] = byVisitor[k][0].TS
	}
	var lock pgx.Batch
	lock.Queue(`/* Ingester.upsertFeatures */
		INSERT INTO visitor_features (project_id, visitor_hash, first_seen, last_seen, last_day, cur_session)
		SELECT p, h, t, t, t::date, '\x'::bytea FROM unnest($1::uuid[], $2::bytea[], $3::timestamptz[]) AS u(p, h, t)
		ORDER BY p, h
		ON CONFLICT (project_id, visitor_hash) DO NOTHING`, projects, hashes, firsts)
	lock.Queue(`/* Ingester.upsertFeatures */
		SELECT f.project_id, f.visitor_hash, `+prefixed("f", featureColumns)+`
		FROM visitor_features f JOIN unnest($1::uuid[], $2::bytea[]) AS u(p, h) ON f.project_id = u.p AND f.visitor_hash = u.h
		ORDER BY f.project_id, f.visitor_hash FOR UPDATE OF f`, projects, hashes)
	br := tx.SendBatch(ctx, &lock)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("create visitor features: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("lock visitor features: %w", err)
	}
	current := map[visitorKey]*VisitorFeatures{}
	for rows.Next() {
		var pid uuid.UUID
		f, err := scanFeatures(rows, &pid)
		if err != nil {
			rows.Close()
			return fmt.Errorf("read visitor features: %w", err)
		}
		current[visitorKey{pid, string(f.VisitorHash)}] = f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read visitor features: %w", err)
	}
	n := len(keys)
	cols := newFeatureArrays(n)
	for i, k := range keys {
		f := current[k]
		if f == nil {
			return fmt.Errorf("visitor features row vanished during ingest")
		}
		evs := byVisitor[k]
		slices.SortStableFunc(evs, func(a, b *Event) int { return a.TS.Compare(b.TS) })
		if f.Visits == 0 { // the placeholder row: start from the first event
			f.FirstSeen, f.LastSeen = time.Time{}, time.Time{}
		}
		for _, e := range evs {
			f.Apply(e)
		}
		cols.set(i, f)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("lock visitor features: %w", err)
	}
	b.Queue(`/* Ingester.upsertFeatures */
		UPDATE visitor_features v SET
			visits = u.visits, pageviews = u.pageviews, clicks = u.clicks, goals = u.goals, bounces = u.bounces,
			time_ms = u.time_ms, scroll_sum = u.scroll_sum, scroll_count = u.scroll_count, active_days = u.active_days,
			first_seen = u.first_seen, last_seen = u.last_seen, last_day = u.last_day, cur_session = u.cur_session,
			cur_pageviews = u.cur_pageviews, cur_clicks = u.cur_clicks, paths = u.paths::jsonb, elements = u.elements::jsonb,
			channels = u.channels::jsonb, devices = u.devices::jsonb, goal_names = u.goal_names::jsonb,
			hours = u.hours::bigint[], weekdays = u.weekdays::bigint[], updated_at = now()
		FROM unnest($1::uuid[], $2::bytea[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
			$8::bigint[], $9::float8[], $10::bigint[], $11::bigint[], $12::timestamptz[], $13::timestamptz[], $14::date[],
			$15::bytea[], $16::bigint[], $17::bigint[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[],
			$23::text[], $24::text[])
			AS u(project_id, visitor_hash, visits, pageviews, clicks, goals, bounces, time_ms, scroll_sum, scroll_count,
			active_days, first_seen, last_seen, last_day, cur_session, cur_pageviews, cur_clicks, paths, elements,
			channels, devices, goal_names, hours, weekdays)
		WHERE v.project_id = u.project_id AND v.visitor_hash = u.visitor_hash`,
		projects, hashes, cols.visits, cols.pageviews, cols.clicks, cols.goals, cols.bounces, cols.timeMS,
		cols.scrollSum, cols.scrollCount, cols.activeDays, cols.firstSeen, cols.lastSeen, cols.lastDay, cols.curSession,
		cols.curPV, cols.curClicks, cols.paths, cols.elements, cols.channels, cols.devices, cols.goalNames,
		cols.hours, cols.weekdays).Exec(func(pgconn.CommandTag) error { return nil })
	return nil
}

type featureArrays struct {
	visits, pageviews, clicks, goals, bounces, timeMS, scrollCount, activeDays, curPV, curClicks []int64
	scrollSum                                                                                    []float64
	firstSeen, lastSeen, lastDay                                                                 []time.Time
	curSession                                                                                   [][]byte
	paths, elements, channels, devices, goalNames, hours, weekdays                               []string
}

func newFeatureArrays(n int) *featureArrays {
	i := func() []int64 { return make([]int64, n) }
	s := func() []string { return make([]string, n) }
	tm := func() []time.Time { return make([]time.Time, n) }
	return &featureArrays{visits: i(), pageviews: i(), clicks: i(), goals: i(), bounces: i(), timeMS: i(),
		scrollCount: i(), activeDays: i(), curPV: i(), curClicks: i(), scrollSum: make([]float64, n),
		firstSeen: tm(), lastSeen: tm(), lastDay: tm(), curSession: make([][]byte, n),
		paths: s(), elements: s(), channels: s(), devices: s(), goalNames: s(), hours: s(), weekdays: s()}
}

func (a *featureArrays) set(i int, f *VisitorFeatures) {
	a.visits[i], a.pageviews[i], a.clicks[i], a.goals[i], a.bounces[i] = f.Visits, f.PageViews, f.Clicks, f.Goals, f.Bounces
	a.timeMS[i], a.scrollSum[i], a.scrollCount[i], a.activeDays[i] = f.TimeMS, f.ScrollSum, f.ScrollCount, f.ActiveDays
	a.firstSeen[i], a.lastSeen[i], a.lastDay[i], a.curSession[i] = f.FirstSeen, f.LastSeen, f.LastDay, f.CurSession
	a.curPV[i], a.curClicks[i] = f.CurPageViews, f.CurClicks
	a.paths[i], a.elements[i], a.channels[i] = jsonMap(f.Paths), jsonMap(f.Elements), jsonMap(f.Channels)
	a.devices[i], a.goalNames[i] = jsonMap(f.Devices), jsonMap(f.GoalNames)
	a.hours[i], a.weekdays[i] = pgArray(f.Hours[:]), pgArray(f.Weekdays[:])
}

func jsonMap(m map[string]int64) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func pgArray(v []int64) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, x := range v {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatInt(x, 10))
	}
	sb.WriteByte('}')
	return sb.String()
}

func scanFeatures(row pgx.Row, projectID *uuid.UUID) (*VisitorFeatures, error) {
	f := &VisitorFeatures{}
	var paths, elements, channels, devices, goals []byte
	var hours, weekdays []int64
	err := row.Scan((*[16]byte)(projectID), &f.VisitorHash, // *[16]byte: pgx's binary uuid path, no text round trip
		&f.Visits, &f.PageViews, &f.Clicks, &f.Goals, &f.Bounces, &f.TimeMS,
		&f.ScrollSum, &f.ScrollCount, &f.ActiveDays, &f.FirstSeen, &f.LastSeen, &f.LastDay, &f.CurSession,
		&f.CurPageViews, &f.CurClicks, &paths, &elements, &channels, &devices, &goals, &hours, &weekdays)
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		b []byte
		m *map[string]int64
	}{{paths, &f.Paths}, {elements, &f.Elements}, {channels, &f.Channels}, {devices, &f.Devices}, {goals, &f.GoalNames}} {
		if err := decodeCounts(m.b, m.m); err != nil {
			return nil, fmt.Errorf("decode aggregates: %w", err)
		}
	}
	copy(f.Hours[:], hours)
	copy(f.Weekdays[:], weekdays)
	return f, nil
}

// VisitorFeatures reads one visitor's aggregates (one indexed read), or ErrNotFound.
func (s *Store) VisitorFeatures(ctx context.Context, projectID uuid.UUID, visitorHash []byte) (*VisitorFeatures, error) {
	var pid uuid.UUID
	f, err := scanFeatures(s.pool.QueryRow(ctx, `/* Store.VisitorFeatures */
		SELECT project_id, visitor_hash, `+featureColumns+` FROM visitor_features
		WHERE project_id = $1 AND visitor_hash = $2`, [16]byte(projectID), visitorHash), &pid)
	if err != nil {
		return nil, translate(err)
	}
	return f, nil
}

// EachVisitorFeatures streams a project's aggregates to fn, for training.
func (s *Store) EachVisitorFeatures(ctx context.Context, projectID uuid.UUID, fn func(*VisitorFeatures) error) error {
	rows, err := s.pool.Query(ctx, `/* Store.EachVisitorFeatures */
		SELECT project_id, visitor_hash, `+featureColumns+` FROM visitor_features WHERE project_id = $1 AND visits > 0`, projectID)
	if err != nil {
		return fmt.Errorf("read visitor features: %w", translate(err))
	}
	defer rows.Close()
	var pid uuid.UUID
	for rows.Next() {
		f, err := scanFeatures(rows, &pid)
		if err != nil {
			return fmt.Errorf("read visitor features: %w", err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}
