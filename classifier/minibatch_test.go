package classifier_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"personas/classifier"
)

// MiniBatchKMeans checks the values in its last pass, not before: a NaN or ±Inf in a row no
// sample or batch drew is still reported, with its row and column.
func TestMiniBatchRejectsBadValueOutsideSamples(t *testing.T) {
	t.Parallel()
	const n, d = 60000, 3
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bad := range []float64{math.NaN(), math.Inf(-1)} {
		X := make([]float64, n*d)
		for i := range X {
			X[i] = rng.NormFloat64()
		}
		X[(n-7)*d+2] = bad
		_, err := classifier.MiniBatchKMeans(X, n, d, 3, classifier.MiniBatchOptions{BatchSize: 64, Seed: 1})
		if !errors.Is(err, classifier.ErrInvalidInput) {
			t.Fatalf("%v at row %d: error %v, want ErrInvalidInput", bad, n-7, err)
		}
		if !strings.Contains(err.Error(), "row 59993 column 2") {
			t.Errorf("error %q does not name row 59993 column 2", err)
		}
	}
}
