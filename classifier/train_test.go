package classifier_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/classifier"
)

var trainNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// visitorKind draws the aggregates of one kind of visitor.
type visitorKind func(rng *rand.Rand) classifier.Aggregates

// poisson-ish small counts: 1 + a geometric-like draw around mean m.
func count(rng *rand.Rand, m float64) int64 { return 1 + int64(rng.ExpFloat64()*m) }

func seen(rng *rand.Rand, agoDays, spanDays float64) (first, last time.Time) {
	last = trainNow.Add(-time.Duration((agoDays + rng.Float64()) * 24 * float64(time.Hour)))
	first = last.Add(-time.Duration(spanDays * rng.Float64() * 24 * float64(time.Hour)))
	return first, last
}

var visitorKinds = []visitorKind{
	// bouncer: one page from search on a phone, gone
	func(rng *rand.Rand) classifier.Aggregates {
		first, last := seen(rng, 20, 0)
		a := classifier.Aggregates{Visits: 1, PageViews: 1, Bounces: 1, TimeMS: int64(2000 + rng.IntN(8000)),
			ScrollSum: 0.1 + 0.2*rng.Float64(), ScrollCount: 1, FirstSeen: first, LastSeen: last, ActiveDays: 1,
			Paths: map[string]int64{"/blog/:slug": 1}, Channels: map[string]int64{"search": 1},
			Devices: map[string]int64{"mobile": 1}}
		a.Hours[20+rng.IntN(4)] = 1
		a.Weekdays[rng.IntN(7)] = 1
		return a
	},
	// buyer: a few visits, product pages, cart, checkout, purchases, desktop, direct
	func(rng *rand.Rand) classifier.Aggregates {
		v := count(rng, 2)
		pv := v * count(rng, 8)
		first, last := seen(rng, 2, 10)
		a := classifier.Aggregates{Visits: v, PageViews: pv, Clicks: pv + count(rng, 5), Goals: count(rng, 1),
			TimeMS: pv * int64(20000+rng.IntN(20000)), ScrollSum: float64(pv) * (0.5 + 0.2*rng.Float64()), ScrollCount: pv,
			FirstSeen: first, LastSeen: last, ActiveDays: v,
			Paths:    map[string]int64{"/p/:id": pv / 2, "/cart": pv / 4, "/checkout": pv - pv/2 - pv/4},
			Elements: map[string]int64{"button": pv, "cta": count(rng, 3)},
			Channels: map[string]int64{"direct": v}, Devices: map[string]int64{"desktop": v},
			GoalNames: map[string]int64{"purchase": 1, "add_to_cart": count(rng, 2)}}
		a.Hours[12+rng.IntN(6)] = pv
		a.Weekdays[1+rng.IntN(5)] = pv
		return a
	},
	// researcher: long reads of docs and blog from referrals, deep scrolls, no goals
	func(rng *rand.Rand) classifier.Aggregates {
		v := count(rng, 3)
		pv := v * count(rng, 4)
		first, last := seen(rng, 5, 30)
		a := classifier.Aggregates{Visits: v, PageViews: pv, Clicks: count(rng, 2),
			TimeMS: pv * int64(120000+rng.IntN(120000)), ScrollSum: float64(pv) * (0.8 + 0.2*rng.Float64()), ScrollCount: pv,
			FirstSeen: first, LastSeen: last, ActiveDays: v,
			Paths:    map[string]int64{"/docs/:slug": pv - pv/3, "/blog/:slug": pv / 3},
			Elements: map[string]int64{"link": 2}, Channels: map[string]int64{"referral": v},
			Devices: map[string]int64{"desktop": v}}
		a.Hours[6+rng.IntN(6)] = pv
		a.Weekdays[1+rng.IntN(5)] = pv
		return a
	},
	// loyal reader: many short visits from newsletters, every few days, weekends, tablet
	func(rng *rand.Rand) classifier.Aggregates {
		v := 10 + count(rng, 10)
		pv := v * 2
		first, last := seen(rng, 0, 90)
		a := classifier.Aggregates{Visits: v, PageViews: pv, Clicks: v,
			TimeMS: pv * int64(30000+rng.IntN(10000)), ScrollSum: float64(pv) * 0.6, ScrollCount: pv,
			FirstSeen: first, LastSeen: last, ActiveDays: v - 2,
			Paths:    map[string]int64{"/": v, "/news/:slug": v},
			Elements: map[string]int64{"nav": v}, Channels: map[string]int64{"email": v - 1, "direct": 1},
			Devices: map[string]int64{"tablet": v}, GoalNames: map[string]int64{"newsletter": 1}, Goals: 1}
		a.Hours[7] = pv
		a.Weekdays[0] = pv / 2
		a.Weekdays[6] = pv - pv/2
		return a
	},
}

