package classifier

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// Scaler maps raw feature vectors to the space clusters live in: each kept feature is centred
// and divided by its scale, and scaled values may be clipped to ±Clip. Features constant over
// the population are dropped: they carry no information and would divide by zero.
//
// Training fits it with fitBalancedScaler (group weights, see doc.go); FitScaler is the robust
// per-feature scaling of the first model format, kept for callers that scale plain matrices.
type Scaler struct {
	Keep   []int     // indexes of the raw features kept, increasing
	Center []float64 // per kept feature: median
	Scale  []float64 // per kept feature: raw units per scaled unit, > 0
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

// varFloorShare is the lower bound of a component's variance on a feature, as a share of the
// feature's population variance (see Cluster).
const varFloorShare = 0.05

// fitBalancedScaler fits the scaler training uses: features centred on their mean and scaled so
// that every feature group (infos[j].group) carries groupWeight(group) of total variance, shared
// equally by its units. A unit is a feature, or a whole family of shares scaled together (paths,
// elements, channels, devices, hours, goal names): a family has one common scale, the root of its
// columns' summed variance, so a sparse share is not blown up by its own small deviation and a
// one-hot family counts once, not once per column. No clipping: the mixture's background
// component takes the extremes.
func fitBalancedScaler(X []float64, n, d int, infos []featureInfo) (Scaler, error) {
	if err := checkMatrix(X, n, d); err != nil {
		return Scaler{}, fmt.Errorf("fit scaler: %w", err)
	}
	if n == 0 {
		return Scaler{}, fmt.Errorf("fit scaler: %w: no rows", ErrTooLittleData)
	}
	if len(infos) != d {
		return Scaler{}, fmt.Errorf("fit scaler: %w: %d feature descriptions for %d features", ErrInvalidInput, len(infos), d)
	}
	mean, variance := columnMeanVar(X, n, d)
	type unit struct {
		cols []int
		sum  float64 // summed variance
	}
	groups := map[string][]*unit{}
	var order []string
	family := map[string]*unit{}
	col := make([]float64, n)
	for j := range d {
		for i := range n {
			col[i] = X[i*d+j]
		}
		lo, hi := slices.Min(col), slices.Max(col)
		if hi-lo <= 1e-12*max(1, math.Abs(lo), math.Abs(hi)) || !(variance[j] > 1e-24) {
			continue // constant
		}
		g := infos[j].group
		if _, ok := groups[g]; !ok {
			order = append(order, g)
			groups[g] = nil
		}
		if infos[j].family {
			key := g + "\x00" + string(rune('0'+infos[j].den))
			u := family[key]
			if u == nil {
				u = &unit{}
				family[key] = u
				groups[g] = append(groups[g], u)
			}
			u.cols = append(u.cols, j)
			u.sum += variance[j]
			continue
		}
		groups[g] = append(groups[g], &unit{cols: []int{j}, sum: variance[j]})
	}
	scale := make([]float64, d)
	for _, g := range order {
		units := groups[g]
		per := groupWeight(g) / float64(len(units)) // variance each unit carries
		for _, u := range units {
			s := math.Sqrt(u.sum / per)
			for _, j := range u.cols {
				scale[j] = s
			}
		}
	}
	var sc Scaler
	for j := range d {
		if scale[j] > 0 && finite(scale[j]) {
			sc.Keep = append(sc.Keep, j)
			sc.Center = append(sc.Center, mean[j])
			sc.Scale = append(sc.Scale, scale[j])
		}
	}
	if len(sc.Keep) == 0 {
		return Scaler{}, fmt.Errorf("fit scaler: %w: all %d features are constant over %d rows", ErrDegenerate, d, n)
	}
	return sc, nil
}
