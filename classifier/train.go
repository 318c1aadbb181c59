package classifier

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// TrainOptions tune Train. Zero values take the defaults in brackets.
type TrainOptions struct {
	MinK, MaxK     int    // range k is chosen from [2, 12]
	FixedK         int    // use this k instead of choosing (0: choose)
	MinClusterSize int    // k-anonymity: no persona has fewer visitors, smaller clusters are merged [50]
	Starts         int    // k-means++ starts of the final fit [10]
	Seed           uint64 // the same visitors and seed give the same model
	SampleSize     int    // visitors the silhouette is measured on [5,000]
	MiniBatchAbove int    // above this many visitors, mini-batch k-means on a reservoir sample [200,000]
	Schema         SchemaOptions

	// Prev is the previous version's model, to match new clusters to its personas; nil for a
	// first version.
	Prev *Model
	// PrevLabels is, per visitor of the population, its cluster in Prev (-1 when unknown). When
	// nil and Prev is set, the visitors are classified with Prev.
	PrevLabels []int
	// MatchThreshold is the largest distance (scaled space of the new model) between a new
	// centroid and a previous cluster's centroid for them to be the same persona [0: the previous
	// centroid must be nearer to the new centroid than to any other new centroid].
	MatchThreshold float64
}

func (o TrainOptions) clusterOptions() ClusterOptions {
	return ClusterOptions{MinK: o.MinK, MaxK: o.MaxK, FixedK: o.FixedK, MinClusterSize: o.MinClusterSize,
		Starts: o.Starts, SampleSize: o.SampleSize, MiniBatchAbove: o.MiniBatchAbove, Seed: o.Seed}
}

// Result is a trained model with what the caller needs to store assignments and keep persona ids.
type Result struct {
	Model  *Model
	Labels []int // per visitor of the population: its cluster
	// Match is, per new cluster, the previous model's cluster it continues, or -1 for a new persona.
	Match []int
	// Stability is, per new cluster matched to previous cluster i, the share of i's visitors (those
	// known in both versions) that it kept; -1 when unmatched or i had no known visitors.
	Stability []float64
	// Drift is, per matched new cluster, the distance its centroid moved from the previous
	// cluster's (both in the new scaled space); -1 when unmatched.
	Drift []float64
}

// Train builds a model from a project's visitors at time now: schema and raw vectors, robust
// scaling, clustering (Cluster), per-persona aggregates and, with a previous model, matching of
// the new clusters to its personas. It fails with ErrTooLittleData (fewer visitors than two
// minimum clusters), ErrDegenerate (every feature constant) or ErrInvalidInput (a non-finite
// value), each saying why; it never returns a partial model. It is TrainSource over pop.
func Train(pop []Aggregates, now time.Time, opts TrainOptions) (*Result, error) {
	if opts.Prev != nil && opts.PrevLabels == nil && len(pop) >= 2*opts.clusterOptions().withDefaults().MinClusterSize {
		// The population is at hand: classify it with the previous model on every core.
		prev := make([]int, len(pop))
		forChunks(len(pop), 256, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				prev[i] = opts.Prev.Classify(pop[i], now).Cluster
			}
		})
		opts.PrevLabels = prev
	}
	return TrainSource(SliceSource(pop), now, opts)
}

