package api

import (
	"container/list"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"personas/classifier"
	"personas/ingest"
	"personas/jobs"
	"personas/models"
)

// Classify reasons of the contract.
const (
	reasonOK             = "ok"
	reasonNoModel        = "no_model"
	reasonUnknownVisitor = "unknown_visitor"
	reasonOutlier        = "outlier"
)

// ClassifyRequest is the body of POST /v1/classify.
type ClassifyRequest struct {
	SiteKey   string                `json:"site_key"`
	VisitorID string                `json:"visitor_id"`
	SessionID string                `json:"session_id,omitempty"`
	Context   ingest.CollectContext `json:"context"`
	Events    []ingest.RawEvent     `json:"events"`
}

// personaRef is a persona in a classify answer. Its id is formatted once, when the model is
// loaded, not on every answer.
type personaRef struct {
	ID     uuid.UUID `json:"-"`
	IDText string    `json:"id"`
	Name   string    `json:"name"`
	Type   string    `json:"type"`
}

type probability struct {
	PersonaID string  `json:"persona_id"`
	P         float64 `json:"p"`
}

// ClassifyResponse is the answer of POST /v1/classify.
type ClassifyResponse struct {
	Persona       *personaRef   `json:"persona"`
	Confidence    float64       `json:"confidence"`
	Probabilities []probability `json:"probabilities"`
	ModelVersion  *int          `json:"model_version"`
	Reason        string        `json:"reason"`
}

// cachedModel is a project's current model, ready to classify.
type cachedModel struct {
	projectID uuid.UUID
	version   int
	model     *classifier.Model
	personas  []personaRef // by cluster
	broken    bool         // unreadable: answer no_model until a new version
	loadedAt  time.Time
}

// modelCache is a bounded LRU of models by project, kept fresh by LISTEN/NOTIFY (and a periodic
// version check as the safety net).
type modelCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[uuid.UUID]*list.Element
	// loading de-duplicates concurrent loads of one project.
	loading map[uuid.UUID]*loadCall
}

type loadCall struct {
	done chan struct{}
	m    *cachedModel
	err  error
}

func newModelCache(max int) *modelCache {
	return &modelCache{max: max, ll: list.New(), items: map[uuid.UUID]*list.Element{}, loading: map[uuid.UUID]*loadCall{}}
}

func (c *modelCache) get(id uuid.UUID) *cachedModel {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cachedModel)
	}
	return nil
}

func (c *modelCache) put(m *cachedModel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[m.projectID]; ok {
		e.Value = m
		c.ll.MoveToFront(e)
		return
	}
	c.items[m.projectID] = c.ll.PushFront(m)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cachedModel).projectID)
	}
}

func (c *modelCache) evict(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.ll.Remove(e)
		delete(c.items, id)
	}
}

func (c *modelCache) evictAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	c.items = map[uuid.UUID]*list.Element{}
}

func (c *modelCache) versions() map[uuid.UUID]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uuid.UUID]int, len(c.items))
	for id, e := range c.items {
		out[id] = e.Value.(*cachedModel).version
	}
	return out
}

// model returns the project's model of the given version, loading it once.
func (s *Server) model(ctx context.Context, projectID uuid.UUID, version int) (*cachedModel, error) {
	if m := s.models.get(projectID); m != nil && m.version == version {
		return m, nil
	}
	c := s.models
	c.mu.Lock()
	if call, ok := c.loading[projectID]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.m, call.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	call := &loadCall{done: make(chan struct{})}
	c.loading[projectID] = call
	c.mu.Unlock()
	call.m, call.err = s.loadModel(context.WithoutCancel(ctx), projectID, version)
	c.mu.Lock()
	delete(c.loading, projectID)
	c.mu.Unlock()
	close(call.done)
	if call.err == nil {
		c.put(call.m)
	}
	return call.m, call.err
}

