package models

import (
	"time"
)

// Event types of the collector contract.
const (
	EventPageview = "pageview"
	EventClick    = "click"
	EventLeave    = "leave"
	EventGoal     = "goal"
)

// Event is one collected event after the server-side privacy pass: no raw visitor id, no IP,
// no user agent, scrubbed text. ElText and ElAttrs are sealed when stored.
type Event struct {
	ProjectID   [16]byte
	TS          time.Time
	Hour        int // hour of day and weekday in the visitor's time zone (UTC when unknown)
	Weekday     int
	VisitorHash []byte
	SessionHash []byte
	Type        string
	Path        string
	PathGroup   string
	Channel     string
	Device      string
	ElTag       string
	ElCategory  string
	ElClasses   []string
	ElText      string
	ElAttrs     map[string]string
	Goal        string
	DurationMS  *int32
	ScrollDepth *float32
	UTM         map[string]string
}

// VisitorFeatures are one visitor's running aggregates (a row of visitor_features).
type VisitorFeatures struct {
	VisitorHash  []byte           `json:"-"`
	Visits       int64            `json:"visits"`
	PageViews    int64            `json:"pageviews"`
	Clicks       int64            `json:"clicks"`
	Goals        int64            `json:"goals"`
	Bounces      int64            `json:"bounces"`
	TimeMS       int64            `json:"time_ms"`
	ScrollSum    float64          `json:"scroll_sum"`
	ScrollCount  int64            `json:"scroll_count"`
	ActiveDays   int64            `json:"active_days"`
	FirstSeen    time.Time        `json:"first_seen"`
	LastSeen     time.Time        `json:"last_seen"`
	LastDay      time.Time        `json:"last_day"`
	CurSession   []byte           `json:"-"`
	CurPageViews int64            `json:"current_visit_pageviews"`
	CurClicks    int64            `json:"current_visit_clicks"`
	Paths        map[string]int64 `json:"paths"`
	Elements     map[string]int64 `json:"elements"`
	Channels     map[string]int64 `json:"channels"`
	Devices      map[string]int64 `json:"devices"`
	GoalNames    map[string]int64 `json:"goal_names"`
	Hours        [24]int64        `json:"hours"`
	Weekdays     [7]int64         `json:"weekdays"`
}

// Bounced reports whether the visit in progress is, so far, a bounce.
func (f *VisitorFeatures) curBounce() bool { return f.CurPageViews == 1 && f.CurClicks == 0 }

// TotalBounces counts finished bounces plus the visit in progress if it is one so far.
func (f *VisitorFeatures) TotalBounces() int64 {
	n := f.Bounces
	if f.Visits > 0 && f.curBounce() {
		n++
	}
	return n
}

func inc(m *map[string]int64, k string, n int64) {
	if k == "" {
		return
	}
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[k] += n
}

// maxMapKeys bounds the per-visitor maps so a hostile client cannot grow a row without limit.
const maxMapKeys = 64

func incBounded(m *map[string]int64, k string) {
	if k == "" {
		return
	}
	if _, ok := (*m)[k]; !ok && len(*m) >= maxMapKeys {
		k = "other"
	}
	inc(m, k, 1)
}

// Apply folds one event into the aggregates. Events of a visitor are applied in time order.
func (f *VisitorFeatures) Apply(e *Event) {
	if f.FirstSeen.IsZero() || e.TS.Before(f.FirstSeen) {
		f.FirstSeen = e.TS
	}
	if e.TS.After(f.LastSeen) {
		f.LastSeen = e.TS
	}
	day := time.Date(e.TS.Year(), e.TS.Month(), e.TS.Day(), 0, 0, 0, 0, time.UTC)
	if f.ActiveDays == 0 || day.After(f.LastDay) {
		f.ActiveDays++
		f.LastDay = day
	}
	if string(e.SessionHash) != string(f.CurSession) {
		if f.Visits > 0 && f.curBounce() {
			f.Bounces++
		}
		f.Visits++
		f.CurSession = e.SessionHash
		f.CurPageViews, f.CurClicks = 0, 0
		incBounded(&f.Channels, e.Channel)
		incBounded(&f.Devices, e.Device)
	}
	switch e.Type {
	case EventPageview:
		f.PageViews++
		f.CurPageViews++
		incBounded(&f.Paths, e.PathGroup)
	case EventClick:
		f.Clicks++
		f.CurClicks++
		incBounded(&f.Elements, e.ElCategory)
	case EventLeave:
		if e.DurationMS != nil && *e.DurationMS > 0 {
			f.TimeMS += int64(*e.DurationMS)
		}
		if e.ScrollDepth != nil {
			f.ScrollSum += float64(*e.ScrollDepth)
			f.ScrollCount++
		}
	case EventGoal:
		f.Goals++
		incBounded(&f.GoalNames, e.Goal)
	}
	if e.Hour >= 0 && e.Hour < 24 {
		f.Hours[e.Hour]++
	}
	if e.Weekday >= 0 && e.Weekday < 7 {
		f.Weekdays[e.Weekday]++
	}
}

// ElementCategory derives the category of a clicked element from its tag, role, type, classes
// and link target: button, cta, link, nav, form, media or other.
func ElementCategory(tag, role, typ, href string, classes []string, inNav bool) string {
	for _, c := range classes {
		switch c {
		case "cta", "btn-primary", "primary", "buy", "add-to-cart", "checkout", "signup":
			return "cta"
		}
	}
	switch {
	case inNav || role == "navigation" || role == "menuitem" || role == "tab":
		return "nav"
	case tag == "button" || role == "button" || (tag == "input" && (typ == "submit" || typ == "button")):
		return "button"
	case tag == "a" || role == "link":
		return "link"
	case tag == "input" || tag == "select" || tag == "textarea" || tag == "label" || tag == "form" || tag == "option":
		return "form"
	case tag == "img" || tag == "video" || tag == "audio" || tag == "picture" || tag == "svg" || tag == "canvas":
		return "media"
	}
	return "other"
}
