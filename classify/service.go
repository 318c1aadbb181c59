package classify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"personas/models"
)

// Reasons of an answer (the classify contract's).
const (
	ReasonOK             = "ok"
	ReasonNoModel        = "no_model"
	ReasonUnknownVisitor = "unknown_visitor"
	ReasonOutlier        = "outlier"
)

// Probability is one persona's posterior in an answer.
type Probability struct {
	PersonaID string // the persona's id, formatted
	P         float64
}

// Answer is which persona a visitor belongs to.
type Answer struct {
	Persona       *PersonaRef // nil unless Reason is ReasonOK
	Confidence    float64
	Probabilities []Probability // by cluster; empty without a placement
	ModelVersion  int           // 0 without a (readable) model
	Reason        string
}

// Metrics are the service's Prometheus series; the caller registers them.
type Metrics struct {
	ModelErrors     prometheus.Counter     // models that could not be read or decoded
	Reasons         *prometheus.CounterVec // answers by reason (label "reason")
	AssignmentDrops prometheus.Counter     // assignments not written (queue full or store error)
	AssignmentSkips prometheus.Counter     // assignments not written again, unchanged
	Notifications   *prometheus.CounterVec // change notifications received (label "kind")
}

// Config is what the service is built from. Zero sizes take the defaults.
type Config struct {
	Store   *models.Store
	Logger  *slog.Logger
	Metrics Metrics
	// Models bounds the cached models (default 256 projects).
	Models int
	// Queue bounds the assignments waiting to be written (default 10,000).
	Queue int
	// ReadSlots is how many aggregate reads run at once before requests join a batch
	// (default 1).
	ReadSlots int
	// Visitors bounds the cached visitor aggregates (default 20,000); VisitorTTL is how long a
	// cached one is used (default 1 s). A negative Visitors turns the cache off.
	Visitors   int
	VisitorTTL time.Duration
	// VersionCheck is how often cached model versions are compared with the database
	// (default 30 s).
	VersionCheck time.Duration
	// OnChange is called for every change notification, after the service applied it to its
	// own caches; OnResync when notifications may have been missed (a reconnected listener),
	// after the service dropped its caches; OnVersionCheck at every version check. Any may be
	// nil.
	OnChange       func(models.Change)
	OnResync       func()
	OnVersionCheck func()
}

// Service classifies visitors live. Build it with New, start Run once, and call Classify from
// any goroutine.
type Service struct {
	store   *models.Store
	logger  *slog.Logger
	metrics Metrics
	cfg     Config

	models      *modelCache
	features    *featureReader
	visitors    *visitorCache // nil: off
	assignments *assignmentWriter
}

// New builds the service.
func New(cfg Config) *Service {
	if cfg.Models <= 0 {
		cfg.Models = 256
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 10000
	}
	if cfg.ReadSlots <= 0 {
		cfg.ReadSlots = 1
	}
	if cfg.Visitors == 0 {
		cfg.Visitors = 20000
	}
	if cfg.VisitorTTL <= 0 {
		cfg.VisitorTTL = time.Second
	}
	if cfg.VersionCheck <= 0 {
		cfg.VersionCheck = 30 * time.Second
	}
	s := &Service{store: cfg.Store, logger: cfg.Logger, metrics: cfg.Metrics, cfg: cfg,
		models:      newModelCache(cfg.Models),
		features:    newFeatureReader(cfg.Store, cfg.ReadSlots),
		assignments: newAssignmentWriter(cfg.Queue, cfg.Metrics.AssignmentDrops, cfg.Metrics.AssignmentSkips)}
	if cfg.Visitors > 0 {
		s.visitors = newVisitorCache(cfg.Visitors, cfg.VisitorTTL)
	}
	return s
}

// Run is the service's background work: the change listener (with the version check) and the
// assignment writer. It returns once ctx is done and the queued assignments are written.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.listen(ctx) }()
	go func() { defer wg.Done(); s.runAssignmentWriter(ctx) }()
	wg.Wait()
}