func (s *Server) loadModel(ctx context.Context, projectID uuid.UUID, version int) (*cachedModel, error) {
	cm := &cachedModel{projectID: projectID, version: version, loadedAt: time.Now()}
	blob, err := s.store.ModelBlob(ctx, projectID, version)
	if err != nil {
		if errors.Is(err, models.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		s.logger.Error("model unreadable", "project_id", projectID, "version", version, "err", err.Error())
		s.metrics.modelErrors.Inc()
		cm.broken = true
		return cm, nil
	}
	m, err := classifier.UnmarshalModel(blob)
	if err != nil {
		s.logger.Error("model corrupt", "project_id", projectID, "version", version, "err", err.Error())
		s.metrics.modelErrors.Inc()
		cm.broken = true
		return cm, nil
	}
	ids, err := s.store.PersonaIDsByCluster(ctx, projectID, version)
	if err != nil {
		return nil, err
	}
	ps, _, err := s.store.Personas(ctx, projectID)
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]models.Persona{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	cm.personas = make([]personaRef, m.K)
	for k := 0; k < m.K; k++ {
		id := ids[k]
		cm.personas[k] = personaRef{ID: id, IDText: id.String(), Name: byID[id].Name, Type: byID[id].Type}
	}
	cm.model = m
	return cm, nil
}

// classify answers which persona a visitor belongs to, from the stored aggregates and the
// visitor's unsent events (merged, not stored).
func (s *Server) classify(c *gin.Context) {
	body, err := readCollectBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req ClassifyRequest
	if err := strictUnmarshal(body, &req); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	if err := ingest.CheckID("site_key", req.SiteKey); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	if err := ingest.CheckID("visitor_id", req.VisitorID); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	if req.SessionID != "" {
		if err := ingest.CheckID("session_id", req.SessionID); err != nil {
			s.fail(c, badRequest(err.Error()))
			return
		}
	}
	if err := ingest.CheckEvents(req.Events); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	p, ok := s.siteGate(c, classifySite, req.SiteKey, int64(len(req.Events)))
	if !ok {
		return
	}
	resp, err := s.classifyVisitor(c, c.Request, p, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, resp)
}

// classifyVisitor classifies the visitor of req, with its inline events normalised as collect
// would have stored them from the same browser request r.
func (s *Server) classifyVisitor(ctx context.Context, r *http.Request, p models.Project, req *ClassifyRequest) (ClassifyResponse, error) {
	resp := ClassifyResponse{Probabilities: []probability{}, Reason: reasonNoModel}
	if p.ModelVersion == nil {
		return resp, nil
	}
	cm, err := s.model(ctx, p.ID, *p.ModelVersion)
	if err != nil {
		return resp, err
	}
	if cm.broken {
		s.metrics.classifyReasons.WithLabelValues(reasonNoModel).Inc()
		return resp, nil
	}
	v := *p.ModelVersion
	resp.ModelVersion = &v
	hash := s.store.VisitorHash(p.ID, req.VisitorID)
	f, err := s.features.read(ctx, p.ID, hash)
	switch {
	case errors.Is(err, models.ErrNotFound):
		f = &models.VisitorFeatures{VisitorHash: hash}
	case err != nil:
		return resp, err
	}
	if len(req.Events) > 0 {
		now := s.store.Now().UTC()
		norm := ingest.ForBrowser(s.store.Index(), p, r.UserAgent(), req.Context, now)
		session := req.SessionID
		if session == "" {
			session = "inline"
		}
		for i := range req.Events {
			if ev, reason := norm.Normalize(&req.Events[i], req.VisitorID, session); reason == "" {
				f.Apply(&ev)
			}
		}
	}
	if f.Visits == 0 {
		resp.Reason = reasonUnknownVisitor
		s.metrics.classifyReasons.WithLabelValues(resp.Reason).Inc()
		return resp, nil
	}
	a := cm.model.Classify(jobs.Aggregates(f), s.store.Now())
	if a.Cluster < 0 { // aggregates the model cannot place at all (non-finite features): far off
		resp.Reason = reasonOutlier
		s.metrics.classifyReasons.WithLabelValues(resp.Reason).Inc()
		return resp, nil
	}
	resp.Probabilities = make([]probability, 0, len(a.Probabilities))
	for k, pr := range a.Probabilities {
		resp.Probabilities = append(resp.Probabilities, probability{PersonaID: cm.personas[k].IDText, P: round4(pr)})
	}
	resp.Confidence = round4(a.Confidence)
	if a.Outlier {
		resp.Reason = reasonOutlier
	} else {
		ref := cm.personas[a.Cluster]
		resp.Persona = &ref
		resp.Reason = reasonOK
	}
	s.metrics.classifyReasons.WithLabelValues(resp.Reason).Inc()
	var pid *uuid.UUID
	if resp.Persona != nil {
		id := resp.Persona.ID
		pid = &id
	}
	s.assignments.offer(assignment{project: p.ID, hash: hash, persona: pid, confidence: float32(a.Confidence), version: v})
	return resp, nil
}

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }

