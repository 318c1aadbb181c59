package classify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"personas/classifier"
	"personas/internal/testenv"
	"personas/models"
)

// fixture is a project with a published model of two clear personas (readers of the blog and
// buyers), trained on synthetic aggregates, and an ingester writing to it: no HTTP server.
type fixture struct {
	env      *testenv.Env
	project  models.Project
	version  int
	personas []uuid.UUID // by cluster
	ingester *models.Ingester
	metrics  Metrics
}

func newMetrics() Metrics {
	return Metrics{
		ModelErrors:     prometheus.NewCounter(prometheus.CounterOpts{Name: "model_errors"}),
		Reasons:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reasons"}, []string{"reason"}),
		AssignmentDrops: prometheus.NewCounter(prometheus.CounterOpts{Name: "drops"}),
		AssignmentSkips: prometheus.NewCounter(prometheus.CounterOpts{Name: "skips"}),
		Notifications:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "notifications"}, []string{"kind"}),
	}
}

// population is n visitors, half reading the blog from search on desktops, half buying from
// campaigns on phones, with some noise.
func population(n int, now time.Time) []classifier.Aggregates {
	rng := rand.New(rand.NewPCG(1, 2))
	pop := make([]classifier.Aggregates, n)
	for i := range pop {
		v := int64(2 + rng.IntN(4))
		a := classifier.Aggregates{Visits: v, FirstSeen: now.Add(-time.Duration(48+rng.IntN(200)) * time.Hour),
			LastSeen: now.Add(-time.Duration(1+rng.IntN(20)) * time.Hour), ActiveDays: v}
		if i%2 == 0 {
			a.PageViews, a.Clicks, a.TimeMS = v*int64(5+rng.IntN(3)), v, v*240000
			a.Paths = map[string]int64{"/blog/:slug": a.PageViews}
			a.Channels, a.Devices = map[string]int64{"search": v}, map[string]int64{"desktop": v}
			a.Hours[9+rng.IntN(3)] = a.PageViews
		} else {
			a.PageViews, a.Clicks, a.Goals, a.TimeMS = v*int64(2+rng.IntN(2)), v*6, v, v*60000
			a.Paths = map[string]int64{"/p/:id": a.PageViews - v, "/cart": v}
			a.Channels, a.Devices = map[string]int64{"campaign": v}, map[string]int64{"mobile": v}
			a.GoalNames = map[string]int64{"purchase": v}
			a.Hours[20+rng.IntN(3)] = a.PageViews
		}
		a.Weekdays[i%7] = a.PageViews
		pop[i] = a
	}
	return pop
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{env: testenv.New(t), metrics: newMetrics()}
	st := f.env.Store
	u, _, err := st.EnsureUser(ctx, "owner@classify.example", "correct horse battery staple", false)
	if err != nil {
		t.Fatal(err)
	}
	if f.project, err = st.CreateProject(ctx, u.ID, "Classify", []string{"https://classify.example"}); err != nil {
		t.Fatal(err)
	}
	f.ingester = models.NewIngester(st, models.IngesterConfig{}, slog.New(slog.DiscardHandler))
	ictx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.ingester.Run(ictx) }()
	t.Cleanup(func() { stop(); <-done })
	return f
}

