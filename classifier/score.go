package classifier

import (
	"math"
	"slices"
)

// The likelihood of a version-2 model (see doc.go). Features are of three sorts:
//
//   - continuous (log counts, times, rates, recency): diagonal Gaussian;
//   - shares (paths of page views, element categories of clicks, channels and devices of
//     visits, hours and weekend of events, bounces of visits): the counts behind them are
//     multinomial, one family per denominator with the rest of the denominator as one more
//     category, with the component's shares as probabilities;
//   - counts per unit (goals per visit, goals of each name per visit, clicks per page view):
//     Poisson with the component's rate.
//
// Counts are weighted by (1+α)/(h+α), h the family's denominator: the Dirichlet-multinomial's
// effective sample size over h, as visitors of a persona do not all share one set of shares
// exactly. A visitor seen once carries one observation's worth, a visitor seen a thousand
// times about 1+α, not a thousand: evidence counts, without one heavy visitor deciding alone.
// A mixture of multinomials cannot gain likelihood by splitting a group on a share that is 0 or
// 1 only because it was seen once, which is how Gaussians on such shares split groups.

// countConcentration is α of the weights above.
const countConcentration = 4

// minShare keeps the components' probabilities and rates off 0, so one unusual page view costs
// a bounded amount.
const minShare = 1e-3

// scoreSpec is what the likelihood knows of each scaled feature.
type scoreSpec struct {
	kinds   []featureKind
	dens    []denominator
	center  []float64
	scale   []float64
	fam     []int // share family of the feature, -1 for others
	famDen  []denominator
	famLen  []int // features per family (the rest category not counted)
	famOnce []bool
	once    []bool // per feature: one observation however many its denominator counts
	// progress marks the bounce rate (a share of its own family): with a short history it is
	// judged on the visits before the one in progress, which is a bounce only until its second
	// page view or first click.
	progress    []bool
	famProgress []bool
	// wt is each feature's weight in the likelihood, famW each family's: groupWeight of its
	// group shared by the group's units (a feature, or a whole family), as in the scaler. It is
	// a composite likelihood: the group of correlated engagement counts says "how much", once,
	// instead of once per count, and no group outvotes the others by its number of columns.
	wt   []float64
	famW []float64
	// restAlike is how version-2 models spread the background over a family of shares: the
	// rest as one more category, every one alike. From version 3 the background's shares are
	// its mean, as a component's (see flatShares).
	restAlike bool
}

func newScoreSpec(s Scaler, infos []featureInfo) *scoreSpec {
	sp := &scoreSpec{center: s.Center, scale: s.Scale}
	famOf := map[string]int{}
	for t, j := range s.Keep {
		info := infos[j]
		sp.kinds = append(sp.kinds, info.kind)
		sp.once = append(sp.once, info.once)
		sp.progress = append(sp.progress, info.progress)
		sp.dens = append(sp.dens, info.den)
		f := -1
		if info.kind == kindShare {
			key := info.group + "\x00" + string(rune('0'+info.den))
			if !info.family {
				key = string(rune(0x10000 + t)) // a share of its own: itself and the rest
			}
			var ok bool
			if f, ok = famOf[key]; !ok {
				f = len(sp.famDen)
				famOf[key] = f
				sp.famDen = append(sp.famDen, info.den)
				sp.famOnce = append(sp.famOnce, info.once)
				sp.famProgress = append(sp.famProgress, info.progress)
				sp.famLen = append(sp.famLen, 0)
			}
			sp.famLen[f]++
		}
		sp.fam = append(sp.fam, f)
	}
	// Units per group: every feature that is not a share of a family, and every family.
	units := map[string]int{}
	famGroup := make([]string, len(sp.famDen))
	seenFam := make([]bool, len(sp.famDen))
	for t, j := range s.Keep {
		g := infos[j].group
		if f := sp.fam[t]; f >= 0 {
			famGroup[f] = g
			if !seenFam[f] {
				seenFam[f] = true
				units[g]++
			}
			continue
		}
		units[g]++
	}
	for _, j := range s.Keep {
		g := infos[j].group
		sp.wt = append(sp.wt, groupWeight(g)/float64(units[g]))
	}
	for _, g := range famGroup {
		sp.famW = append(sp.famW, groupWeight(g)/float64(units[g]))
	}
	return sp
}

