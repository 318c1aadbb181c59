package models

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Figures: the one definition of how a persona's trait reads in human units, for everything a
// person or the LLM reads (the rule-based texts, the prompt, the dashboard's trait labels).
//
// Trait values are means over visitors of the raw features of classifier.Schema.Vector. Seven of
// them are log1p of a count or of seconds (visits, page_views, clicks, time_on_site,
// pages_per_visit, time_per_page, active_days): expm1 of their mean is a geometric mean, the
// persona's typical value, and is called "typical". The others are means of rates and shares.

// FigureKind says what unit a feature's human value is in.
type FigureKind int

// The kinds of figure.
const (
	KindNumber    FigureKind = iota // a plain number (a feature this table does not know)
	KindCount                       // a count, written with its noun ("2.3 visits")
	KindSeconds                     // a duration in seconds, written "2 min 30 s"
	KindShare                       // a share in 0..1, written as a percentage "of" something
	KindDays                        // a number of days
	KindPerVisit                    // a count of goals per visit
	KindFrequency                   // visits per day
)

// Figure is one feature's value as a person reads it.
type Figure struct {
	// Label names the feature in words, lower case: "time per page", "page views of Product pages".
	Label string
	// Kind is the unit of Value.
	Kind FigureKind
	// Value is the human value: a count, seconds, days or a share in 0..1.
	Value float64
	// Text writes Value with its unit: "2 min 30 s", "2.3 visits", "38 %".
	Text string
	// Basis says what the figure is: "typical, per visitor", "share of page views".
	Basis string
	// Typical is true when Value is expm1 of a mean of log1p values.
	Typical bool
}

type figureDef struct {
	label   string
	kind    FigureKind
	noun    string // counts: the unit's noun, plural
	basis   string
	typical bool
}

// baseFigures defines the base features of classifier.Schema, in its order.
func baseFigure(f string) (figureDef, bool) {
	switch f {
	case "visits":
		return figureDef{"visits", KindCount, "visits", "typical, per visitor", true}, true
	case "page_views":
		return figureDef{"page views", KindCount, "page views", "typical, per visitor", true}, true
	case "clicks":
		return figureDef{"clicks", KindCount, "clicks", "typical, per visitor", true}, true
	case "time_on_site":
		return figureDef{"time on site", KindSeconds, "", "typical, per visitor", true}, true
	case "pages_per_visit":
		return figureDef{"pages per visit", KindCount, "pages", "typical, per visit", true}, true
	case "bounce_rate":
		return figureDef{"bounce rate", KindShare, "", "share of visits with a single page view", false}, true
	case "recency_days":
		return figureDef{"days since last visit", KindDays, "", "mean, per visitor", false}, true
	case "frequency":
		return figureDef{"visit frequency", KindFrequency, "", "mean visits per day between first and last visit", false}, true
	case "scroll_depth":
		return figureDef{"scroll depth", KindShare, "", "mean share of the page scrolled", false}, true
	case "goal_rate":
		return figureDef{"goals per visit", KindPerVisit, "", "mean goals completed per visit", false}, true
	case "clicks_per_page":
		return figureDef{"clicks per page view", KindCount, "clicks", "mean, per page view", false}, true
	case "time_per_page":
		return figureDef{"time per page", KindSeconds, "", "typical, per page view", true}, true
	case "active_days":
		return figureDef{"active days", KindCount, "days", "typical, per visitor", true}, true
	case "weekend":
		return figureDef{"activity at weekends", KindShare, "", "share of this persona's activity", false}, true
	}
	return figureDef{}, false
}

// hourLabels name the hour buckets of the schema, in site time.
func hourLabel(bucket string) (string, bool) {
	l, ok := map[string]string{
		"night": "night (0–6 h)", "morning": "morning (6–12 h)",
		"afternoon": "afternoon (12–18 h)", "evening": "evening (18–24 h)",
	}[bucket]
	return l, ok
}

// KnownFeature reports whether the figures know a feature's unit: a base feature of the schema
// or a path, element, channel, device, goal or hours share.
func KnownFeature(feature string) bool {
	return FeatureFigure(feature, 0, nil).Kind != KindNumber
}

// IsTypicalFeature reports whether a feature is stored as log1p (its human value is "typical").
func IsTypicalFeature(feature string) bool {
	d, ok := baseFigure(feature)
	return ok && d.typical
}

// IsGoalFeature reports whether a feature measures goals (goal_rate, goal:NAME). Texts state
// goals as the share of visitors who reached them (the persona's goal lifts) instead.
func IsGoalFeature(feature string) bool {
	return feature == "goal_rate" || strings.HasPrefix(feature, "goal:")
}

// HumanValue turns a trait value (a mean of the raw feature) into human units: expm1 for the
// log1p features, the value itself otherwise.
func HumanValue(feature string, raw float64) float64 {
	if IsTypicalFeature(feature) {
		return math.Expm1(raw)
	}
	return raw
}

// PageLabeler names a path group for people ("/p/:id" → "Product pages").
type PageLabeler func(group string) string

// FeatureFigure reads one trait value (the raw feature's mean) in human units. labels names
// path groups; nil uses DefaultPageLabel.
func FeatureFigure(feature string, raw float64, labels PageLabeler) Figure {
	if labels == nil {
		labels = DefaultPageLabel
	}
	d, ok := baseFigure(feature)
	if !ok {
		d = keyedFigure(feature, labels)
	}
	v := HumanValue(feature, raw)
	return Figure{Label: d.label, Kind: d.kind, Value: v, Text: formatKind(d, v), Basis: d.basis, Typical: d.typical}
}

