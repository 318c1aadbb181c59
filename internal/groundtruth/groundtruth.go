// Package groundtruth generates website visitors whose personas are known: five behaviours of
// unequal sizes (50, 25, 12, 8 and 5 % of the behaving visitors) that overlap on shared pages,
// channels and devices with different mixes, plus 5 % noise visitors who do anything at
// random. Each visitor comes as events in the shape of the import API (one NDJSON line each)
// and of collect/classify's inline events, with several visits over days, time on page,
// clicks, scroll depth and goals, and carries its true group (-1 for noise). The quality
// harness (internal/quality) and the browser tests measure the service against it.
//
// The generator is deterministic: the same Config gives the same visitors, event for event.
package groundtruth

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Noise is the group of visitors who belong to no behaviour.
const Noise = -1

// How much every behaviour strays from its mixes, so that the behaviours overlap beyond the
// pages, channels and devices they share: a page view anywhere on the site, a click on any
// kind of element, a visit at any hour.
const (
	wander     = 0.15
	strayClick = 0.10
	strayHour  = 0.20
	// dwellSigma is the spread of the log-normal time on page.
	dwellSigma = 0.8
)

// NoiseShare is the share of noise visitors among all generated visitors.
const NoiseShare = 0.05

// Weighted is a value with its weight in a mix (weights need not sum to one).
type Weighted struct {
	Value  string
	Weight float64
}

// Goal is a goal a behaviour reaches in a share of its visits, on a page of the visit.
type Goal struct {
	Name string
	Rate float64 // share of visits that reach it
	On   string  // path template of the page it is reached on ("" any); the visit must have viewed it
}

// Group is one behaviour: what its visitors look at, where they come from, on which devices,
// how long they stay, what they click and which goals they reach.
type Group struct {
	Name  string
	Share float64 // of the behaving (non-noise) visitors
	// Visits is the range of visits per visitor, each on a day of its own.
	Visits [2]int
	// Pages is the range of pages per visit (before the funnel).
	Pages [2]int
	// Paths is the mix of path templates of its page views (%d: an id, %s: a slug).
	Paths []Weighted
	// Funnel pages end a visit in this order, in a share FunnelRate of visits.
	Funnel     []string
	FunnelRate float64
	Channels   []Weighted
	Devices    []Weighted
	// Dwell is the median time on a page, in seconds (log-normal).
	Dwell  float64
	Scroll [2]float64 // range of scroll depth per page
	// Clicks is the mean number of clicks per page (Poisson), of the element kinds' mix.
	Clicks   float64
	Elements []Weighted // element kinds: cta, button, link, nav, form, media
	Goals    []Goal
	// Hours is the window (UTC, inclusive) most visits start in.
	Hours      [2]int
	BounceRate float64
}