// Classify answers which persona the visitor of project p belongs to, from its stored
// aggregates with events (the visitor's inline events, normalised as collect stores them, not
// stored) applied on top.
func (s *Service) Classify(ctx context.Context, p models.Project, visitorID string, events []models.Event) (Answer, error) {
	ans := Answer{Probabilities: []Probability{}, Reason: ReasonNoModel}
	if p.ModelVersion == nil {
		return ans, nil
	}
	v := *p.ModelVersion
	cm, err := s.model(ctx, p.ID, v)
	if err != nil {
		return ans, err
	}
	if cm.broken {
		s.metrics.Reasons.WithLabelValues(ReasonNoModel).Inc()
		return ans, nil
	}
	ans.ModelVersion = v
	hash := s.store.VisitorHash(p.ID, visitorID)
	f, err := s.aggregates(ctx, p.ID, hash)
	if err != nil {
		return ans, err
	}
	if len(events) > 0 {
		f = cloneFeatures(f) // cached aggregates are shared: the inline events apply to a copy
		for i := range events {
			f.Apply(&events[i])
		}
	}
	if f.Visits == 0 {
		ans.Reason = ReasonUnknownVisitor
		s.metrics.Reasons.WithLabelValues(ans.Reason).Inc()
		return ans, nil
	}
	a := cm.model.Classify(Aggregates(f), s.store.Now())
	if a.Cluster < 0 { // aggregates the model cannot place at all (non-finite features): far off
		ans.Reason = ReasonOutlier
		s.metrics.Reasons.WithLabelValues(ans.Reason).Inc()
		return ans, nil
	}
	ans.Probabilities = make([]Probability, 0, len(a.Probabilities))
	for k, pr := range a.Probabilities {
		ans.Probabilities = append(ans.Probabilities, Probability{PersonaID: cm.personas[k].IDText, P: round4(pr)})
	}
	ans.Confidence = round4(a.Confidence)
	var pid *uuid.UUID
	if a.Outlier {
		ans.Reason = ReasonOutlier
	} else {
		ans.Persona = &cm.personas[a.Cluster]
		ans.Reason = ReasonOK
		pid = &ans.Persona.ID
	}
	s.metrics.Reasons.WithLabelValues(ans.Reason).Inc()
	s.assignments.offer(assignment{project: p.ID, hash: hash, persona: pid, confidence: float32(a.Confidence), version: v})
	return ans, nil
}

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }

// aggregates are the visitor's stored aggregates (zero for a visitor never seen), from the
// visitor cache or a coalesced read. The result is shared: read it, never change it.
func (s *Service) aggregates(ctx context.Context, projectID uuid.UUID, hash []byte) (*models.VisitorFeatures, error) {
	var gen uint64
	if s.visitors != nil {
		var f *models.VisitorFeatures
		var ok bool
		if f, gen, ok = s.visitors.get(projectID, hash); ok {
			return f, nil
		}
	}
	f, err := s.features.read(ctx, projectID, hash)
	switch {
	case errors.Is(err, models.ErrNotFound):
		f = &models.VisitorFeatures{VisitorHash: hash}
	case err != nil:
		return nil, err
	}
	if s.visitors != nil {
		s.visitors.put(projectID, hash, f, gen)
	}
	return f, nil
}

// Changed tells the service that a visitor's stored aggregates changed (this instance's
// ingest, before it acknowledges the events): the next answer reads them again.
func (s *Service) Changed(projectID uuid.UUID, hash []byte) {
	if s.visitors != nil {
		s.visitors.invalidate(projectID, hash)
	}
}

// Forget drops what the service remembers of one visitor (hash != nil) or of a whole project
// (hash == nil), for an erasure requested on this instance: cached aggregates and the last
// written assignments, so that the next answer reads and writes again.
func (s *Service) Forget(projectID uuid.UUID, hash []byte) {
	s.assignments.forget(projectID, hash)
	switch {
	case s.visitors == nil:
	case hash == nil:
		s.visitors.invalidateProject(projectID)
	default:
		s.visitors.invalidate(projectID, hash)
	}
}

// EvictModel drops the project's cached model (its personas were renamed on this instance).
func (s *Service) EvictModel(projectID uuid.UUID) { s.models.evict(projectID) }
