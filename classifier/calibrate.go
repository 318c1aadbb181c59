package classifier

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// calibrationViews are the simulated early views of held-out visitors Train fits the outlier
// thresholds and the temperatures on: per evidence bucket, each view's persona log-likelihoods
// (k values), its log density, whether the background took it, and the persona of the full
// history ("right": what the model answers once it has seen everything).
type calibrationViews struct {
	k       int
	ll      [NumBuckets][]float64
	dens    [NumBuckets][]float64
	noise   [NumBuckets][]bool
	right   [NumBuckets][]int
	full    [NumBuckets][]bool // the view is the whole history: a member for the thresholds, not a test of the answer
	members [NumBuckets]int
}

// viewEvents are the histories each held-out visitor is seen at: 1 event, 2 or 3, 4 to 10, and
// from 11 up to all but one of its events (drawn log-uniformly), each only if the visitor has
// more events than that. The full history stands for itself.
func viewEvents(events int64, rng *rand.Rand) []int64 {
	var hs []int64
	for _, h := range []int64{1, 2 + rng.Int64N(2), 4 + rng.Int64N(7)} {
		if h < events {
			hs = append(hs, h)
		}
	}
	if events > ShortHistory+1 {
		lo, hi := math.Log(ShortHistory+1), math.Log(float64(events-1))
		hs = append(hs, int64(math.Round(math.Exp(lo+rng.Float64()*(hi-lo)))))
	}
	return hs
}

// simulateViews scores the views of the held-out visitors under m (background, personas and
// evidence-aware likelihood in place; thresholds and temperatures not needed).
func simulateViews(m *Model, held []Aggregates, now time.Time, seed uint64) *calibrationViews {
	st := m.scoreTerms()
	cv := &calibrationViews{k: m.K}
	rng := newRand(seed, 0x63616c)
	var rawBuf, xBuf [MaxFeatures]float64
	ll := make([]float64, st.comps)
	score := func(a *Aggregates, now time.Time) (ev Evidence, best int, dens float64, noise bool, ok bool) {
		raw := m.Schema.Vector(*a, now, rawBuf[:0])
		for _, v := range raw {
			if !finite(v) {
				return ev, 0, 0, false, false
			}
		}
		x := m.Scaler.Transform(raw, xBuf[:0])
		ev = EvidenceOf(a)
		st.logLik(x, ev, ll)
		best, dens, noise = st.personaDensity(ll)
		return ev, best, dens, noise, true
	}
	add := func(b int, dens float64, noise bool, right int, full bool) {
		cv.full[b] = append(cv.full[b], full)
		cv.ll[b] = append(cv.ll[b], ll[:m.K]...)
		cv.dens[b] = append(cv.dens[b], dens)
		cv.noise[b] = append(cv.noise[b], noise)
		cv.right[b] = append(cv.right[b], right)
	}
	for i := range held {
		a := &held[i]
		ev, best, dens, noise, ok := score(a, now)
		if !ok || noise {
			continue // not a genuine member of any persona: nothing to be right about
		}
		right := best
		add(Bucket(ev.Events), dens, noise, right, true)
		for _, h := range viewEvents(ev.Events, rng) {
			v := thin(a, h, rng)
			at := now // a view is judged at its last event, as classify judges a visitor
			if !v.LastSeen.IsZero() {
				at = v.LastSeen.Add(time.Second)
			}
			vev, _, vd, vn, ok := score(&v, at)
			if ok {
				add(Bucket(vev.Events), vd, vn, right, false)
			}
		}
	}
	for b := range NumBuckets {
		cv.members[b] = len(cv.dens[b])
	}
	return cv
}

// minViews is the fewest views a bucket needs for its own threshold and temperature; a bucket
// with fewer borrows them from the nearest bucket with enough.
const minViews = 30

// thresholds are, per bucket, the 1st percentile of the genuine members' views' log densities.
func (cv *calibrationViews) thresholds(fallback float64) []float64 {
	out := make([]float64, NumBuckets)
	for b := range NumBuckets {
		out[b] = math.NaN()
		if len(cv.dens[b]) >= minViews {
			s := slices.Clone(cv.dens[b])
			slices.Sort(s)
			out[b] = quantile(s, 0.01)
		}
	}
	return borrow(out, fallback)
}

// temperatures fit, per bucket, the temperature that minimises the negative log-likelihood of
// the right persona over the views the background did not take: temperature scaling, one
// parameter, so it cannot overfit and it keeps the ranking (the answer) as it is.
func (cv *calibrationViews) temperatures() []float64 {
	out := make([]float64, NumBuckets)
	p := make([]float64, cv.k)
	for b := range NumBuckets {
		out[b] = math.NaN()
		views := 0
		for v := range cv.right[b] {
			if !cv.noise[b][v] && !cv.full[b][v] {
				views++
			}
		}
		if views < minViews {
			continue
		}
		best, bestNLL := 1.0, math.Inf(1)
		for s := range 121 { // 0.1 … 100, log-spaced
			t := math.Pow(10, -1+float64(s)*3/120)
			var nll float64
			for v, right := range cv.right[b] {
				if cv.noise[b][v] || cv.full[b][v] {
					continue
				}
				temper(cv.ll[b][v*cv.k:(v+1)*cv.k], t, p)
				nll -= math.Log(max(p[right], 1e-300))
			}
			if nll < bestNLL {
				best, bestNLL = t, nll
			}
		}
		out[b] = best
	}
	return borrow(out, 1)
}

// calibrationError is, per bucket, the expected calibration error of the confidence with the
// temperatures: over 10 equal-width bins of confidence, the view-weighted mean |accuracy −
// confidence|. -1 for a bucket without views.
func (cv *calibrationViews) calibrationError(temps []float64) []float64 {
	out := make([]float64, NumBuckets)
	p := make([]float64, cv.k)
	for b := range NumBuckets {
		var conf, hits, cnt [10]float64
		total := 0.0
		for v, right := range cv.right[b] {
			if cv.noise[b][v] || cv.full[b][v] {
				continue
			}
			temper(cv.ll[b][v*cv.k:(v+1)*cv.k], temps[b], p)
			c := argmax(p)
			bin := min(9, int(p[c]*10))
			conf[bin] += p[c]
			cnt[bin]++
			if c == right {
				hits[bin]++
			}
			total++
		}
		if total == 0 {
			out[b] = -1
			continue
		}
		var e float64
		for i := range 10 {
			if cnt[i] > 0 {
				e += math.Abs(hits[i]-conf[i]) / total
			}
		}
		out[b] = e
	}
	return out
}

// borrow fills each NaN with the nearest bucket's value (the higher bucket on ties), or
// fallback when every value is NaN.
func borrow(v []float64, fallback float64) []float64 {
	out := slices.Clone(v)
	for b := range v {
		if !math.IsNaN(v[b]) {
			continue
		}
		out[b] = fallback
		for dist := 1; dist < len(v); dist++ {
			if b+dist < len(v) && !math.IsNaN(v[b+dist]) {
				out[b] = v[b+dist]
				break
			}
			if b-dist >= 0 && !math.IsNaN(v[b-dist]) {
				out[b] = v[b-dist]
				break
			}
		}
	}
	return out
}
