package classifier

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// FormatVersion is the version of the model format MarshalBinary writes. This package reads it,
// version 2 (the same fields, whose background spreads a family of shares evenly over its
// categories and the rest: they keep answering as they did) and version 1 (robust-scaled models
// without background, evidence or calibration: they keep answering as they did, with an
// identity calibration).
const FormatVersion = 3

// Model is one trained version of a project's personas: how to turn aggregates into a vector, the
// clusters in that space and aggregate statistics of each. It holds aggregates only. Use it as a
// *Model: it caches the mixture's constants for Classify and must not be copied.
type Model struct {
	Version          int       // format version (FormatVersion)
	Schema           Schema    // raw features
	Scaler           Scaler    // raw → scaled features
	K                int       // clusters (personas)
	Centroids        []float64 // K × Scaler.D(): the mixture's means, in scaled space
	Variances        []float64 // K × Scaler.D(): the mixture's diagonal variances
	Weights          []float64 // K: the mixture's weights
	Sizes            []int     // K: training visitors per cluster
	OutlierThreshold float64   // version 1: a visitor whose log density is below it is an outlier (1st percentile of training)
	// The background component (version 2): fixed mean and variances over Scaler.D() features and
	// its weight; visitors it explains better than every persona are outliers (noise).
	BgMean, BgVar []float64
	BgWeight      float64
	// Thresholds are, per evidence bucket (Bucket), the persona log density under which a visitor
	// with that much history is an outlier: the 1st percentile of genuine members' simulated views
	// (version 2).
	Thresholds []float64
	// Temperatures are, per evidence bucket, the temperature the persona log-likelihoods are
	// divided by before the softmax, fitted on held-out visitors so that confidence is the
	// probability that the answer is right (version 2; 1 is no calibration).
	Temperatures []float64
	Metrics      Metrics
	Personas     []PersonaStats // K: per cluster, in cluster order

	terms  atomic.Pointer[gmmTerms]   // version 1: Classify's constants, computed on first use
	scores atomic.Pointer[scoreTerms] // version 2: the evidence-aware likelihood's constants
}

// Metrics record the quality of a model.
type Metrics struct {
	N             int      // training visitors
	ChosenK       int      // k after choosing and merging (= Model.K)
	Inertia       float64  // Σ squared distance of visitors to their centroid, scaled space
	Silhouette    float64  // mean silhouette on a sample
	LogLikelihood float64  // mean log-likelihood per row under the mixture
	KScores       []KScore // the candidates k was chosen from
	Noise         float64  // share of training visitors the background took (outliers, label -1)
	// CalibrationError is the expected calibration error of the confidence on the held-out
	// visitors' views, per evidence bucket, after calibration (-1: no views in the bucket).
	CalibrationError []float64
}

// PersonaStats are the aggregate statistics of one cluster: what the dashboard and the namer see.
type PersonaStats struct {
	Size     int     // visitors
	Share    float64 // of all training visitors
	Traits   []Trait // every varying feature, most distinguishing (largest |Z|) first
	TopPaths []Share // path groups by share of the cluster's page views, at most 5
	Channels []Share // by share of visits
	Devices  []Share // by share of visits
	Hours    []Share // night/morning/afternoon/evening by share of events
	Goals    []Share // "any" first, then each goal name: share of the cluster's visitors who reached it
	// GoalLifts are, per goal ("any" first, then each goal of the schema), the cluster's
	// conversion rate against all visitors'.
	GoalLifts []GoalLift
}

// GoalLift is a persona's conversion on one goal against all training visitors: what a marketer
// acts on. Rates are shares of visitors who reached the goal at least once.
type GoalLift struct {
	Goal           string
	Visitors       int     // the persona's visitors who reached the goal
	Rate           float64 // Visitors / persona size
	PopulationRate float64 // share of all training visitors who reached it
	Lift           float64 // Rate / PopulationRate (0 when nobody reached it)
	// Low and High bound the lift with 95 % confidence: the Wilson score interval of the
	// persona's rate divided by the population rate. The population rate is taken as known: it
	// is measured on every training visitor, so its own error is small beside the persona's.
	Low, High float64
}