// raw is feature t's raw value for the scaled value x.
func (sp *scoreSpec) raw(t int, x float64) float64 { return sp.center[t] + x*sp.scale[t] }

// countWeight is the weight of each of h observations.
func countWeight(h int64) float64 {
	return (1 + countConcentration) / (float64(h) + countConcentration)
}

// scoreTerms are the constants of the likelihood for one set of components: the personas and,
// when hasBg, the background last.
type scoreTerms struct {
	sp       *scoreSpec
	k, d     int
	comps    int
	hasBg    bool
	means    []float64 // comps × d, scaled
	invVar   []float64
	invSD    []float64
	logVar   []float64
	logTheta []float64 // comps × d: log probability of a share's category, log rate of a count
	rate     []float64 // comps × d: rate of a count feature
	logRest  []float64 // comps × families
	logW     []float64
	logPers  float64 // log of the personas' total weight
}

const halfLog2Pi = 0.9189385332046727 // ½ log 2π

func newScoreTerms(m *Model) *scoreTerms {
	g := &GMM{K: m.K, D: m.Scaler.D(), Means: m.Centroids, Variances: m.Variances, Weights: m.Weights,
		BgMean: m.BgMean, BgVar: m.BgVar, BgWeight: m.BgWeight}
	sp := newScoreSpec(m.Scaler, m.Schema.featureInfos())
	sp.restAlike = m.Version == 2
	return newScoreTermsFrom(g, sp)
}

func newScoreTermsFrom(g *GMM, sp *scoreSpec) *scoreTerms {
	d, k := g.D, g.K
	st := &scoreTerms{sp: sp, k: k, d: d, comps: k}
	if g.BgWeight > 0 {
		st.comps, st.hasBg = k+1, true
	}
	c := st.comps
	nf := len(sp.famDen)
	st.means = make([]float64, c*d)
	vars := make([]float64, c*d)
	copy(st.means, g.Means)
	copy(vars, g.Variances)
	st.logW = make([]float64, c)
	var wsum float64
	for j := range k {
		st.logW[j] = math.Log(g.Weights[j])
		wsum += g.Weights[j]
	}
	st.logPers = math.Log(wsum)
	if st.hasBg {
		copy(st.means[k*d:], g.BgMean)
		copy(vars[k*d:], g.BgVar)
		st.logW[k] = math.Log(g.BgWeight)
	}
	st.invVar = make([]float64, c*d)
	st.invSD = make([]float64, c*d)
	st.logVar = make([]float64, c*d)
	for i, v := range vars {
		st.invVar[i] = 1 / v
		st.invSD[i] = 1 / math.Sqrt(v)
		st.logVar[i] = math.Log(v)
	}
	st.logTheta = make([]float64, c*d)
	st.rate = make([]float64, c*d)
	st.logRest = make([]float64, c*nf)
	for j := range c {
		used := make([]float64, nf)
		for t := range d {
			p := max(minShare, sp.raw(t, st.means[j*d+t]))
			switch sp.kinds[t] {
			case kindShare:
				f := sp.fam[t]
				if st.hasBg && j == k && sp.restAlike { // version 2: every category and the rest alike
					p = 1 / float64(sp.famLen[f]+1)
				}
				p = min(p, 1)
				used[f] += p
				st.logTheta[j*d+t] = math.Log(p)
			case kindCount:
				st.rate[j*d+t] = p
				st.logTheta[j*d+t] = math.Log(p)
			}
		}
		for f := range nf {
			st.logRest[j*nf+f] = math.Log(max(minShare, 1-used[f]))
		}
	}
	return st
}

// obs are one visitor's counts behind its share and count features.
type obs struct {
	count  [MaxFeatures]float64 // per feature: the count (share × denominator)
	w      [MaxFeatures]float64 // per feature: the weight of each of its observations (0: missing)
	rest   [MaxFeatures]float64 // per family: the rest category's count
	restW  [MaxFeatures]float64 // per family: its weight
	hCount [MaxFeatures]float64 // per feature: the denominator (counts only)
}

