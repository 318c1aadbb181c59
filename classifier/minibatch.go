package classifier

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// MiniBatchOptions tune MiniBatchKMeans. Zero values take the defaults, close to scikit-learn's
// MiniBatchKMeans as bench/sklearn_anchor.py runs it.
type MiniBatchOptions struct {
	BatchSize        int // rows per step (default 4096)
	MaxSteps         int // upper bound on steps (default 100 passes' worth of batches, at most 10,000)
	Starts           int // k-means++ seedings tried, each on InitSize rows, scored on another sample (default 3)
	InitSize         int // rows each seeding draws (default 3 × BatchSize, at least 10 × k)
	MaxNoImprovement int // stop after this many steps without a better smoothed batch inertia (default 10)
	// Tol stops when the centres move, squared and summed, less than Tol × the mean feature
	// variance in one step (default 1e-3; scikit-learn's MiniBatchKMeans defaults to no such
	// test). With per-centre learning rates 1/count the moves shrink like 1/steps, so this ends
	// the run once the centres rest on some thousands of rows each, where scikit-learn's
	// smoothed inertia stops too (12 steps of 4096 on the 1,000,000 × 24 blobs of the speed
	// comparison; 11 here). The smoothed inertia alone is a coin toss: one unlucky early batch
	// keeps it sinking for dozens of steps. The last pass then moves every centre to the mean of
	// all its rows, which no further step would approach faster.
	Tol  float64
	Seed uint64 // seed of every draw
}

func (o MiniBatchOptions) withDefaults(n, k int) MiniBatchOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = 4096
	}
	o.BatchSize = min(o.BatchSize, n)
	if o.MaxSteps <= 0 {
		o.MaxSteps = min(10000, max(100, 100*n/o.BatchSize))
	}
	if o.Starts <= 0 {
		o.Starts = 3
	}
	if o.InitSize <= 0 {
		o.InitSize = max(3*o.BatchSize, 10*k)
	}
	o.InitSize = min(o.InitSize, n)
	if o.MaxNoImprovement <= 0 {
		o.MaxNoImprovement = 10
	}
	if o.Tol <= 0 {
		o.Tol = 1e-3
	}
	return o
}

// batchChunk is the rows of a mini-batch one worker assigns at a time.
const batchChunk = 1024

