package classifier

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// KMeansOptions tune KMeans. Zero values take the defaults, which match scikit-learn's KMeans.
type KMeansOptions struct {
	Starts  int     // independent k-means++ starts; the lowest inertia wins (default 10)
	MaxIter int     // Lloyd iterations per start (default 300)
	Tol     float64 // convergence when the centroids move less than Tol × mean feature variance, squared (default 1e-4)
	Seed    uint64  // seed of the k-means++ draws; the same seed gives the same result
	// InitSample is how many rows k-means++ seeds from: a uniform sample drawn per start when the
	// data has more rows (default 32,768). Seeding costs 2 + ln k distance passes per centre, more
	// than the Lloyd iterations that follow on large data, and a sample this size places the
	// centres as well.
	InitSample int
}

func (o KMeansOptions) withDefaults() KMeansOptions {
	if o.Starts <= 0 {
		o.Starts = 10
	}
	if o.MaxIter <= 0 {
		o.MaxIter = 300
	}
	if o.Tol <= 0 {
		o.Tol = 1e-4
	}
	if o.InitSample <= 0 {
		o.InitSample = 32768
	}
	return o
}

// KMeansResult is a hard clustering of n rows into k clusters.
type KMeansResult struct {
	K         int
	Centroids []float64 // k × d, row-major
	Labels    []int     // per row, in 0..k-1
	Sizes     []int     // rows per cluster
	Inertia   float64   // sum of squared distances of rows to their centroid
	Iter      int       // iterations of the winning start (or mini-batch steps)
	Converged bool      // whether the winning start converged before MaxIter
}

// KMeans clusters the n × d row-major matrix X into k clusters with Lloyd's algorithm from
// k-means++ starts (greedy, 2 + ln k candidates per centre, as scikit-learn does), keeping the
// start with the lowest inertia. Assignment steps run a worker per core.
func KMeans(X []float64, n, d, k int, opts KMeansOptions) (KMeansResult, error) {
	if err := checkClustering(X, n, d, k); err != nil {
		return KMeansResult{}, fmt.Errorf("k-means with k=%d: %w", k, err)
	}
	opts = opts.withDefaults()
	tol := opts.Tol * meanVariance(X, n, d)
	w := newLloydWork(X, n, d, k)
	best := KMeansResult{Inertia: math.Inf(1)}
	bestLabels := make([]int, n)
	for s := range opts.Starts {
		rng := rand.New(rand.NewPCG(opts.Seed, uint64(s)))
		c := make([]float64, k*d)
		seedCentres(X, n, d, k, opts.InitSample, rng, c, w.dists)
		inertia, iter, conv := w.lloyd(c, opts.MaxIter, tol)
		if inertia < best.Inertia {
			best = KMeansResult{K: k, Centroids: c, Inertia: inertia, Iter: iter, Converged: conv}
			copy(bestLabels, w.labels)
		}
	}
	best.Labels = bestLabels
	best.Sizes = clusterSizes(bestLabels, k)
	return best, nil
}

func checkClustering(X []float64, n, d, k int) error {
	if err := checkMatrix(X, n, d); err != nil {
		return err
	}
	if k < 1 {
		return fmt.Errorf("%w: k=%d, want at least 1", ErrInvalidInput, k)
	}
	if n < k {
		return fmt.Errorf("%w: %d rows for %d clusters", ErrTooLittleData, n, k)
	}
	return nil
}

