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
	MinK, MaxK     int // range k is chosen from [2, 12]
	FixedK         int // use this k instead of choosing (0: choose)
	MinClusterSize int // fewer rows than this make no cluster: smaller ones are merged (k-anonymity) [50]
	Starts         int // k-means++ starts of the final fit [10]
	SearchStarts   int // k-means++ starts per candidate k while choosing [3]
	SearchSize     int // rows the candidates are fitted on, a uniform sample [20,000]
	SampleSize     int // rows the silhouette is measured on, a uniform sample [5,000]
	MiniBatchAbove int // above this many rows, mini-batch k-means on a reservoir sample of this many [200,000]
	// VarFloor is the lower bound of a mixture component's variance on a feature, as a share of
	// the feature's variance over the rows [0.05]: a floor from the population, so a component
	// on which a sparse share is constant does not claim certainty on it.
	VarFloor float64
	// NoiseFloor, when set (length d), is a further lower bound on every component's variance per
	// feature, in scaled units: Train sets it to the mean sampling variance of each share over the
	// visitors (p(1−p)/h for a share seen h times), so that no component is sharper than the
	// noise of its members' estimates, and a share that is 0 or 1 because it was seen once does
	// not split a group.
	NoiseFloor []float64
	// Holdout are rows (increasing) left out of every fit: the validation split Train calibrates
	// on. They are labelled like the others.
	Holdout []int
	Seed    uint64 // seed of every random draw: the same data and seed give the same clustering

	// evid and noise, set by Train, give every row's values their sampling variances: the
	// mixture is then fitted as noisy data (fitXDGMM).
	evid  []evidence32
	noise *scoreSpec
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
	if o.VarFloor <= 0 {
		o.VarFloor = varFloorShare
	}
	return o
}

// gmmRows bounds the rows the mixture is fitted on; the mixture only refines k-means.
const gmmRows = 50000

// KScore is how one candidate k fared while choosing k.
type KScore struct {
	K          int     // clusters asked of k-means
	Clusters   int     // clusters left after merging those under the minimum size
	Silhouette float64 // version-1 models: on the sample (NaN when fewer than two clusters were left); 0 from version 2 on
	// ICL is the integrated completed likelihood criterion of the mixture (with background) on
	// the search sample: BIC plus twice the entropy of the soft assignment; lower is better. 0
	// (not a candidate) when fewer than two clusters were left. Finite, so Metrics encode as JSON.
	ICL float64
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
	// The background component: mean and variances (d each) and weight.
	BgMean, BgVar []float64
	BgWeight      float64
	Noise         int // rows labelled -1 (the background's)
}

