package classifier

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// ClusterOptions tune Cluster. Zero values take the defaults in brackets.
type ClusterOptions struct {
	MinK, MaxK     int     // range k is chosen from [2, 12]
	FixedK         int     // use this k instead of choosing (0: choose)
	MinClusterSize int     // fewer rows than this make no cluster: smaller ones are merged (k-anonymity) [50]
	Starts         int     // k-means++ starts of the final fit [10]
	SearchStarts   int     // k-means++ starts per candidate k while choosing [3]
	SearchSize     int     // rows the candidates are fitted on, a uniform sample [20,000]
	SampleSize     int     // rows the silhouette is measured on, a uniform sample [5,000]
	MiniBatchAbove int     // above this many rows, mini-batch k-means on a reservoir sample of this many [200,000]
	RegCovar       float64 // added to the mixture's variances, in scaled units [0.01]
	Seed           uint64  // seed of every random draw: the same data and seed give the same clustering
}

func (o ClusterOptions) withDefaults() ClusterOptions {
	if o.MinK <= 0 {
		o.MinK = 2
	}
	if o.MaxK <= 0 {
		o.MaxK = 12
	}
	if o.MinClusterSize <= 0 {
		o.MinClusterSize = 50
	}
	if o.Starts <= 0 {
		o.Starts = 10
	}
	if o.SearchStarts <= 0 {
		o.SearchStarts = 3
	}
	if o.SearchSize <= 0 {
		o.SearchSize = 20000
	}
	if o.SampleSize <= 0 {
		o.SampleSize = 5000
	}
	if o.MiniBatchAbove <= 0 {
		o.MiniBatchAbove = 200000
	}
	if o.RegCovar <= 0 {
		o.RegCovar = 0.01
	}
	return o
}

// gmmRows bounds the rows the mixture is fitted on; the mixture only refines k-means.
const gmmRows = 50000

// KScore is how one candidate k fared while choosing k.
type KScore struct {
	K          int     // clusters asked of k-means
	Clusters   int     // clusters left after merging those under the minimum size
	Silhouette float64 // on the sample; NaN when fewer than two clusters were left
}

// Clustering is the outcome of Cluster on a scaled matrix.
type Clustering struct {
	K                int
	Centroids        []float64 // K × d: the mixture's means
	Variances        []float64 // K × d
	Weights          []float64 // K
	Labels           []int     // per row: most probable component
	Sizes            []int     // rows per cluster, largest first
	Inertia          float64   // Σ squared distance of rows to their centroid
	Silhouette       float64   // of Labels, on the sample
	LogLikelihood    float64   // mean per row of the mixture's training rows
	OutlierThreshold float64   // 1st percentile of the rows' log densities
	KScores          []KScore  // one per candidate k (nil with FixedK)
}