// MiniBatchKMeans clusters the n × d row-major matrix X into k clusters by mini-batch k-means
// (Sculley 2010): centres move towards the means of small random batches with per-centre learning
// rates, and stop when the smoothed batch inertia stops improving. It costs a few full passes
// instead of many, for large projects. One full pass then labels the rows with the nearest
// centre and sets the centroids to the means of their rows, and Inertia is measured to those
// means, so Labels, Centroids and Inertia agree as they do for KMeans.
func MiniBatchKMeans(X []float64, n, d, k int, opts MiniBatchOptions) (KMeansResult, error) {
	// The shape is checked here, the values (finite) in the last pass, which reads every row
	// anyway: one pass over X fewer. The samples the seeding reads are checked before it, so
	// k-means++ never weighs a NaN; a NaN a batch draws only spoils centres, and the last pass
	// reports it all the same.
	if n < k || n < 0 || d <= 0 || len(X) != n*d || k < 1 {
		if err := checkClustering(X, n, d, k); err != nil {
			return KMeansResult{}, fmt.Errorf("mini-batch k-means with k=%d: %w", k, err)
		}
	}
	opts = opts.withDefaults(n, k)
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6d62))
	invalid := func() (KMeansResult, error) {
		err := checkMatrix(X, n, d)
		return KMeansResult{}, fmt.Errorf("mini-batch k-means with k=%d: %w", k, err)
	}

	// Seed several times on samples and keep the seeding with the lowest inertia on a shared
	// validation sample, as scikit-learn does: rows drawn with replacement (its randint), so a
	// sample costs one draw per row and no set.
	valid := gatherRowsParallel(X, d, drawRowsUniform(n, opts.InitSize, rng))
	if !allFinite(valid) {
		return invalid()
	}
	nv := len(valid) / d
	tol := opts.Tol * meanVariance(valid, nv, d)
	var c []float64
	bestV := math.Inf(1)
	scratch := make([]float64, opts.InitSize)
	for range opts.Starts {
		ci := make([]float64, k*d)
		S := gatherRowsParallel(X, d, drawRowsUniform(n, opts.InitSize, rng))
		if !allFinite(S) {
			return invalid()
		}
		kmeansPlusPlus(S, opts.InitSize, d, k, rng, ci, scratch)
		blk := newPrunedCentroids(ci, k, d)
		var v float64
		for i := range nv {
			_, dd := blk.nearest(valid[i*d : (i+1)*d])
			v += dd
		}
		if v < bestV {
			bestV, c = v, ci
		}
	}

	counts := make([]float64, k)
	batchSums := make([]float64, k*d)
	batchCounts := make([]float64, k)
	batch := make([]int, opts.BatchSize)
	nbc := numChunks(len(batch), batchChunk)
	chSums := make([]float64, nbc*k*d)
	chCounts := make([]float64, nbc*k)
	chInertia := make([]float64, nbc)
	alpha := min(1, 2*float64(opts.BatchSize)/float64(n+1))
	ewa, bestEWA := math.NaN(), math.Inf(1)
	noImprovement, step := 0, 0
	for step < opts.MaxSteps {
		step++
		for t := range batch {
			batch[t] = rng.IntN(n)
		}
		blk := newPrunedCentroids(c, k, d)
		// The batch is assigned on every core in chunks whose sums are reduced in chunk order.
		forChunks(len(batch), batchChunk, func(ch, lo, hi int) {
			s, cnt := chSums[ch*k*d:(ch+1)*k*d], chCounts[ch*k:(ch+1)*k]
			clear(s)
			clear(cnt)
			var in float64
			for _, r := range batch[lo:hi] {
				x := X[r*d : (r+1)*d]
				j, dd := blk.nearest(x)
				in += dd
				cnt[j]++
				row := s[j*d : (j+1)*d]
				for t, v := range x {
					row[t] += v
				}
			}
			chInertia[ch] = in
		})
		clear(batchSums)
		clear(batchCounts)
		var inertia, shift float64
		for ch := range nbc {
			inertia += chInertia[ch]
			for t := range batchSums {
				batchSums[t] += chSums[ch*k*d+t]
			}
			for j := range batchCounts {
				batchCounts[j] += chCounts[ch*k+j]
			}
		}
		for j := range k {
			if batchCounts[j] == 0 {
				continue
			}
			counts[j] += batchCounts[j]
			rate := 1 / counts[j]
			cj := c[j*d : (j+1)*d]
			for t := range cj {
				// c ← c + (Σ batch − m·c)/count: the running mean of all rows seen
				move := (batchSums[j*d+t] - batchCounts[j]*cj[t]) * rate
				cj[t] += move
				shift += move * move
			}
		}
		if step > 1 && shift <= tol {
			break
		}
		// The first batch's inertia is the seeding's, not the steps': like scikit-learn, the
		// smoothed inertia starts at the second step.
		if step == 1 {
			continue
		}
		inertia /= float64(len(batch))
		if math.IsNaN(ewa) {
			ewa = inertia
		} else {
			ewa = ewa*(1-alpha) + inertia*alpha
		}
		if ewa < bestEWA {
			bestEWA, noImprovement = ewa, 0
		} else if noImprovement++; noImprovement >= opts.MaxNoImprovement {
			break
		}
	}

	labels, in, ok := meanAndRelabel(X, n, d, k, c)
	if !ok {
		return invalid()
	}
	return KMeansResult{K: k, Centroids: c, Labels: labels, Sizes: clusterSizes(labels, k),
		Inertia: in, Iter: step, Converged: step < opts.MaxSteps}, nil
}

// meanAndRelabel labels every row with its nearest centroid of c, moves every centroid to the
// mean of its rows (a centroid without rows stays) and returns the labels and the inertia to
// those means: one pass over X, one worker per core over row chunks whose sums are reduced in
// chunk order. The inertia comes from the rows' squared distances to the centroids before the
// move, by the parallel axis theorem (Σ‖x − μ‖² = Σ‖x − c‖² − n‖μ − c‖² with μ the rows' mean).
// The centres have converged when it runs, so a row is nearest to its moved centroid but for
// the rounding of a last step. The pass also checks the values: a NaN or ±Inf anywhere makes
// the sums or the inertia non-finite, and only then is X searched for it (ok false when found).
func meanAndRelabel(X []float64, n, d, k int, c []float64) (labels []int, inertia float64, ok bool) {
	nc := numChunks(n, rowChunk)
	sums := make([]float64, nc*k*d)
	counts := make([]float64, nc*k)
	part := make([]float64, nc)
	labels = make([]int, n)
	blk := newPrunedCentroids(c, k, d)
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		s, cnt := sums[ch*k*d:(ch+1)*k*d], counts[ch*k:(ch+1)*k]
		var in float64
		for i := lo; i < hi; i++ {
			x := X[i*d : (i+1)*d : (i+1)*d]
			j, dj := blk.nearest(x)
			labels[i] = j
			in += dj
			cnt[j]++
			row := s[j*d : (j+1)*d : (j+1)*d]
			for t, v := range x {
				row[t] += v
			}
		}
		part[ch] = in
	})
	tot := make([]float64, k*d)
	cnt := make([]float64, k)
	var in float64
	for ch := range nc {
		for t := range tot {
			tot[t] += sums[ch*k*d+t]
		}
		for j := range cnt {
			cnt[j] += counts[ch*k+j]
		}
		in += part[ch]
	}
	if !allFinite(tot) || in-in != 0 {
		if checkMatrix(X, n, d) != nil {
			return nil, 0, false
		}
	}
	for j := range k {
		if cnt[j] == 0 {
			continue
		}
		var shift float64
		for t := range d {
			m := tot[j*d+t] / cnt[j]
			dv := m - c[j*d+t]
			shift += dv * dv
			c[j*d+t] = m
		}
		in -= cnt[j] * shift
	}
	return labels, max(0, in), true
}

