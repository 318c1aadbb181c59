package classifier

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// MaxFeatures bounds the length of a feature vector, so a vector fits a fixed-size buffer on the
// classification path.
const MaxFeatures = 64

// The fixed vocabularies: the collector produces exactly these values. They are functions, not
// package variables, so no caller can change them for everyone.
func elementCategories() []string {
	return []string{"button", "link", "nav", "cta", "form", "media", "other"}
}

func channelNames() []string {
	return []string{"direct", "search", "social", "referral", "email", "campaign"}
}

func deviceNames() []string { return []string{"desktop", "mobile", "tablet", "other"} }

// hourBuckets name the hours 0-5, 6-11, 12-17 and 18-23.
func hourBuckets() []string { return []string{"night", "morning", "afternoon", "evening"} }

// baseFeatures are the behaviour features every schema starts with, in vector order.
func baseFeatures() []string {
	return []string{
		"visits",          // log1p(visits)
		"page_views",      // log1p(page views)
		"clicks",          // log1p(clicks)
		"time_on_site",    // log1p(seconds on pages)
		"pages_per_visit", // log1p(page views / visit)
		"bounce_rate",     // bounced visits / visits
		"recency_days",    // days since last seen
		"frequency",       // visits per day of the first-to-last-seen span
		"scroll_depth",    // mean scroll depth of leave events (0..1)
		"goal_rate",       // goals per visit
		"clicks_per_page", // clicks / page views
		"time_per_page",   // log1p(seconds per page view)
		"active_days",     // log1p(active days)
	}
}

// SchemaOptions tune BuildSchema.
type SchemaOptions struct {
	MaxPaths   int // path groups in the vocabulary, most viewed first (default 10)
	MaxGoals   int // goal names in the vocabulary, most reached first (default 6)
	MinSupport int // visitors that must have used a path group or goal for it to enter (default 10)
}

func (o SchemaOptions) withDefaults() SchemaOptions {
	if o.MaxPaths <= 0 {
		o.MaxPaths = 10
	}
	if o.MaxGoals <= 0 {
		o.MaxGoals = 6
	}
	if o.MinSupport <= 0 {
		o.MinSupport = 10
	}
	return o
}

// Schema names the features of a project's vectors and holds the vocabularies that turn
// aggregates' maps into shares. It is stored in the model, so a visitor is classified with exactly
// the features the model was trained on.
type Schema struct {
	Features []string // feature names in vector order
	Paths    []string // path groups with a share feature each ("path:/p")
	Elements []string // element categories ("element:button")
	Channels []string // acquisition channels ("channel:search")
	Devices  []string // device classes ("device:mobile")
	Goals    []string // goal names with a rate feature each ("goal:signup")
}

// BuildSchema chooses a project's vocabularies from its population: the most viewed path groups
// and the most reached goals that at least MinSupport visitors used (a rare path or goal name
// could point at one person, and would not describe a persona anyway), plus the fixed element
// categories, channels, devices, hour buckets and weekend share. Vectors have at most MaxFeatures
// features: path groups give way first.
func BuildSchema(pop []Aggregates, opts SchemaOptions) Schema {
	var c vocabCounter
	for i := range pop {
		c.add(&pop[i])
	}
	return c.schema(opts)
}

// newSchema derives the feature names from the vocabularies.
func newSchema(paths, elements, channels, devices, goals []string) Schema {
	s := Schema{Paths: paths, Elements: elements, Channels: channels, Devices: devices, Goals: goals}
	s.Features = s.featureNames()
	return s
}

func (s Schema) featureNames() []string {
	f := baseFeatures()
	for _, p := range s.Paths {
		f = append(f, "path:"+p)
	}
	for _, e := range s.Elements {
		f = append(f, "element:"+e)
	}
	for _, c := range s.Channels {
		f = append(f, "channel:"+c)
	}
	for _, d := range s.Devices {
		f = append(f, "device:"+d)
	}
	for _, g := range s.Goals {
		f = append(f, "goal:"+g)
	}
	for _, h := range hourBuckets() {
		f = append(f, "hours:"+h)
	}
	return append(f, "weekend")
}

// keyStat is how much of a vocabulary key a population has: the total count and the visitors
// with a positive count.
type keyStat struct {
	total    int64
	visitors int
}

// vocabCounter counts path groups and goal names visitor by visitor: all BuildSchema needs to
// know of a population, so a schema can be built from a stream.
type vocabCounter struct {
	paths, goals map[string]*keyStat
}