// Trait compares the cluster's mean of one raw feature with the population's.
type Trait struct {
	Feature    string
	Value      float64 // cluster mean
	Population float64 // population mean
	Z          float64 // (Value − Population) / population standard deviation
}

// Share is a key's share of a total, in 0..1.
type Share struct {
	Key   string
	Share float64
}

// Assignment is the persona of one visitor.
type Assignment struct {
	Cluster       int       // most probable cluster, -1 when the visitor's data is not usable
	Confidence    float64   // its posterior probability
	Probabilities []float64 // posterior per cluster
	Outlier       bool      // far from every cluster: log density under the threshold for its evidence, or noise
	LogDensity    float64   // log density of the visitor's vector under the personas' mixture
	Bucket        int       // evidence bucket (version 2; 0 for version 1)
}

// Classify assigns a visitor to a persona from its aggregates (with any unsent events merged in)
// at time now. It allocates only the probabilities. A visitor whose vector is not finite is an
// outlier with Cluster -1.
//
// A version-2 model judges the visitor by its evidence (see doc.go): accumulating features of a
// short history count as lower bounds, shares and rates as estimates from that many
// observations, the outlier threshold is its evidence bucket's, and the probabilities are
// calibrated. Confidence is the probability of Cluster, which is the probability that the answer
// is right.
func (m *Model) Classify(a Aggregates, now time.Time) Assignment {
	var rawBuf, xBuf [MaxFeatures]float64
	raw := m.Schema.Vector(a, now, rawBuf[:0])
	for _, v := range raw {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Assignment{Cluster: -1, Outlier: true, LogDensity: math.Inf(-1)}
		}
	}
	x := m.Scaler.Transform(raw, xBuf[:0])
	p := make([]float64, m.K)
	if m.Version == 1 {
		tm := m.gmmTerms()
		ld := tm.posterior(x, p)
		c := argmax(p)
		return Assignment{Cluster: c, Confidence: p[c], Probabilities: p, Outlier: ld < m.OutlierThreshold, LogDensity: ld}
	}
	ev := EvidenceOf(&a)
	b := Bucket(ev.Events)
	st := m.scoreTerms()
	var llBuf [MaxFeatures + 1]float64
	ll := llBuf[:0]
	if m.K+1 > len(llBuf) {
		ll = make([]float64, 0, m.K+1)
	}
	ll = st.logLik(x, ev, ll[:m.K+1])
	c, ld, noise := st.personaDensity(ll)
	temper(ll[:m.K], m.Temperatures[b], p)
	return Assignment{Cluster: c, Confidence: p[c], Probabilities: p, Outlier: noise || ld < m.Thresholds[b],
		LogDensity: ld, Bucket: b}
}

// temper fills p with the softmax of ll / t.
func temper(ll []float64, t float64, p []float64) {
	top := math.Inf(-1)
	for _, l := range ll {
		top = max(top, l)
	}
	var s float64
	for j, l := range ll {
		e := math.Exp((l - top) / t)
		p[j] = e
		s += e
	}
	for j := range p {
		p[j] /= s
	}
}

func (m *Model) scoreTerms() *scoreTerms {
	if st := m.scores.Load(); st != nil {
		return st
	}
	st := newScoreTerms(m)
	m.scores.Store(st)
	return st
}

func (m *Model) gmmTerms() *gmmTerms {
	if tm := m.terms.Load(); tm != nil {
		return tm
	}
	tm := newGMMTerms(&GMM{K: m.K, D: m.Scaler.D(), Means: m.Centroids, Variances: m.Variances, Weights: m.Weights})
	m.terms.Store(tm)
	return tm
}