// MatchClusters matches the k new clusters (centroids k × d, labels per row of X) to the prevK
// clusters of the previous version, given per row its previous label (-1 unknown; nil when there
// is no previous version). A previous cluster's centroid is the mean of its rows' new vectors, so
// both live in the new space; the Hungarian algorithm pairs clusters at the least total Euclidean
// distance, and a pair farther apart than threshold is no match. With threshold ≤ 0 the threshold
// of each new cluster is the distance from the previous centroid to the nearest other new
// centroid: the previous cluster must lie in the new cluster's cell. That scales with the data and
// tolerates a previous centroid pulled aside by members who moved to another cluster. It returns, per new cluster, the previous cluster (-1 for none), the
// stability (share of the previous cluster's rows it kept, -1 when unmatched) and the drift
// (centroid distance, -1 when unmatched).
func MatchClusters(X []float64, n, d int, labels []int, centroids []float64, k int, prevLabels []int, prevK int, threshold float64) (match []int, stability, drift []float64) {
	match = make([]int, k)
	stability = make([]float64, k)
	drift = make([]float64, k)
	for j := range k {
		match[j], stability[j], drift[j] = -1, -1, -1
	}
	if len(prevLabels) != n || prevK <= 0 {
		return match, stability, drift
	}
	prevC := make([]float64, prevK*d)
	prevN := make([]int, prevK)
	overlap := make([]int, k*prevK)
	for i, p := range prevLabels {
		if p < 0 || p >= prevK {
			continue
		}
		prevN[p]++
		if labels[i] >= 0 { // a previous member that is noise now is one the cluster lost
			overlap[labels[i]*prevK+p]++
		}
		for t, v := range X[i*d : (i+1)*d] {
			prevC[p*d+t] += v
		}
	}
	for p := range prevK {
		for t := range d {
			prevC[p*d+t] /= max(1, float64(prevN[p]))
		}
	}
	cost := make([][]float64, k)
	for j := range k {
		cost[j] = make([]float64, prevK)
		for p := range prevK {
			cost[j][p] = math.Inf(1)
			if prevN[p] > 0 {
				cost[j][p] = math.Sqrt(sqDist(centroids[j*d:(j+1)*d], prevC[p*d:(p+1)*d]))
			}
		}
	}
	for j, p := range Hungarian(cost) {
		if p < 0 {
			continue
		}
		limit := threshold
		if limit <= 0 {
			limit = math.Inf(1)
			for o := range k {
				if o != j {
					limit = min(limit, math.Sqrt(sqDist(centroids[o*d:(o+1)*d], prevC[p*d:(p+1)*d])))
				}
			}
		}
		if !(cost[j][p] <= limit) {
			continue
		}
		match[j] = p
		drift[j] = cost[j][p]
		stability[j] = float64(overlap[j*prevK+p]) / float64(prevN[p])
	}
	return match, stability, drift
}

// personaAcc accumulates the aggregates of every cluster, visitor by visitor: sums of the raw
// features for the traits against the population, and the totals behind the shares of paths,
// channels, devices, hours and goals.
type personaAcc struct {
	schema  Schema
	f, n    int
	popMean []float64
	popSq   []float64
	sums    []float64 // k × f
	tt      []personaTotals
	// popGoals and popAny count the visitors of the whole population (noise included) who
	// reached each goal and any goal: the base of every persona's lift.
	popGoals []int
	popAny   int
}

type personaTotals struct {
	views                    float64
	paths, channels, devices []float64
	hours                    [4]float64
	goalVisitors             []int
	anyGoal                  int
}

func newPersonaAcc(schema Schema, k int) *personaAcc {
	f := len(schema.Features)
	p := &personaAcc{schema: schema, f: f, popMean: make([]float64, f), popSq: make([]float64, f),
		sums: make([]float64, k*f), tt: make([]personaTotals, k), popGoals: make([]int, len(schema.Goals))}
	for j := range p.tt {
		p.tt[j] = personaTotals{paths: make([]float64, len(schema.Paths)), channels: make([]float64, len(schema.Channels)),
			devices: make([]float64, len(schema.Devices)), goalVisitors: make([]int, len(schema.Goals))}
	}
	return p
}

// add counts one visitor a of cluster l (-1: noise, counted in the population only) whose raw
// vector is raw.
func (p *personaAcc) add(a *Aggregates, raw []float64, l int) {
	p.n++
	for t, v := range raw {
		p.popMean[t] += v
		p.popSq[t] += v * v
	}
	for g, key := range p.schema.Goals {
		if a.GoalNames[key] > 0 {
			p.popGoals[g]++
		}
	}
	if a.Goals > 0 {
		p.popAny++
	}
	if l < 0 {
		return
	}
	for t, v := range raw {
		p.sums[l*p.f+t] += v
	}
	schema, t := &p.schema, &p.tt[l]
	t.views += pos(a.PageViews)
	for i, key := range schema.Paths {
		t.paths[i] += pos(a.Paths[key])
	}
	for c, key := range schema.Channels {
		t.channels[c] += pos(a.Channels[key])
	}
	for c, key := range schema.Devices {
		t.devices[c] += pos(a.Devices[key])
	}
	for h, v := range a.Hours {
		t.hours[h/6] += pos(v)
	}
	for g, key := range schema.Goals {
		if a.GoalNames[key] > 0 {
			t.goalVisitors[g]++
		}
	}
	if a.Goals > 0 {
		t.anyGoal++
	}
}