// Cluster groups the n × d row-major matrix X (scaled features): it chooses k by the silhouette
// of k-means on samples (unless FixedK), merges clusters smaller than MinClusterSize into their
// nearest neighbour, refines the clusters with a diagonal Gaussian mixture for soft assignment,
// and labels every row with its most probable component. Above MiniBatchAbove rows it fits on a
// reservoir sample with mini-batch k-means. Clusters are numbered largest first.
//
// It fails with ErrTooLittleData when n is under two minimum clusters or no k leaves two clusters
// of the minimum size, and ErrInvalidInput on non-finite values.
func Cluster(X []float64, n, d int, opts ClusterOptions) (Clustering, error) {
	if err := checkMatrix(X, n, d); err != nil {
		return Clustering{}, fmt.Errorf("cluster: %w", err)
	}
	o := opts.withDefaults()
	if o.MaxK < o.MinK {
		return Clustering{}, fmt.Errorf("cluster: %w: MaxK=%d below MinK=%d", ErrInvalidInput, o.MaxK, o.MinK)
	}
	if n < 2*o.MinClusterSize {
		return Clustering{}, fmt.Errorf("cluster: %w: %d rows, need at least %d (two clusters of %d)",
			ErrTooLittleData, n, 2*o.MinClusterSize, o.MinClusterSize)
	}
	rng := newRand(o.Seed, 0x636c)

	// The rows the clusters are fitted on: all, or a reservoir sample of large data.
	T, m := X, n
	if n > o.MiniBatchAbove {
		m = o.MiniBatchAbove
		T = gatherRows(X, d, reservoir(n, m, rng))
	}
	minSize := func(rows int) int { // the minimum size, scaled to a sample of rows
		return int(math.Ceil(float64(o.MinClusterSize) * float64(rows) / float64(n)))
	}

	var res Clustering
	k := o.FixedK
	if k <= 0 {
		var err error
		k, res.KScores, err = chooseK(T, m, d, min(o.MaxK, n/o.MinClusterSize), o, minSize, rng)
		if err != nil {
			return Clustering{}, fmt.Errorf("cluster: choose k: %w", err)
		}
	}
	if k > m {
		return Clustering{}, fmt.Errorf("cluster: %w: %d rows for k=%d", ErrTooLittleData, n, k)
	}

	var km KMeansResult
	var err error
	if n > o.MiniBatchAbove {
		km, err = MiniBatchKMeans(T, m, d, k, MiniBatchOptions{Seed: o.Seed})
	} else {
		km, err = KMeans(T, m, d, k, KMeansOptions{Starts: o.Starts, Seed: o.Seed})
	}
	if err != nil {
		return Clustering{}, fmt.Errorf("cluster: final fit: %w", err)
	}
	k, centroids, _ := mergeSmall(T, m, d, km.K, km.Centroids, km.Labels, minSize(m))
	if k < 2 {
		return Clustering{}, fmt.Errorf("cluster: %w: k=%d leaves fewer than two clusters of %d rows",
			ErrTooLittleData, km.K, o.MinClusterSize)
	}

	// Refine with the mixture, dropping components whose rows fall under the minimum size.
	G, gn := T, m
	if m > gmmRows {
		gn = gmmRows
		G = gatherRows(T, d, sampleRows(m, gn, rng))
	}
	var g GMM
	var labels []int
	var dens []float64
	for {
		g, err = FitGMM(G, gn, d, k, centroids, GMMOptions{RegCovar: o.RegCovar})
		if err != nil {
			return Clustering{}, fmt.Errorf("cluster: mixture with k=%d: %w", k, err)
		}
		labels, dens = g.Predict(X, n)
		sizes := clusterSizes(labels, k)
		small := slices.Index(sizes, slices.Min(sizes))
		if sizes[small] >= o.MinClusterSize {
			break
		}
		if k == 2 {
			return Clustering{}, fmt.Errorf("cluster: %w: the mixture leaves fewer than two clusters of %d rows",
				ErrTooLittleData, o.MinClusterSize)
		}
		centroids = slices.Delete(slices.Clone(g.Means), small*d, (small+1)*d)
		k--
	}

	// Number clusters largest first.
	sizes := clusterSizes(labels, k)
	order := make([]int, k)
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })
	rank := make([]int, k)
	res.K = k
	res.Centroids = make([]float64, k*d)
	res.Variances = make([]float64, k*d)
	res.Weights = make([]float64, k)
	res.Sizes = make([]int, k)
	for r, j := range order {
		rank[j] = r
		copy(res.Centroids[r*d:(r+1)*d], g.Means[j*d:(j+1)*d])
		copy(res.Variances[r*d:(r+1)*d], g.Variances[j*d:(j+1)*d])
		res.Weights[r] = g.Weights[j]
		res.Sizes[r] = sizes[j]
	}
	for i, l := range labels {
		labels[i] = rank[l]
	}
	res.Labels = labels
	res.Inertia = inertia(X, n, d, res.Centroids, labels)
	res.LogLikelihood = g.LogLikelihood
	sorted := slices.Clone(dens)
	slices.Sort(sorted)
	res.OutlierThreshold = stat.Quantile(0.01, stat.Empirical, sorted, nil)

	sample := sampleRows(n, min(n, o.SampleSize), rng)
	sl := make([]int, len(sample))
	for t, i := range sample {
		sl[t] = labels[i]
	}
	res.Silhouette = Silhouette(gatherRows(X, d, sample), len(sample), d, sl, k)
	return res, nil
}