// validate checks that the model is consistent, so that Classify cannot fail on it: shapes agree,
// indexes are in range, numbers are finite and variances and weights positive.
func (m *Model) validate() error {
	if m.Version < 1 || m.Version > FormatVersion {
		return fmt.Errorf("format version %d, want 1 to %d", m.Version, FormatVersion)
	}
	f := len(m.Schema.Features)
	if f == 0 || f > MaxFeatures {
		return fmt.Errorf("%d features, want 1..%d", f, MaxFeatures)
	}
	if !slices.Equal(m.Schema.Features, m.Schema.featureNames()) {
		return fmt.Errorf("feature names do not match the vocabularies")
	}
	s := m.Scaler
	d := len(s.Keep)
	if d == 0 || len(s.Center) != d || len(s.Scale) != d {
		return fmt.Errorf("scaler keeps %d features with %d centres and %d scales", d, len(s.Center), len(s.Scale))
	}
	for t, j := range s.Keep {
		if j < 0 || j >= f || (t > 0 && j <= s.Keep[t-1]) {
			return fmt.Errorf("scaler keeps feature %d: out of range or order", j)
		}
		if !finite(s.Center[t]) || !(s.Scale[t] > 0) || !finite(s.Scale[t]) {
			return fmt.Errorf("scaler feature %d: centre %v scale %v", j, s.Center[t], s.Scale[t])
		}
	}
	if !(s.Clip >= 0) || math.IsInf(s.Clip, 0) {
		return fmt.Errorf("scaler clip %v", s.Clip)
	}
	if m.K < 1 || m.K > MaxFeatures*16 {
		return fmt.Errorf("k=%d", m.K)
	}
	if len(m.Centroids) != m.K*d || len(m.Variances) != m.K*d || len(m.Weights) != m.K ||
		len(m.Sizes) != m.K || len(m.Personas) != m.K {
		return fmt.Errorf("k=%d, d=%d with %d centroid values, %d variances, %d weights, %d sizes, %d personas",
			m.K, d, len(m.Centroids), len(m.Variances), len(m.Weights), len(m.Sizes), len(m.Personas))
	}
	for i, v := range m.Centroids {
		if !finite(v) || !(m.Variances[i] > 0) || !finite(m.Variances[i]) {
			return fmt.Errorf("component value %d: mean %v variance %v", i, v, m.Variances[i])
		}
	}
	for j, w := range m.Weights {
		if !(w > 0) || !finite(w) || m.Sizes[j] < 0 {
			return fmt.Errorf("cluster %d: weight %v size %d", j, w, m.Sizes[j])
		}
	}
	if math.IsNaN(m.OutlierThreshold) {
		return fmt.Errorf("outlier threshold is NaN")
	}
	if m.Version == 1 {
		return nil
	}
	if len(m.BgMean) != d || len(m.BgVar) != d || !(m.BgWeight >= 0) || !(m.BgWeight < 1) {
		return fmt.Errorf("background of %d means, %d variances, weight %v for d=%d", len(m.BgMean), len(m.BgVar), m.BgWeight, d)
	}
	for t := range d {
		if !finite(m.BgMean[t]) || !(m.BgVar[t] > 0) || !finite(m.BgVar[t]) {
			return fmt.Errorf("background feature %d: mean %v variance %v", t, m.BgMean[t], m.BgVar[t])
		}
	}
	if len(m.Thresholds) != NumBuckets || len(m.Temperatures) != NumBuckets {
		return fmt.Errorf("%d thresholds and %d temperatures, want %d each", len(m.Thresholds), len(m.Temperatures), NumBuckets)
	}
	for b := range NumBuckets {
		if math.IsNaN(m.Thresholds[b]) || !(m.Temperatures[b] > 0) || !finite(m.Temperatures[b]) {
			return fmt.Errorf("bucket %d: threshold %v temperature %v", b, m.Thresholds[b], m.Temperatures[b])
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
