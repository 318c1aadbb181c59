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
// start with the lowest inertia. Assignment steps run a worker per core and use Hamerly's bounds,
// which give Lloyd's labels while skipping most distance computations (see lloydWork). The
// result is the same on any number of cores.
func KMeans(X []float64, n, d, k int, opts KMeansOptions) (KMeansResult, error) {
	if err := checkClustering(X, n, d, k); err != nil {
		return KMeansResult{}, fmt.Errorf("k-means with k=%d: %w", k, err)
	}
	opts = opts.withDefaults()
	tol := opts.Tol * meanVariance(X, n, d)
	w := newLloydWork(X, n, d, k)
	best := KMeansResult{Inertia: math.Inf(1)}
	bestLabels := make([]int, n)
	scratch := make([]float64, min(n, opts.InitSample))
	var prev []float64 // the previous start's final centroids
	for s := range opts.Starts {
		rng := rand.New(rand.NewPCG(opts.Seed, uint64(s)))
		c := make([]float64, k*d)
		seedCentres(X, n, d, k, opts.InitSample, rng, c, scratch)
		w.guessLabels(prev, c)
		iter, conv := w.lloyd(c, opts.MaxIter, tol)
		prev = c
		if inertia := w.statsInertia(c); inertia < best.Inertia {
			best = KMeansResult{K: k, Centroids: c, Inertia: inertia, Iter: iter, Converged: conv}
			copy(bestLabels, w.labels)
		}
	}
	best.Labels = bestLabels
	best.Sizes = clusterSizes(bestLabels, k)
	best.Inertia = inertia(X, n, d, best.Centroids, bestLabels)
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

// lloydWork holds the state of Lloyd iterations, reused across starts. Assignments use Hamerly's
// bounds (Hamerly 2010): per row an upper bound on the distance to its centroid and a lower bound
// on the distance to any other, loosened by how far the centroids move. A row whose bounds show
// that its label cannot change is not read at all, and cluster sums change only for rows that
// move, so the iterations after the first cost a pass over two small arrays rather than over X,
// which on large data is bound by memory bandwidth. The labels are exactly those of Lloyd's
// algorithm.
type lloydWork struct {
	X       []float64
	n, d, k int
	labels  []int
	upper   []float64 // per row: ≥ distance to its centroid
	lower   []float64 // per row: ≤ distance to every other centroid
	// per chunk, kept across iterations and updated as rows move: Σx (k×d), Σ‖x‖² (k), counts (k)
	sums    []float64
	sq      []float64
	counts  []int
	changed []int     // per chunk: labels changed in the last assignment
	ccd     []float64 // k × k distances between centroids
	half    []float64 // per centroid: half the distance to its nearest other centroid
	delta   []float64 // per centroid: distance moved by the last update
	// the two largest moves and the centroid of the largest, to loosen lower bounds
	maxMove, maxMove2 float64
	maxMover          int
}

func newLloydWork(X []float64, n, d, k int) *lloydWork {
	nc := numChunks(n, rowChunk)
	return &lloydWork{X: X, n: n, d: d, k: k,
		labels: make([]int, n), upper: make([]float64, n), lower: make([]float64, n),
		sums: make([]float64, nc*k*d), sq: make([]float64, nc*k), counts: make([]int, nc*k),
		changed: make([]int, nc), ccd: make([]float64, k*k), half: make([]float64, k), delta: make([]float64, k)}
}

// centreDistances fills ccd and half for the centroids c.
func (w *lloydWork) centreDistances(c []float64) {
	d, k := w.d, w.k
	for a := range k {
		w.ccd[a*k+a] = 0
		w.half[a] = math.Inf(1)
	}
	for a := range k {
		for j := a + 1; j < k; j++ {
			v := math.Sqrt(sqDist(c[a*d:(a+1)*d], c[j*d:(j+1)*d]))
			w.ccd[a*k+j], w.ccd[j*k+a] = v, v
			w.half[a] = min(w.half[a], v/2)
			w.half[j] = min(w.half[j], v/2)
		}
	}
}

// firstAssign labels every row with its nearest centroid in c, starting the search from its
// current label (a guess) and skipping centroids the triangle inequality rules out; it sets the
// bounds and recomputes the chunk sums from scratch.
func (w *lloydWork) firstAssign(c []float64) {
	d, k := w.d, w.k
	w.centreDistances(c)
	forChunks(w.n, rowChunk, func(ch, lo, hi int) {
		sums := w.sums[ch*k*d : (ch+1)*k*d]
		sq := w.sq[ch*k : (ch+1)*k]
		counts := w.counts[ch*k : (ch+1)*k]
		clear(sums)
		clear(sq)
		clear(counts)
		lb := make([]float64, k)
		for i := lo; i < hi; i++ {
			x := w.X[i*d : (i+1)*d]
			best := min(max(w.labels[i], 0), k-1)
			bd := sqDist(x, c[best*d:(best+1)*d])
			for j := range k {
				if j == best {
					continue
				}
				dist := math.Sqrt(bd)
				if cc := w.ccd[best*k+j]; cc >= 2*dist {
					lb[j] = cc - dist // d(x, c_j) ≥ d(c_best, c_j) − d(x, c_best) ≥ d(x, c_best)
					continue
				}
				dj := sqDist(x, c[j*d:(j+1)*d])
				lb[j] = math.Sqrt(dj)
				if dj < bd {
					lb[best] = dist
					best, bd = j, dj
				}
			}
			second := math.Inf(1)
			for j, v := range lb {
				if j != best {
					second = min(second, v)
				}
			}
			w.labels[i], w.upper[i], w.lower[i] = best, math.Sqrt(bd), second
			counts[best]++
			sq[best] += sqNorm(x)
			s := sums[best*d : (best+1)*d]
			for t, v := range x {
				s[t] += v
			}
		}
	})
}

// assign relabels the rows for the centroids c after an update, reading only rows whose bounds
// allow a change, and moves those rows' contributions between cluster sums. It returns how many
// labels changed.
func (w *lloydWork) assign(c []float64) int {
	d, k := w.d, w.k
	w.centreDistances(c)
	forChunks(w.n, rowChunk, func(ch, lo, hi int) {
		sums := w.sums[ch*k*d : (ch+1)*k*d]
		sq := w.sq[ch*k : (ch+1)*k]
		counts := w.counts[ch*k : (ch+1)*k]
		changed := 0
		for i := lo; i < hi; i++ {
			a := w.labels[i]
			u := w.upper[i] + w.delta[a]
			l := w.lower[i] - w.maxMove
			if a == w.maxMover {
				l = w.lower[i] - w.maxMove2
			}
			m := max(w.half[a], l)
			if u <= m {
				w.upper[i], w.lower[i] = u, l
				continue
			}
			x := w.X[i*d : (i+1)*d]
			bd := sqDist(x, c[a*d:(a+1)*d])
			if u = math.Sqrt(bd); u <= m {
				w.upper[i], w.lower[i] = u, l
				continue
			}
			best, second := a, math.Inf(1)
			for j := range k {
				if j == a {
					continue
				}
				dj := sqDist(x, c[j*d:(j+1)*d])
				if dj < bd {
					second = bd
					best, bd = j, dj
				} else if dj < second {
					second = dj
				}
			}
			w.upper[i], w.lower[i] = math.Sqrt(bd), math.Sqrt(second)
			if best == a {
				continue
			}
			changed++
			w.labels[i] = best
			counts[a]--
			counts[best]++
			nx := sqNorm(x)
			sq[a] -= nx
			sq[best] += nx
			sa, sb := sums[a*d:(a+1)*d], sums[best*d:(best+1)*d]
			for t, v := range x {
				sa[t] -= v
				sb[t] += v
			}
		}
		w.changed[ch] = changed
	})
	changed := 0
	for _, v := range w.changed {
		changed += v
	}
	return changed
}

func sqNorm(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s
}

// totals reduces the chunk statistics in chunk order.
func (w *lloydWork) totals() (sums, sq []float64, counts []int) {
	d, k := w.d, w.k
	sums = make([]float64, k*d)
	sq = make([]float64, k)
	counts = make([]int, k)
	for ch := range w.changed {
		for t, v := range w.sums[ch*k*d : (ch+1)*k*d] {
			sums[t] += v
		}
		for j := range k {
			sq[j] += w.sq[ch*k+j]
			counts[j] += w.counts[ch*k+j]
		}
	}
	return sums, sq, counts
}

// update moves the centroids c to the means of their rows, relocates empty clusters to the rows
// farthest from their centroid, records how far each centroid moved, and returns the sum of the
// squared moves.
func (w *lloydWork) update(c []float64) float64 {
	d, k := w.d, w.k
	sums, _, counts := w.totals()
	var shift float64
	var taken []int
	w.maxMove, w.maxMove2, w.maxMover = 0, 0, -1
	for j := range k {
		cj := c[j*d : (j+1)*d]
		var moved float64
		if counts[j] == 0 {
			far := farthestRow(w.upper, taken)
			taken = append(taken, far)
			moved = sqDist(cj, w.X[far*d:(far+1)*d])
			copy(cj, w.X[far*d:(far+1)*d])
		} else {
			inv := 1 / float64(counts[j])
			for t := range cj {
				v := sums[j*d+t] * inv
				dv := v - cj[t]
				moved += dv * dv
				cj[t] = v
			}
		}
		shift += moved
		w.delta[j] = math.Sqrt(moved)
		switch {
		case w.delta[j] > w.maxMove:
			w.maxMove2 = w.maxMove
			w.maxMove, w.maxMover = w.delta[j], j
		case w.delta[j] > w.maxMove2:
			w.maxMove2 = w.delta[j]
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

// statsInertia is the inertia of the current labels for the centroids c from the cluster
// statistics: Σ‖x‖² − 2 c·Σx + n‖c‖² per cluster. It ranks starts without a pass over X; the
// winner's inertia is then computed exactly.
func (w *lloydWork) statsInertia(c []float64) float64 {
	d := w.d
	sums, sq, counts := w.totals()
	var s float64
	for j := range w.k {
		cj := c[j*d : (j+1)*d]
		s += sq[j] - 2*dot(cj, sums[j*d:(j+1)*d]) + float64(counts[j])*sqNorm(cj)
	}
	return max(0, s)
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// lloyd iterates from the centroids c (updated in place) until the labels stop changing, the
// centroids move less than tol (squared), or maxIter; the labels end consistent with the final
// centroids. It returns the iterations run and whether it converged.
func (w *lloydWork) lloyd(c []float64, maxIter int, tol float64) (int, bool) {
	w.firstAssign(c)
	for it := 1; it <= maxIter; it++ {
		if shift := w.update(c); shift <= tol {
			w.assign(c)
			return it, true
		}
		if w.assign(c) == 0 {
			return it, true
		}
	}
	return maxIter, false
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

// guessLabels primes the labels for the first assignment of a start with initial centroids c:
// the nearest new centroid to each row's centroid in the previous start (or all 0 for the first
// start). The labels are only where the search starts, but a good start lets the triangle
// inequality skip most other centroids, which makes the first assignment of later starts, the
// only one that reads every row, several times cheaper. Results do not depend on the guess (but
// for exact ties).
func (w *lloydWork) guessLabels(prev, c []float64) {
	if prev == nil {
		clear(w.labels)
		return
	}
	d, k := w.d, w.k
	to := make([]int, k)
	for a := range k {
		to[a], _ = nearest(prev[a*d:(a+1)*d], c, k)
	}
	for i, l := range w.labels {
		w.labels[i] = to[l]
	}
}