// stats returns the aggregates of the clusters of the given sizes.
func (p *personaAcc) stats(sizes []int) []PersonaStats {
	f, n, schema := p.f, p.n, p.schema
	popMean := slices.Clone(p.popMean)
	popSD := make([]float64, f)
	popGoals, popAny := p.popGoals, p.popAny
	for t := range f {
		popMean[t] /= float64(n)
		popSD[t] = math.Sqrt(max(0, p.popSq[t]/float64(n)-popMean[t]*popMean[t]))
	}
	out := make([]PersonaStats, len(sizes))
	for j := range sizes {
		ps := PersonaStats{Size: sizes[j], Share: float64(sizes[j]) / float64(n)}
		for t, name := range schema.Features {
			if popSD[t] <= 1e-12 {
				continue
			}
			v := p.sums[j*f+t] / max(1, float64(sizes[j]))
			ps.Traits = append(ps.Traits, Trait{Feature: name, Value: v, Population: popMean[t], Z: (v - popMean[t]) / popSD[t]})
		}
		slices.SortStableFunc(ps.Traits, func(a, b Trait) int { return cmp.Compare(math.Abs(b.Z), math.Abs(a.Z)) })
		t := p.tt[j]
		ps.TopPaths = shares(schema.Paths, t.paths, t.views)
		if len(ps.TopPaths) > 5 {
			ps.TopPaths = ps.TopPaths[:5]
		}
		ps.Channels = shares(schema.Channels, t.channels, sum(t.channels))
		ps.Devices = shares(schema.Devices, t.devices, sum(t.devices))
		ps.Hours = shares(hourBuckets(), t.hours[:], sum(t.hours[:]))
		goals := make([]float64, len(t.goalVisitors))
		for g, v := range t.goalVisitors {
			goals[g] = float64(v)
		}
		ps.Goals = append([]Share{{Key: "any", Share: ratio(float64(t.anyGoal), float64(sizes[j]))}},
			shares(schema.Goals, goals, float64(sizes[j]))...)
		ps.GoalLifts = append(ps.GoalLifts, goalLift("any", t.anyGoal, sizes[j], popAny, n))
		for g, key := range schema.Goals {
			ps.GoalLifts = append(ps.GoalLifts, goalLift(key, t.goalVisitors[g], sizes[j], popGoals[g], n))
		}
		out[j] = ps
	}
	return out
}

// goalLift compares x of a persona's size visitors reaching a goal with popX of all n visitors.
func goalLift(goal string, x, size, popX, n int) GoalLift {
	gl := GoalLift{Goal: goal, Visitors: x, Rate: ratio(float64(x), float64(size)), PopulationRate: ratio(float64(popX), float64(n))}
	if gl.PopulationRate > 0 && size > 0 {
		lo, hi := wilson(x, size)
		gl.Lift, gl.Low, gl.High = gl.Rate/gl.PopulationRate, lo/gl.PopulationRate, hi/gl.PopulationRate
	}
	return gl
}

// wilson is the 95 % Wilson score interval of a proportion of x successes in n trials: unlike the
// normal approximation it stays inside 0..1 and is honest for rates near 0 or 1 and small n.
func wilson(x, n int) (lo, hi float64) {
	const z = 1.959963984540054
	p, fn := float64(x)/float64(n), float64(n)
	den := 1 + z*z/fn
	mid := (p + z*z/(2*fn)) / den
	half := z * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn)) / den
	return max(0, mid-half), min(1, mid+half)
}

// shares divides each value by total and orders the keys by share, largest first (ties by key).
func shares(keys []string, values []float64, total float64) []Share {
	if len(keys) == 0 {
		return nil
	}
	out := make([]Share, len(keys))
	for i, key := range keys {
		out[i] = Share{Key: key, Share: ratio(values[i], total)}
	}
	slices.SortStableFunc(out, func(a, b Share) int {
		if c := cmp.Compare(b.Share, a.Share); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}