// observe fills o from the scaled vector x and the evidence. With censor (the history may be
// short and its last visit in progress, as at classification) a short history's bounce rate
// counts its finished visits only: the visit in progress counts as a bounce after one page
// view, before the visitor could do anything else, so judging it would call every visitor of
// one page view a bouncer.
func (sp *scoreSpec) observe(x []float64, ev *Evidence, o *obs, censor bool) {
	nf := len(sp.famDen)
	var used [MaxFeatures]float64
	inProgress := censor && ev.Events <= ShortHistory
	for t := range x {
		o.w[t] = 0
		k := sp.kinds[t]
		if k != kindShare && k != kindCount {
			continue
		}
		h := ev.den[sp.dens[t]]
		c := max(0, sp.raw(t, x[t])) * float64(h)
		if inProgress && sp.progress[t] {
			h-- // the visit in progress
			c = min(c, float64(h))
		}
		if h <= 0 {
			continue
		}
		o.count[t], o.w[t], o.hCount[t] = c, countWeight(h), float64(h)
		if sp.once[t] {
			o.w[t] = 1 / float64(h)
		}
		if k == kindShare {
			used[sp.fam[t]] += c
		}
	}
	for f := range nf {
		h := ev.den[sp.famDen[f]]
		if inProgress && sp.famProgress[f] {
			h--
		}
		o.rest[f], o.restW[f] = 0, 0
		if h > 0 {
			o.rest[f], o.restW[f] = max(0, float64(h)-used[f]), countWeight(h)
			if sp.famOnce[f] {
				o.restW[f] = 1 / float64(h)
			}
		}
	}
}

// logLik fills ll (length comps) with log w_j + log p_j(x | evidence) for every component and
// returns it. With a short history (at most ShortHistory events) accumulating features count as
// censored from below (the survival function: the full value is at least the one seen) and
// history-span features are left out; rates estimated from h units have their variance widened
// by 1 + 1/h; shares and counts are multinomial and Poisson (see above), left out when their
// denominator is 0.
func (st *scoreTerms) logLik(x []float64, ev Evidence, ll []float64) []float64 {
	var o obs
	st.sp.observe(x, &ev, &o, true)
	return st.logLikObs(x, &ev, &o, ll, true)
}

// logLikObs is logLik of observed counts; censor false treats every history as complete (what
// the fit does: a training visitor's history is all there is of it so far).
func (st *scoreTerms) logLikObs(x []float64, ev *Evidence, o *obs, ll []float64, censor bool) []float64 {
	d, sp := st.d, st.sp
	nf := len(sp.famDen)
	short := censor && ev.Events <= ShortHistory
	var rateLog, rateInv [numDenominators]float64
	for den := range numDenominators {
		if h := ev.den[den]; h > 0 {
			f := 1 + 1/float64(h)
			rateLog[den], rateInv[den] = math.Log(f), 1/f
		}
	}
	for j := range st.comps {
		mu := st.means[j*d : (j+1)*d]
		iv := st.invVar[j*d : (j+1)*d]
		lv := st.logVar[j*d : (j+1)*d]
		lt := st.logTheta[j*d : (j+1)*d]
		l := st.logW[j]
		var q float64 // the features' weighted log-likelihood
		for t := range d {
			wt := sp.wt[t]
			switch sp.kinds[t] {
			case kindShare:
				q += sp.famW[sp.fam[t]] * o.w[t] * o.count[t] * lt[t]
				continue
			case kindCount:
				q += wt * o.w[t] * (o.count[t]*lt[t] - st.rate[j*d+t]*o.hCount[t])
				continue
			}
			dv := x[t] - mu[t]
			switch sp.kinds[t] {
			case kindCensored:
				if short {
					q += wt * logNormSurvival(dv*st.invSD[j*d+t])
					continue
				}
			case kindHistory:
				if short {
					continue
				}
			case kindRhythm:
				if short || ev.den[denVisits] < 2 {
					continue
				}
			case kindRate:
				den := sp.dens[t]
				if ev.den[den] == 0 {
					continue
				}
				if short && den == denViews && ev.den[denScroll] < ev.den[denViews] {
					// Pages still open (fewer leaves than page views) have no time yet: the time
					// per page so far is a lower bound of the visitor's.
					q += wt * logNormSurvival(dv*st.invSD[j*d+t])
					continue
				}
				q -= wt * (halfLog2Pi + 0.5*(lv[t]+rateLog[den]) + 0.5*dv*dv*iv[t]*rateInv[den])
				continue
			}
			q -= wt * (halfLog2Pi + 0.5*lv[t] + 0.5*dv*dv*iv[t])
		}
		lr := st.logRest[j*nf : (j+1)*nf]
		for f := range nf {
			q += sp.famW[f] * o.restW[f] * o.rest[f] * lr[f]
		}
		ll[j] = l + q
	}
	return ll[:st.comps]
}

