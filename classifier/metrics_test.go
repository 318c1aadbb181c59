package classifier_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/classifier"
)

func TestAdjustedRandIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b []int
		want float64
	}{
		{"identical", []int{0, 0, 1, 1, 2}, []int{0, 0, 1, 1, 2}, 1},
		{"renamed labels", []int{0, 0, 1, 1, 2}, []int{7, 7, -1, -1, 3}, 1},
		{"one split (scikit-learn's example)", []int{0, 0, 1, 1}, []int{0, 0, 1, 2}, 0.5714285714285714},
		{"independent", []int{0, 0, 1, 1}, []int{0, 1, 0, 1}, -0.5},
		{"both trivial", []int{0, 0, 0}, []int{1, 1, 1}, 1},
		{"empty", nil, nil, 1},
		{"lengths differ", []int{0}, []int{0, 1}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifier.AdjustedRandIndex(tt.a, tt.b)
			if !(math.Abs(got-tt.want) < 1e-12 || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("AdjustedRandIndex(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestSilhouette(t *testing.T) {
	t.Parallel()
	// 1-D points 0, 1 | 10, 11 | 30 (alone):
	// row 0: a=1, b=min(mean(10,11), 30)=10.5 → 9.5/10.5; row 1: a=1, b=9.5 → 8.5/9.5;
	// row 2: a=1, b=min(9.5, 20)=9.5 → 8.5/9.5; row 3: a=1, b=min(10.5, 19)=10.5 → 9.5/10.5; row 4: 0.
	X := []float64{0, 1, 10, 11, 30}
	want := (2*9.5/10.5 + 2*8.5/9.5 + 0) / 5
	tests := []struct {
		name   string
		labels []int
		k      int
		want   float64
	}{
		{"three clusters with a lone row", []int{0, 0, 1, 1, 2}, 3, want},
		{"one cluster", []int{0, 0, 0, 0, 0}, 1, math.NaN()},
		{"an empty cluster", []int{0, 0, 2, 2, 3}, 4, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifier.Silhouette(X, 5, 1, tt.labels, tt.k)
			if !(math.Abs(got-tt.want) < 1e-12 || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("Silhouette = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHungarian(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	tests := []struct {
		name string
		cost [][]float64
		want []int
	}{
		{"empty", nil, nil},
		{"one", [][]float64{{3}}, []int{0}},
		{"classic 3 × 3", [][]float64{{4, 1, 3}, {2, 0, 5}, {3, 2, 2}}, []int{1, 0, 2}},
		{"greedy is wrong", [][]float64{{1, 2}, {2, 100}}, []int{1, 0}},
		{"more columns", [][]float64{{5, 1, 9}, {1, 6, 9}}, []int{1, 0}},
		{"more rows: the costliest row is left out", [][]float64{{1, 9}, {9, 1}, {5, 5}}, []int{0, 1, -1}},
		{"infinite costs avoided", [][]float64{{inf, 1}, {1, inf}}, []int{1, 0}},
		{"NaN treated as largest", [][]float64{{math.NaN(), 1}, {1, 2}}, []int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, classifier.Hungarian(tt.cost)); diff != "" {
				t.Errorf("Hungarian(%v) (-want +got):\n%s", tt.cost, diff)
			}
		})
	}
}

func TestMatchClustersThreshold(t *testing.T) {
	t.Parallel()
	// 1-D rows; the last row (at 0) was in previous cluster 1, so that cluster's centroid in the
	// new space is (100 + 100 + 0) / 3: 33.3 from the new cluster 1 at 100.
	X := []float64{0, 0, 100, 100, 0}
	labels := []int{0, 0, 1, 1, 0}
	centroids := []float64{0, 100}
	prev := []int{0, 0, 1, 1, 1}
	tests := []struct {
		name          string
		threshold     float64
		wantMatch     []int
		wantStability []float64
	}{
		{"default: previous centroid in the new cell", 0, []int{0, 1}, []float64{1, 2.0 / 3}},
		{"explicit threshold below the drift", 20, []int{0, -1}, []float64{1, -1}},
		{"explicit threshold above the drift", 40, []int{0, 1}, []float64{1, 2.0 / 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, stab, drift := classifier.MatchClusters(X, 5, 1, labels, centroids, 2, prev, 2, tt.threshold)
			if diff := cmp.Diff(tt.wantMatch, match); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStability, stab); diff != "" {
				t.Errorf("stability (-want +got):\n%s", diff)
			}
			if match[1] == 1 && math.Abs(drift[1]-100.0/3) > 1e-9 {
				t.Errorf("drift of cluster 1 = %v, want 33.3", drift[1])
			}
		})
	}
}