// Groups are the five behaviours, largest first. The slice is fresh on every call.
func Groups() []Group {
	return []Group{
		{Name: "deal seekers", Share: 0.50, Visits: [2]int{2, 5}, Pages: [2]int{3, 7},
			Paths:    []Weighted{{"/deals", 0.40}, {"/p/%d", 0.25}, {"/c/%s", 0.20}, {"/", 0.10}, {"/cart", 0.05}},
			Channels: []Weighted{{"campaign", 0.50}, {"social", 0.25}, {"search", 0.15}, {"direct", 0.10}},
			Devices:  []Weighted{{"mobile", 0.70}, {"desktop", 0.25}, {"tablet", 0.05}},
			Dwell:    15, Scroll: [2]float64{0.3, 0.8}, Clicks: 0.9,
			Elements: []Weighted{{"button", 0.5}, {"link", 0.4}, {"nav", 0.1}},
			Goals:    []Goal{{Name: "coupon_applied", Rate: 0.35, On: "/deals"}},
			Hours:    [2]int{17, 23}, BounceRate: 0.10},
		{Name: "researchers", Share: 0.25, Visits: [2]int{2, 6}, Pages: [2]int{3, 8},
			Paths:    []Weighted{{"/blog/%d", 0.40}, {"/docs/%s", 0.30}, {"/p/%d", 0.15}, {"/", 0.10}, {"/c/%s", 0.05}},
			Channels: []Weighted{{"search", 0.60}, {"referral", 0.20}, {"direct", 0.10}, {"social", 0.10}},
			Devices:  []Weighted{{"desktop", 0.75}, {"mobile", 0.20}, {"tablet", 0.05}},
			Dwell:    120, Scroll: [2]float64{0.7, 1}, Clicks: 0.3,
			Elements: []Weighted{{"link", 0.8}, {"nav", 0.2}},
			Goals:    []Goal{{Name: "newsletter_signup", Rate: 0.10}},
			Hours:    [2]int{9, 17}, BounceRate: 0.05},
		{Name: "buyers", Share: 0.12, Visits: [2]int{1, 4}, Pages: [2]int{2, 5},
			Paths:  []Weighted{{"/p/%d", 0.55}, {"/c/%s", 0.20}, {"/", 0.10}, {"/account", 0.10}, {"/deals", 0.05}},
			Funnel: []string{"/cart", "/checkout"}, FunnelRate: 0.8,
			Channels: []Weighted{{"direct", 0.50}, {"search", 0.30}, {"email", 0.20}},
			Devices:  []Weighted{{"desktop", 0.60}, {"mobile", 0.35}, {"tablet", 0.05}},
			Dwell:    30, Scroll: [2]float64{0.5, 0.9}, Clicks: 1.4,
			Elements: []Weighted{{"cta", 0.6}, {"button", 0.2}, {"form", 0.2}},
			Goals:    []Goal{{Name: "add_to_cart", Rate: 0.8, On: "/cart"}, {Name: "purchase", Rate: 0.7, On: "/checkout"}},
			Hours:    [2]int{11, 22}, BounceRate: 0.02},
		{Name: "support seekers", Share: 0.08, Visits: [2]int{1, 3}, Pages: [2]int{2, 5},
			Paths:    []Weighted{{"/help", 0.35}, {"/help/%d", 0.25}, {"/account", 0.25}, {"/", 0.15}},
			Channels: []Weighted{{"direct", 0.40}, {"email", 0.40}, {"search", 0.20}},
			Devices:  []Weighted{{"desktop", 0.50}, {"mobile", 0.50}},
			Dwell:    60, Scroll: [2]float64{0.3, 0.9}, Clicks: 0.7,
			Elements: []Weighted{{"form", 0.5}, {"button", 0.3}, {"link", 0.2}},
			Goals:    []Goal{{Name: "ticket_opened", Rate: 0.4, On: "/help"}},
			Hours:    [2]int{8, 19}, BounceRate: 0.10},
		{Name: "loyal readers", Share: 0.05, Visits: [2]int{8, 14}, Pages: [2]int{2, 4},
			Paths:    []Weighted{{"/blog/%d", 0.55}, {"/", 0.30}, {"/deals", 0.10}, {"/p/%d", 0.05}},
			Channels: []Weighted{{"direct", 0.60}, {"email", 0.30}, {"social", 0.10}},
			Devices:  []Weighted{{"mobile", 0.50}, {"desktop", 0.40}, {"tablet", 0.10}},
			Dwell:    80, Scroll: [2]float64{0.6, 1}, Clicks: 0.4,
			Elements: []Weighted{{"link", 0.7}, {"nav", 0.3}},
			Goals:    []Goal{{Name: "newsletter_signup", Rate: 0.05}},
			Hours:    [2]int{6, 10}, BounceRate: 0.05},
	}
}

// noiseGroup does anything: every page, channel, device, element kind and goal alike, at any
// hour, for any length of time.
func noiseGroup() Group {
	uniform := func(vs ...string) []Weighted {
		out := make([]Weighted, len(vs))
		for i, v := range vs {
			out[i] = Weighted{v, 1}
		}
		return out
	}
	return Group{Name: "noise", Visits: [2]int{1, 6}, Pages: [2]int{1, 9},
		Paths:    uniform(SitePaths()...),
		Channels: uniform("direct", "search", "social", "referral", "email", "campaign"),
		Devices:  uniform("desktop", "mobile", "tablet"),
		Scroll:   [2]float64{0, 1}, Elements: uniform("cta", "button", "link", "nav", "form", "media"),
		Goals: []Goal{{Name: "coupon_applied", Rate: 0.05}, {Name: "newsletter_signup", Rate: 0.05},
			{Name: "add_to_cart", Rate: 0.05}, {Name: "ticket_opened", Rate: 0.05}},
		Hours: [2]int{0, 23}}
}

