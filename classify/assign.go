package classify

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

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

// runAssignmentWriter writes the queued assignments in batches (every 200 ms or 1,000
// answers) until ctx ends, then writes what is left.
func (s *Service) runAssignmentWriter(ctx context.Context) {
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
				s.metrics.AssignmentDrops.Add(float64(len(hashes)))
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
