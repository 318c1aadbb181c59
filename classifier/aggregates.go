package classifier

import "time"

// Aggregates are one visitor's running totals as stored in visitor_features (counts are int64).
// They are the only input to feature vectors, so the same visitor gives the same vector whether
// it is read at training time or at classification time.
type Aggregates struct {
	Visits, PageViews, Clicks, Goals, Bounces int64 // Bounces: visits with one page view and no click

	TimeMS      int64   // total time on pages from leave events
	ScrollSum   float64 // sum of scroll depths (0..1) over leave events
	ScrollCount int64

	FirstSeen, LastSeen time.Time
	ActiveDays          int64

	Paths     map[string]int64 // path group ("/p", "/cart") -> page views
	Elements  map[string]int64 // element category ("button", "link", "nav", "cta", "form", "media", "other") -> clicks
	Channels  map[string]int64 // direct|search|social|referral|email|campaign -> visits
	Devices   map[string]int64 // desktop|mobile|tablet|other -> visits
	GoalNames map[string]int64 // goal name -> count
	Hours     [24]int64        // events per hour of day
	Weekdays  [7]int64         // events per weekday (Sunday = 0)
}

// Merge adds b into a. It folds a visitor's unsent inline events into the stored totals before
// classification: counts add up, the seen range widens, and maps are created on demand so a zero
// Aggregates can be merged into.
func (a *Aggregates) Merge(b Aggregates) {
	a.Visits += b.Visits
	a.PageViews += b.PageViews
	a.Clicks += b.Clicks
	a.Goals += b.Goals
	a.Bounces += b.Bounces
	a.TimeMS += b.TimeMS
	a.ScrollSum += b.ScrollSum
	a.ScrollCount += b.ScrollCount
	a.ActiveDays += b.ActiveDays
	if !b.FirstSeen.IsZero() && (a.FirstSeen.IsZero() || b.FirstSeen.Before(a.FirstSeen)) {
		a.FirstSeen = b.FirstSeen
	}
	if b.LastSeen.After(a.LastSeen) {
		a.LastSeen = b.LastSeen
	}
	a.Paths = mergeCounts(a.Paths, b.Paths)
	a.Elements = mergeCounts(a.Elements, b.Elements)
	a.Channels = mergeCounts(a.Channels, b.Channels)
	a.Devices = mergeCounts(a.Devices, b.Devices)
	a.GoalNames = mergeCounts(a.GoalNames, b.GoalNames)
	for i, v := range b.Hours {
		a.Hours[i] += v
	}
	for i, v := range b.Weekdays {
		a.Weekdays[i] += v
	}
}

func mergeCounts(dst, src map[string]int64) map[string]int64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]int64, len(src))
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// clone is a deep copy of a: a source may reuse its Aggregates and their maps for every visitor.
func (a *Aggregates) clone() Aggregates {
	c := *a
	c.Paths, c.Elements, c.Channels, c.Devices, c.GoalNames = nil, nil, nil, nil, nil
	c.Merge(Aggregates{Paths: a.Paths, Elements: a.Elements, Channels: a.Channels, Devices: a.Devices, GoalNames: a.GoalNames})
	return c
}
