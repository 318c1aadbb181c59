package classifier_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/classifier"
)

func TestClusterFindsTrueK(t *testing.T) {
	t.Parallel()
	tests := []synthetic{
		{name: "two", sizes: []int{300, 300}, d: 4, spread: 8, sd: 1},
		{name: "three unequal", sizes: []int{900, 300, 120}, d: 5, spread: 8, sd: 1},
		{name: "five", sizes: []int{300, 300, 300, 300, 300}, d: 6, spread: 8, sd: 1},
		{name: "eight with noise features", sizes: []int{200, 200, 200, 200, 200, 200, 200, 200}, d: 8, noise: 4, spread: 8, sd: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			X, n, d, truth := tc.generate(21)
			cl, err := classifier.Cluster(X, n, d, classifier.ClusterOptions{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if cl.K != len(tc.sizes) {
				t.Errorf("chose k=%d, want %d (scores %+v)", cl.K, len(tc.sizes), cl.KScores)
			}
			if ari := classifier.AdjustedRandIndex(truth, cl.Labels); ari < 0.99 {
				t.Errorf("adjusted Rand index %.3f, want ≥ 0.99", ari)
			}
			if !slices.IsSortedFunc(cl.Sizes, func(a, b int) int { return b - a }) {
				t.Errorf("sizes %v are not largest first", cl.Sizes)
			}
		})
	}
}

func TestClusterEnforcesMinimumSize(t *testing.T) {
	t.Parallel()
	// A true cluster of 30 rows is under the minimum of 50: it must not survive as a cluster.
	tc := synthetic{sizes: []int{400, 400, 30}, d: 4, spread: 8, sd: 1}
	X, n, d, _ := tc.generate(4)
	for _, fixed := range []int{0, 3, 6} {
		cl, err := classifier.Cluster(X, n, d, classifier.ClusterOptions{Seed: 2, FixedK: fixed, MinClusterSize: 50})
		if err != nil {
			t.Fatalf("FixedK=%d: %v", fixed, err)
		}
		if slices.Min(cl.Sizes) < 50 {
			t.Errorf("FixedK=%d: sizes %v, want every cluster ≥ 50", fixed, cl.Sizes)
		}
		got := make([]int, cl.K)
		for _, l := range cl.Labels {
			if l >= 0 { // -1: noise, the background's
				got[l]++
			}
		}
		if !slices.Equal(got, cl.Sizes) {
			t.Errorf("FixedK=%d: labels count %v, sizes say %v", fixed, got, cl.Sizes)
		}
	}
}

func TestClusterRefusesWhatItCannotCluster(t *testing.T) {
	t.Parallel()
	small := synthetic{sizes: []int{40, 40}, d: 3, spread: 8, sd: 1}
	Xs, ns, ds, _ := small.generate(1)
	lopsided := synthetic{sizes: []int{200, 20}, d: 3, spread: 8, sd: 1}
	Xl, nl, dl, _ := lopsided.generate(1)
	nan := slices.Clone(Xl)
	nan[17] = math.NaN()
	tests := []struct {
		name string
		X    []float64
		n, d int
		want error
	}{
		{"fewer rows than two minimum clusters", Xs, ns, ds, classifier.ErrTooLittleData},
		{"no two clusters of the minimum size", Xl, nl, dl, classifier.ErrTooLittleData},
		{"NaN", nan, nl, dl, classifier.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := classifier.Cluster(tt.X, tt.n, tt.d, classifier.ClusterOptions{MinClusterSize: 50})
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// stabilityData is four separated clusters of 400 rows around fixed centres.
func stabilityData(seed uint64, extra int) (X []float64, n, d int, centres [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	d = 4
	centres = [][]float64{{0, 0, 0, 0}, {12, 0, 0, 0}, {0, 12, 0, 0}, {0, 0, 12, 0}, {0, 0, 0, 12}}
	sizes := []int{400, 400, 400, 400, extra}
	for c, m := range sizes {
		for range m {
			for j := range d {
				X = append(X, centres[c][j]+rng.NormFloat64())
			}
			n++
		}
	}
	return X, n, d, centres
}

func TestMatchingAcrossVersions(t *testing.T) {
	t.Parallel()
	X, n, d, centres := stabilityData(1, 0)
	first, err := classifier.Cluster(X, n, d, classifier.ClusterOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if first.K != 4 {
		t.Fatalf("first version has k=%d, want 4", first.K)
	}

	t.Run("same data and seed", func(t *testing.T) {
		again, err := classifier.Cluster(X, n, d, classifier.ClusterOptions{Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		match, stab, drift := classifier.MatchClusters(X, n, d, again.Labels, again.Centroids, again.K, first.Labels, first.K, 0)
		for j := range again.K {
			// The mixture's means are soft (the background takes a sliver of every row), the
			// members' mean is hard: they agree to far less than the clusters' spread.
			if match[j] != j || stab[j] != 1 || drift[j] > 1e-3 {
				t.Errorf("cluster %d: match %d stability %v drift %v, want itself, 1, 0", j, match[j], stab[j], drift[j])
			}
		}
	})

	t.Run("one cluster added", func(t *testing.T) {
		X2, n2, _, _ := stabilityData(1, 400)
		prev := slices.Concat(first.Labels, slices.Repeat([]int{-1}, n2-n))
		next, err := classifier.Cluster(X2, n2, d, classifier.ClusterOptions{Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		if next.K != 5 {
			t.Fatalf("k=%d, want 5", next.K)
		}
		match, stab, _ := classifier.MatchClusters(X2, n2, d, next.Labels, next.Centroids, next.K, prev, first.K, 0)
		for j := range next.K {
			// The cluster of the added rows is the one whose first row is past the old data.
			added := next.Labels[n] == j
			switch {
			case added && match[j] != -1:
				t.Errorf("the added cluster %d was matched to %d, want -1", j, match[j])
			case !added && (match[j] < 0 || !sameMembers(first.Labels, next.Labels[:n], match[j], j) || stab[j] != 1):
				t.Errorf("old cluster %d matched to %d with stability %v, want its own previous cluster, 1", j, match[j], stab[j])
			}
		}
	})

	for _, s := range []float64{0.1, 0.25, 0.4} {
		t.Run(fmt.Sprintf("shift share %.0f%%", 100*s), func(t *testing.T) {
			// Move a share s of the members of the cluster at centres[1] to centres[2].
			from := first.Labels[400] // the rows 400..799 were drawn around centres[1]
			X2 := slices.Clone(X)
			moved := 0
			rng := rand.New(rand.NewPCG(8, 8))
			for i := 400; i < 800 && float64(moved) < s*400; i++ {
				for j := range d {
					X2[i*d+j] = centres[2][j] + rng.NormFloat64()
				}
				moved++
			}
			next, err := classifier.Cluster(X2, n, d, classifier.ClusterOptions{Seed: 5, FixedK: 4})
			if err != nil {
				t.Fatal(err)
			}
			match, stab, _ := classifier.MatchClusters(X2, n, d, next.Labels, next.Centroids, next.K, first.Labels, first.K, 0)
			for j := range next.K {
				want := 1.0
				if match[j] == from {
					want = 1 - s
				}
				if match[j] < 0 || math.Abs(stab[j]-want) > 0.02 {
					t.Errorf("cluster %d: match %d stability %.3f, want a match and %.3f ± 0.02", j, match[j], stab[j], want)
				}
			}
		})
	}
}

// sameMembers reports whether cluster a of labels x and cluster b of labels y hold the same rows.
func sameMembers(x, y []int, a, b int) bool {
	for i := range x {
		if (x[i] == a) != (y[i] == b) {
			return false
		}
	}
	return true
}

func TestClusterLargeProjectPath(t *testing.T) {
	t.Parallel()
	// Above MiniBatchAbove rows, Cluster fits mini-batch k-means on a reservoir sample and still
	// labels every row.
	tc := synthetic{sizes: []int{1500, 1000, 700}, d: 5, spread: 8, sd: 1}
	X, n, d, truth := tc.generate(31)
	cl, err := classifier.Cluster(X, n, d, classifier.ClusterOptions{Seed: 3, MiniBatchAbove: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if cl.K != 3 || len(cl.Labels) != n {
		t.Fatalf("k=%d with %d labels, want 3 and %d", cl.K, len(cl.Labels), n)
	}
	if ari := classifier.AdjustedRandIndex(truth, cl.Labels); ari < 0.99 {
		t.Errorf("adjusted Rand index %.3f, want ≥ 0.99", ari)
	}
	if diff := cmp.Diff([]int{1500, 1000, 700}, cl.Sizes); diff != "" {
		t.Errorf("sizes (-want +got):\n%s", diff)
	}
	if _, err := classifier.Cluster(X, n, d, classifier.ClusterOptions{MinK: 5, MaxK: 3}); !errors.Is(err, classifier.ErrInvalidInput) {
		t.Errorf("MaxK below MinK: error %v, want ErrInvalidInput", err)
	}
}