// population draws per[k] visitors of kind k, interleaved, and their kinds.
func population(seed uint64, per []int) ([]classifier.Aggregates, []int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	var pop []classifier.Aggregates
	var kinds []int
	left := slices.Clone(per)
	for {
		progressed := false
		for k := range left {
			if left[k] > 0 {
				pop = append(pop, visitorKinds[k](rng))
				kinds = append(kinds, k)
				left[k]--
				progressed = true
			}
		}
		if !progressed {
			return pop, kinds
		}
	}
}

func TestTrainFindsPersonas(t *testing.T) {
	t.Parallel()
	pop, kinds := population(1, []int{400, 300, 200, 150})
	res, err := classifier.Train(pop, trainNow, classifier.TrainOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	if _, err := json.Marshal(m.Metrics); err != nil { // the training job stores them as JSON
		t.Errorf("metrics do not encode as JSON: %v (%+v)", err, m.Metrics)
	}
	if m.K != 4 {
		t.Errorf("k=%d, want 4 (scores %+v)", m.K, m.Metrics.KScores)
	}
	if ari := classifier.AdjustedRandIndex(kinds, res.Labels); ari < 0.95 {
		t.Errorf("adjusted Rand index with the visitor kinds %.3f, want ≥ 0.95", ari)
	}
	if len(m.Schema.Features) > classifier.MaxFeatures {
		t.Errorf("%d features, want ≤ %d", len(m.Schema.Features), classifier.MaxFeatures)
	}
	total := 0
	for j, p := range m.Personas {
		total += p.Size
		if p.Size != m.Sizes[j] || p.Size < 50 {
			t.Errorf("persona %d: size %d (model says %d), want ≥ 50", j, p.Size, m.Sizes[j])
		}
		if !slices.IsSortedFunc(p.Traits, func(a, b classifier.Trait) int { return cmpAbs(b.Z, a.Z) }) {
			t.Errorf("persona %d: traits not by decreasing |Z|", j)
		}
		for name, sh := range map[string][]classifier.Share{"channels": p.Channels, "devices": p.Devices, "hours": p.Hours} {
			var s float64
			for _, x := range sh {
				s += x.Share
			}
			if math.Abs(s-1) > 1e-9 {
				t.Errorf("persona %d: %s shares sum to %v, want 1", j, name, s)
			}
		}
	}
	if total != len(pop) {
		t.Errorf("persona sizes add up to %d, want %d", total, len(pop))
	}
	// The buyers' persona is the one where purchases are common, and it says so.
	buyers := res.Labels[1] // visitor 1 is a buyer
	p := m.Personas[buyers]
	if p.Goals[0].Key != "any" || p.Goals[0].Share != 1 {
		t.Errorf("buyers' goals %+v, want any = 1 first", p.Goals)
	}
	if p.Devices[0] != (classifier.Share{Key: "desktop", Share: 1}) {
		t.Errorf("buyers' devices %+v, want desktop = 1 first", p.Devices)
	}
}

func cmpAbs(a, b float64) int {
	switch {
	case math.Abs(a) < math.Abs(b):
		return -1
	case math.Abs(a) > math.Abs(b):
		return 1
	}
	return 0
}

func TestTrainKeepsPersonasAcrossVersions(t *testing.T) {
	t.Parallel()
	pop, _ := population(2, []int{300, 300, 200, 150})
	first, err := classifier.Train(pop, trainNow, classifier.TrainOptions{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	identity := make([]int, first.Model.K)
	ones := make([]float64, first.Model.K)
	for j := range identity {
		identity[j], ones[j] = j, 1
	}
	tests := []struct {
		name string
		opts classifier.TrainOptions
	}{
		{"previous labels", classifier.TrainOptions{Seed: 4, Prev: first.Model, PrevLabels: first.Labels}},
		{"labels only", classifier.TrainOptions{Seed: 4, PrevLabels: first.Labels}},
		{"previous model classifies", classifier.TrainOptions{Seed: 4, Prev: first.Model}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			again, err := classifier.Train(pop, trainNow, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(identity, again.Match); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ones, again.Stability); diff != "" {
				t.Errorf("stability (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("first version", func(t *testing.T) {
		for j := range first.Model.K {
			if first.Match[j] != -1 || first.Stability[j] != -1 || first.Drift[j] != -1 {
				t.Errorf("cluster %d: match %d stability %v drift %v, want -1 each", j, first.Match[j], first.Stability[j], first.Drift[j])
			}
		}
	})
}

func TestTrainRefusesBadData(t *testing.T) {
	t.Parallel()
	pop, _ := population(3, []int{100, 100, 100, 100})
	same := make([]classifier.Aggregates, 200)
	for i := range same {
		same[i] = pop[1] // every feature constant
	}
	nan := slices.Clone(pop)
	nan[7].ScrollSum = math.NaN()
	inf := slices.Clone(pop)
	inf[9].ScrollSum = math.Inf(1)
	tests := []struct {
		name string
		pop  []classifier.Aggregates
		opts classifier.TrainOptions
		want error
	}{
		{"nobody", nil, classifier.TrainOptions{}, classifier.ErrTooLittleData},
		{"fewer than two minimum clusters", pop[:99], classifier.TrainOptions{}, classifier.ErrTooLittleData},
		{"fewer than two clusters of a larger minimum", pop, classifier.TrainOptions{MinClusterSize: 201}, classifier.ErrTooLittleData},
		{"zero aggregates", make([]classifier.Aggregates, 150), classifier.TrainOptions{}, classifier.ErrDegenerate},
		{"constant features", same, classifier.TrainOptions{}, classifier.ErrDegenerate},
		{"NaN", nan, classifier.TrainOptions{}, classifier.ErrInvalidInput},
		{"Inf", inf, classifier.TrainOptions{}, classifier.ErrInvalidInput},
		{"previous labels of another population", pop, classifier.TrainOptions{PrevLabels: []int{0, 1}}, classifier.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := classifier.Train(tt.pop, trainNow, tt.opts)
			if !errors.Is(err, tt.want) || res != nil {
				t.Errorf("Train: result %v, error %v; want no result and %v", res, err, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	pop, _ := population(5, []int{300, 300, 200, 150})
	res, err := classifier.Train(pop, trainNow, classifier.TrainOptions{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	outliers := 0
	for i, a := range pop {
		got := m.Classify(a, trainNow)
		if got.Cluster != res.Labels[i] {
			t.Fatalf("visitor %d classified %d, trained as %d", i, got.Cluster, res.Labels[i])
		}
		var s float64
		for _, p := range got.Probabilities {
			s += p
		}
		if math.Abs(s-1) > 1e-9 || got.Confidence != slices.Max(got.Probabilities) {
			t.Fatalf("visitor %d: probabilities %v sum to %v, confidence %v", i, got.Probabilities, s, got.Confidence)
		}
		if got.Outlier {
			outliers++
		}
	}
	if share := float64(outliers) / float64(len(pop)); share > 0.011 {
		t.Errorf("%.3f of training visitors are outliers, want about 0.01", share)
	}
	odd := pop[1]
	odd.Visits, odd.PageViews, odd.TimeMS = 5000, 90000, 1e12
	if got := m.Classify(odd, trainNow); !got.Outlier {
		t.Errorf("a visitor with 5000 visits is not an outlier: %+v", got)
	}
	bad := pop[1]
	bad.ScrollSum = math.NaN()
	if got := m.Classify(bad, trainNow); got.Cluster != -1 || !got.Outlier {
		t.Errorf("a NaN visitor gave %+v, want cluster -1 and outlier", got)
	}
	// A visitor's unsent events merged in move it along, without crashing on empty maps.
	var fresh classifier.Aggregates
	fresh.Merge(pop[0])
	if got := m.Classify(fresh, trainNow); got.Cluster != res.Labels[0] {
		t.Errorf("merged copy of visitor 0 classified %d, want %d", got.Cluster, res.Labels[0])
	}
}

func TestClassifyConcurrently(t *testing.T) {
	t.Parallel()
	m, err := trainedModel()
	if err != nil {
		t.Fatal(err)
	}
	m = cloneModel(t, m) // a fresh model: the first Classify calls race to build its cache
	pop, _ := population(12, []int{20, 20, 20, 20})
	want := make([]int, len(pop))
	for i, a := range pop {
		want[i] = cloneModel(t, m).Classify(a, trainNow).Cluster
	}
	var wg sync.WaitGroup
	got := make([][]int, 4)
	for g := range got {
		got[g] = make([]int, len(pop))
		wg.Go(func() {
			for i, a := range pop {
				got[g][i] = m.Classify(a, trainNow).Cluster
			}
		})
	}
	wg.Wait()
	for g := range got {
		if diff := cmp.Diff(want, got[g]); diff != "" {
			t.Errorf("goroutine %d (-want +got):\n%s", g, diff)
		}
	}
}