// meanVariance is the mean over columns of the column (population) variances: the scale of
// scikit-learn's tolerance.
func meanVariance(X []float64, n, d int) float64 {
	if n == 0 {
		return 0
	}
	mean := make([]float64, d)
	for i := range n {
		for j, v := range X[i*d : (i+1)*d] {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	var s float64
	for i := range n {
		for j, v := range X[i*d : (i+1)*d] {
			dv := v - mean[j]
			s += dv * dv
		}
	}
	return s / float64(n) / float64(d)
}

func clusterSizes(labels []int, k int) []int {
	sizes := make([]int, k)
	for _, l := range labels {
		if l >= 0 && l < k {
			sizes[l]++
		}
	}
	return sizes
}

// lloydWork holds the buffers of Lloyd iterations, reused across starts.
type lloydWork struct {
	X       []float64
	n, d, k int
	labels  []int
	dists   []float64 // squared distance of each row to its centroid
	// per chunk: sums (k×d), counts (k), inertia and changed labels
	sums    []float64
	counts  []int
	inertia []float64
	changed []int
	quarter []float64 // k × k quarter squared distances between centroids
}

func newLloydWork(X []float64, n, d, k int) *lloydWork {
	nc := numChunks(n, rowChunk)
	return &lloydWork{X: X, n: n, d: d, k: k,
		labels: make([]int, n), dists: make([]float64, n),
		sums: make([]float64, nc*k*d), counts: make([]int, nc*k),
		inertia: make([]float64, nc), changed: make([]int, nc), quarter: make([]float64, k*k)}
}

// assign labels every row with its nearest centroid in c and gathers per-chunk sums; it returns
// the inertia for c and how many labels changed.
func (w *lloydWork) assign(c []float64) (float64, int) {
	d, k := w.d, w.k
	quarter := centreQuarters(c, d, k, w.quarter)
	forChunks(w.n, rowChunk, func(ch, lo, hi int) {
		sums := w.sums[ch*k*d : (ch+1)*k*d]
		counts := w.counts[ch*k : (ch+1)*k]
		clear(sums)
		clear(counts)
		var inertia float64
		changed := 0
		for i := lo; i < hi; i++ {
			x := w.X[i*d : (i+1)*d]
			j, dd := nearestFrom(x, c, k, max(w.labels[i], 0), quarter)
			if w.labels[i] != j {
				changed++
				w.labels[i] = j
			}
			w.dists[i] = dd
			inertia += dd
			counts[j]++
			s := sums[j*d : (j+1)*d]
			for t, v := range x {
				s[t] += v
			}
		}
		w.inertia[ch], w.changed[ch] = inertia, changed
	})
	var inertia float64
	changed := 0
	for ch := range w.inertia {
		inertia += w.inertia[ch]
		changed += w.changed[ch]
	}
	return inertia, changed
}

// centreQuarters fills q (k × k) with a quarter of the squared distance between every two
// centres: a row within sqrt(q[a][j]) of centre a cannot be closer to centre j, which lets
// nearestFrom skip most distance computations on clustered data (exactly, not approximately).
func centreQuarters(c []float64, d, k int, q []float64) []float64 {
	for a := range k {
		q[a*k+a] = 0
		for j := a + 1; j < k; j++ {
			v := sqDist(c[a*d:(a+1)*d], c[j*d:(j+1)*d]) / 4
			q[a*k+j], q[j*k+a] = v, v
		}
	}
	return q
}

// nearestFrom is nearest starting from centre a (usually the row's previous label) and skipping
// every centre j whose quarter squared distance to the best centre so far is at least the best
// squared distance: by the triangle inequality it cannot be closer.
func nearestFrom(x, c []float64, k, a int, quarter []float64) (int, float64) {
	d := len(x)
	best, bestD := a, sqDist(x, c[a*d:(a+1)*d])
	for j := range k {
		if j == a || quarter[best*k+j] >= bestD {
			continue
		}
		if dj := sqDist(x, c[j*d:(j+1)*d]); dj < bestD || (dj == bestD && j < best) {
			best, bestD = j, dj
		}
	}
	return best, bestD
}

// update moves the centroids c to the means of their rows (reducing chunk sums in order),
// relocates empty clusters to the rows farthest from their centroid, and returns the squared
// shift of all centroids.
func (w *lloydWork) update(c []float64) float64 {
	d, k := w.d, w.k
	sums := make([]float64, k*d)
	counts := make([]int, k)
	nc := len(w.inertia)
	for ch := range nc {
		for t, v := range w.sums[ch*k*d : (ch+1)*k*d] {
			sums[t] += v
		}
		for j, v := range w.counts[ch*k : (ch+1)*k] {
			counts[j] += v
		}
	}
	var shift float64
	var taken []int
	for j := range k {
		cj := c[j*d : (j+1)*d]
		if counts[j] == 0 {
			far := farthestRow(w.dists, taken)
			taken = append(taken, far)
			shift += sqDist(cj, w.X[far*d:(far+1)*d])
			copy(cj, w.X[far*d:(far+1)*d])
			continue
		}
		inv := 1 / float64(counts[j])
		for t := range cj {
			v := sums[j*d+t] * inv
			dv := v - cj[t]
			shift += dv * dv
			cj[t] = v
		}
	}
	return shift
}

func farthestRow(dists []float64, taken []int) int {
	best, bestD := 0, -1.0
	for i, v := range dists {
		if v > bestD && !slices.Contains(taken, i) {
			best, bestD = i, v
		}
	}
	return best
}

// lloyd iterates from the centroids c (updated in place) until the labels stop changing, the
// centroids move less than tol, or maxIter; it returns the inertia of the final labels for the
// final centroids, the iterations run and whether it converged.
func (w *lloydWork) lloyd(c []float64, maxIter int, tol float64) (float64, int, bool) {
	for i := range w.labels {
		w.labels[i] = -1
	}
	var inertia float64
	for it := 1; it <= maxIter; it++ {
		var changed int
		inertia, changed = w.assign(c)
		if changed == 0 {
			return inertia, it, true
		}
		if shift := w.update(c); shift <= tol {
			inertia, _ = w.assign(c)
			return inertia, it, true
		}
	}
	inertia, _ = w.assign(c)
	return inertia, maxIter, false
}

// seedCentres runs k-means++ on all rows, or on a uniform sample of m rows when there are more.
func seedCentres(X []float64, n, d, k, m int, rng *rand.Rand, c, scratch []float64) {
	if n <= m {
		kmeansPlusPlus(X, n, d, k, rng, c, scratch[:n])
		return
	}
	rows := sampleRows(n, m, rng)
	S := gatherRows(X, d, rows)
	kmeansPlusPlus(S, m, d, k, rng, c, scratch[:m])
}

// sampleRows draws m distinct row indexes of n uniformly, in increasing order (Floyd's algorithm
// for small m, a partial shuffle otherwise).
func sampleRows(n, m int, rng *rand.Rand) []int {
	if m >= n {
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		return rows
	}
	seen := make(map[int]struct{}, m)
	rows := make([]int, 0, m)
	for j := n - m; j < n; j++ {
		t := rng.IntN(j + 1)
		if _, ok := seen[t]; ok {
			t = j
		}
		seen[t] = struct{}{}
		rows = append(rows, t)
	}
	slices.Sort(rows)
	return rows
}

// gatherRows copies the given rows of X (stride d) into a new matrix.
func gatherRows(X []float64, d int, rows []int) []float64 {
	S := make([]float64, len(rows)*d)
	for i, r := range rows {
		copy(S[i*d:(i+1)*d], X[r*d:(r+1)*d])
	}
	return S
}

// kmeansPlusPlus fills c with k centres drawn by greedy k-means++: each new centre is the best,
// by resulting potential, of 2 + ln k candidates drawn with probability proportional to the
// squared distance to the nearest centre so far. closest is a scratch buffer of n values.
func kmeansPlusPlus(X []float64, n, d, k int, rng *rand.Rand, c, closest []float64) {
	trials := 2 + int(math.Log(float64(k)))
	nc := numChunks(n, rowChunk)
	part := make([]float64, nc*trials)
	near := make([]int32, n) // index of the centre closest[i] is the distance to
	first := rng.IntN(n)
	copy(c[:d], X[first*d:(first+1)*d])
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			closest[i] = sqDist(X[i*d:(i+1)*d], c[:d])
			s += closest[i]
		}
		part[ch] = s
	})
	pot := sumFirst(part, nc, 1)
	cand := make([]int, trials)
	draws := make([]float64, trials)
	// quarter[t*k+j]: a quarter of the squared distance from candidate t to centre j; a row whose
	// closest distance is within it cannot get closer to the candidate (triangle inequality).
	quarter := make([]float64, trials*k)
	for j := 1; j < k; j++ {
		drawRows(closest, pot, rng, draws, cand)
		for t, r := range cand {
			for m := range j {
				quarter[t*k+m] = sqDist(X[r*d:(r+1)*d], c[m*d:(m+1)*d]) / 4
			}
		}
		forChunks(n, rowChunk, func(ch, lo, hi int) {
			p := part[ch*trials : (ch+1)*trials]
			clear(p)
			for i := lo; i < hi; i++ {
				ci, m := closest[i], int(near[i])
				for t, r := range cand {
					if quarter[t*k+m] >= ci {
						p[t] += ci
						continue
					}
					p[t] += min(ci, sqDist(X[i*d:(i+1)*d], X[r*d:(r+1)*d]))
				}
			}
		})
		bestT, bestPot := 0, math.Inf(1)
		for t := range cand {
			var s float64
			for ch := range nc {
				s += part[ch*trials+t]
			}
			if s < bestPot {
				bestT, bestPot = t, s
			}
		}
		r := cand[bestT]
		centre := c[j*d : (j+1)*d]
		copy(centre, X[r*d:(r+1)*d])
		q := quarter[bestT*k : bestT*k+k]
		forChunks(n, rowChunk, func(ch, lo, hi int) {
			var s float64
			for i := lo; i < hi; i++ {
				if ci := closest[i]; q[near[i]] < ci {
					if v := sqDist(X[i*d:(i+1)*d], centre); v < ci {
						closest[i], near[i] = v, int32(j)
					}
				}
				s += closest[i]
			}
			part[ch*trials] = s
		})
		pot = sumFirst(part, nc, trials)
	}
}

// sumFirst adds up part[0], part[stride], … over nc chunks, in chunk order.
func sumFirst(part []float64, nc, stride int) float64 {
	var s float64
	for ch := range nc {
		s += part[ch*stride]
	}
	return s
}

// drawRows draws len(rows) row indexes with probability proportional to weight, in one pass over
// the cumulative weights; when every weight is zero it draws uniformly.
func drawRows(weight []float64, total float64, rng *rand.Rand, draws []float64, rows []int) {
	if !(total > 0) {
		for t := range rows {
			rows[t] = rng.IntN(len(weight))
		}
		return
	}
	for t := range draws {
		draws[t] = rng.Float64() * total
	}
	order := make([]int, len(draws))
	for t := range order {
		order[t] = t
	}
	slices.SortFunc(order, func(a, b int) int { return cmpFloat(draws[a], draws[b]) })
	var cum float64
	t := 0
	last := 0
	for i, v := range weight {
		if v > 0 {
			last = i
		}
		cum += v
		for t < len(order) && draws[order[t]] < cum {
			rows[order[t]] = i
			t++
		}
		if t == len(order) {
			return
		}
	}
	for ; t < len(order); t++ { // rounding left the last draws past the end
		rows[order[t]] = last
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
