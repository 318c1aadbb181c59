package classifier

import (
	"fmt"
	"math"
)

// GMMOptions tune FitGMM. Zero values take scikit-learn's GaussianMixture defaults.
type GMMOptions struct {
	MaxIter  int     // EM iterations (default 100)
	Tol      float64 // convergence when the mean log-likelihood per row gains less (default 1e-3)
	RegCovar float64 // added to every variance, keeps components from collapsing onto a point (default 1e-6)
	// VarFloor, when set (length D), is a per-feature lower bound on every component's variance
	// (before RegCovar): a floor taken from the population, so a component on which a feature is
	// constant cannot claim certainty on it.
	VarFloor []float64
	// Background adds a fixed broad component (the data's mean and BackgroundSpread times its
	// variance per feature) whose weight EM fits: noise rows go to it instead of pulling a
	// component of their own.
	Background       bool
	BackgroundSpread float64 // default 4
}

func (o GMMOptions) withDefaults() GMMOptions {
	if o.MaxIter <= 0 {
		o.MaxIter = 100
	}
	if o.Tol <= 0 {
		o.Tol = 1e-3
	}
	if o.RegCovar <= 0 {
		o.RegCovar = 1e-6
	}
	if o.BackgroundSpread <= 0 {
		o.BackgroundSpread = 4
	}
	return o
}

// GMM is a Gaussian mixture with diagonal covariances: K components over D features.
type GMM struct {
	K, D      int
	Means     []float64 // K × D
	Variances []float64 // K × D, each > 0
	Weights   []float64 // K, summing to 1 with BgWeight
	// The background component (BgWeight 0: none): fixed mean and variances, fitted weight.
	BgMean, BgVar []float64 // D each
	BgWeight      float64
	LogLikelihood float64 // mean log-likelihood per row of the training data
	Iter          int     // EM iterations run
	Converged     bool    // whether the gain fell under Tol before MaxIter
}

// FitGMM fits a diagonal Gaussian mixture to the n × d row-major matrix X by expectation
// maximisation, starting from the k centroids in init (k × d): every row is first given to its
// nearest centroid, which sets the initial means, variances and weights. The E-step runs a worker
// per core and keeps only per-chunk sufficient statistics, never an n × k responsibility matrix.
func FitGMM(X []float64, n, d, k int, init []float64, opts GMMOptions) (GMM, error) {
	if err := checkClustering(X, n, d, k); err != nil {
		return GMM{}, fmt.Errorf("fit Gaussian mixture with k=%d: %w", k, err)
	}
	if err := checkMatrix(init, k, d); err != nil {
		return GMM{}, fmt.Errorf("fit Gaussian mixture: initial centroids: %w", err)
	}
	opts = opts.withDefaults()
	st := newGMMStats(n, d, k)

	// Hard initial responsibilities: nearest initial centroid.
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		nk, sx, sxx := st.chunk(ch)
		for i := lo; i < hi; i++ {
			x := X[i*d : (i+1)*d]
			j, _ := nearest(x, init, k)
			nk[j]++
			s, ss := sx[j*d:(j+1)*d], sxx[j*d:(j+1)*d]
			for t, v := range x {
				s[t] += v
				ss[t] += v * v
			}
		}
	})
	g := GMM{K: k, D: d, Means: append([]float64(nil), init...), Variances: make([]float64, k*d),
		Weights: make([]float64, k)}
	if opts.VarFloor != nil && len(opts.VarFloor) != d {
		return GMM{}, fmt.Errorf("fit Gaussian mixture: %w: %d variance floors for %d features", ErrInvalidInput, len(opts.VarFloor), d)
	}
	fallbackVar := meanVariance(X, n, d)
	if opts.Background {
		g.BgMean, g.BgVar = columnMeanVar(X, n, d)
		for t := range g.BgVar {
			g.BgVar[t] = g.BgVar[t]*opts.BackgroundSpread + opts.RegCovar
		}
		g.BgWeight = 0.05
	}
	g.mstep(st, n, opts.RegCovar, fallbackVar, opts.VarFloor, 0)

	prev := math.Inf(-1)
	for it := 1; it <= opts.MaxIter; it++ {
		g.Iter = it
		tm := newGMMTerms(&g)
		forChunks(n, rowChunk, func(ch, lo, hi int) {
			nk, sx, sxx := st.chunk(ch)
			resp := make([]float64, k)
			var ll, bg float64
			for i := lo; i < hi; i++ {
				x := X[i*d : (i+1)*d]
				l, b := tm.posteriorBg(x, resp)
				ll += l
				bg += b
				for j, r := range resp {
					if r < negligible {
						continue
					}
					nk[j] += r
					s, ss := sx[j*d:(j+1)*d], sxx[j*d:(j+1)*d]
					for t, v := range x {
						rv := r * v
						s[t] += rv
						ss[t] += rv * v
					}
				}
			}
			st.ll[ch] = ll
			st.bg[ch] = bg
		})
		var ll, bg float64
		for ch, v := range st.ll {
			ll += v
			bg += st.bg[ch]
		}
		ll /= float64(n)
		g.mstep(st, n, opts.RegCovar, fallbackVar, opts.VarFloor, bg)
		g.LogLikelihood = ll
		if math.Abs(ll-prev) < opts.Tol {
			g.Converged = true
			break
		}
		prev = ll
	}
	if err := g.validate(); err != nil {
		return GMM{}, fmt.Errorf("fit Gaussian mixture with k=%d: %w", k, err)
	}
	return g, nil
}

