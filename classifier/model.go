package classifier

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// FormatVersion is the version of the model format MarshalBinary writes and this package reads.
const FormatVersion = 1

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
	OutlierThreshold float64   // a visitor whose log density is below it is an outlier (1st percentile of training)
	Metrics          Metrics
	Personas         []PersonaStats // K: per cluster, in cluster order

	terms atomic.Pointer[gmmTerms] // Classify's constants, computed on first use
}

// Metrics record the quality of a model.
type Metrics struct {
	N             int      // training visitors
	ChosenK       int      // k after choosing and merging (= Model.K)
	Inertia       float64  // Σ squared distance of visitors to their centroid, scaled space
	Silhouette    float64  // mean silhouette on a sample
	LogLikelihood float64  // mean log-likelihood per row under the mixture
	KScores       []KScore // the candidates k was chosen from
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
	Outlier       bool      // far from every cluster: log density under the model's threshold
	LogDensity    float64   // log density of the visitor's vector under the mixture
}

// Classify assigns a visitor to a persona from its aggregates (with any unsent events merged in)
// at time now. It allocates only the probabilities. A visitor whose vector is not finite is an
// outlier with Cluster -1.
func (m *Model) Classify(a Aggregates, now time.Time) Assignment {
	var rawBuf, xBuf [MaxFeatures]float64
	raw := m.Schema.Vector(a, now, rawBuf[:0])
	for _, v := range raw {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Assignment{Cluster: -1, Outlier: true, LogDensity: math.Inf(-1)}
		}
	}
	x := m.Scaler.Transform(raw, xBuf[:0])
	tm := m.gmmTerms()
	p := make([]float64, m.K)
	ld := tm.posterior(x, p)
	c := argmax(p)
	return Assignment{Cluster: c, Confidence: p[c], Probabilities: p, Outlier: ld < m.OutlierThreshold, LogDensity: ld}
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
	if m.Version != FormatVersion {
		return fmt.Errorf("format version %d, want %d", m.Version, FormatVersion)
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
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