// chooseK fits every candidate k on a sample, merges clusters under the (scaled) minimum size, and
// returns the k (at most maxK) whose merged clustering has the best silhouette (the smallest such k on ties).
func chooseK(T []float64, m, d, maxK int, o ClusterOptions, minSize func(int) int, rng *rand.Rand) (int, []KScore, error) {
	if maxK < o.MinK {
		return 0, nil, fmt.Errorf("%w: the data allows at most %d clusters of %d rows, below MinK=%d",
			ErrTooLittleData, maxK, o.MinClusterSize, o.MinK)
	}
	S, s := T, m
	if m > o.SearchSize {
		s = o.SearchSize
		S = gatherRows(T, d, sampleRows(m, s, rng))
	}
	sample := sampleRows(s, min(s, o.SampleSize), rng)
	P := gatherRows(S, d, sample)
	var scores []KScore
	var labelings [][]int
	var ks []int
	for k := o.MinK; k <= maxK; k++ {
		km, err := KMeans(S, s, d, k, KMeansOptions{Starts: o.SearchStarts, Seed: o.Seed + uint64(k)})
		if err != nil {
			return 0, nil, fmt.Errorf("k-means with k=%d: %w", k, err)
		}
		kk, _, labels := mergeSmall(S, s, d, km.K, km.Centroids, km.Labels, minSize(s))
		sl := make([]int, len(sample))
		for t, i := range sample {
			sl[t] = labels[i]
		}
		scores = append(scores, KScore{K: k, Clusters: kk})
		labelings = append(labelings, sl)
		ks = append(ks, kk)
	}
	sil := silhouettes(P, len(sample), d, labelings, ks)
	best := -1
	for i := range scores {
		scores[i].Silhouette = sil[i]
		if scores[i].Clusters < 2 || math.IsNaN(sil[i]) {
			scores[i].Silhouette = math.NaN()
			continue
		}
		if best < 0 || sil[i] > sil[best] {
			best = i
		}
	}
	if best < 0 {
		return 0, scores, fmt.Errorf("%w: no k in %d..%d leaves two clusters of %d rows",
			ErrTooLittleData, o.MinK, maxK, o.MinClusterSize)
	}
	return scores[best].K, scores, nil
}

// mergeSmall merges, smallest first, every cluster with fewer than minSize rows into the cluster
// with the nearest centroid (the merged centroid is the size-weighted mean), until all are large
// enough or one is left. It returns the new k, centroids and labels (labels is updated in place).
func mergeSmall(X []float64, n, d, k int, centroids []float64, labels []int, minSize int) (int, []float64, []int) {
	c := slices.Clone(centroids)
	sizes := clusterSizes(labels, k)
	for k > 1 {
		j := slices.Index(sizes, slices.Min(sizes))
		if sizes[j] >= minSize {
			break
		}
		to, best := -1, math.Inf(1)
		for i := range k {
			if i == j {
				continue
			}
			if dd := sqDist(c[j*d:(j+1)*d], c[i*d:(i+1)*d]); dd < best {
				to, best = i, dd
			}
		}
		if total := sizes[to] + sizes[j]; total > 0 {
			wt, wj := float64(sizes[to])/float64(total), float64(sizes[j])/float64(total)
			for t := range d {
				c[to*d+t] = wt*c[to*d+t] + wj*c[j*d+t]
			}
		}
		sizes[to] += sizes[j]
		// Move the last cluster into slot j.
		last := k - 1
		if to == last {
			to = j
		}
		for i, l := range labels[:n] {
			switch l {
			case j:
				labels[i] = to
			case last:
				labels[i] = j
			}
		}
		copy(c[j*d:(j+1)*d], c[last*d:(last+1)*d])
		sizes[j] = sizes[last]
		sizes = sizes[:last]
		c = c[:last*d]
		k--
	}
	return k, c, labels
}

// inertia is Σ squared distance of every row to its cluster's centroid.
func inertia(X []float64, n, d int, centroids []float64, labels []int) float64 {
	part := make([]float64, numChunks(n, rowChunk))
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			l := labels[i]
			s += sqDist(X[i*d:(i+1)*d], centroids[l*d:(l+1)*d])
		}
		part[ch] = s
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// reservoir draws m of n row indexes uniformly in one pass (Algorithm R), in increasing order: the
// sample of a stream whose length is not known in advance, here the visitors of a large project.
func reservoir(n, m int, rng *rand.Rand) []int {
	rows := make([]int, min(n, m))
	for i := range rows {
		rows[i] = i
	}
	for i := m; i < n; i++ {
		if j := rng.IntN(i + 1); j < m {
			rows[j] = i
		}
	}
	slices.Sort(rows)
	return rows
}