// negligible is the responsibility under which a row is left out of a component's statistics: its
// contribution is below the rounding of the sums, and skipping it saves most of the E-step on
// well-separated components.
const negligible = 1e-12

// gmmStats holds per-chunk sufficient statistics: responsibility sums, Σ r·x and Σ r·x².
type gmmStats struct {
	d, k        int
	nk, sx, sxx []float64
	ll, bg      []float64
}

func newGMMStats(n, d, k int) *gmmStats {
	nc := numChunks(n, rowChunk)
	return &gmmStats{d: d, k: k, nk: make([]float64, nc*k), sx: make([]float64, nc*k*d),
		sxx: make([]float64, nc*k*d), ll: make([]float64, nc), bg: make([]float64, nc)}
}

// chunk clears and returns chunk ch's statistics.
func (s *gmmStats) chunk(ch int) (nk, sx, sxx []float64) {
	k, kd := s.k, s.k*s.d
	nk, sx, sxx = s.nk[ch*k:(ch+1)*k], s.sx[ch*kd:(ch+1)*kd], s.sxx[ch*kd:(ch+1)*kd]
	clear(nk)
	clear(sx)
	clear(sxx)
	return nk, sx, sxx
}

// mstep sets means, variances and weights from the statistics, reduced in chunk order, with bg
// the background's responsibility sum (when it is there). A component that lost all its rows
// keeps its mean, takes the data's mean variance and a negligible weight, so it can neither
// divide by zero nor capture rows by accident.
func (g *GMM) mstep(st *gmmStats, n int, reg, fallbackVar float64, floor []float64, bg float64) {
	d, k := g.D, g.K
	nk := make([]float64, k)
	sx := make([]float64, k*d)
	sxx := make([]float64, k*d)
	for ch := range st.ll {
		for j := range k {
			nk[j] += st.nk[ch*k+j]
		}
		for t := range k * d {
			sx[t] += st.sx[ch*k*d+t]
			sxx[t] += st.sxx[ch*k*d+t]
		}
	}
	var total float64
	for j := range k {
		if nk[j] < 1e-10 {
			g.Weights[j] = 1e-10
			for t := range d {
				g.Variances[j*d+t] = fallbackVar + reg
			}
			total += g.Weights[j]
			continue
		}
		for t := range d {
			m := sx[j*d+t] / nk[j]
			g.Means[j*d+t] = m
			v := max(0, sxx[j*d+t]/nk[j]-m*m)
			if floor != nil {
				v = max(v, floor[t])
			}
			g.Variances[j*d+t] = v + reg
		}
		g.Weights[j] = nk[j] / float64(n)
		total += g.Weights[j]
	}
	if g.BgWeight > 0 {
		if bg > 0 { // an E-step ran: the background's share of the rows, kept off zero
			g.BgWeight = max(1e-4, bg/float64(n))
		}
		total += g.BgWeight
	}
	for j := range k {
		g.Weights[j] /= total
	}
	g.BgWeight /= total
}

// columnMeanVar is the mean and population variance of every column of X.
func columnMeanVar(X []float64, n, d int) (mean, variance []float64) {
	mean = make([]float64, d)
	variance = make([]float64, d)
	for i := range n {
		for t, v := range X[i*d : (i+1)*d] {
			mean[t] += v
		}
	}
	for t := range mean {
		mean[t] /= float64(max(n, 1))
	}
	for i := range n {
		for t, v := range X[i*d : (i+1)*d] {
			dv := v - mean[t]
			variance[t] += dv * dv
		}
	}
	for t := range variance {
		variance[t] /= float64(max(n, 1))
	}
	return mean, variance
}

