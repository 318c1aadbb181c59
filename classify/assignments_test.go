package classify

import (
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestAssignmentWriterSkipsUnchanged: an answer equal to the one last queued for the visitor is
// not queued again; a new persona, version or confidence is, and forgetting a visitor, its
// project or everything makes the next answer queue again.
func TestAssignmentWriterSkipsUnchanged(t *testing.T) {
	dropped, skipped := prometheus.NewCounter(prometheus.CounterOpts{Name: "d"}), prometheus.NewCounter(prometheus.CounterOpts{Name: "s"})
	w := newAssignmentWriter(100, dropped, skipped)
	p1, p2 := uuid.New(), uuid.New()
	x, y := uuid.New(), uuid.New()
	a := func(project uuid.UUID, hash string, persona *uuid.UUID, conf float32, version int) assignment {
		return assignment{project: project, hash: []byte(hash), persona: persona, confidence: conf, version: version}
	}
	steps := []struct {
		name   string
		do     func()
		queued bool
	}{
		{"first answer", func() { w.offer(a(p1, "h1", &x, 0.8, 1)) }, true},
		{"same answer", func() { w.offer(a(p1, "h1", &x, 0.8, 1)) }, false},
		{"confidence within the slack", func() { w.offer(a(p1, "h1", &x, 0.805, 1)) }, false},
		{"confidence beyond the slack", func() { w.offer(a(p1, "h1", &x, 0.9, 1)) }, true},
		{"another persona", func() { w.offer(a(p1, "h1", &y, 0.9, 1)) }, true},
		{"an outlier", func() { w.offer(a(p1, "h1", nil, 0.9, 1)) }, true},
		{"the outlier again", func() { w.offer(a(p1, "h1", nil, 0.9, 1)) }, false},
		{"a new model version", func() { w.offer(a(p1, "h1", nil, 0.9, 2)) }, true},
		{"the same hash in another project", func() { w.offer(a(p2, "h1", nil, 0.9, 2)) }, true},
		{"after forgetting the visitor", func() { w.forget(p1, []byte("h1")); w.offer(a(p1, "h1", nil, 0.9, 2)) }, true},
		{"the other project's visitor is still known", func() { w.forget(p1, []byte("h1")); w.offer(a(p2, "h1", nil, 0.9, 2)) }, false},
		{"after forgetting the project", func() { w.forget(p2, nil); w.offer(a(p2, "h1", nil, 0.9, 2)) }, true},
		{"after forgetting everything", func() { w.forget(uuid.Nil, nil); w.offer(a(p2, "h1", nil, 0.9, 2)) }, true},
	}
	for _, s := range steps {
		before := len(w.ch)
		s.do()
		if queued := len(w.ch) > before; queued != s.queued {
			t.Errorf("%s: queued %v, want %v", s.name, queued, s.queued)
		}
	}
	if got := counterValue(skipped); got != 4 {
		t.Errorf("%v skipped, want 4", got)
	}

	// A full queue drops the answer and remembers nothing, so the next offer tries again.
	full := newAssignmentWriter(1, dropped, skipped)
	full.offer(a(p1, "h1", &x, 0.8, 1))
	full.offer(a(p1, "h2", &x, 0.8, 1))
	<-full.ch
	full.offer(a(p1, "h2", &x, 0.8, 1))
	if len(full.ch) != 1 || counterValue(dropped) != 1 {
		t.Errorf("after a drop: %d queued, %v dropped; want 1 and 1", len(full.ch), counterValue(dropped))
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