func (c *vocabCounter) add(a *Aggregates) {
	c.paths = countKeys(c.paths, a.Paths)
	c.goals = countKeys(c.goals, a.GoalNames)
}

func countKeys(stats map[string]*keyStat, counts map[string]int64) map[string]*keyStat {
	for k, v := range counts {
		if v <= 0 {
			continue
		}
		if stats == nil {
			stats = make(map[string]*keyStat)
		}
		st := stats[k]
		if st == nil {
			st = &keyStat{}
			stats[k] = st
		}
		st.total += v
		st.visitors++
	}
	return stats
}

// schema chooses the vocabularies from the counts (see BuildSchema).
func (c *vocabCounter) schema(opts SchemaOptions) Schema {
	opts = opts.withDefaults()
	elements, channels, devices := elementCategories(), channelNames(), deviceNames()
	fixed := len(baseFeatures()) + len(elements) + len(channels) + len(devices) + len(hourBuckets()) + 1
	goals := topKeys(c.goals, min(opts.MaxGoals, MaxFeatures-fixed), opts.MinSupport)
	paths := topKeys(c.paths, min(opts.MaxPaths, MaxFeatures-fixed-len(goals)), opts.MinSupport)
	return newSchema(paths, elements, channels, devices, goals)
}

// topKeys returns up to limit keys by total count over the population, among keys at least
// minSupport visitors have, ties by name.
func topKeys(stats map[string]*keyStat, limit, minSupport int) []string {
	if limit <= 0 {
		return nil
	}
	var keys []string
	for k, st := range stats {
		if st.visitors >= minSupport {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(stats[b].total, stats[a].total); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	if len(keys) > limit {
		keys = keys[:limit]
	}
	return keys
}

// Vector appends the raw, interpretable features of a (at time now) to dst[:0] and returns it:
// counts as log1p, rates and shares as they are (see the feature names). It allocates only when
// dst is too small. Negative counts count as zero; non-finite scroll sums pass through as NaN or
// Inf, for the caller to reject.
func (s Schema) Vector(a Aggregates, now time.Time, dst []float64) []float64 {
	dst = dst[:0]
	visits := pos(a.Visits)
	views := pos(a.PageViews)
	clicks := pos(a.Clicks)
	seconds := pos(a.TimeMS) / 1000
	dst = append(dst,
		math.Log1p(visits),
		math.Log1p(views),
		math.Log1p(clicks),
		math.Log1p(seconds),
		math.Log1p(ratio(views, visits)),
		min(1, ratio(pos(a.Bounces), visits)),
		recencyDays(a.LastSeen, now),
		frequency(visits, a.FirstSeen, a.LastSeen),
		ratio(a.ScrollSum, pos(a.ScrollCount)),
		ratio(pos(a.Goals), visits),
		ratio(clicks, views),
		math.Log1p(ratio(seconds, views)),
		math.Log1p(pos(a.ActiveDays)),
	)
	dst = appendShares(dst, s.Paths, a.Paths, views)
	dst = appendShares(dst, s.Elements, a.Elements, clicks)
	dst = appendShares(dst, s.Channels, a.Channels, visits)
	dst = appendShares(dst, s.Devices, a.Devices, visits)
	dst = appendShares(dst, s.Goals, a.GoalNames, visits) // goals of that name per visit
	var hours [4]float64
	var events float64
	for h, v := range a.Hours {
		hours[h/6] += pos(v)
		events += pos(v)
	}
	for _, v := range hours {
		dst = append(dst, ratio(v, events))
	}
	var days float64
	for _, v := range a.Weekdays {
		days += pos(v)
	}
	return append(dst, ratio(pos(a.Weekdays[0])+pos(a.Weekdays[6]), days))
}

func appendShares(dst []float64, keys []string, counts map[string]int64, total float64) []float64 {
	for _, k := range keys {
		dst = append(dst, ratio(pos(counts[k]), total))
	}
	return dst
}

func pos(v int64) float64 { return float64(max(v, 0)) }

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func recencyDays(last, now time.Time) float64 {
	if last.IsZero() || now.Before(last) {
		return 0
	}
	return now.Sub(last).Hours() / 24
}

// frequency is visits per day of the span between first and last seen (a one-day span for a
// visitor seen once).
func frequency(visits float64, first, last time.Time) float64 {
	span := 1.0
	if !first.IsZero() && last.After(first) {
		span += last.Sub(first).Hours() / 24
	}
	return visits / span
}
