// Package demodata generates realistic synthetic traffic for a handful of behaviours, as the
// NDJSON lines of the import API. The demo command and the tests use it; it is deterministic
// for a seed.
package demodata

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// Behaviour is a kind of visitor the generator simulates.
type Behaviour struct {
	Name       string
	Weight     float64
	Channel    string // how they arrive: referrer and utm are derived from it
	Device     string
	Visits     [2]int // min, max visits over the period
	Pages      [2]int // pages per visit
	Paths      []string
	Clicks     [2]int // clicks per visit
	Elements   []Element
	Goals      []string
	GoalRate   float64
	Dwell      [2]int // seconds per page
	Scroll     [2]float64
	Hours      [2]int // active hours (UTC)
	BounceRate float64
}

// Element is a clickable thing of the demo shop.
type Element struct {
	Tag, ID, Text string
	Classes       []string
	Role          string
}

// Behaviours are the demo shop's visitors.
var Behaviours = []Behaviour{
	{Name: "deal seekers", Weight: 0.25, Channel: "campaign", Device: "mobile", Visits: [2]int{2, 5}, Pages: [2]int{3, 7},
		Paths: []string{"/deals", "/deals", "/p/%d", "/p/%d", "/cart"}, Clicks: [2]int{2, 5},
		Elements: []Element{{Tag: "button", ID: "coupon", Text: "Apply coupon", Classes: []string{"btn"}}, {Tag: "a", Text: "See deal", Classes: []string{"deal-link"}}},
		Goals:    []string{"coupon_applied", "add_to_cart"}, GoalRate: 0.5, Dwell: [2]int{10, 40}, Scroll: [2]float64{0.4, 0.9},
		Hours: [2]int{18, 23}, BounceRate: 0.1},
	{Name: "researchers", Weight: 0.2, Channel: "search", Device: "desktop", Visits: [2]int{3, 8}, Pages: [2]int{4, 10},
		Paths: []string{"/blog/%d", "/guides/%d", "/compare", "/p/%d"}, Clicks: [2]int{1, 3},
		Elements: []Element{{Tag: "a", Text: "Read more", Classes: []string{"article-link"}}, {Tag: "button", ID: "compare", Text: "Compare"}},
		Goals:    []string{"newsletter_signup"}, GoalRate: 0.15, Dwell: [2]int{60, 240}, Scroll: [2]float64{0.7, 1},
		Hours: [2]int{9, 17}, BounceRate: 0.05},
	{Name: "buyers", Weight: 0.2, Channel: "direct", Device: "desktop", Visits: [2]int{2, 6}, Pages: [2]int{3, 6},
		Paths: []string{"/p/%d", "/cart", "/checkout", "/account"}, Clicks: [2]int{3, 7},
		Elements: []Element{{Tag: "button", ID: "buy", Text: "Add to cart", Classes: []string{"btn", "primary"}}, {Tag: "button", Text: "Checkout", Classes: []string{"checkout"}}},
		Goals:    []string{"add_to_cart", "purchase"}, GoalRate: 0.8, Dwell: [2]int{20, 90}, Scroll: [2]float64{0.5, 0.9},
		Hours: [2]int{11, 21}, BounceRate: 0.02},
	{Name: "support seekers", Weight: 0.15, Channel: "email", Device: "desktop", Visits: [2]int{1, 4}, Pages: [2]int{2, 5},
		Paths: []string{"/help", "/help/%d", "/contact", "/account/orders"}, Clicks: [2]int{1, 4},
		Elements: []Element{{Tag: "a", Text: "Contact us", Classes: []string{"support"}}, {Tag: "button", Text: "Track order", Classes: []string{"btn"}}},
		Goals:    []string{"ticket_opened"}, GoalRate: 0.4, Dwell: [2]int{30, 120}, Scroll: [2]float64{0.3, 0.8},
		Hours: [2]int{8, 19}, BounceRate: 0.1},
	{Name: "browsers", Weight: 0.2, Channel: "social", Device: "mobile", Visits: [2]int{1, 2}, Pages: [2]int{1, 2},
		Paths: []string{"/", "/p/%d", "/new"}, Clicks: [2]int{0, 1},
		Elements: []Element{{Tag: "a", Text: "New arrivals", Classes: []string{"nav-link"}, Role: "navigation"}},
		Goals:    nil, GoalRate: 0, Dwell: [2]int{3, 20}, Scroll: [2]float64{0.1, 0.4}, Hours: [2]int{0, 23}, BounceRate: 0.7},
}

// Line is one NDJSON line of the import API.
type Line struct {
	Type        string   `json:"type"`
	TS          int64    `json:"ts"`
	URL         string   `json:"url,omitempty"`
	Referrer    string   `json:"referrer,omitempty"`
	Element     *Elem    `json:"element,omitempty"`
	DurationMS  *int64   `json:"duration_ms,omitempty"`
	ScrollDepth *float64 `json:"scroll_depth,omitempty"`
	Name        string   `json:"name,omitempty"`
	VisitorID   string   `json:"visitor_id"`
	SessionID   string   `json:"session_id"`
	Device      string   `json:"device,omitempty"`
}