func (g *GMM) validate() error {
	for _, v := range g.Variances {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: variance %v", ErrDegenerate, v)
		}
	}
	for _, v := range g.Means {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: mean %v", ErrInvalidInput, v)
		}
	}
	return nil
}

// Posterior fills dst (length K) with the posterior probabilities of the components for row x and
// returns the log density of x under the mixture. It recomputes the normalising constants on every
// call; Model.Classify keeps them.
func (g *GMM) Posterior(x, dst []float64) float64 {
	return newGMMTerms(g).posterior(x, dst)
}

// Predict returns the most probable component of every row of X (-1 where the background is
// more probable) and the row's log density.
func (g *GMM) Predict(X []float64, n int) (labels []int, logDensity []float64) {
	return newGMMTerms(g).predict(X, n)
}

// gmmTerms are the per-component constants of the log density: log w_j − ½ Σ log 2πσ², and 1/σ²,
// and the background's when the mixture has one.
type gmmTerms struct {
	k, d     int
	means    []float64
	logConst []float64
	invVar   []float64

	bg       bool
	bgMean   []float64
	bgInvVar []float64
	bgConst  float64
}

func newGMMTerms(g *GMM) *gmmTerms {
	k, d := g.K, g.D
	tm := &gmmTerms{k: k, d: d, means: g.Means, logConst: make([]float64, k), invVar: make([]float64, k*d)}
	for j := range k {
		c := math.Log(g.Weights[j])
		for t := range d {
			v := g.Variances[j*d+t]
			c -= 0.5 * math.Log(2*math.Pi*v)
			tm.invVar[j*d+t] = 1 / v
		}
		tm.logConst[j] = c
	}
	if g.BgWeight > 0 {
		tm.bg, tm.bgMean, tm.bgInvVar = true, g.BgMean, make([]float64, d)
		c := math.Log(g.BgWeight)
		for t, v := range g.BgVar {
			c -= 0.5 * math.Log(2*math.Pi*v)
			tm.bgInvVar[t] = 1 / v
		}
		tm.bgConst = c
	}
	return tm
}

// posterior fills dst with the component posteriors of x and returns log p(x); with a
// background the posteriors sum to 1 less the background's.
func (tm *gmmTerms) posterior(x, dst []float64) float64 {
	ld, _ := tm.posteriorBg(x, dst)
	return ld
}

// posteriorBg is posterior that also returns the background's posterior (0 without one).
func (tm *gmmTerms) posteriorBg(x, dst []float64) (float64, float64) {
	d := tm.d
	dst = dst[:tm.k]
	top := math.Inf(-1)
	for j := range dst {
		mu := tm.means[j*d : (j+1)*d]
		iv := tm.invVar[j*d : (j+1)*d]
		var q float64
		for t, v := range x[:d] {
			dv := v - mu[t]
			q += dv * dv * iv[t]
		}
		l := tm.logConst[j] - 0.5*q
		dst[j] = l
		top = max(top, l)
	}
	lbg := math.Inf(-1)
	if tm.bg {
		var q float64
		for t, v := range x[:d] {
			dv := v - tm.bgMean[t]
			q += dv * dv * tm.bgInvVar[t]
		}
		lbg = tm.bgConst - 0.5*q
		top = max(top, lbg)
	}
	if math.IsInf(top, -1) || math.IsNaN(top) { // x is infinitely far from every component
		for j := range dst {
			dst[j] = 1 / float64(len(dst))
		}
		return math.Inf(-1), 0
	}
	var s float64
	for j, l := range dst {
		e := math.Exp(l - top)
		dst[j] = e
		s += e
	}
	ebg := 0.0
	if tm.bg {
		ebg = math.Exp(lbg - top)
		s += ebg
	}
	for j := range dst {
		dst[j] /= s
	}
	return top + math.Log(s), ebg / s
}

// predict labels every row with its most probable component, -1 where the background is more
// probable than every component, and returns the rows' log densities.
func (tm *gmmTerms) predict(X []float64, n int) ([]int, []float64) {
	d, k := tm.d, tm.k
	labels := make([]int, n)
	dens := make([]float64, n)
	forChunks(n, rowChunk, func(_, lo, hi int) {
		p := make([]float64, k)
		for i := lo; i < hi; i++ {
			var bg float64
			dens[i], bg = tm.posteriorBg(X[i*d:(i+1)*d], p)
			labels[i] = argmax(p)
			if bg > p[labels[i]] {
				labels[i] = -1
			}
		}
	})
	return labels, dens
}

func argmax(p []float64) int {
	best := 0
	for j, v := range p {
		if v > p[best] {
			best = j
		}
	}
	return best
}
