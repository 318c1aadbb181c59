package classifier_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"personas/classifier"
)

// The ground truth of the clustering: visitors of five overlapping behaviours of unequal sizes
// (50/25/12/8/5 %) plus 5 % noise, simulated event by event, so that a prefix of a visitor's
// events is what the service would have seen of it at that point.

// behaviour is a kind of visitor: the distributions its visits are drawn from.
type behaviour struct {
	visits       float64            // mean visits (1 + geometric)
	pages        float64            // mean page views per visit (1 + geometric)
	paths        map[string]float64 // page view path group weights
	clickProb    float64            // chance of a click after a page view
	elements     map[string]float64 // clicked element category weights
	goalProb     float64            // chance of a goal at the end of a visit
	goals        map[string]float64 // goal name weights
	channels     map[string]float64 // channel weights per visit
	devices      map[string]float64 // device of the visitor
	hourFrom     int                // visits start in hourFrom .. hourFrom+hourSpan-1
	hourSpan     int
	weekend      float64 // chance a visit falls on a weekend
	secondsPage  float64 // mean seconds per page (log-normal)
	scroll       float64 // mean scroll depth
	daysBetween  float64 // mean days between visits
	lastSeenDays float64 // mean days since the last visit
}

var behaviours = []behaviour{
	{ // 50 %: casual readers from search, on phones, in the evening
		visits: 1.2, pages: 1.8, paths: map[string]float64{"/blog/:slug": 5, "/": 2, "/p/:id": 1, "/docs/:slug": 0.5},
		clickProb: 0.15, elements: map[string]float64{"link": 3, "nav": 1}, goalProb: 0.02, goals: map[string]float64{"newsletter": 1},
		channels: map[string]float64{"search": 6, "social": 2, "direct": 1}, devices: map[string]float64{"mobile": 7, "desktop": 3},
		hourFrom: 17, hourSpan: 6, weekend: 0.35, secondsPage: 40, scroll: 0.4, daysBetween: 6, lastSeenDays: 12,
	},
	{ // 25 %: shoppers, product pages and cart, buttons, add to cart, direct and campaigns, desktop, afternoons
		visits: 2.5, pages: 6, paths: map[string]float64{"/p/:id": 6, "/cart": 2, "/": 1, "/checkout": 1, "/blog/:slug": 0.5},
		clickProb: 0.6, elements: map[string]float64{"button": 4, "cta": 1, "link": 1}, goalProb: 0.4,
		goals: map[string]float64{"add_to_cart": 3, "purchase": 1}, channels: map[string]float64{"direct": 3, "campaign": 2, "search": 1},
		devices: map[string]float64{"desktop": 7, "mobile": 3}, hourFrom: 12, hourSpan: 7, weekend: 0.3, secondsPage: 30,
		scroll: 0.6, daysBetween: 3, lastSeenDays: 5,
	},
	{ // 12 %: researchers, docs and blog, long reads, referrals, desktop, mornings
		visits: 3, pages: 4, paths: map[string]float64{"/docs/:slug": 6, "/blog/:slug": 2, "/": 1},
		clickProb: 0.2, elements: map[string]float64{"link": 3, "nav": 1}, goalProb: 0.05, goals: map[string]float64{"signup": 1},
		channels: map[string]float64{"referral": 4, "search": 2, "direct": 1}, devices: map[string]float64{"desktop": 9, "mobile": 1},
		hourFrom: 8, hourSpan: 5, weekend: 0.1, secondsPage: 180, scroll: 0.85, daysBetween: 5, lastSeenDays: 8,
	},
	{ // 8 %: loyal newsletter readers, many short visits, home and news, tablets, weekends
		visits: 9, pages: 2, paths: map[string]float64{"/": 3, "/news/:slug": 4, "/blog/:slug": 1},
		clickProb: 0.3, elements: map[string]float64{"nav": 3, "link": 1}, goalProb: 0.03, goals: map[string]float64{"newsletter": 1},
		channels: map[string]float64{"email": 6, "direct": 2}, devices: map[string]float64{"tablet": 6, "mobile": 3, "desktop": 1},
		hourFrom: 6, hourSpan: 4, weekend: 0.6, secondsPage: 50, scroll: 0.6, daysBetween: 2, lastSeenDays: 2,
	},
	{ // 5 %: support seekers, help and contact pages, forms, direct, desktop
		visits: 1.5, pages: 3, paths: map[string]float64{"/help/:slug": 5, "/contact": 2, "/": 1},
		clickProb: 0.5, elements: map[string]float64{"form": 4, "button": 1}, goalProb: 0.5, goals: map[string]float64{"contact": 1},
		channels: map[string]float64{"direct": 4, "search": 2}, devices: map[string]float64{"desktop": 6, "mobile": 4},
		hourFrom: 9, hourSpan: 9, weekend: 0.15, secondsPage: 60, scroll: 0.5, daysBetween: 4, lastSeenDays: 6,
	},
}