// personaDensity reads the component log-likelihoods ll: the most probable persona, the log
// density of the personas' mixture (weights renormalised over the personas), and whether the
// background explains the visitor better than every persona.
func (st *scoreTerms) personaDensity(ll []float64) (best int, logDensity float64, noise bool) {
	top := math.Inf(-1)
	for j := range st.k {
		if ll[j] > top || j == 0 {
			best, top = j, ll[j]
		}
	}
	if math.IsInf(top, -1) || math.IsNaN(top) {
		return best, math.Inf(-1), true
	}
	var s float64
	for j := range st.k {
		s += math.Exp(ll[j] - top)
	}
	return best, top + math.Log(s) - st.logPers, st.hasBg && ll[st.k] > top
}

// fitMixture fits the model's mixture (the likelihood above, with a background component) to the
// n rows of X with their evidence by expectation maximisation, from the k centroids in init
// (initLabels, or else the nearest centroid, give the first statistics). Gaussian features get the responsibility-
// weighted mean and variance (floored); shares and counts the weighted ratio of counts to
// denominators, each observation weighted as in the likelihood. It returns the mixture and the
// summed entropy of the rows' soft assignments (for ICL).
func fitMixture(X []float64, evid []evidence32, n, d, k int, init []float64, initLabels []int, sp *scoreSpec, floor []float64, maxIter int, tol float64) (GMM, float64, error) {
	g := GMM{K: k, D: d, Means: slices.Clone(init), Variances: make([]float64, k*d), Weights: make([]float64, k)}
	// The background starts as the population (its mean and variance); EM moves it, never
	// under the population's variance (see mixtureMstep).
	g.BgMean, g.BgVar = columnMeanVar(X, n, d)
	flatShares(X, evid, n, d, sp, g.BgMean)
	popVar := slices.Clone(g.BgVar)
	for t := range g.BgVar {
		g.BgVar[t] += 1e-9
	}
	g.BgWeight = 0.05
	comps := k + 1
	nc := numChunks(n, rowChunk)
	stride := comps + 5*comps*d // per chunk: responsibilities, then per component Σr·x, Σr·x², Σr·w·c, Σr·w·h, Σr over the rows that have the feature
	stats := make([]float64, nc*stride)
	cll := make([]float64, nc)
	cent := make([]float64, nc)
	prev := math.Inf(-1)
	var ent float64
	for it := 0; it <= maxIter; it++ {
		var tm *scoreTerms
		if it > 0 {
			g.Iter = it
			tm = newScoreTermsFrom(&g, sp)
		}
		forChunks(n, rowChunk, func(ch, lo, hi int) {
			s := stats[ch*stride : (ch+1)*stride]
			clear(s)
			cd := comps * d
			nk, s1, s2, swc, swh, nkd := s[:comps], s[comps:comps+cd], s[comps+cd:comps+2*cd], s[comps+2*cd:comps+3*cd], s[comps+3*cd:comps+4*cd], s[comps+4*cd:]
			ll := make([]float64, comps)
			var o obs
			var sll, sent float64
			for i := lo; i < hi; i++ {
				x := X[i*d : (i+1)*d]
				ev := evid[i].expand()
				sp.observe(x, &ev, &o, false)
				if tm == nil { // first statistics: the given labels, or the nearest centroid
					clear(ll)
					var j int
					if initLabels != nil {
						j = initLabels[i]
					} else {
						j, _ = nearest(x, init, k)
					}
					ll[j] = 1
				} else {
					tm.logLikObs(x, &ev, &o, ll, false)
					top := slices.Max(ll)
					var z float64
					for j := range ll {
						ll[j] = math.Exp(ll[j] - top)
						z += ll[j]
					}
					sll += top + math.Log(z)
					for j := range ll {
						ll[j] /= z
						if ll[j] > 1e-300 {
							sent -= ll[j] * math.Log(ll[j])
						}
					}
				}
				for j := range comps {
					r := ll[j]
					if r < negligible {
						continue
					}
					nk[j] += r
					for t, v := range x {
						if sp.kinds[t] == kindRhythm && ev.den[denVisits] < 2 {
							continue
						}
						nkd[j*d+t] += r
						rv := r * v
						s1[j*d+t] += rv
						s2[j*d+t] += rv * v
						if o.w[t] > 0 {
							swc[j*d+t] += r * o.w[t] * o.count[t]
							swh[j*d+t] += r * o.w[t] * o.hCount[t]
						}
					}
				}
			}
			cll[ch], cent[ch] = sll, sent
		})
		tot := make([]float64, stride)
		var ll float64
		ent = 0
		for ch := range nc {
			for t, v := range stats[ch*stride : (ch+1)*stride] {
				tot[t] += v
			}
			ll += cll[ch]
			ent += cent[ch]
		}
		ll /= float64(n)
		g.mixtureMstep(tot, comps, n, sp, floor, it > 0, popVar)
		if it == 0 {
			continue
		}
		g.LogLikelihood = ll
		if math.Abs(ll-prev) < tol {
			g.Converged = true
			break
		}
		prev = ll
	}
	if err := g.validate(); err != nil {
		return GMM{}, 0, err
	}
	return g, ent, nil
}