// FeatureLabel names a feature in words, lower case.
func FeatureLabel(feature string, labels PageLabeler) string {
	return FeatureFigure(feature, 0, labels).Label
}

// FormatFeature writes a feature's human value (HumanValue, already converted) with its unit.
func FormatFeature(feature string, human float64) string {
	d, ok := baseFigure(feature)
	if !ok {
		d = keyedFigure(feature, DefaultPageLabel)
	}
	return formatKind(d, human)
}

func keyedFigure(feature string, labels PageLabeler) figureDef {
	kind, key, ok := strings.Cut(feature, ":")
	if !ok {
		return figureDef{label: strings.ReplaceAll(feature, "_", " "), kind: KindNumber}
	}
	words := strings.ReplaceAll(key, "_", " ")
	switch kind {
	case "path":
		return figureDef{label: "page views of " + labels(key), kind: KindShare, basis: "share of page views"}
	case "element":
		return figureDef{label: "clicks on " + words + " elements", kind: KindShare, basis: "share of clicks"}
	case "channel":
		return figureDef{label: "visits from " + words, kind: KindShare, basis: "share of visits"}
	case "device":
		return figureDef{label: "visits on " + words, kind: KindShare, basis: "share of visits"}
	case "goal":
		return figureDef{label: words + " per visit", kind: KindPerVisit, basis: "mean completions per visit"}
	case "hours":
		if l, ok := hourLabel(key); ok {
			return figureDef{label: "activity at " + l, kind: KindShare, basis: "share of this persona's activity"}
		}
	}
	return figureDef{label: strings.ReplaceAll(feature, "_", " "), kind: KindNumber}
}

func formatKind(d figureDef, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	switch d.kind {
	case KindCount:
		n := FormatCount(v)
		if n == "1" {
			return n + " " + strings.TrimSuffix(strings.Replace(d.noun, "s ", " ", 1), "s") // "1 visit", "1 page view"
		}
		return n + " " + d.noun
	case KindSeconds:
		return FormatDuration(v)
	case KindShare:
		return FormatPercent(v)
	case KindDays:
		if math.Abs(v-1) < 0.05 {
			return "1 day"
		}
		return FormatCount(v) + " days"
	case KindPerVisit:
		return FormatCount(v) + " per visit"
	case KindFrequency:
		return FormatCount(v) + " visits per day"
	}
	return FormatNumber(v)
}

// FormatDuration writes seconds as people read them: "0.4 s", "36 s", "2 min 30 s", "1 h 5 min".
func FormatDuration(seconds float64) string {
	s := max(seconds, 0)
	switch {
	case s < 10:
		return strconv.FormatFloat(math.Round(s*10)/10, 'f', -1, 64) + " s"
	case s < 90:
		return fmt.Sprintf("%.0f s", s)
	case s < 3600:
		total := int(math.Round(s/10) * 10)
		if m, sec := total/60, total%60; sec != 0 {
			return fmt.Sprintf("%d min %d s", m, sec)
		} else {
			return fmt.Sprintf("%d min", m)
		}
	}
	total := int(math.Round(s / 60))
	if h, m := total/60, total%60; m != 0 {
		return fmt.Sprintf("%d h %d min", h, m)
	} else {
		return fmt.Sprintf("%d h", h)
	}
}

// FormatPercent writes a share in 0..1 as a percentage: one decimal below 10 % ("9.5 %"),
// whole numbers above ("38 %"), "<0.1 %" for a sliver.
func FormatPercent(share float64) string {
	p := 100 * share
	switch {
	case p <= 0:
		return "0 %"
	case p < 0.05:
		return "<0.1 %"
	case p < 9.95:
		return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64) + " %"
	}
	return fmt.Sprintf("%.0f %%", math.Round(p))
}

// FormatCount writes a count or mean count: one decimal below 10 ("2.3"), whole numbers with
// thousands separators above ("1,234").
func FormatCount(v float64) string {
	if math.Abs(v) < 9.95 {
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	}
	return Thousands(int64(math.Round(v)))
}

// FormatNumber writes a number of no known unit with three significant digits.
func FormatNumber(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	scale := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
}

// Thousands writes n with thousands separators (1,234,567).
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// FormatLift writes a ratio of rates with one decimal below 10 and whole numbers above, rounded
// half away from zero: "2.6×", "3.0×", "0.4×", "13×", "<0.1×", "0×".
func FormatLift(l float64) string {
	switch {
	case l <= 0 || math.IsNaN(l) || math.IsInf(l, 0):
		return "0×"
	case l >= 9.95:
		return fmt.Sprintf("%.0f×", math.Round(l))
	case l < 0.05:
		return "<0.1×"
	}
	return fmt.Sprintf("%.1f×", math.Round(l*10)/10)
}

// Compare words how a persona's human value v stands against the population's p, relatively:
// 0 against 9.5 % is "much lower", never "about the same" for a small absolute gap.
func Compare(v, p float64) string {
	v, p = math.Abs(v), math.Abs(p)
	switch {
	case v == p:
		return "about the same"
	case p == 0:
		return "much higher"
	}
	r := v / p
	switch {
	case r >= 2:
		return "much higher"
	case r >= 1.2:
		return "higher"
	case r <= 0.5:
		return "much lower"
	case r <= 1/1.2:
		return "lower"
	}
	return "about the same"
}