// Elem is the element of a click line.
type Elem struct {
	Tag     string            `json:"tag"`
	ID      string            `json:"id,omitempty"`
	Classes []string          `json:"classes,omitempty"`
	Text    string            `json:"text,omitempty"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

// Config sizes the generated traffic.
type Config struct {
	Visitors int
	Days     int       // history length
	End      time.Time // the last moment of the history
	Site     string    // origin of the URLs, e.g. https://shop.example
	Seed     uint64
}

// Visitor is one generated visitor and its behaviour.
type Visitor struct {
	ID        string
	Behaviour string
	Lines     []Line
}

// Generate makes the visitors. Each visitor's lines are in time order.
func Generate(cfg Config) []Visitor {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x70657273))
	total := 0.0
	for _, b := range Behaviours {
		total += b.Weight
	}
	out := make([]Visitor, 0, cfg.Visitors)
	for i := 0; i < cfg.Visitors; i++ {
		x := rng.Float64() * total
		var b Behaviour
		for _, bb := range Behaviours {
			if x -= bb.Weight; x <= 0 {
				b = bb
				break
			}
		}
		if b.Name == "" {
			b = Behaviours[len(Behaviours)-1]
		}
		out = append(out, visitor(rng, cfg, i, b))
	}
	return out
}

func between(rng *rand.Rand, r [2]int) int {
	if r[1] <= r[0] {
		return r[0]
	}
	return r[0] + rng.IntN(r[1]-r[0]+1)
}

func visitor(rng *rand.Rand, cfg Config, i int, b Behaviour) Visitor {
	v := Visitor{ID: fmt.Sprintf("%08x%08x%016x", rng.Uint32(), uint32(i), rng.Uint64()), Behaviour: b.Name}
	visits := between(rng, b.Visits)
	span := time.Duration(cfg.Days) * 24 * time.Hour
	start := cfg.End.Add(-span)
	var starts []time.Time
	for k := 0; k < visits; k++ {
		day := start.Add(time.Duration(rng.Int64N(int64(span - 2*time.Hour))))
		day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
		hour := between(rng, b.Hours)
		t := day.Add(time.Duration(hour)*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		if t.After(cfg.End.Add(-time.Hour)) {
			t = cfg.End.Add(-time.Hour - time.Duration(rng.IntN(3600))*time.Second)
		}
		starts = append(starts, t)
	}
	sortTimes(starts)
	device := b.Device
	if rng.Float64() < 0.2 {
		device = map[string]string{"mobile": "desktop", "desktop": "mobile"}[device]
		if device == "" {
			device = "tablet"
		}
	}
	for k, t := range starts {
		sid := fmt.Sprintf("s%d-%x", k, rng.Uint32())
		pages := between(rng, b.Pages)
		bounce := rng.Float64() < b.BounceRate
		if bounce {
			pages = 1
		}
		ref, query := arrival(rng, b.Channel)
		for p := 0; p < pages; p++ {
			path := b.Paths[rng.IntN(len(b.Paths))]
			if containsVerb(path) {
				path = fmt.Sprintf(path, 1+rng.IntN(60))
			}
			url := cfg.Site + path
			line := Line{Type: "pageview", TS: t.UnixMilli(), URL: url, VisitorID: v.ID, SessionID: sid, Device: device}
			if p == 0 {
				line.URL += query
				line.Referrer = ref
			}
			v.Lines = append(v.Lines, line)
			dwell := between(rng, b.Dwell)
			if !bounce {
				clicks := between(rng, b.Clicks)
				if p < pages-1 || clicks == 0 {
					clicks = min(clicks, 1+rng.IntN(2))
				}
				for c := 0; c < clicks; c++ {
					el := b.Elements[rng.IntN(len(b.Elements))]
					e := &Elem{Tag: el.Tag, ID: el.ID, Classes: el.Classes, Text: el.Text}
					if el.Role != "" {
						e.Attrs = map[string]string{"role": el.Role}
					}
					ct := t.Add(time.Duration(1+rng.IntN(max(dwell, 2))) * time.Second)
					v.Lines = append(v.Lines, Line{Type: "click", TS: ct.UnixMilli(), URL: url, Element: e, VisitorID: v.ID, SessionID: sid, Device: device})
				}
				if len(b.Goals) > 0 && rng.Float64() < b.GoalRate/float64(pages) {
					g := b.Goals[rng.IntN(len(b.Goals))]
					v.Lines = append(v.Lines, Line{Type: "goal", TS: t.Add(time.Duration(dwell) * time.Second).UnixMilli(), Name: g,
						VisitorID: v.ID, SessionID: sid, Device: device})
				}
			}
			d := int64(dwell) * 1000
			sc := b.Scroll[0] + rng.Float64()*(b.Scroll[1]-b.Scroll[0])
			t = t.Add(time.Duration(dwell) * time.Second)
			v.Lines = append(v.Lines, Line{Type: "leave", TS: t.UnixMilli(), URL: url, DurationMS: &d, ScrollDepth: &sc,
				VisitorID: v.ID, SessionID: sid, Device: device})
			t = t.Add(time.Second)
		}
	}
	return v
}

func containsVerb(p string) bool {
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '%' && p[i+1] == 'd' {
			return true
		}
	}
	return false
}

func arrival(rng *rand.Rand, channel string) (referrer, query string) {
	switch channel {
	case "campaign":
		return "", fmt.Sprintf("?utm_source=newsletter%d&utm_medium=cpc&utm_campaign=black-friday", rng.IntN(3))
	case "search":
		return []string{"https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/"}[rng.IntN(3)], ""
	case "email":
		return "", "?utm_medium=email&utm_source=orders"
	case "social":
		return []string{"https://www.instagram.com/", "https://t.co/x", "https://www.facebook.com/"}[rng.IntN(3)], ""
	}
	return "", ""
}

func sortTimes(ts []time.Time) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
}

// NDJSON encodes visitors' lines, one event a line, ordered by time across visitors.
func NDJSON(vs []Visitor) []byte {
	var lines []Line
	for _, v := range vs {
		lines = append(lines, v.Lines...)
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].TS < lines[j].TS })
	var out []byte
	for _, l := range lines {
		b, _ := json.Marshal(l)
		out = append(out, b...)
		out = append(out, '\n')
	}
	return out
}