// Cluster groups the n × d row-major matrix X (scaled features): it chooses k (unless FixedK) by
// the ICL of a diagonal Gaussian mixture with a background component, fitted from k-means++ on
// a sample (see chooseK), merges clusters smaller than MinClusterSize into their nearest
// neighbour, refines the clusters with the mixture for soft assignment, and labels every row
// with its most probable component, -1 where the background explains it better (noise). Above
// MiniBatchAbove rows it fits on a reservoir sample with mini-batch k-means. Clusters are
// numbered largest first. Holdout rows are left out of every fit.
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

	// The rows the clusters are fitted on: all but the holdout, or a reservoir sample of large data.
	T, m := X, n
	TE := o.evid
	if len(o.Holdout) > 0 || n > o.MiniBatchAbove {
		rows := fitRows(n, o.Holdout)
		if len(rows) > o.MiniBatchAbove { // a fixed draw, as the search's (see chooseK)
			pick := reservoir(len(rows), o.MiniBatchAbove, newRand(searchSeed, 0x7273))
			for t, i := range pick {
				pick[t] = rows[i]
			}
			rows = pick
		}
		m = len(rows)
		T = gatherRows(X, d, rows)
		if o.evid != nil {
			TE = gatherEvidence(o.evid, rows)
		}
	}
	if m < 2*o.MinClusterSize {
		return Clustering{}, fmt.Errorf("cluster: %w: %d rows outside the holdout, need at least %d",
			ErrTooLittleData, m, 2*o.MinClusterSize)
	}
	minSize := func(rows int) int { // the minimum size, scaled to a sample of rows
		return int(math.Ceil(float64(o.MinClusterSize) * float64(rows) / float64(n)))
	}
	_, popVar := columnMeanVar(T, m, d)
	floor := make([]float64, d)
	for t, v := range popVar {
		floor[t] = o.VarFloor * v
		if t < len(o.NoiseFloor) {
			floor[t] = max(floor[t], o.NoiseFloor[t])
		}
	}
	gmmOpts := GMMOptions{Background: true, VarFloor: floor}

	var res Clustering
	var searched []float64 // the means of the search's mixture at the chosen k
	k := o.FixedK
	if k <= 0 {
		var err error
		k, res.KScores, searched, err = chooseK(T, TE, m, d, min(o.MaxK, n/o.MinClusterSize), o, minSize, gmmOpts)
		if err != nil {
			return Clustering{}, fmt.Errorf("cluster: choose k: %w", err)
		}
	}
	if k > m {
		return Clustering{}, fmt.Errorf("cluster: %w: %d rows for k=%d", ErrTooLittleData, n, k)
	}

	var km KMeansResult
	var err error
	Tk := T // what k-means sees: with evidence, shares drawn towards the population's
	if o.noise != nil {
		Tk = shrunkShares(T, TE, m, d, o.noise)
	}
	if m > o.MiniBatchAbove || (n > o.MiniBatchAbove && m == o.MiniBatchAbove) {
		km, err = MiniBatchKMeans(Tk, m, d, k, MiniBatchOptions{Seed: o.Seed})
	} else {
		km, err = KMeans(Tk, m, d, k, KMeansOptions{Starts: o.Starts, Seed: o.Seed})
	}
	if err != nil {
		return Clustering{}, fmt.Errorf("cluster: final fit: %w", err)
	}
	k, centroids, kmLabels := mergeSmall(Tk, m, d, km.K, km.Centroids, km.Labels, minSize(m))
	Tk = nil
	if k < 2 {
		return Clustering{}, fmt.Errorf("cluster: %w: k=%d leaves fewer than two clusters of %d rows",
			ErrTooLittleData, km.K, o.MinClusterSize)
	}

	// Refine with the mixture, dropping components whose rows fall under the minimum size.
	G, GE, gn := T, TE, m
	initLabels := kmLabels
	if m > gmmRows {
		gn = gmmRows
		rows := sampleRows(m, gn, rng)
		G = gatherRows(T, d, rows)
		if TE != nil {
			GE = gatherEvidence(TE, rows)
		}
		initLabels = make([]int, gn)
		for t, i := range rows {
			initLabels[t] = kmLabels[i]
		}
	}
	var g GMM
	var labels []int
	var dens []float64
	fit := func() error {
		var err error
		if o.noise == nil {
			g, err = FitGMM(G, gn, d, k, centroids, gmmOpts)
			return err
		}
		var ent float64
		g, ent, err = fitMixture(G, GE, gn, d, k, centroids, initLabels, o.noise, floor, 100, 1e-3)
		if err != nil || searched == nil {
			return err
		}
		// The search's mixture is a second start, seed-independent: the lower ICL stands.
		alt, altEnt, err := fitMixture(G, GE, gn, d, len(searched)/d, searched, nil, o.noise, floor, 100, 1e-3)
		if err != nil {
			return err
		}
		if mixtureICL(&alt, altEnt, gn) < mixtureICL(&g, ent, gn) {
			g, k = alt, alt.K
		}
		searched = nil
		return nil
	}
	for {
		if err = fit(); err != nil {
			return Clustering{}, fmt.Errorf("cluster: mixture with k=%d: %w", k, err)
		}
		if o.noise != nil {
			labels, dens = predictMixture(&g, o.noise, X, o.evid, n)
		} else {
			labels, dens = g.Predict(X, n)
		}
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
		initLabels = nil
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
	res.BgMean, res.BgVar, res.BgWeight = g.BgMean, g.BgVar, g.BgWeight
	for i, l := range labels {
		if l >= 0 {
			labels[i] = rank[l]
		} else {
			res.Noise++
		}
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

// fitRows is 0..n-1 without the increasing holdout rows.
func fitRows(n int, holdout []int) []int {
	rows := make([]int, 0, n-len(holdout))
	h := 0
	for i := range n {
		if h < len(holdout) && holdout[h] == i {
			h++
			continue
		}
		rows = append(rows, i)
	}
	return rows
}

// chooseK fits every candidate k on a sample: k-means++ (SearchStarts starts), clusters under
// the (scaled) minimum size merged, then the diagonal mixture with its background from those
// centres. It returns the k (at most maxK) whose mixture has the lowest ICL: −2 log-likelihood +
// parameters · log rows + 2 · the entropy of the soft assignment. The likelihood rewards
// components that fit, the penalty charges each for its 2d+1 parameters, and the entropy term
// charges components that overlap so much that rows cannot tell them apart, which is how a
// skewed group split in two, or noise taken for a group, shows. The background absorbs rows far
// from every group, so they do not buy components. The sample and the k-means starts are drawn
// from fixed streams (searchSeed), not from the training seed: the same data gives the same k
// for any seed, and a criterion on the mixture's likelihood moves far less with the data than a
// silhouette of hard k-means partitions did.
func chooseK(T []float64, TE []evidence32, m, d, maxK int, o ClusterOptions, minSize func(int) int, gmmOpts GMMOptions) (int, []KScore, []float64, error) {
	if maxK < o.MinK {
		return 0, nil, nil, fmt.Errorf("%w: the data allows at most %d clusters of %d rows, below MinK=%d",
			ErrTooLittleData, maxK, o.MinClusterSize, o.MinK)
	}
	S, SE, s := T, TE, m
	if m > o.SearchSize {
		s = o.SearchSize
		rows := sampleRows(m, s, newRand(searchSeed, 0x636b))
		S = gatherRows(T, d, rows)
		if TE != nil {
			SE = gatherEvidence(TE, rows)
		}
	}
	gmmOpts.MaxIter = 60
	Sk := S // what k-means sees (see Cluster)
	if o.noise != nil {
		Sk = shrunkShares(S, SE, s, d, o.noise)
		return chooseKMixture(S, Sk, SE, s, d, maxK, o, minSize(s), gmmOpts.VarFloor, gmmOpts.MaxIter)
	}
	var scores []KScore
	best := -1
	for k := o.MinK; k <= maxK; k++ {
		km, err := KMeans(Sk, s, d, k, KMeansOptions{Starts: o.SearchStarts, Seed: searchSeed + uint64(k)})
		if err != nil {
			return 0, nil, nil, fmt.Errorf("k-means with k=%d: %w", k, err)
		}
		kk, c, _ := mergeSmall(Sk, s, d, km.K, km.Centroids, km.Labels, minSize(s))
		sc := KScore{K: k, Clusters: kk}
		if kk >= 2 {
			g, err := FitGMM(S, s, d, kk, c, gmmOpts)
			if err != nil {
				return 0, nil, nil, fmt.Errorf("mixture with k=%d: %w", k, err)
			}
			sc.ICL = icl(&g, S, s)
			if best < 0 || sc.ICL < scores[best].ICL {
				best = len(scores)
			}
		}
		scores = append(scores, sc)
	}
	if best < 0 {
		return 0, scores, nil, fmt.Errorf("%w: no k in %d..%d leaves two clusters of %d rows",
			ErrTooLittleData, o.MinK, maxK, o.MinClusterSize)
	}
	return scores[best].K, scores, nil, nil
}

// chooseKMixture is chooseK with the evidence-aware mixture, k from maxK down to MinK. Each k
// has two candidate starts: k-means (SearchStarts starts, clusters under minSize merged) and the
// best mixture of k+1 without its lightest component; the candidate of the lower ICL stands for
// k. k-means likes to halve a large spread group rather than part a small group from its
// neighbour, and the mixture cannot undo a start that merged two groups; the mixture of one
// more component, which had room for both, can lose the component it needs least. It returns
// the chosen k, the scores in increasing k and the means of the chosen mixture.
func chooseKMixture(S, Sk []float64, SE []evidence32, s, d, maxK int, o ClusterOptions, minSize int, floor []float64, maxIter int) (int, []KScore, []float64, error) {
	scores := make([]KScore, 0, maxK-o.MinK+1)
	var fits []GMM // per score, its mixture (K 0: none)
	var prev GMM   // the mixture of k+1
	for k := maxK; k >= o.MinK; k-- {
		km, err := KMeans(Sk, s, d, k, KMeansOptions{Starts: o.SearchStarts, Seed: searchSeed + uint64(k)})
		if err != nil {
			return 0, nil, nil, fmt.Errorf("k-means with k=%d: %w", k, err)
		}
		kk, c, kl := mergeSmall(Sk, s, d, km.K, km.Centroids, km.Labels, minSize)
		sc, best := KScore{K: k, Clusters: kk}, GMM{}
		try := func(k int, init []float64, labels []int) error {
			g, ent, err := fitMixture(S, SE, s, d, k, init, labels, o.noise, floor, maxIter, 1e-3)
			if err != nil {
				return fmt.Errorf("mixture with k=%d: %w", k, err)
			}
			if icl := mixtureICL(&g, ent, s); best.K == 0 || icl < sc.ICL {
				sc.ICL, sc.Clusters, best = icl, k, g
			}
			return nil
		}
		if kk >= 2 {
			if err := try(kk, c, kl); err != nil {
				return 0, nil, nil, err
			}
		}
		if prev.K > 2 && prev.K-1 <= k {
			drop := leastNeeded(&prev, o.noise, S, SE, s)
			init := slices.Delete(slices.Clone(prev.Means), drop*d, (drop+1)*d)
			if err := try(prev.K-1, init, nil); err != nil {
				return 0, nil, nil, err
			}
			if err := try(prev.K-1, cheapestMerge(&prev, o.noise, S, SE, s), nil); err != nil {
				return 0, nil, nil, err
			}
		}
		scores, fits, prev = append(scores, sc), append(fits, best), best
	}
	slices.Reverse(scores)
	slices.Reverse(fits)
	best := -1
	for i, sc := range scores {
		if fits[i].K >= 2 && (best < 0 || sc.ICL < scores[best].ICL) {
			best = i
		}
	}
	if best < 0 {
		return 0, scores, nil, fmt.Errorf("%w: no k in %d..%d leaves two clusters of %d rows",
			ErrTooLittleData, o.MinK, maxK, o.MinClusterSize)
	}
	return fits[best].K, scores, fits[best].Means, nil
}

// mixtureICL is the ICL of a mixture fitted to n rows whose soft assignments have entropy ent:
// −2 log-likelihood + parameters · log n + 2 · entropy.
func mixtureICL(g *GMM, ent float64, n int) float64 {
	params := float64(g.K * (2*g.D + 1))
	return -2*g.LogLikelihood*float64(n) + params*math.Log(float64(n)) + 2*ent
}

// searchSeed seeds the draws of the search for k: fixed, so that k is a function of the data
// alone. The training seed moves the final fit's starts, never the number of personas.
const searchSeed = 0x6b5ea7c4

// icl is the integrated completed likelihood criterion of g on the n rows of X.
func icl(g *GMM, X []float64, n int) float64 {
	tm := newGMMTerms(g)
	d, k := g.D, g.K
	part := make([]float64, 2*numChunks(n, rowChunk))
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		p := make([]float64, k)
		var ll, ent float64
		for i := lo; i < hi; i++ {
			l, bg := tm.posteriorBg(X[i*d:(i+1)*d], p)
			ll += l
			for _, r := range p {
				if r > 1e-300 {
					ent -= r * math.Log(r)
				}
			}
			if bg > 1e-300 {
				ent -= bg * math.Log(bg)
			}
		}
		part[2*ch], part[2*ch+1] = ll, ent
	})
	var ll, ent float64
	for ch := 0; ch < len(part); ch += 2 {
		ll += part[ch]
		ent += part[ch+1]
	}
	params := float64(k * (2*d + 1)) // means, variances and a weight per component (the background's weight included)
	return -2*ll + params*math.Log(float64(n)) + 2*ent
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

// inertia is Σ squared distance of every row to its cluster's centroid (noise rows, label -1,
// left out).
func inertia(X []float64, n, d int, centroids []float64, labels []int) float64 {
	part := make([]float64, numChunks(n, rowChunk))
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			l := labels[i]
			if l < 0 {
				continue // noise
			}
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
