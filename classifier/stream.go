package classifier

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Source streams a population to TrainSource: each call passes every visitor to yield, in the
// same order every time, and returns the first error yield returns (or its own). yield reads the
// *Aggregates only during the call, so a source may reuse one value and its maps for every
// visitor.
type Source func(yield func(*Aggregates) error) error

// SliceSource is the Source of a population held in memory.
func SliceSource(pop []Aggregates) Source {
	return func(yield func(*Aggregates) error) error {
		for i := range pop {
			if err := yield(&pop[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// IndexedSource streams a population in any order: each call passes every visitor to yield once,
// with its position i in the population (0 ≤ i < n), so that a database can give its rows in
// physical order while the model still sees them in one fixed order. yield reads the *Aggregates
// only during the call.
type IndexedSource func(yield func(i int, a *Aggregates) error) error

// TrainSource is Train over a population it reads three times instead of holding it, so that a
// project of a million visitors trains in the memory of its feature matrix (n × features
// float64) plus the clustering's samples, whatever the size of the visitors' maps:
//
//  1. count the visitors and the path groups and goal names of the vocabulary (BuildSchema);
//  2. fill the raw matrix row by row (and, with Prev but no PrevLabels, classify each visitor
//     with the previous model), then scale it in place;
//  3. after clustering and matching, add each visitor to its persona's aggregates.
//
// The model, labels and matches are exactly Train's. The source must give the same visitors in
// the same order on every pass: a pass that sees another number of visitors fails with
// ErrInvalidInput. Errors of the source are returned wrapped.
func TrainSource(src Source, now time.Time, opts TrainOptions) (*Result, error) {
	return trainPasses(-1, func(yield func(int, *Aggregates) error) error {
		i := 0
		return src(func(a *Aggregates) error {
			i++
			return yield(i-1, a)
		})
	}, now, opts)
}

// TrainIndexed is TrainSource over a source of n visitors that gives them in any order, each with
// its position: row i of the model's matrix (and Labels[i], PrevLabels[i]) is the visitor given
// as i, wherever it comes in a pass. Every pass must give each position exactly once, or the
// training fails with ErrInvalidInput. The model, labels and matches are Train's over the
// population in position order, except that the personas' trait means and population means are
// sums taken in the order of the passes, so they may differ from Train's in the last bits.
func TrainIndexed(n int, src IndexedSource, now time.Time, opts TrainOptions) (*Result, error) {
	if n < 0 {
		return nil, fmt.Errorf("train: %w: %d visitors", ErrInvalidInput, n)
	}
	return trainPasses(n, src, now, opts)
}

// readPass reads src once, checking that it gives each of the n visitors exactly once (n < 0:
// the first pass of a sequential source, whose positions count its visitors), and returns how
// many it gave.
func readPass(src IndexedSource, n int, fn func(i int, a *Aggregates) error) (int, error) {
	var seen []uint64
	if n >= 0 {
		seen = make([]uint64, (n+63)/64)
	}
	count := 0
	err := src(func(i int, a *Aggregates) error {
		if n < 0 {
			if i != count {
				return errPassLength
			}
		} else {
			if i < 0 || i >= n || seen[i/64]&(1<<(i%64)) != 0 {
				return errPassLength
			}
			seen[i/64] |= 1 << (i % 64)
		}
		count++
		return fn(i, a)
	})
	if err == nil && n >= 0 && count != n {
		err = errPassLength
	}
	return count, err
}

func trainPasses(n int, src IndexedSource, now time.Time, opts TrainOptions) (*Result, error) {
	co := opts.clusterOptions().withDefaults()

	// Pass 1: visitors and vocabulary.
	var vc vocabCounter
	seen, err := readPass(src, n, func(_ int, a *Aggregates) error {
		vc.add(a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("train: read visitors (vocabulary): %w", passError(err, max(n, 0), seen))
	}
	n = seen
	if n < 2*co.MinClusterSize {
		return nil, fmt.Errorf("train: %w: %d visitors, need at least %d (two personas of %d)",
			ErrTooLittleData, n, 2*co.MinClusterSize, co.MinClusterSize)
	}
	if opts.PrevLabels != nil && len(opts.PrevLabels) != n {
		return nil, fmt.Errorf("train: %w: %d previous labels for %d visitors", ErrInvalidInput, len(opts.PrevLabels), n)
	}
	schema := vc.schema(opts.Schema)
	vc = vocabCounter{}
	f := len(schema.Features)

	// Pass 2: the raw matrix, each visitor's evidence, and copies of the held-out visitors.
	prev := opts.PrevLabels
	classifyPrev := opts.Prev != nil && prev == nil
	if classifyPrev {
		prev = make([]int, n)
	}
	held, holdout := validationSplit(n)
	heldAt := make(map[int]int, len(held))
	for t, i := range held {
		heldAt[i] = t
	}
	heldAggs := make([]Aggregates, len(held))
	raw := make([]float64, n*f)
	evid := make([]evidence32, n)
	seen, err = readPass(src, n, func(i int, a *Aggregates) error {
		row := schema.Vector(*a, now, raw[i*f:i*f:(i+1)*f])
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: visitor %d has feature %s = %v", ErrInvalidInput, i, schema.Features[j], v)
			}
		}
		evid[i] = compactEvidence(EvidenceOf(a))
		if t, ok := heldAt[i]; ok {
			heldAggs[t] = a.clone()
		}
		if classifyPrev {
			prev[i] = opts.Prev.Classify(*a, now).Cluster
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("train: read visitors (features): %w", passError(err, n, seen))
	}

	fitRows, fn := raw, n
	if n > co.MiniBatchAbove { // moments of a large population: a sample tells them as well
		fn = co.MiniBatchAbove
		fitRows = gatherRows(raw, f, sampleRows(n, fn, newRand(searchSeed, 0x7363)))
	}
	scaler, err := fitBalancedScaler(fitRows, fn, f, schema.featureInfos())
	if err != nil {
		return nil, fmt.Errorf("train on %d visitors: %w", n, err)
	}
	d := scaler.D()
	X := scaler.transformInPlace(raw, n, f)
	co.Holdout = holdout
	co.evid, co.noise = evid, newScoreSpec(scaler, schema.featureInfos())
	co.NoiseFloor = noiseFloor(scaler, schema.featureInfos(), evid)
	cl, err := Cluster(X, n, d, co)
	if err != nil {
		return nil, fmt.Errorf("train on %d visitors: %w", n, err)
	}
	m := &Model{
		Version: FormatVersion, Schema: schema, Scaler: scaler, K: cl.K,
		Centroids: cl.Centroids, Variances: cl.Variances, Weights: cl.Weights, Sizes: cl.Sizes,
		OutlierThreshold: cl.OutlierThreshold, BgMean: cl.BgMean, BgVar: cl.BgVar, BgWeight: cl.BgWeight,
		Metrics: Metrics{N: n, ChosenK: cl.K, Inertia: cl.Inertia, Silhouette: cl.Silhouette,
			LogLikelihood: cl.LogLikelihood, KScores: cl.KScores},
	}
	// Every visitor's label is the model's answer on its history: the evidence-aware likelihood,
	// so that Classify gives a training visitor the persona it was counted in. Should that leave
	// a persona under the minimum size, the mixture's plain labels stand.
	if labels, sizes := relabel(m, X, n, evid); slices.Min(sizes) >= co.MinClusterSize {
		cl.Labels, cl.Sizes, m.Sizes = labels, sizes, sizes
	}
	noise := 0
	for _, l := range cl.Labels {
		if l < 0 {
			noise++
		}
	}
	m.Metrics.Noise = float64(noise) / float64(n)
	m.Metrics.Inertia = inertia(X, n, d, m.Centroids, cl.Labels)
	// Thresholds and temperatures from the held-out visitors' simulated views.
	cv := simulateViews(m, heldAggs, now, opts.Seed)
	heldAggs = nil
	m.Thresholds = cv.thresholds(cl.OutlierThreshold)
	m.Temperatures = cv.temperatures()
	m.Metrics.CalibrationError = cv.calibrationError(m.Temperatures)
	res := &Result{Model: m, Labels: cl.Labels}
	prevK := 0
	if opts.Prev != nil {
		prevK = opts.Prev.K
	} else {
		for _, l := range prev {
			prevK = max(prevK, l+1)
		}
	}
	res.Match, res.Stability, res.Drift = MatchClusters(X, n, d, cl.Labels, cl.Centroids, cl.K, prev, prevK, opts.MatchThreshold)
	// The matrix is dead from here: the collector may reclaim it while pass 3 reads.

	// Pass 3: the personas' aggregates, from raw vectors computed again.
	acc := newPersonaAcc(schema, cl.K)
	buf := make([]float64, 0, f)
	seen, err = readPass(src, n, func(i int, a *Aggregates) error {
		acc.add(a, schema.Vector(*a, now, buf), cl.Labels[i])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("train: read visitors (personas): %w", passError(err, n, seen))
	}
	m.Personas = acc.stats(cl.Sizes)
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("train on %d visitors: %w: %v", n, ErrDegenerate, err)
	}
	return res, nil
}

// errPassLength marks a pass that did not see each of the first pass's visitors exactly once.
var errPassLength = fmt.Errorf("%w: the source changed between passes", ErrInvalidInput)

func passError(err error, n, seen int) error {
	if err == errPassLength {
		return fmt.Errorf("%w (%d visitors expected, a pass gave %d or more, or one twice)", err, n, seen)
	}
	return err
}

// transformInPlace scales the n rows of raw (stride f) into the first n × D values of raw and
// returns them. Row i's scaled values land at or before its raw ones (D ≤ f, and the kept
// features are in increasing order), and after every earlier row's, so rows are transformed in
// order, on one core: in-place halves the memory of training, and the pass costs a fraction of
// a second for a million rows.
func (s Scaler) transformInPlace(raw []float64, n, f int) []float64 {
	D := s.D()
	for i := range n {
		s.Transform(raw[i*f:(i+1)*f], raw[i*D:i*D:(i+1)*D])
	}
	return raw[: n*D : n*D]
}

// validationSplit chooses the held-out visitors Train calibrates on: up to 2,000, a tenth of a
// population of 1,000 or more, left out of every fit (holdout). A smaller population cannot spare
// them: its sample of up to 2,000 visitors is calibrated on in-sample, and holdout is nil. The
// draw is fixed (not the training seed's), so that the rows k is chosen on depend on the data
// alone.
func validationSplit(n int) (held, holdout []int) {
	rng := newRand(searchSeed, 0x7661)
	if n >= 1000 {
		held = sampleRows(n, min(2000, n/10), rng)
		slices.Sort(held)
		return held, held
	}
	held = sampleRows(n, min(n, 2000), rng)
	slices.Sort(held)
	return held, nil
}

// evidence32 is Evidence in the 32 bytes a visitor of the training matrix can spare.
type evidence32 [1 + numDenominators]uint32

func compactEvidence(e Evidence) evidence32 {
	var c evidence32
	c[0] = uint32(min(e.Events, math.MaxUint32))
	for i, v := range e.den {
		c[1+i] = uint32(min(v, math.MaxUint32))
	}
	return c
}

func (c evidence32) expand() Evidence {
	e := Evidence{Events: int64(c[0])}
	for i := range e.den {
		e.den[i] = int64(c[1+i])
	}
	return e
}

// relabel labels every row of the scaled matrix X with m's evidence-aware answer: its most
// probable persona, or -1 where the background explains it better. It returns the labels and
// the personas' sizes.
func relabel(m *Model, X []float64, n int, evid []evidence32) ([]int, []int) {
	st := m.scoreTerms()
	d := st.d
	labels := make([]int, n)
	forChunks(n, rowChunk, func(_, lo, hi int) {
		ll := make([]float64, st.comps)
		for i := lo; i < hi; i++ {
			st.logLik(X[i*d:(i+1)*d], evid[i].expand(), ll)
			best, _, noise := st.personaDensity(ll)
			if noise {
				best = -1
			}
			labels[i] = best
		}
	})
	return labels, clusterSizes(labels, m.K)
}

// noiseFloor is, per scaled feature, the mean over the visitors of the sampling variance of its
// estimate: p(1−p)/h for a share seen h times (p the population's share), λ/h for a count per
// unit, c/(1+c)² for log1p of a count c (visits, page views, clicks: one draw of the visitor's
// rate), in scaled units; 0 for other features. A visitor with h = 0 counts as h = 1.
func noiseFloor(s Scaler, infos []featureInfo, evid []evidence32) []float64 {
	d := s.D()
	out := make([]float64, d)
	var inv [numDenominators]float64
	// Volume features and the count behind each: visits, page views, clicks, time on site (page
	// views), active days (visits, which bound them): mean of c/(1+c)².
	volume := map[int]denominator{0: denVisits, 1: denViews, 2: denClicks, 3: denViews, 12: denVisits}
	counts := map[int]float64{}
	for _, e := range evid {
		for den := range numDenominators {
			inv[den] += 1 / float64(max(1, e[1+den]))
		}
		for j, den := range volume {
			c := float64(e[1+den])
			counts[j] += c / ((1 + c) * (1 + c))
		}
	}
	n := float64(max(1, len(evid)))
	for t, j := range s.Keep {
		kind := infos[j].kind
		if _, ok := volume[j]; ok { // log1p of a count: one draw of a rate c, var ≈ c/(1+c)² (delta method)
			out[t] = counts[j] / n / (s.Scale[t] * s.Scale[t])
			continue
		}
		if kind != kindShare && kind != kindCount {
			continue
		}
		// The mean of p̃(1−p̃)/h is close to p(1−p)·mean(1/h) for the counts that matter.
		p := max(0, s.Center[t])
		noise := p // Poisson, for counts per unit
		if kind == kindShare {
			p = min(1, p)
			noise = p * (1 - p)
		}
		out[t] = noise * inv[infos[j].den] / n / (s.Scale[t] * s.Scale[t])
	}
	return out
}
