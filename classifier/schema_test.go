package classifier_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/classifier"
)

func TestAggregatesMerge(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	a := classifier.Aggregates{Visits: 2, PageViews: 5, FirstSeen: t0.Add(time.Hour), LastSeen: t0.Add(2 * time.Hour),
		Paths: map[string]int64{"/p": 3}}
	a.Hours[3] = 4
	b := classifier.Aggregates{Visits: 1, PageViews: 1, Clicks: 2, ScrollSum: 0.5, ScrollCount: 1,
		FirstSeen: t0, LastSeen: t0.Add(3 * time.Hour), Paths: map[string]int64{"/p": 1, "/cart": 1},
		GoalNames: map[string]int64{"buy": 1}}
	b.Hours[3] = 1
	b.Weekdays[2] = 2
	want := classifier.Aggregates{Visits: 3, PageViews: 6, Clicks: 2, ScrollSum: 0.5, ScrollCount: 1,
		FirstSeen: t0, LastSeen: t0.Add(3 * time.Hour), Paths: map[string]int64{"/p": 4, "/cart": 1},
		GoalNames: map[string]int64{"buy": 1}}
	want.Hours[3] = 5
	want.Weekdays[2] = 2
	a.Merge(b)
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
	var zero classifier.Aggregates
	zero.Merge(classifier.Aggregates{})
	if diff := cmp.Diff(classifier.Aggregates{}, zero); diff != "" {
		t.Errorf("merging zeros (-want +got):\n%s", diff)
	}
}

func TestBuildSchema(t *testing.T) {
	t.Parallel()
	pop := make([]classifier.Aggregates, 30)
	for i := range pop {
		pop[i].Paths = map[string]int64{"/p": 5, "/cart": 1}
		pop[i].GoalNames = map[string]int64{"buy": 1}
		if i < 5 {
			pop[i].Paths["/rare"] = 100 // many views, too few visitors
		}
	}
	s := classifier.BuildSchema(pop, classifier.SchemaOptions{})
	if diff := cmp.Diff([]string{"/p", "/cart"}, s.Paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"buy"}, s.Goals); diff != "" {
		t.Errorf("goals (-want +got):\n%s", diff)
	}
	// Many distinct paths never take the vector past MaxFeatures.
	for i := range pop {
		for p := range 100 {
			pop[i].Paths[string(rune('a'+p%26))+string(rune('a'+p/26))] = 1
		}
	}
	wide := classifier.BuildSchema(pop, classifier.SchemaOptions{MaxPaths: 1000})
	if n := len(wide.Features); n != classifier.MaxFeatures {
		t.Errorf("%d features with 100 frequent paths, want %d", n, classifier.MaxFeatures)
	}
}

// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
func TestSchemaVector(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	s := classifier.BuildSchema(nil, classifier.SchemaOptions{})
	a := classifier.Aggregates{Visits: 4, PageViews: 12, Clicks: 6, Goals: 2, Bounces: 1, TimeMS: 120000,
		ScrollSum: 3, ScrollCount: 4, FirstSeen: now.Add(-72 * time.Hour), LastSeen: now.Add(-48 * time.Hour),
		ActiveDays: 2, Elements: map[string]int64{"button": 3, "link": 3},
		Channels: map[string]int64{"search": 3, "direct": 1}, Devices: map[string]int64{"mobile": 4}}
	a.Hours[1], a.Hours[13] = 1, 3
	a.Weekdays[0], a.Weekdays[3] = 1, 3
	v := s.Vector(a, now, nil)
	if len(v) != len(s.Features) {
		t.Fatalf("vector has %d values for %d features", len(v), len(s.Features))
	}
	got := map[string]float64{}
	for i, f := range s.Features {
		got[f] = v[i]
	}
	want := map[string]float64{
		"visits": math.Log1p(4), "page_views": math.Log1p(12), "clicks": math.Log1p(6),
		"time_on_site": math.Log1p(120), "pages_per_visit": math.Log1p(3), "bounce_rate": 0.25,
		"recency_days": 2, "frequency": 2, "scroll_depth": 0.75, "goal_rate": 0.5, "clicks_per_page": 0.5,
		"time_per_page": math.Log1p(10), "active_days": math.Log1p(2),
		"element:button": 0.5, "element:link": 0.5, "element:cta": 0,
		"channel:search": 0.75, "channel:direct": 0.25, "device:mobile": 1, "device:desktop": 0,
		"hours:night": 0.25, "hours:afternoon": 0.75, "hours:evening": 0, "weekend": 0.25,
	}
	for f, w := range want {
		if math.Abs(got[f]-w) > 1e-12 {
			t.Errorf("%s = %v, want %v", f, got[f], w)
		}
	}
	// A visitor with nothing yet gives zeros, not NaN.
	for i, x := range s.Vector(classifier.Aggregates{}, now, nil) {
		if x != 0 {
			t.Errorf("empty visitor: %s = %v, want 0", s.Features[i], x)
		}
	}
	if n := testing.AllocsPerRun(100, func() { v = s.Vector(a, now, v) }); n != 0 {
		t.Errorf("Vector into a large enough buffer allocates %v times, want 0", n)
	}
}

func TestFitScaler(t *testing.T) {
	t.Parallel()
	// Columns: 0..8 (median 4, IQR 4), constant, mostly zero (IQR 0: standard deviation).
	var X []float64
	for i := range 9 {
		z := 0.0
		if i == 8 {
			z = 9
		}
		X = append(X, float64(i), 7, z)
	}
	s, err := classifier.FitScaler(X, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := classifier.Scaler{Keep: []int{0, 2}, Center: []float64{4, 0}, Scale: []float64{4 / 1.349, math.Sqrt(8)},
		Clip: classifier.DefaultClip}
	if diff := cmp.Diff(want, s, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); diff != "" {
		t.Errorf("FitScaler (-want +got):\n%s", diff)
	}
	got := s.Transform([]float64{1e6, 7, 0}, nil)
	if diff := cmp.Diff([]float64{classifier.DefaultClip, 0}, got); diff != "" {
		t.Errorf("Transform clips (-want +got):\n%s", diff)
	}
	if _, err := classifier.FitScaler([]float64{1, 2, 1, 2}, 2, 2); !errors.Is(err, classifier.ErrDegenerate) {
		t.Errorf("all constant: error %v, want ErrDegenerate", err)
	}
	if _, err := classifier.FitScaler([]float64{1, math.NaN()}, 2, 1); !errors.Is(err, classifier.ErrInvalidInput) {
		t.Errorf("NaN: error %v, want ErrInvalidInput", err)
	}
}

func TestEvidenceBuckets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		events int64
		want   int
	}{{-3, 0}, {0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 2}, {10, 2}, {11, 3}, {1 << 40, 3}} {
		if got := classifier.Bucket(tt.events); got != tt.want {
			t.Errorf("Bucket(%d) = %d, want %d", tt.events, got, tt.want)
		}
	}
	a := classifier.Aggregates{Visits: 2, PageViews: 5, Clicks: 3, Goals: 1}
	if got := classifier.EvidenceOf(&a).Events; got != 9 {
		t.Errorf("evidence of 5 page views, 3 clicks and a goal: %d events, want 9", got)
	}
	neg := classifier.Aggregates{PageViews: -5, Clicks: 2}
	if got := classifier.EvidenceOf(&neg).Events; got != 2 {
		t.Errorf("negative page views count as %d events with 2 clicks, want 2", got)
	}
}