// gtShares are the behaviours' shares of the groups' visitors; gtNoise of all visitors are noise.
var gtShares = []float64{0.50, 0.25, 0.12, 0.08, 0.05}

const gtNoise = 0.05

// noiseBehaviour draws a behaviour of a noise visitor: every distribution flat over everything.
func noiseBehaviour(rng *rand.Rand) behaviour {
	flat := func(keys ...string) map[string]float64 {
		m := map[string]float64{}
		for _, k := range keys {
			m[k] = rng.Float64()
		}
		return m
	}
	return behaviour{
		visits: 1 + rng.Float64()*8, pages: 1 + rng.Float64()*8,
		paths:     flat("/blog/:slug", "/", "/p/:id", "/docs/:slug", "/cart", "/checkout", "/news/:slug", "/help/:slug", "/contact", "/about"),
		clickProb: rng.Float64(), elements: flat("button", "link", "nav", "cta", "form", "media", "other"),
		goalProb: rng.Float64() * 0.5, goals: flat("newsletter", "add_to_cart", "purchase", "signup", "contact"),
		channels: flat("direct", "search", "social", "referral", "email", "campaign"),
		devices:  flat("desktop", "mobile", "tablet", "other"), hourFrom: rng.IntN(24), hourSpan: 1 + rng.IntN(24),
		weekend: rng.Float64(), secondsPage: 5 + rng.Float64()*300, scroll: rng.Float64(), daysBetween: 0.5 + rng.Float64()*10,
		lastSeenDays: rng.Float64() * 30,
	}
}

// gtEvent is one event of a simulated visitor, in order.
type gtEvent struct {
	kind    byte // 'p' page view, 'c' click, 'g' goal
	at      time.Time
	visit   int
	channel string
	device  string
	key     string // path, element category or goal name
	seconds float64
	scroll  float64
}

func pickKey(rng *rand.Rand, w map[string]float64) string {
	keys := make([]string, 0, len(w))
	var total float64
	for k, v := range w {
		keys = append(keys, k)
		total += v
	}
	slices.Sort(keys)
	r := rng.Float64() * total
	for _, k := range keys {
		if r -= w[k]; r < 0 {
			return k
		}
	}
	return keys[len(keys)-1]
}

func geometric(rng *rand.Rand, mean float64) int {
	// 1 + a geometric count with mean mean-1
	if mean <= 1 {
		return 1
	}
	p := 1 / mean
	return 1 + int(math.Floor(math.Log(1-rng.Float64())/math.Log(1-p)))
}