// flatShares sets the shares of mean (scaled, d values) to the flat distribution of each family:
// every category of the family alike, the rest (what the family's columns do not name: another
// device, an unlisted page) at its mean share over the n rows that have the family's
// denominator. A share of its own (bounce rate, weekend) is its mean over those rows. On a
// family whose columns name everything (the hours, the channels) that is the uniform
// distribution over them, what a visitor with no preference draws from. (Version 2 counted
// the rest as one more category: on a family of three devices that named everything, every
// visitor who spread its visits evenly fitted any fitted component better, 1/3 against 1/4.)
func flatShares(X []float64, evid []evidence32, n, d int, sp *scoreSpec, mean []float64) {
	nf := len(sp.famDen)
	rest := make([]float64, nf)
	rows := make([]float64, nf)
	var o obs
	for i := range n {
		x, ev := X[i*d:(i+1)*d], evid[i].expand()
		sp.observe(x, &ev, &o, false)
		for f := range nf {
			if h := ev.den[sp.famDen[f]]; h > 0 {
				rest[f] += o.rest[f] / float64(h)
				rows[f]++
			}
		}
	}
	for t := range d {
		f := sp.fam[t]
		if sp.kinds[t] != kindShare || f < 0 {
			continue
		}
		r := 1.0
		if rows[f] > 0 {
			r = rest[f] / rows[f]
		}
		p := max(minShare, (1-r)/float64(sp.famLen[f]))
		mean[t] = (p - sp.center[t]) / sp.scale[t]
	}
}