// assignment is one visitor's persona, written off the request path.
type assignment struct {
	project    uuid.UUID
	hash       []byte
	persona    *uuid.UUID
	confidence float32
	version    int
}

// assignmentWriter batches classify results into visitor_personas. Its queue is bounded: under
// pressure a write is dropped and counted, never the answer delayed.
//
// A visitor is classified on every page, and almost always into the persona of the last page:
// the writer remembers what it queued for each visitor and skips a write that would change
// nothing (same persona and model version, confidence within assignmentSlack) for
// assignmentFresh. A write that fails, an erasure or a new model forgets what was remembered,
// and the memory is bounded (cleared when full), so at worst a row is rewritten.
type assignmentWriter struct {
	ch      chan assignment
	dropped prometheus.Counter
	skipped prometheus.Counter

	mu     sync.Mutex
	queued map[assignmentKey]queuedAssignment
}

type assignmentKey struct {
	project uuid.UUID
	hash    string
}

type queuedAssignment struct {
	persona    uuid.UUID // uuid.Nil: an outlier
	version    int
	confidence float32
	at         time.Time
}

const (
	assignmentSlack     = 0.01
	assignmentFresh     = 2 * time.Minute
	assignmentsRemember = 200000
)

func newAssignmentWriter(queue int, dropped, skipped prometheus.Counter) *assignmentWriter {
	return &assignmentWriter{ch: make(chan assignment, queue), dropped: dropped, skipped: skipped,
		queued: map[assignmentKey]queuedAssignment{}}
}

func (w *assignmentWriter) offer(a assignment) {
	q := queuedAssignment{version: a.version, confidence: a.confidence, at: time.Now()}
	if a.persona != nil {
		q.persona = *a.persona
	}
	key := assignmentKey{a.project, string(a.hash)}
	w.mu.Lock()
	defer w.mu.Unlock()
	if last, ok := w.queued[key]; ok && last.persona == q.persona && last.version == q.version &&
		abs32(last.confidence-q.confidence) < assignmentSlack && q.at.Sub(last.at) < assignmentFresh {
		w.skipped.Inc()
		return
	}
	select {
	case w.ch <- a:
		if len(w.queued) >= assignmentsRemember {
			clear(w.queued)
		}
		w.queued[key] = q
	default:
		w.dropped.Inc()
	}
}

// forget drops what the writer remembers of one visitor (hash != nil), of a project (hash ==
// nil) or of every project (project == uuid.Nil), so that the next classify writes again.
func (w *assignmentWriter) forget(project uuid.UUID, hash []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case project == uuid.Nil:
		clear(w.queued)
	case hash != nil:
		delete(w.queued, assignmentKey{project, string(hash)})
	default:
		for k := range w.queued {
			if k.project == project {
				delete(w.queued, k)
			}
		}
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func (s *Server) runAssignmentWriter(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	pending := map[uuid.UUID]map[string]assignment{}
	n := 0
	flush := func() {
		for pid, byHash := range pending {
			var hashes [][]byte
			var personas []*uuid.UUID
			var conf []float32
			version := 0
			for _, a := range byHash {
				if a.version != version && version != 0 {
					continue // a newer model arrived mid-batch: the next classify rewrites it
				}
				version = a.version
				hashes, personas, conf = append(hashes, a.hash), append(personas, a.persona), append(conf, a.confidence)
			}
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.store.UpsertAssignments(wctx, pid, hashes, personas, conf, version); err != nil {
				for _, h := range hashes {
					s.assignments.forget(pid, h) // not written: the next classify tries again
				}
				s.metrics.assignmentDrops.Add(float64(len(hashes)))
				s.logger.Warn("write persona assignments", "project_id", pid, "count", len(hashes), "err", err.Error())
			}
			cancel()
		}
		pending, n = map[uuid.UUID]map[string]assignment{}, 0
	}
	for {
		select {
		case a := <-s.assignments.ch:
			if pending[a.project] == nil {
				pending[a.project] = map[string]assignment{}
			}
			pending[a.project][string(a.hash)] = a
			n++
			if n >= 1000 {
				flush()
			}
		case <-tick.C:
			if n > 0 {
				flush()
			}
		case <-ctx.Done():
			for {
				select {
				case a := <-s.assignments.ch:
					if pending[a.project] == nil {
						pending[a.project] = map[string]assignment{}
					}
					pending[a.project][string(a.hash)] = a
					n++
				default:
					if n > 0 {
						flush()
					}
					return
				}
			}
		}
	}
}