// simulate draws the events of one visitor of behaviour b.
func simulate(rng *rand.Rand, b behaviour) []gtEvent {
	visits := geometric(rng, b.visits)
	device := pickKey(rng, b.devices)
	// Visits go back from the last one, lastSeenDays (exponential) before trainNow.
	day := -(1 + rng.ExpFloat64()*b.lastSeenDays)
	days := make([]float64, visits)
	for v := visits - 1; v >= 0; v-- {
		days[v] = day
		day -= 0.2 + rng.ExpFloat64()*b.daysBetween
	}
	var ev []gtEvent
	for v := range visits {
		start := trainNow.Add(time.Duration(days[v] * 24 * float64(time.Hour))).Truncate(24 * time.Hour)
		weekend := rng.Float64() < b.weekend
		for (start.Weekday() == time.Saturday || start.Weekday() == time.Sunday) != weekend {
			start = start.Add(-24 * time.Hour)
		}
		at := start.Add(time.Duration(b.hourFrom+rng.IntN(b.hourSpan))%24*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		channel := pickKey(rng, b.channels)
		pages := geometric(rng, b.pages)
		for range pages {
			secs := b.secondsPage * math.Exp(rng.NormFloat64()*0.6-0.18)
			scroll := min(1, max(0, b.scroll+rng.NormFloat64()*0.15))
			ev = append(ev, gtEvent{kind: 'p', at: at, visit: v, channel: channel, device: device, key: pickKey(rng, b.paths), seconds: secs, scroll: scroll})
			if rng.Float64() < b.clickProb {
				ev = append(ev, gtEvent{kind: 'c', at: at.Add(time.Second), visit: v, channel: channel, device: device, key: pickKey(rng, b.elements)})
			}
			at = at.Add(time.Duration(secs * float64(time.Second)))
		}
		if rng.Float64() < b.goalProb {
			ev = append(ev, gtEvent{kind: 'g', at: at, visit: v, channel: channel, device: device, key: pickKey(rng, b.goals)})
		}
	}
	return ev
}

// aggregate folds the first h events (all with h < 0) into a visitor's aggregates, as the
// service's running totals would be after them.
func aggregate(ev []gtEvent, h int) classifier.Aggregates {
	if h < 0 || h > len(ev) {
		h = len(ev)
	}
	a := classifier.Aggregates{Paths: map[string]int64{}, Elements: map[string]int64{}, Channels: map[string]int64{},
		Devices: map[string]int64{}, GoalNames: map[string]int64{}}
	type visitStat struct{ pages, clicks int }
	visits := map[int]*visitStat{}
	days := map[string]bool{}
	for _, e := range ev[:h] {
		vs := visits[e.visit]
		if vs == nil {
			vs = &visitStat{}
			visits[e.visit] = vs
			a.Visits++
			a.Channels[e.channel]++
			a.Devices[e.device]++
		}
		if a.FirstSeen.IsZero() || e.at.Before(a.FirstSeen) {
			a.FirstSeen = e.at
		}
		if e.at.After(a.LastSeen) {
			a.LastSeen = e.at
		}
		days[e.at.Format(time.DateOnly)] = true
		a.Hours[e.at.Hour()]++
		a.Weekdays[e.at.Weekday()]++
		switch e.kind {
		case 'p':
			vs.pages++
			a.PageViews++
			a.Paths[e.key]++
			a.TimeMS += int64(e.seconds * 1000)
			a.ScrollSum += e.scroll
			a.ScrollCount++
		case 'c':
			vs.clicks++
			a.Clicks++
			a.Elements[e.key]++
		case 'g':
			a.Goals++
			a.GoalNames[e.key]++
		}
	}
	for _, vs := range visits {
		if vs.pages == 1 && vs.clicks == 0 {
			a.Bounces++
		}
	}
	a.ActiveDays = int64(len(days))
	return a
}

// groundTruth draws n visitors: their event streams and behaviours (-1: noise), interleaved.
func groundTruth(seed uint64, n int) ([][]gtEvent, []int) {
	rng := rand.New(rand.NewPCG(seed, 0x6774))
	events := make([][]gtEvent, n)
	truth := make([]int, n)
	for i := range n {
		r, kind := rng.Float64(), -1
		if r >= gtNoise {
			r = (r - gtNoise) / (1 - gtNoise)
			kind = len(gtShares) - 1
			for k, s := range gtShares {
				if r -= s; r < 0 {
					kind = k
					break
				}
			}
		}
		b := noiseBehaviour(rng)
		if kind >= 0 {
			b = behaviours[kind]
		}
		events[i], truth[i] = simulate(rng, b), kind
	}
	return events, truth
}

const gtVisitors = 4000

// gtSeeds is how many of a ground-truth test's seeds it trains: all of them in the plain build,
// race of them in the race detector's. These tests are about numbers, not concurrency, and a
// training of 4,000 visitors takes ten times longer under -race (about 100 s on the 2-core
// machine): the race build still runs every code path of the training, on fewer seeds, with the
// same assertions, and make test runs these tests once more without -race, on every seed.
func gtSeeds(all, race int) int {
	if raceBuild {
		return race
	}
	return all
}

type gtRun struct {
	events [][]gtEvent
	truth  []int
	pop    []classifier.Aggregates
	res    *classifier.Result
}

func trainGroundTruth(t *testing.T, dataSeed, trainSeed uint64) gtRun {
	t.Helper()
	events, truth := groundTruth(dataSeed, gtVisitors)
	pop := make([]classifier.Aggregates, len(events))
	for i, ev := range events {
		pop[i] = aggregate(ev, -1)
	}
	res, err := classifier.Train(pop, trainNow, classifier.TrainOptions{Seed: trainSeed})
	if err != nil {
		t.Fatalf("data seed %d, training seed %d: %v", dataSeed, trainSeed, err)
	}
	return gtRun{events: events, truth: truth, pop: pop, res: res}
}

// ariGroups is the adjusted Rand index of the labels with the behaviours over the visitors of a
// behaviour (noise visitors left out); a visitor the model calls noise keeps -1 as its own label.
func ariGroups(r gtRun) float64 {
	var a, b []int
	for i, k := range r.truth {
		if k >= 0 {
			a = append(a, k)
			b = append(b, r.res.Labels[i])
		}
	}
	return classifier.AdjustedRandIndex(a, b)
}

// TestGroundTruthClusters trains each data seed in a parallel subtest (a training of 4,000
// visitors is most of this package's time under -race) and checks the mean ARI once all are in.
func TestGroundTruthClusters(t *testing.T) {
	t.Parallel()
	aris := make([]float64, gtSeeds(5, 2))
	t.Run("seeds", func(t *testing.T) {
		for i := range aris {
			seed := uint64(i + 1)
			t.Run(fmt.Sprintf("data_seed_%d", seed), func(t *testing.T) {
				t.Parallel()
				aris[i] = groundTruthClusters(t, seed)
			})
		}
	})
	if t.Failed() {
		return // a seed failed: the mean of the rest says nothing more
	}
	var mean float64
	for _, a := range aris {
		mean += a / float64(len(aris))
	}
	if mean < 0.90 {
		t.Errorf("mean ARI %.3f over the data seeds (%v), want ≥ 0.90", mean, aris)
	}
}

// groundTruthClusters trains on data seed seed, checks k, ARI, noise and outliers, and
// returns the ARI.
func groundTruthClusters(t *testing.T, seed uint64) float64 {
	r := trainGroundTruth(t, seed, seed)
	m := r.res.Model
	ari := ariGroups(r)
	t.Logf("data seed %d: k=%d, ARI %.3f, sizes %v, noise %.3f", seed, m.K, ari, m.Sizes, m.Metrics.Noise)
	if m.K < 4 || m.K > 6 {
		t.Errorf("data seed %d: k=%d, want 5 ± 1 (scores %+v)", seed, m.K, m.Metrics.KScores)
	}
	if ari < 0.85 {
		t.Errorf("data seed %d: ARI %.3f, want ≥ 0.85", seed, ari)
	}
	// Noise is the background's, never a persona: most noise visitors are labelled -1, and
	// the personas' sizes count members only.
	noise, caught, labelled := 0, 0, 0
	for i, k := range r.truth {
		if r.res.Labels[i] < 0 {
			labelled++
		}
		if k < 0 {
			noise++
			if r.res.Labels[i] < 0 {
				caught++
			}
		}
	}
	if share := float64(caught) / float64(noise); share < 0.8 {
		t.Errorf("data seed %d: %.3f of the noise visitors labelled -1, want ≥ 0.8", seed, share)
	}
	sum := 0
	for _, sz := range m.Sizes {
		sum += sz
	}
	if sum+labelled != len(r.pop) {
		t.Errorf("data seed %d: persona sizes add up to %d with %d noise, want %d", seed, sum, labelled, len(r.pop))
	}
	// Genuine members are not outliers.
	members, outliers := 0, 0
	for i, k := range r.truth {
		if k < 0 {
			continue
		}
		members++
		if m.Classify(r.pop[i], trainNow).Outlier {
			outliers++
		}
	}
	share := float64(outliers) / float64(members)
	t.Logf("data seed %d: %.3f of the groups' visitors outliers, %.3f of the noise labelled -1", seed, share, float64(caught)/float64(noise))
	if share > 0.05 {
		t.Errorf("data seed %d: %.3f of the groups' visitors are outliers, want ≤ 0.05", seed, share)
	}
	return ari
}

func TestGroundTruthKIsTheData(t *testing.T) {
	t.Parallel()
	ks := make([]int, gtSeeds(5, 3))
	t.Run("seeds", func(t *testing.T) {
		for i := range ks {
			trainSeed := uint64(i+1) * 7919
			t.Run(fmt.Sprintf("train_seed_%d", trainSeed), func(t *testing.T) {
				t.Parallel()
				ks[i] = trainGroundTruth(t, 7, trainSeed).res.Model.K
			})
		}
	})
	if t.Failed() {
		return
	}
	t.Logf("k per training seed on data seed 7: %v", ks)
	for _, k := range ks {
		if k != ks[0] {
			t.Fatalf("k per training seed on the same data: %v, want one k", ks)
		}
	}
	if ks[0] < 4 || ks[0] > 6 {
		t.Errorf("k=%d on every seed, want 5 ± 1", ks[0])
	}
}

// earlyAnswers classifies the first h events of every visitor of a behaviour that has more than
// h events: the share answered ok (not outlier), the share of those that agree with the persona
// of its full history, and the confidence and correctness of each ok answer.
func earlyAnswers(r gtRun, h int) (ok, agree float64, conf []float64, right []bool) {
	m := r.res.Model
	asked, oks, agrees := 0, 0, 0
	for i, k := range r.truth {
		if k < 0 || len(r.events[i]) <= h {
			continue
		}
		full := m.Classify(r.pop[i], trainNow)
		if full.Outlier {
			continue // a visitor the model does not place has no persona to agree with
		}
		pre := aggregate(r.events[i], h)
		got := m.Classify(pre, pre.LastSeen.Add(time.Minute))
		asked++
		if got.Outlier {
			continue
		}
		oks++
		hit := got.Cluster == full.Cluster
		if hit {
			agrees++
		}
		conf = append(conf, got.Confidence)
		right = append(right, hit)
	}
	return float64(oks) / float64(asked), float64(agrees) / float64(max(1, oks)), conf, right
}

// ece is the expected calibration error over 10 equal-width confidence bins.
func ece(conf []float64, right []bool) float64 {
	var c, hits, cnt [10]float64
	for i, p := range conf {
		b := min(9, int(p*10))
		c[b] += p
		cnt[b]++
		if right[i] {
			hits[b]++
		}
	}
	var e float64
	for b := range 10 {
		e += math.Abs(hits[b]-c[b]) / float64(len(conf))
	}
	return e
}

func TestGroundTruthEarlyAnswers(t *testing.T) {
	t.Parallel()
	want := map[int][2]float64{3: {0.60, 0.70}, 10: {0.85, 0.90}} // ok share, agreement
	type answers struct {
		conf  []float64
		right []bool
	}
	perSeed := make([]answers, gtSeeds(3, 1))
	t.Run("seeds", func(t *testing.T) {
		for i := range perSeed {
			seed := uint64(i + 1)
			t.Run(fmt.Sprintf("data_seed_%d", seed+10), func(t *testing.T) {
				t.Parallel()
				r := trainGroundTruth(t, seed+10, seed)
				for _, h := range []int{1, 3, 10} {
					ok, agree, conf, right := earlyAnswers(r, h)
					e := ece(conf, right)
					t.Logf("data seed %d, %2d events: ok %.3f, agree %.3f, ECE %.3f", seed+10, h, ok, agree, e)
					perSeed[i].conf, perSeed[i].right = append(perSeed[i].conf, conf...), append(perSeed[i].right, right...)
					if w, ok2 := want[h]; ok2 {
						if ok < w[0] || agree < w[1] {
							t.Errorf("data seed %d, %d events: %.3f ok with %.3f agreement, want ≥ %.2f and ≥ %.2f", seed+10, h, ok, agree, w[0], w[1])
						}
					}
					if e > 0.10 {
						t.Errorf("data seed %d, %d events: expected calibration error %.3f, want ≤ 0.10", seed+10, h, e)
					}
				}
			})
		}
	})
	var allConf []float64
	var allRight []bool
	for _, a := range perSeed {
		allConf, allRight = append(allConf, a.conf...), append(allRight, a.right...)
	}
	if e := ece(allConf, allRight); e > 0.10 {
		t.Errorf("expected calibration error over every early answer %.3f, want ≤ 0.10", e)
	}
}