// mixtureMstep sets means, variances and weights from the summed statistics (see fitMixture).
func (g *GMM) mixtureMstep(tot []float64, comps, n int, sp *scoreSpec, floor []float64, fitBg bool, popVar []float64) {
	d, k := g.D, g.K
	cd := comps * d
	nk, s1, s2, swc, swh, nkd := tot[:comps], tot[comps:comps+cd], tot[comps+cd:comps+2*cd], tot[comps+2*cd:comps+3*cd], tot[comps+3*cd:comps+4*cd], tot[comps+4*cd:]
	var total float64
	for j := range k {
		if nk[j] < 1e-10 {
			g.Weights[j] = 1e-10
			for t := range d {
				if !(g.Variances[j*d+t] > 0) {
					g.Variances[j*d+t] = g.BgVar[t]
				}
			}
			total += g.Weights[j]
			continue
		}
		for t := range d {
			if nkd[j*d+t] < 1e-10 { // no member has the feature: the mean stays, the variance is the population's
				if !(g.Variances[j*d+t] > 0) {
					g.Variances[j*d+t] = g.BgVar[t] / 4
				}
				continue
			}
			m := s1[j*d+t] / nkd[j*d+t]
			v := max(0, s2[j*d+t]/nkd[j*d+t]-m*m)
			if kd := sp.kinds[t]; (kd == kindShare || kd == kindCount) && swh[j*d+t] > 0 {
				m = (swc[j*d+t]/swh[j*d+t] - sp.center[t]) / sp.scale[t]
			}
			g.Means[j*d+t] = m
			if floor != nil {
				v = max(v, floor[t])
			}
			g.Variances[j*d+t] = v + 1e-9
		}
		g.Weights[j] = nk[j] / float64(n)
		total += g.Weights[j]
	}
	if fitBg {
		g.BgWeight = max(1e-4, nk[k]/float64(n))
		// The background's location and spread are its rows', its spread never under the
		// population's: broad wherever it is. Its shares stay flat (flatShares).
		for t := range d {
			i := k*d + t
			if sp.kinds[t] == kindShare || nkd[i] < 1e-10 {
				continue
			}
			m := s1[i] / nkd[i]
			v := max(0, s2[i]/nkd[i]-m*m)
			if sp.kinds[t] == kindCount && swh[i] > 0 {
				m = (swc[i]/swh[i] - sp.center[t]) / sp.scale[t]
			}
			g.BgMean[t] = m
			g.BgVar[t] = max(v, popVar[t]) + 1e-9
		}
	}
	total += g.BgWeight
	for j := range k {
		g.Weights[j] /= total
	}
	g.BgWeight /= total
}

// predictMixture labels every row with its most probable persona under the likelihood (histories
// taken as complete, as in the fit), -1 where
// the background is more probable, and returns the rows' log densities.
func predictMixture(g *GMM, sp *scoreSpec, X []float64, evid []evidence32, n int) ([]int, []float64) {
	tm := newScoreTermsFrom(g, sp)
	d := g.D
	labels := make([]int, n)
	dens := make([]float64, n)
	forChunks(n, rowChunk, func(_, lo, hi int) {
		ll := make([]float64, tm.comps)
		var o obs
		for i := lo; i < hi; i++ {
			x, ev := X[i*d:(i+1)*d], evid[i].expand()
			tm.sp.observe(x, &ev, &o, false)
			tm.logLikObs(x, &ev, &o, ll, false)
			best, ld, noise := tm.personaDensity(ll)
			if noise {
				best = -1
			}
			labels[i], dens[i] = best, ld
		}
	})
	return labels, dens
}

// leastNeeded is the persona component of g whose removal (its weight shared out over the
// others) costs the n rows of X the least log-likelihood: the one the mixture needs least.
func leastNeeded(g *GMM, sp *scoreSpec, X []float64, evid []evidence32, n int) int {
	tm := newScoreTermsFrom(g, sp)
	d, k := g.D, g.K
	part := make([]float64, numChunks(n, rowChunk)*k)
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		loss := part[ch*k : (ch+1)*k]
		ll := make([]float64, tm.comps)
		var o obs
		for i := lo; i < hi; i++ {
			x, ev := X[i*d:(i+1)*d], evid[i].expand()
			sp.observe(x, &ev, &o, false)
			tm.logLikObs(x, &ev, &o, ll, false)
			all := logSumExpBut(ll, -1)
			for j := range k {
				loss[j] += all - logSumExpBut(ll, j)
			}
		}
	})
	total := make([]float64, k)
	for ch := range numChunks(n, rowChunk) {
		for j := range k {
			total[j] += part[ch*k+j]
		}
	}
	for j, w := range g.Weights { // the others' weights grow by 1/(1−w_j)
		total[j] += float64(n) * math.Log1p(-w)
	}
	return slices.Index(total, slices.Min(total))
}

