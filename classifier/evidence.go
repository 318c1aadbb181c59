package classifier

import "math"

// featureKind says how the estimate of a feature depends on how much of the visitor was seen.
type featureKind uint8

const (
	// kindCensored features accumulate with history (visits, page views, clicks, time, active
	// days, pages per visit): a short history gives a lower bound of the full value.
	kindCensored featureKind = iota
	// kindHistory features (recency) describe a history's span: a short history says
	// nothing of them.
	kindHistory
	// kindRhythm features (frequency) describe the rhythm of visits: left out for a short
	// history, and for a visitor of one visit, whose "visits per day of its span" says nothing.
	kindRhythm
	// kindShare features are shares of a count (paths of page views, channels of visits...):
	// estimated from h observations they carry a binomial variance p(1−p)/h.
	kindShare
	// kindCount features are counts per unit (goals per visit, clicks per page): estimated from
	// h units they carry a Poisson variance λ/h.
	kindCount
	// kindRate features are other means per unit (log seconds per page): estimated from h units
	// their variance grows by a factor 1 + 1/h.
	kindRate
)

// denominator names the count a share or rate feature is estimated from.
type denominator uint8

const (
	denNone denominator = iota
	denVisits
	denViews
	denClicks
	denScroll
	denHours
	denWeekdays
	numDenominators
)

// featureInfo is what the scaler and the evidence-aware likelihood know of a raw feature.
type featureInfo struct {
	group string // weighting group: volume, engagement, timing, pages, elements, channels, devices, goals, hours
	kind  featureKind
	den   denominator
	// family marks a family of shares (or rates) of one denominator that are scaled together:
	// a one-hot group that adds up to 1 counts once.
	family bool
	// once marks a share that is a trait of the visitor rather than of each observation (the
	// device: a visitor keeps its phone): however many visits show it, it is one observation.
	once bool
	// progress marks the bounce rate, whose last visit may still be in progress: a short history
	// judges it on its earlier visits only.
	progress bool
}

// featureInfos describes the schema's features in vector order.
func (s Schema) featureInfos() []featureInfo {
	base := []featureInfo{
		{"volume", kindCensored, denNone, false, false, false},     // visits
		{"volume", kindCensored, denNone, false, false, false},     // page_views
		{"volume", kindCensored, denNone, false, false, false},     // clicks
		{"volume", kindCensored, denNone, false, false, false},     // time_on_site
		{"engagement", kindCensored, denNone, false, false, false}, // pages_per_visit
		{"engagement", kindShare, denVisits, false, false, true},   // bounce_rate
		{"timing", kindHistory, denNone, false, false, false},      // recency_days
		{"timing", kindRhythm, denVisits, false, false, false},     // frequency
		{"engagement", kindRate, denScroll, false, false, false},   // scroll_depth
		{"goals", kindCount, denVisits, false, false, false},       // goal_rate
		{"engagement", kindCount, denViews, false, false, false},   // clicks_per_page
		{"engagement", kindRate, denViews, false, false, false},    // time_per_page
		{"volume", kindCensored, denNone, false, false, false},     // active_days
	}
	out := base
	for range s.Paths {
		out = append(out, featureInfo{"pages", kindShare, denViews, true, false, false})
	}
	for range s.Elements {
		out = append(out, featureInfo{"elements", kindShare, denClicks, true, false, false})
	}
	for range s.Channels {
		out = append(out, featureInfo{"channels", kindShare, denVisits, true, false, false})
	}
	for range s.Devices {
		out = append(out, featureInfo{"devices", kindShare, denVisits, true, true, false})
	}
	for range s.Goals {
		out = append(out, featureInfo{"goals", kindCount, denVisits, true, false, false})
	}
	// Hours and weekend are shares of events, but a visit's events share its hour and day: they
	// are counted as that many visits' worth of observations.
	for range hourBuckets() {
		out = append(out, featureInfo{"hours", kindShare, denVisits, true, false, false})
	}
	return append(out, featureInfo{"timing", kindShare, denVisits, false, false, false}) // weekend
}

// groupWeights is the total variance each feature group carries in scaled space (see doc.go).
func groupWeight(group string) float64 {
	if group == "goals" {
		return 3
	}
	return 1
}

// Evidence is how much of a visitor was seen: the counts its features are estimated from.
type Evidence struct {
	Events int64 // page views + clicks + goals: what the evidence buckets count
	den    [numDenominators]int64
}

// EvidenceOf is the evidence of a visitor's aggregates.
func EvidenceOf(a *Aggregates) Evidence {
	var e Evidence
	e.Events = max(a.PageViews, 0) + max(a.Clicks, 0) + max(a.Goals, 0)
	e.den[denVisits] = max(a.Visits, 0)
	e.den[denViews] = max(a.PageViews, 0)
	e.den[denClicks] = max(a.Clicks, 0)
	e.den[denScroll] = max(a.ScrollCount, 0)
	var hours, days int64
	for _, v := range a.Hours {
		hours += max(v, 0)
	}
	for _, v := range a.Weekdays {
		days += max(v, 0)
	}
	e.den[denHours] = hours
	e.den[denWeekdays] = days
	return e
}

// The evidence buckets: 1 event, 2–3, 4–10 and 11 or more. Outlier thresholds and calibration
// are per bucket.
const NumBuckets = 4

// ShortHistory is the most events for which accumulating features count as censored.
const ShortHistory = 10

// Bucket is the evidence bucket of a visitor with this many events.
func Bucket(events int64) int {
	switch {
	case events <= 1:
		return 0
	case events <= 3:
		return 1
	case events <= ShortHistory:
		return 2
	default:
		return 3
	}
}

// logNormSurvival is log P(Z ≥ z) for a standard normal Z, accurate far into the tail.
func logNormSurvival(z float64) float64 {
	if z < 5 {
		return math.Log(0.5 * math.Erfc(z/math.Sqrt2))
	}
	// Mills ratio asymptotics: P(Z ≥ z) ≈ φ(z)/z · (1 − 1/z² + 3/z⁴)
	z2 := z * z
	return -0.5*z2 - math.Log(z*math.Sqrt(2*math.Pi)) + math.Log(1-1/z2+3/(z2*z2))
}
