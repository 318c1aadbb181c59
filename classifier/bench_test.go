package classifier_test

import (
	"testing"

	"personas/classifier"
)

const (
	benchN = 1_000_000
	benchD = 24
	benchK = 8
)

// BenchmarkKMeansLloyd is the speed comparison with scikit-learn's KMeans(n_init=10) on
// 1,000,000 × 24 blobs, k=8 (bench/sklearn_anchor.py).
func BenchmarkKMeansLloyd(b *testing.B) {
	X := blobs(b, benchN, benchD, benchK)
	b.ResetTimer()
	var res classifier.KMeansResult
	for b.Loop() {
		var err error
		res, err = classifier.KMeans(X, benchN, benchD, benchK, classifier.KMeansOptions{Starts: 10, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(res.Inertia, "inertia")
	b.ReportMetric(float64(res.Iter), "iter")
}