// SitePaths are the path templates of the generated site.
func SitePaths() []string {
	return []string{"/", "/deals", "/c/%s", "/p/%d", "/blog/%d", "/docs/%s", "/cart", "/checkout", "/help", "/help/%d", "/account"}
}

// Element is a clicked element as the collector describes it.
type Element struct {
	Tag     string            `json:"tag"`
	ID      string            `json:"id,omitempty"`
	Classes []string          `json:"classes,omitempty"`
	Text    string            `json:"text,omitempty"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

var elementKinds = []string{"cta", "button", "link", "nav", "form", "media"}

// ElementOf is a concrete element of a kind (the service's element category), as it appears
// on the generated site.
func ElementOf(kind string) Element {
	switch kind {
	case "cta":
		return Element{Tag: "button", ID: "buy", Classes: []string{"btn", "cta"}, Text: "Add to cart"}
	case "button":
		return Element{Tag: "button", Classes: []string{"btn"}, Text: "Apply coupon"}
	case "link":
		return Element{Tag: "a", Classes: []string{"more"}, Text: "Read more", Attrs: map[string]string{"href": "/more"}}
	case "nav":
		return Element{Tag: "a", Classes: []string{"menu"}, Text: "Menu", Attrs: map[string]string{"role": "navigation"}}
	case "form":
		return Element{Tag: "input", Attrs: map[string]string{"type": "text", "name": "q"}}
	case "media":
		return Element{Tag: "img", Attrs: map[string]string{"alt": "Picture"}}
	}
	return Element{Tag: "span", Text: kind}
}

// Event is one event: a line of the import API (with its visitor, session and device), or,
// through Inline, an event of collect and classify.
type Event struct {
	Type        string   `json:"type"`
	TS          int64    `json:"ts"` // milliseconds since the epoch
	URL         string   `json:"url,omitempty"`
	Referrer    string   `json:"referrer,omitempty"`
	Element     *Element `json:"element,omitempty"`
	DurationMS  *int64   `json:"duration_ms,omitempty"`
	ScrollDepth *float64 `json:"scroll_depth,omitempty"`
	Name        string   `json:"name,omitempty"`
	VisitorID   string   `json:"visitor_id,omitempty"`
	SessionID   string   `json:"session_id,omitempty"`
	Device      string   `json:"device,omitempty"`
}

// Inline is the event as collect and classify take it: without visitor, session and device,
// which belong to the request.
func (e Event) Inline() Event {
	e.VisitorID, e.SessionID, e.Device = "", "", ""
	return e
}

// Time is the event's time.
func (e Event) Time() time.Time { return time.UnixMilli(e.TS).UTC() }

// Visitor is one generated visitor: its id (32 hex digits, as the collector makes them), its
// true group (an index of Groups, or Noise) and its events in time order.
type Visitor struct {
	ID     string
	Group  int
	Events []Event
}

// Prefix is the visitor's first h events (all of them when it has fewer).
func (v Visitor) Prefix(h int) []Event {
	return v.Events[:min(max(h, 0), len(v.Events))]
}

// Config sizes the generated traffic.
type Config struct {
	Visitors int
	Seed     uint64
	// End is the latest moment of any visit; visits start at least an hour before it.
	End time.Time
	// Days of history before End (default 28).
	Days int
	// Site is the origin of the URLs (default https://shop.example).
	Site string
}

// ScreenWidth is a screen width the service classes as the device, for the context of
// collect and classify requests (which carry no device field).
func ScreenWidth(device string) int {
	switch device {
	case "mobile":
		return 390
	case "tablet":
		return 820
	}
	return 1440
}

// Counts are the visitors per group of n generated visitors: NoiseShare of them noise
// (rounded), the rest split by the groups' shares (largest remainder), in Groups' order.
func Counts(n int) (groups []int, noise int) {
	noise = int(math.Round(float64(n) * NoiseShare))
	rest := n - noise
	gs := Groups()
	groups = make([]int, len(gs))
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	left := rest
	for i, g := range gs {
		x := float64(rest) * g.Share
		groups[i] = int(math.Floor(x))
		left -= groups[i]
		rems = append(rems, rem{i, x - math.Floor(x)})
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for k := 0; k < left; k++ {
		groups[rems[k%len(rems)].i]++
	}
	return groups, noise
}

// Generate makes cfg.Visitors visitors in exactly the proportions of Counts, in a random
// order. The same Config gives the same visitors.
func Generate(cfg Config) []Visitor {
	if cfg.Days <= 0 {
		cfg.Days = 28
	}
	if cfg.Site == "" {
		cfg.Site = "https://shop.example"
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x67726f756e64))
	counts, noise := Counts(cfg.Visitors)
	labels := make([]int, 0, cfg.Visitors)
	for g, n := range counts {
		for range n {
			labels = append(labels, g)
		}
	}
	for range noise {
		labels = append(labels, Noise)
	}
	rng.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	gs := Groups()
	out := make([]Visitor, len(labels))
	for i, g := range labels {
		b := noiseGroup()
		if g != Noise {
			b = gs[g]
		}
		out[i] = generateVisitor(rng, cfg, i, g, b)
	}
	return out
}

func between(rng *rand.Rand, r [2]int) int {
	if r[1] <= r[0] {
		return r[0]
	}
	return r[0] + rng.IntN(r[1]-r[0]+1)
}

func pick(rng *rand.Rand, mix []Weighted) string {
	total := 0.0
	for _, w := range mix {
		total += w.Weight
	}
	x := rng.Float64() * total
	for _, w := range mix {
		if x -= w.Weight; x < 0 {
			return w.Value
		}
	}
	return mix[len(mix)-1].Value
}

// poisson draws a Poisson count of mean m (Knuth; m is small here).
func poisson(rng *rand.Rand, m float64) int {
	if m <= 0 {
		return 0
	}
	l, k, p := math.Exp(-m), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

var slugs = []string{"shoes", "bags", "coats", "getting-started", "sizes", "returns", "api", "faq"}

func fill(rng *rand.Rand, template string) string {
	out := []byte{}
	for i := 0; i < len(template); i++ {
		if template[i] == '%' && i+1 < len(template) {
			switch template[i+1] {
			case 'd':
				out = fmt.Appendf(out, "%d", 1+rng.IntN(400))
				i++
				continue
			case 's':
				out = append(out, slugs[rng.IntN(len(slugs))]...)
				i++
				continue
			}
		}
		out = append(out, template[i])
	}
	return string(out)
}

// arrival is the referrer and landing-page query of a visit from a channel.
func arrival(rng *rand.Rand, channel string) (referrer, query string) {
	switch channel {
	case "campaign":
		return "", fmt.Sprintf("?utm_source=partner%d&utm_medium=cpc&utm_campaign=sale", rng.IntN(3))
	case "search":
		return []string{"https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/"}[rng.IntN(3)], ""
	case "email":
		return "", "?utm_medium=email&utm_source=letter"
	case "social":
		return []string{"https://www.instagram.com/", "https://t.co/x", "https://www.facebook.com/"}[rng.IntN(3)], ""
	case "referral":
		return []string{"https://blog.example.org/review", "https://forum.example.net/t/1"}[rng.IntN(2)], ""
	}
	return "", ""
}

func generateVisitor(rng *rand.Rand, cfg Config, i, group int, b Group) Visitor {
	v := Visitor{ID: fmt.Sprintf("%08x%08x%016x", rng.Uint32(), uint32(i), rng.Uint64()), Group: group}
	days := cfg.Days
	visits := min(between(rng, b.Visits), days)
	// Distinct days, then a start hour each: mostly in the behaviour's window.
	endDay := time.Date(cfg.End.Year(), cfg.End.Month(), cfg.End.Day(), 0, 0, 0, 0, time.UTC)
	dayOffsets := rng.Perm(days)[:visits]
	slices.Sort(dayOffsets)
	device := pick(rng, b.Devices)
	for _, off := range dayOffsets {
		// Days before End's own, so that no visit is pushed back into another one's time.
		day := endDay.AddDate(0, 0, -off-1)
		hour := between(rng, b.Hours)
		if rng.Float64() < strayHour {
			hour = rng.IntN(24)
		}
		t := day.Add(time.Duration(hour)*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		if latest := cfg.End.Add(-time.Hour); t.After(latest) {
			t = latest.Add(-time.Duration(rng.IntN(3*3600)) * time.Second)
		}
		dev := device
		if rng.Float64() < 0.15 {
			dev = pick(rng, b.Devices)
		}
		v.Events = append(v.Events, visit(rng, cfg, b, v.ID, fmt.Sprintf("s%x", rng.Uint64()), dev, t)...)
	}
	// Visits on late days pushed back before End may overlap an earlier one: keep time order.
	slices.SortStableFunc(v.Events, func(a, b Event) int { return cmp.Compare(a.TS, b.TS) })
	return v
}

// visit is one session's events from t: per page a page view, clicks during the time on the
// page, goals reached there, and a leave with the time and scroll depth.
func visit(rng *rand.Rand, cfg Config, b Group, visitorID, session, device string, t time.Time) []Event {
	var paths []string
	bounce := rng.Float64() < b.BounceRate
	n := between(rng, b.Pages)
	if bounce {
		n = 1
	}
	site := SitePaths()
	for range n {
		p := pick(rng, b.Paths)
		if rng.Float64() < wander {
			p = site[rng.IntN(len(site))]
		}
		paths = append(paths, p)
	}
	if !bounce && len(b.Funnel) > 0 && rng.Float64() < b.FunnelRate {
		paths = append(paths, b.Funnel...)
	}
	var goals []Goal
	for _, g := range b.Goals {
		if !bounce && rng.Float64() < g.Rate {
			goals = append(goals, g)
		}
	}
	channel := pick(rng, b.Channels)
	ref, query := arrival(rng, channel)
	var out []Event
	base := Event{VisitorID: visitorID, SessionID: session, Device: device}
	for p, tmpl := range paths {
		url := cfg.Site + fill(rng, tmpl)
		pv := base
		pv.Type, pv.TS, pv.URL = "pageview", t.UnixMilli(), url
		if p == 0 {
			pv.URL += query
			pv.Referrer = ref
		}
		out = append(out, pv)
		dwell := b.Dwell * math.Exp(dwellSigma*rng.NormFloat64())
		if b.Dwell == 0 { // noise: anything from a glance to ten minutes
			dwell = math.Exp(math.Log(2) + rng.Float64()*math.Log(300))
		}
		dwellMS := max(int64(dwell*1000), 500)
		clicks := 0
		if !bounce {
			clicks = poisson(rng, b.Clicks)
		}
		for range clicks {
			kind := pick(rng, b.Elements)
			if rng.Float64() < strayClick {
				kind = elementKinds[rng.IntN(len(elementKinds))]
			}
			el := ElementOf(kind)
			c := base
			c.Type, c.URL, c.Element = "click", url, &el
			c.TS = t.UnixMilli() + 200 + rng.Int64N(dwellMS)
			out = append(out, c)
		}
		last := p == len(paths)-1
		for gi := 0; gi < len(goals); gi++ {
			g := goals[gi]
			// A goal of a page is reached on its first view; a visit without the page misses it.
			if g.On == "" && last || g.On == tmpl {
				e := base
				e.Type, e.Name, e.TS = "goal", g.Name, t.UnixMilli()+dwellMS-100
				out = append(out, e)
				goals = slices.Delete(goals, gi, gi+1)
				gi--
			}
		}
		scroll := b.Scroll[0] + rng.Float64()*(b.Scroll[1]-b.Scroll[0])
		scroll = math.Round(scroll*100) / 100
		lv := base
		lv.Type, lv.URL, lv.TS, lv.DurationMS, lv.ScrollDepth = "leave", url, t.UnixMilli()+dwellMS, &dwellMS, &scroll
		out = append(out, lv)
		t = t.Add(time.Duration(dwellMS)*time.Millisecond + time.Duration(1+rng.IntN(4))*time.Second)
	}
	slices.SortStableFunc(out, func(a, b Event) int { return cmp.Compare(a.TS, b.TS) })
	return out
}

// WriteNDJSON writes the visitors' events as import lines, visitor after visitor.
func WriteNDJSON(w io.Writer, vs []Visitor) error {
	enc := json.NewEncoder(w)
	for _, v := range vs {
		for _, e := range v.Events {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// NDJSON is WriteNDJSON into memory.
func NDJSON(vs []Visitor) []byte {
	var b bytes.Buffer
	_ = WriteNDJSON(&b, vs)
	return b.Bytes()
}
