package classifier_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/classifier"
)

// sklearnShoppersInertia is scikit-learn's KMeans(n_init=10) inertia on the prepared online
// shoppers data with k=6 (bench/README.md); ours must be within 1 % of it.
const sklearnShoppersInertia = 29091.6

func TestKMeansShoppersMatchesScikitLearn(t *testing.T) {
	t.Parallel()
	X, n, d := loadShoppers(t)
	if n != 12330 || d != 9 {
		t.Fatalf("shoppers data is %d × %d, want 12330 × 9", n, d)
	}
	res, err := classifier.KMeans(X, n, d, 6, classifier.KMeansOptions{Starts: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if limit := 1.01 * sklearnShoppersInertia; res.Inertia > limit {
		t.Errorf("inertia %.1f, want ≤ %.1f (1.01 × scikit-learn's %.1f)", res.Inertia, limit, sklearnShoppersInertia)
	}
	t.Logf("inertia %.1f (scikit-learn %.1f), sizes %v, %d iterations", res.Inertia, sklearnShoppersInertia, res.Sizes, res.Iter)
	// The reported inertia is the one of the labels and centroids returned.
	var got float64
	for i, l := range res.Labels {
		for j := range d {
			v := X[i*d+j] - res.Centroids[l*d+j]
			got += v * v
		}
	}
	if math.Abs(got-res.Inertia) > 1e-6*got {
		t.Errorf("inertia of the returned labels and centroids is %.4f, result says %.4f", got, res.Inertia)
	}
}

// synthetic is a Gaussian mixture with known labels.
type synthetic struct {
	name          string
	sizes         []int   // rows per true cluster
	d             int     // informative dimensions
	noise         int     // extra dimensions of pure noise, shared by all clusters
	spread, sd    float64 // centres ~ N(0, spread²), rows ~ N(centre, sd²)
	minARI        float64 // k-means and mini-batch k-means must reach this adjusted Rand index
	minARIMixture float64 // the Gaussian mixture must reach this one
}

func (s synthetic) generate(seed uint64) (X []float64, n, d int, labels []int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	k := len(s.sizes)
	d = s.d + s.noise
	C := make([]float64, k*s.d)
	for i := range C {
		C[i] = rng.NormFloat64() * s.spread
	}
	for _, m := range s.sizes {
		n += m
	}
	X = make([]float64, 0, n*d)
	for l, m := range s.sizes {
		for range m {
			for j := range s.d {
				X = append(X, C[l*s.d+j]+rng.NormFloat64()*s.sd)
			}
			for range s.noise {
				X = append(X, rng.NormFloat64()*s.sd)
			}
			labels = append(labels, l)
		}
	}
	// Shuffle rows so that order carries no information.
	for i := n - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		labels[i], labels[j] = labels[j], labels[i]
		for t := range d {
			X[i*d+t], X[j*d+t] = X[j*d+t], X[i*d+t]
		}
	}
	return X, n, d, labels
}

var syntheticCases = []synthetic{
	{name: "separated", sizes: []int{400, 400, 400, 400}, d: 5, spread: 8, sd: 1, minARI: 0.99, minARIMixture: 0.99},
	{name: "overlapping", sizes: []int{500, 500, 500}, d: 4, spread: 1.6, sd: 1, minARI: 0.45, minARIMixture: 0.45},
	{name: "unequal sizes", sizes: []int{1500, 400, 100}, d: 4, spread: 6, sd: 1, minARI: 0.95, minARIMixture: 0.95},
	{name: "noise features", sizes: []int{400, 400, 400}, d: 3, noise: 12, spread: 6, sd: 1, minARI: 0.95, minARIMixture: 0.95},
}

func TestClusteringRecoversKnownLabels(t *testing.T) {
	t.Parallel()
	for _, tc := range syntheticCases {
		t.Run(tc.name, func(t *testing.T) {
			X, n, d, truth := tc.generate(11)
			k := len(tc.sizes)
			km, err := classifier.KMeans(X, n, d, k, classifier.KMeansOptions{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			if ari := classifier.AdjustedRandIndex(truth, km.Labels); ari < tc.minARI {
				t.Errorf("k-means: adjusted Rand index %.3f, want ≥ %.2f", ari, tc.minARI)
			}
			mb, err := classifier.MiniBatchKMeans(X, n, d, k, classifier.MiniBatchOptions{BatchSize: 256, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			if ari := classifier.AdjustedRandIndex(truth, mb.Labels); ari < tc.minARI {
				t.Errorf("mini-batch k-means: adjusted Rand index %.3f, want ≥ %.2f", ari, tc.minARI)
			}
			g, err := classifier.FitGMM(X, n, d, k, km.Centroids, classifier.GMMOptions{})
			if err != nil {
				t.Fatal(err)
			}
			labels, _ := g.Predict(X, n)
			if ari := classifier.AdjustedRandIndex(truth, labels); ari < tc.minARIMixture {
				t.Errorf("Gaussian mixture: adjusted Rand index %.3f, want ≥ %.2f", ari, tc.minARIMixture)
			}
			var wsum float64
			for _, w := range g.Weights {
				wsum += w
			}
			if math.Abs(wsum-1) > 1e-9 {
				t.Errorf("mixture weights sum to %v, want 1", wsum)
			}
		})
	}
}

func TestKMeansIsReproducible(t *testing.T) {
	t.Parallel()
	X, n, d, _ := syntheticCases[1].generate(5)
	a, err := classifier.KMeans(X, n, d, 3, classifier.KMeansOptions{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	b, err := classifier.KMeans(X, n, d, 3, classifier.KMeansOptions{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if a.Inertia != b.Inertia || classifier.AdjustedRandIndex(a.Labels, b.Labels) != 1 {
		t.Errorf("same data and seed gave inertia %v then %v", a.Inertia, b.Inertia)
	}
}

func TestClusteringRejectsBadInput(t *testing.T) {
	t.Parallel()
	nan := []float64{1, 2, 3, math.NaN(), 5, 6}
	inf := []float64{1, 2, 3, math.Inf(1), 5, 6}
	ok := []float64{1, 2, 3, 4, 5, 6}
	tests := []struct {
		name string
		X    []float64
		n, d int
		k    int
		want error
	}{
		{"NaN", nan, 3, 2, 2, classifier.ErrInvalidInput},
		{"Inf", inf, 3, 2, 2, classifier.ErrInvalidInput},
		{"shape", ok, 4, 2, 2, classifier.ErrInvalidInput},
		{"zero columns", nil, 0, 0, 1, classifier.ErrInvalidInput},
		{"k zero", ok, 3, 2, 0, classifier.ErrInvalidInput},
		{"more clusters than rows", ok, 3, 2, 4, classifier.ErrTooLittleData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := classifier.KMeans(tt.X, tt.n, tt.d, tt.k, classifier.KMeansOptions{}); !errors.Is(err, tt.want) {
				t.Errorf("KMeans: error %v, want %v", err, tt.want)
			}
			if _, err := classifier.MiniBatchKMeans(tt.X, tt.n, tt.d, tt.k, classifier.MiniBatchOptions{}); !errors.Is(err, tt.want) {
				t.Errorf("MiniBatchKMeans: error %v, want %v", err, tt.want)
			}
			init := make([]float64, max(tt.k, 0)*max(tt.d, 0))
			if _, err := classifier.FitGMM(tt.X, tt.n, tt.d, tt.k, init, classifier.GMMOptions{}); !errors.Is(err, tt.want) {
				t.Errorf("FitGMM: error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestKMeansDuplicateRows(t *testing.T) {
	t.Parallel()
	// Fewer distinct rows than clusters: empty clusters must not break anything.
	X := []float64{1, 1, 1, 1, 1, 1, 2, 2, 2, 2}
	res, err := classifier.KMeans(X, 5, 2, 3, classifier.KMeansOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inertia != 0 {
		t.Errorf("inertia %v, want 0", res.Inertia)
	}
}

func TestMiniBatchCloseToLloyd(t *testing.T) {
	t.Parallel()
	const n, d, k = 60000, 24, 8
	X, _ := mixture(rand.New(rand.NewPCG(1, 0)), n, d, k, 3, 1.5)
	lloyd, err := classifier.KMeans(X, n, d, k, classifier.KMeansOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := classifier.MiniBatchKMeans(X, n, d, k, classifier.MiniBatchOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if mb.Inertia > 1.01*lloyd.Inertia {
		t.Errorf("mini-batch inertia %.1f, want within 1 %% of Lloyd's %.1f", mb.Inertia, lloyd.Inertia)
	}
}

func TestKMeansSameOnAnyNumberOfCores(t *testing.T) {
	X, n, d, _ := syntheticCases[1].generate(6)
	X = slices.Repeat(X, 4) // several chunks
	n *= 4
	run := func(procs int) classifier.KMeansResult {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res, err := classifier.KMeans(X, n, d, 3, classifier.KMeansOptions{Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	one, four := run(1), run(4)
	if diff := cmp.Diff(one, four); diff != "" {
		t.Errorf("1 core vs 4 (-one +four):\n%s", diff)
	}
}