// drawRowsUniform draws m row indexes of n uniformly with replacement.
func drawRowsUniform(n, m int, rng *rand.Rand) []int {
	rows := make([]int, m)
	for i := range rows {
		rows[i] = rng.IntN(n)
	}
	return rows
}

// allFinite reports whether no value of x is NaN or ±Inf.
func allFinite(x []float64) bool {
	var c0, c1, c2, c3 float64
	for len(x) >= 4 {
		c0 += x[0] - x[0]
		c1 += x[1] - x[1]
		c2 += x[2] - x[2]
		c3 += x[3] - x[3]
		x = x[4:]
	}
	for _, v := range x {
		c0 += v - v
	}
	return c0+c1+c2+c3 == 0
}

// guessDims is how many leading features pick the centroid a row is first measured against.
const guessDims = 4

// prunedCentroids finds a row's nearest of k centroids (row-major, k × d) measuring few of the
// distances: the first guess is the centroid nearest on the first guessDims features, then a
// centroid o is skipped when a quarter of its squared distance to the best so far is at least
// the row's (the triangle inequality: it cannot be nearer; Elkan 2003). On separated clusters a
// row costs about guessDims·k + d operations instead of k·d. The result is the exact nearest.
type prunedCentroids struct {
	k, d    int
	c       []float64
	quarter []float64 // k × k: a quarter of the squared distances between centroids
}

func newPrunedCentroids(c []float64, k, d int) *prunedCentroids {
	p := &prunedCentroids{k: k, d: d, c: c, quarter: make([]float64, k*k)}
	for a := range k {
		for b := range a {
			q := 0.25 * sqDist(c[a*d:(a+1)*d], c[b*d:(b+1)*d])
			p.quarter[a*k+b], p.quarter[b*k+a] = q, q
		}
	}
	return p
}

// nearest returns the index of the centroid nearest to x and the squared distance to it.
func (p *prunedCentroids) nearest(x []float64) (int, float64) {
	k, d, c := p.k, p.d, p.c
	j := 0
	// lb[o] is the squared distance to centroid o on the first guessDims features: a lower
	// bound of the whole one, so o is skipped when it reaches the best distance too.
	var lbBuf [16]float64
	lb := lbBuf[:0]
	if d >= guessDims && k > 1 {
		if k <= len(lbBuf) {
			lb = lbBuf[:k]
		}
		x := x[:guessDims:guessDims]
		bestP := math.Inf(1)
		for o := range k {
			co := c[o*d : o*d+guessDims : o*d+guessDims]
			d0, d1, d2, d3 := x[0]-co[0], x[1]-co[1], x[2]-co[2], x[3]-co[3]
			// Branch-free: which centroid wins is as unpredictable as the row's cluster. The
			// sign bit of s − bestP is set exactly when s < bestP (ties keep the first).
			s := (d0*d0 + d1*d1) + (d2*d2 + d3*d3)
			less := -int(math.Float64bits(s-bestP) >> 63)
			j ^= (j ^ o) & less
			bestP = min(bestP, s)
			if len(lb) > 0 {
				lb[o] = s
			}
		}
	}
	dj := sqDist(x, c[j*d:(j+1)*d])
	q := p.quarter[j*k : (j+1)*k]
	for o := range k {
		if o == j || q[o] >= dj || (len(lb) > 0 && lb[o] >= dj) {
			continue
		}
		if do := sqDist(x, c[o*d:(o+1)*d]); do < dj {
			j, dj = o, do
			q = p.quarter[j*k : (j+1)*k]
		}
	}
	return j, dj
}

// gatherRowsParallel is gatherRows on every core: rows drawn at random cost a memory latency
// each, which two cores overlap.
func gatherRowsParallel(X []float64, d int, rows []int) []float64 {
	S := make([]float64, len(rows)*d)
	forChunks(len(rows), batchChunk, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			r := rows[i]
			copy(S[i*d:(i+1)*d], X[r*d:(r+1)*d])
		}
	})
	return S
}
