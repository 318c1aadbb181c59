package classifier

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// Scaler maps raw feature vectors to the space clusters live in: each kept feature is centred on
// its median and divided by its interquartile range over 1.349 (robust to the heavy tails of
// behaviour counts, and equal to the standard deviation on normal data), or by its standard
// deviation when the IQR is 0 (a feature that is mostly one value). Scaled values are clipped to
// ±Clip, so that a handful of extreme visitors (a rate of 30 goals per visit, a rare element
// category) cannot dominate distances and pull a cluster of their own: they stay at the edge of
// the cluster they resemble. Features constant over the population are dropped: they carry no
// information and would divide by zero.
type Scaler struct {
	Keep   []int     // indexes of the raw features kept, increasing
	Center []float64 // per kept feature: median
	Scale  []float64 // per kept feature: IQR / 1.349, or standard deviation, > 0
	Clip   float64   // bound on the absolute scaled value (0: none)
}

// DefaultClip is the bound FitScaler sets on scaled values, in standard deviations.
const DefaultClip = 5

// iqrPerSD is the interquartile range of a standard normal distribution.
const iqrPerSD = 1.349

// FitScaler fits a Scaler to the n × d row-major matrix X of raw vectors. It fails with
// ErrDegenerate when every feature is constant and ErrInvalidInput on non-finite values.
func FitScaler(X []float64, n, d int) (Scaler, error) {
	if err := checkMatrix(X, n, d); err != nil {
		return Scaler{}, fmt.Errorf("fit scaler: %w", err)
	}
	if n == 0 {
		return Scaler{}, fmt.Errorf("fit scaler: %w: no rows", ErrTooLittleData)
	}
	s := Scaler{Clip: DefaultClip}
	col := make([]float64, n)
	for j := range d {
		for i := range n {
			col[i] = X[i*d+j]
		}
		slices.Sort(col)
		if col[n-1]-col[0] <= 1e-12*max(1, math.Abs(col[0]), math.Abs(col[n-1])) {
			continue // constant
		}
		med := quantile(col, 0.5)
		scale := (quantile(col, 0.75) - quantile(col, 0.25)) / iqrPerSD
		if !(scale > 1e-12) {
			_, sd := stat.PopMeanStdDev(col, nil)
			scale = sd
		}
		if !(scale > 1e-12) {
			continue
		}
		s.Keep = append(s.Keep, j)
		s.Center = append(s.Center, med)
		s.Scale = append(s.Scale, scale)
	}
	if len(s.Keep) == 0 {
		return Scaler{}, fmt.Errorf("fit scaler: %w: all %d features are constant over %d rows", ErrDegenerate, d, n)
	}
	return s, nil
}

// D is the number of features after scaling.
func (s Scaler) D() int { return len(s.Keep) }

// Transform appends the scaled kept features of the raw vector x to dst[:0] and returns it.
func (s Scaler) Transform(x, dst []float64) []float64 {
	dst = dst[:0]
	for t, j := range s.Keep {
		v := (x[j] - s.Center[t]) / s.Scale[t]
		if s.Clip > 0 {
			v = max(-s.Clip, min(s.Clip, v))
		}
		dst = append(dst, v)
	}
	return dst
}

// quantile is the p-quantile of sorted values, interpolating linearly between order statistics at
// position p·(n−1): the usual definition (NumPy's default, and the median of an even count is the
// mean of the middle two), which gonum's stat.Quantile does not offer.
func quantile(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
