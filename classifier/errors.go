package classifier

import (
	"errors"
	"fmt"
)

// Sentinel errors of training. Each is wrapped with the reason, so errors.Is tells the caller what
// kind of problem it was and the message says why.
var (
	// ErrTooLittleData means there are too few visitors (or rows) for the asked clustering: fewer
	// than two minimum-size clusters, or fewer rows than clusters.
	ErrTooLittleData = errors.New("too little data")
	// ErrDegenerate means the data cannot be clustered: every feature is constant.
	ErrDegenerate = errors.New("degenerate data")
	// ErrInvalidInput means the input is malformed: NaN or infinite values, or a matrix whose
	// length does not match its shape.
	ErrInvalidInput = errors.New("invalid input")
)

// checkMatrix verifies that X holds n rows of d finite values.
func checkMatrix(X []float64, n, d int) error {
	if n < 0 || d <= 0 || len(X) != n*d {
		return fmt.Errorf("%w: matrix of %d values is not %d rows × %d columns", ErrInvalidInput, len(X), n, d)
	}
	// One worker per core over row chunks; the first bad value in row order is reported. v−v is
	// NaN exactly when v is NaN or ±Inf: one subtraction per value instead of two tests.
	bad := make([]int, numChunks(n, rowChunk))
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		bad[ch] = -1
		for i, v := range X[lo*d : hi*d] {
			if v-v != 0 {
				bad[ch] = lo*d + i
				return
			}
		}
	})
	for _, i := range bad {
		if i >= 0 {
			return fmt.Errorf("%w: row %d column %d is %v", ErrInvalidInput, i/d, i%d, X[i])
		}
	}
	return nil
}