// publish trains a model on the synthetic population and publishes it with a persona per
// cluster.
func (f *fixture) publish(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	st := f.env.Store
	res, err := classifier.Train(population(400, time.Now()), time.Now(), classifier.TrainOptions{MinClusterSize: 20, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := res.Model.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.CreateTrainingRun(ctx, f.project.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := models.Publication{ProjectID: f.project.ID, RunID: run.ID, Blob: blob, K: res.Model.K, Metrics: []byte(`{}`)}
	f.personas = nil
	for c := range res.Model.K {
		id := uuid.New()
		f.personas = append(f.personas, id)
		pub.Personas = append(pub.Personas, models.PublishedPersona{ID: id, New: true, Cluster: c, Share: 0.5, Size: 200,
			Traits: []byte(`{}`), Naming: models.Naming{Name: fmt.Sprintf("Persona %d", c+1), Type: "other", NamedBy: "rules"}})
	}
	if f.version, err = st.PublishModel(ctx, pub); err != nil {
		t.Fatal(err)
	}
	if f.project, err = st.Project(ctx, f.project.ID); err != nil {
		t.Fatal(err)
	}
}

// collect stores n page views of the blog for a visitor through the group commit.
func (f *fixture) collect(t *testing.T, visitor string, n int) {
	t.Helper()
	now := time.Now().UTC()
	hash := f.env.Store.VisitorHash(f.project.ID, visitor)
	b := &models.Batch{ProjectID: f.project.ID, Day: now, Dropped: map[string]int64{}}
	for i := range n {
		ts := now.Add(-time.Duration(n-i) * time.Second)
		b.Events = append(b.Events, models.Event{ProjectID: f.project.ID, TS: ts, Hour: ts.Hour(), Weekday: int(ts.Weekday()),
			VisitorHash: hash, SessionHash: []byte("session-" + visitor), Type: "pageview", Path: "/blog/post",
			PathGroup: "/blog/:slug", Channel: "search", Device: "desktop"})
	}
	if err := f.ingester.Submit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) service(cfg Config) *Service {
	cfg.Store, cfg.Logger, cfg.Metrics = f.env.Store, slog.New(slog.DiscardHandler), f.metrics
	s := New(cfg)
	f.ingester.OnCommitted(func(b *models.Batch) {
		for i := range b.Events {
			s.Changed(b.ProjectID, b.Events[i].VisitorHash)
		}
	})
	return s
}

// TestServiceClassify answers every reason of the contract without an HTTP server, and sees
// ingest acknowledged on this instance at once although the visitor's aggregates are cached.
func TestServiceClassify(t *testing.T) {
	f := newFixture(t)
	svc := f.service(Config{VisitorTTL: time.Hour}) // only invalidation can refresh the cache here
	ctx := context.Background()

	a, err := svc.Classify(ctx, f.project, "v1", nil)
	if err != nil || a.Reason != ReasonNoModel || a.ModelVersion != 0 || a.Persona != nil || len(a.Probabilities) != 0 {
		t.Fatalf("before a model: %+v, %v", a, err)
	}
	f.publish(t)
	if a, err = svc.Classify(ctx, f.project, "v1", nil); err != nil || a.Reason != ReasonUnknownVisitor || a.ModelVersion != f.version {
		t.Fatalf("unknown visitor: %+v, %v", a, err)
	}
	f.collect(t, "v1", 12) // invalidates the cached "never seen"
	if a, err = svc.Classify(ctx, f.project, "v1", nil); err != nil || a.Reason != ReasonOK && a.Reason != ReasonOutlier {
		t.Fatalf("known visitor: %+v, %v", a, err)
	}
	sum := 0.0
	for i, p := range a.Probabilities {
		if p.PersonaID != f.personas[i].String() {
			t.Errorf("probability %d is of %s, want persona %s", i, p.PersonaID, f.personas[i])
		}
		sum += p.P
	}
	if len(a.Probabilities) != len(f.personas) || math.Abs(sum-1) > 0.01 {
		t.Errorf("probabilities %+v: want one per persona, summing to 1", a.Probabilities)
	}
	if a.Reason == ReasonOK && (a.Persona == nil || a.Persona.Name == "" || a.Persona.IDText != a.Persona.ID.String()) {
		t.Errorf("persona %+v", a.Persona)
	}
	stored, err := f.env.Store.VisitorFeatures(ctx, f.project.ID, f.env.Store.VisitorHash(f.project.ID, "v1"))
	if err != nil || stored.PageViews != 12 {
		t.Fatalf("stored aggregates: %+v, %v", stored, err)
	}

	// Inline events count in the answer but change neither the store nor the cached aggregates.
	hash := f.env.Store.VisitorHash(f.project.ID, "v1")
	inline := []models.Event{{ProjectID: f.project.ID, TS: time.Now(), VisitorHash: hash, SessionHash: []byte("inline"),
		Type: "pageview", Path: "/cart", PathGroup: "/cart", Channel: "campaign", Device: "mobile"}}
	if _, err := svc.Classify(ctx, f.project, "v1", inline); err != nil {
		t.Fatal(err)
	}
	cached, _, ok := svc.visitors.get(f.project.ID, hash)
	if !ok || cached.PageViews != 12 || cached.Paths["/cart"] != 0 {
		t.Errorf("cached aggregates after inline events: %+v (cached %v), want 12 page views and no /cart", cached, ok)
	}
	// A new visitor with only inline events is classified from them.
	if a, err = svc.Classify(ctx, f.project, "new", inline); err != nil || a.Reason == ReasonUnknownVisitor {
		t.Errorf("a visitor known only from inline events: %+v, %v", a, err)
	}

	// An erasure on this instance forgets the cached aggregates.
	svc.Forget(f.project.ID, hash)
	if _, _, ok := svc.visitors.get(f.project.ID, hash); ok {
		t.Error("aggregates still cached after Forget")
	}
	if _, err := svc.Classify(ctx, f.project, "v1", nil); err != nil {
		t.Fatal(err)
	}
	svc.Forget(f.project.ID, nil) // a project-wide erasure
	if _, _, ok := svc.visitors.get(f.project.ID, hash); ok {
		t.Error("aggregates still cached after Forget of the project")
	}

	// A corrupted model answers no_model, counts one load error and is not retried per request.
	if _, err := f.env.Pool.Exec(ctx, `UPDATE persona_models SET model_enc = 'garbage' WHERE project_id = $1`, f.project.ID); err != nil {
		t.Fatal(err)
	}
	svc.Apply(models.Change{Kind: models.ChangeModelPublished, ProjectID: f.project.ID, Version: f.version})
	for range 3 {
		if a, err = svc.Classify(ctx, f.project, "v1", nil); err != nil || a.Reason != ReasonNoModel || a.Persona != nil {
			t.Fatalf("corrupted model: %+v, %v", a, err)
		}
	}
	if got := counterValue(f.metrics.ModelErrors); got != 1 {
		t.Errorf("%v model load errors, want 1", got)
	}
}

// TestLoadModel reads a published version with its personas; an unreadable blob is
// ErrUnreadable (for the cache: broken; for training: no matching), a cancelled read is not.
func TestLoadModel(t *testing.T) {
	f := newFixture(t)
	f.publish(t)
	ctx := context.Background()
	l, err := LoadModel(ctx, f.env.Store, f.project.ID, f.version)
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != f.version || l.ProjectID != f.project.ID || l.Model.K != len(f.personas) {
		t.Errorf("loaded version %d of %s with k = %d; want %d of %s with k = %d", l.Version, l.ProjectID, l.Model.K,
			f.version, f.project.ID, len(f.personas))
	}
	for c, id := range f.personas {
		if l.PersonaIDs[c] != id {
			t.Errorf("cluster %d: persona %s, want %s", c, l.PersonaIDs[c], id)
		}
	}
	if _, err := LoadModel(ctx, f.env.Store, f.project.ID, f.version+1); !errors.Is(err, ErrUnreadable) {
		t.Errorf("a version never published: %v, want ErrUnreadable", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := LoadModel(cctx, f.env.Store, f.project.ID, f.version); err == nil || errors.Is(err, ErrUnreadable) {
		t.Errorf("a cancelled read: %v, want an error other than ErrUnreadable", err)
	}
	if _, err := f.env.Pool.Exec(ctx, `UPDATE persona_models SET model_enc = 'garbage' WHERE project_id = $1`, f.project.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModel(ctx, f.env.Store, f.project.ID, f.version); !errors.Is(err, ErrUnreadable) {
		t.Errorf("a corrupted blob: %v, want ErrUnreadable", err)
	}
}

// TestModelLoadedOnce: concurrent first requests of a project load its model once, and the
// cache keeps at most its bound of projects, evicting the least recently used.
func TestModelLoadedOnce(t *testing.T) {
	f := newFixture(t)
	f.publish(t)
	svc := f.service(Config{Models: 2})
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([]*cachedModel, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := svc.model(ctx, f.project.ID, f.version)
			if err != nil {
				t.Error(err)
			}
			got[i] = m
		}()
	}
	wg.Wait()
	for i, m := range got {
		if m != got[0] || m == nil || m.broken {
			t.Fatalf("request %d got model %p, request 0 %p: want one shared, readable model", i, m, got[0])
		}
	}

	c := newModelCache(2)
	a, b, d := uuid.New(), uuid.New(), uuid.New()
	c.put(&cachedModel{projectID: a, version: 1})
	c.put(&cachedModel{projectID: b, version: 1})
	c.get(a) // a is now the most recently used
	c.put(&cachedModel{projectID: d, version: 1})
	if c.get(b) != nil || c.get(a) == nil || c.get(d) == nil {
		t.Errorf("after a third project in a cache of two: %v, want a and d kept", c.versions())
	}
	c.evict(a)
	c.evictAll()
	if len(c.versions()) != 0 {
		t.Errorf("after evictAll: %v", c.versions())
	}
}

// TestListenEvicts: a change notified through PostgreSQL reaches the running service, which
// evicts the project's model and aggregates before handing the change on; a version check finds
// a model whose notification was missed.
func TestListenEvicts(t *testing.T) {
	f := newFixture(t)
	f.publish(t)
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan models.Change, 10)
	svc := f.service(Config{VisitorTTL: time.Hour, VersionCheck: 200 * time.Millisecond, OnChange: func(ch models.Change) { changes <- ch }})
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	f.collect(t, "v1", 3)
	if _, err := svc.Classify(ctx, f.project, "v1", nil); err != nil {
		t.Fatal(err)
	}
	hash := f.env.Store.VisitorHash(f.project.ID, "v1")
	if svc.models.get(f.project.ID) == nil {
		t.Fatal("model not cached")
	}
	if _, _, ok := svc.visitors.get(f.project.ID, hash); !ok {
		t.Fatal("aggregates not cached")
	}
	// The listener may still be connecting: notify until it hands the change on.
	var got models.Change
	deadline := time.Now().Add(10 * time.Second)
	for got.Kind == "" && time.Now().Before(deadline) {
		if err := f.env.Store.Notify(ctx, models.Change{Kind: models.ChangeVisitorDeleted, ProjectID: f.project.ID}); err != nil {
			t.Fatal(err)
		}
		select {
		case got = <-changes:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if got.Kind != models.ChangeVisitorDeleted || got.ProjectID != f.project.ID {
		t.Fatalf("change handed on: %+v", got)
	}
	if _, _, ok := svc.visitors.get(f.project.ID, hash); ok {
		t.Error("aggregates still cached after visitor_deleted")
	}
	if svc.models.get(f.project.ID) == nil {
		t.Error("visitor_deleted evicted the model")
	}
	if err := f.env.Store.Notify(ctx, models.Change{Kind: models.ChangeModelPublished, ProjectID: f.project.ID, Version: f.version + 1}); err != nil {
		t.Fatal(err)
	}
	if got = <-changes; got.Kind != models.ChangeModelPublished || svc.models.get(f.project.ID) != nil {
		t.Errorf("after %+v the model is still cached", got)
	}

	// A publication whose notification was missed: the version check evicts the old version.
	if _, err := svc.Classify(ctx, f.project, "v1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Pool.Exec(ctx, `UPDATE projects SET model_version = model_version + 1 WHERE id = $1`, f.project.ID); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for svc.models.get(f.project.ID) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // waiting for the ticker under test, not for a condition
	}
	if svc.models.get(f.project.ID) != nil {
		t.Error("the version check kept a model that is no longer current")
	}
}