// cheapestMerge is the means of g (k−1 components) after merging the two persona components
// whose merger costs the n rows of X the least log-likelihood: the merged component has their
// summed weight and their pooled moments. A group that the mixture split on a feature its
// members do not share (a device: one part all phones, one all computers) merges back at no
// cost, which removing either part, whose members no other component explains as well, never
// does.
func cheapestMerge(g *GMM, sp *scoreSpec, X []float64, evid []evidence32, n int) []float64 {
	d, k := g.D, g.K
	type pair struct{ a, b int }
	var pairs []pair
	for a := range k {
		for b := a + 1; b < k; b++ {
			pairs = append(pairs, pair{a, b})
		}
	}
	np := len(pairs)
	mg := &GMM{K: np, D: d, Means: make([]float64, np*d), Variances: make([]float64, np*d), Weights: make([]float64, np)}
	for p, pr := range pairs {
		wa, wb := g.Weights[pr.a], g.Weights[pr.b]
		w := wa + wb
		mg.Weights[p] = w
		for t := range d {
			ma, mb := g.Means[pr.a*d+t], g.Means[pr.b*d+t]
			va, vb := g.Variances[pr.a*d+t], g.Variances[pr.b*d+t]
			m := (wa*ma + wb*mb) / w
			mg.Means[p*d+t] = m
			mg.Variances[p*d+t] = max((wa*(va+ma*ma)+wb*(vb+mb*mb))/w-m*m, min(va, vb))
		}
	}
	tm, tp := newScoreTermsFrom(g, sp), newScoreTermsFrom(mg, sp)
	part := make([]float64, numChunks(n, rowChunk)*np)
	forChunks(n, rowChunk, func(ch, lo, hi int) {
		loss := part[ch*np : (ch+1)*np]
		ll := make([]float64, tm.comps)
		lm := make([]float64, np)
		rest := make([]float64, 0, tm.comps)
		var o obs
		for i := lo; i < hi; i++ {
			x, ev := X[i*d:(i+1)*d], evid[i].expand()
			sp.observe(x, &ev, &o, false)
			tm.logLikObs(x, &ev, &o, ll, false)
			tp.logLikObs(x, &ev, &o, lm, false)
			all := logSumExpBut(ll, -1)
			for p, pr := range pairs {
				rest = rest[:0]
				for c, l := range ll {
					if c != pr.a && c != pr.b {
						rest = append(rest, l)
					}
				}
				loss[p] += all - logSumExpBut(append(rest, lm[p]), -1)
			}
		}
	})
	total := make([]float64, np)
	for ch := range numChunks(n, rowChunk) {
		for p := range np {
			total[p] += part[ch*np+p]
		}
	}
	best := pairs[slices.Index(total, slices.Min(total))]
	p := slices.Index(pairs, best)
	means := slices.Clone(g.Means)
	copy(means[best.a*d:(best.a+1)*d], mg.Means[p*d:(p+1)*d])
	return slices.Delete(means, best.b*d, (best.b+1)*d)
}

// logSumExpBut is log Σ exp(ll[c]) over every c but skip.
func logSumExpBut(ll []float64, skip int) float64 {
	top := math.Inf(-1)
	for c, l := range ll {
		if c != skip {
			top = max(top, l)
		}
	}
	if math.IsInf(top, -1) {
		return top
	}
	var s float64
	for c, l := range ll {
		if c != skip {
			s += math.Exp(l - top)
		}
	}
	return top + math.Log(s)
}

// gatherEvidence is the evidence of the given rows.
func gatherEvidence(evid []evidence32, rows []int) []evidence32 {
	out := make([]evidence32, len(rows))
	for t, i := range rows {
		out[t] = evid[i]
	}
	return out
}

// shrunkShares is a copy of the n rows of X whose shares and counts are drawn towards the
// population's by their evidence: x̂ = x̄ + (x − x̄)·e/(e + 2), e the visitor's effective
// observations (as weighted in the likelihood). k-means, which seeds the mixture, then sees a
// visitor seen once as a weak pull towards its share, not as a corner of the simplex: a share
// that is 0 or 1 only because it was seen once does not seed a cluster of its own.
func shrunkShares(X []float64, evid []evidence32, n, d int, sp *scoreSpec) []float64 {
	out := slices.Clone(X[:n*d])
	forChunks(n, rowChunk, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			ev := evid[i].expand()
			row := out[i*d : (i+1)*d]
			for t := range row {
				k := sp.kinds[t]
				if k != kindShare && k != kindCount {
					continue
				}
				h := ev.den[sp.dens[t]]
				e := 0.0
				if h > 0 {
					e = countWeight(h) * float64(h)
					if sp.once[t] {
						e = 1
					}
				}
				row[t] *= e / (e + 2) // scaled values are centred on the population's mean
			}
		}
	})
	return out
}
