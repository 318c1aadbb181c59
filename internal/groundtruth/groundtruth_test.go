package groundtruth_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/internal/groundtruth"
)

var end = time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)

func generate(n int, seed uint64) []groundtruth.Visitor {
	return groundtruth.Generate(groundtruth.Config{Visitors: n, Seed: seed, End: end})
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := generate(300, 7), generate(300, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two generations of seed 7 differ (-first +second):\n%s", diff)
	}
	if c := generate(300, 8); cmp.Equal(a, c) {
		t.Fatal("seeds 7 and 8 gave the same visitors")
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n      int
		groups []int
		noise  int
	}{
		{3000, []int{1425, 713, 342, 228, 142}, 150},
		{3500, []int{1663, 831, 399, 266, 166}, 175},
		{100, []int{47, 24, 11, 8, 5}, 5},
		{0, []int{0, 0, 0, 0, 0}, 0},
	}
	for _, tt := range tests {
		groups, noise := groundtruth.Counts(tt.n)
		if diff := cmp.Diff(tt.groups, groups); diff != "" || noise != tt.noise {
			t.Errorf("Counts(%d) = %v, %d; want %v, %d (-want +got groups):\n%s", tt.n, groups, noise, tt.groups, tt.noise, diff)
		}
		sum := noise
		for _, g := range groups {
			sum += g
		}
		if sum != tt.n {
			t.Errorf("Counts(%d) adds up to %d", tt.n, sum)
		}
	}
	vs := generate(3000, 1)
	got := map[int]int{}
	for _, v := range vs {
		got[v.Group]++
	}
	want := map[int]int{0: 1425, 1: 713, 2: 342, 3: 228, 4: 142, groundtruth.Noise: 150}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("visitors per group of Generate(3000) (-want +got):\n%s", diff)
	}
}

// TestEventsAreImportLines checks every generated event against the import API's rules as
// the service applies them: a known type, a URL on the site (or a goal name), a time inside
// the history, a visitor and session id, a device, and the fields of its type.
func TestEventsAreImportLines(t *testing.T) {
	t.Parallel()
	start := end.AddDate(0, 0, -29)
	for _, v := range generate(500, 3) {
		if len(v.ID) != 32 || strings.Trim(v.ID, "0123456789abcdef") != "" {
			t.Fatalf("visitor id %q: want 32 hex digits", v.ID)
		}
		if len(v.Events) == 0 {
			t.Fatalf("visitor %s has no events", v.ID)
		}
		sessions := map[string]bool{}
		for i, e := range v.Events {
			if i > 0 && e.TS < v.Events[i-1].TS {
				t.Fatalf("visitor %s: event %d is before event %d", v.ID, i, i-1)
			}
			if e.Time().Before(start) || e.Time().After(end) {
				t.Fatalf("visitor %s: event at %s outside the history %s–%s", v.ID, e.Time(), start, end)
			}
			if e.VisitorID != v.ID || e.SessionID == "" || !slices.Contains([]string{"desktop", "mobile", "tablet"}, e.Device) {
				t.Fatalf("visitor %s: event %+v lacks its visitor, session or device", v.ID, e)
			}
			sessions[e.SessionID] = true
			switch e.Type {
			case "pageview", "click", "leave":
				u, err := url.Parse(e.URL)
				if err != nil || u.Scheme+"://"+u.Host != "https://shop.example" || u.Path == "" {
					t.Fatalf("visitor %s: %s URL %q is not a page of the site", v.ID, e.Type, e.URL)
				}
				if e.Type == "click" && (e.Element == nil || e.Element.Tag == "") {
					t.Fatalf("visitor %s: click without element", v.ID)
				}
				if e.Type == "leave" && (e.DurationMS == nil || *e.DurationMS <= 0 || e.ScrollDepth == nil || *e.ScrollDepth < 0 || *e.ScrollDepth > 1) {
					t.Fatalf("visitor %s: leave without time on page and scroll depth: %+v", v.ID, e)
				}
			case "goal":
				if e.Name == "" || e.URL != "" {
					t.Fatalf("visitor %s: goal %+v", v.ID, e)
				}
			default:
				t.Fatalf("visitor %s: event type %q", v.ID, e.Type)
			}
		}
		if v.Events[0].Type != "pageview" {
			t.Fatalf("visitor %s starts with a %s", v.ID, v.Events[0].Type)
		}
		if v.Group == 4 && len(sessions) < 8 { // loyal readers come back on many days
			t.Errorf("loyal reader %s has %d visits, want at least 8", v.ID, len(sessions))
		}
	}
}

// TestBehavioursOverlap checks that the groups share pages, channels and devices in
// different mixes: no page group, channel or device belongs to one behaviour alone, and each
// behaviour's mix is what Groups says.
func TestBehavioursOverlap(t *testing.T) {
	t.Parallel()
	vs := generate(3000, 4)
	type mix map[string]int
	pages, channels, devices := map[int]mix{}, map[int]mix{}, map[int]mix{}
	for _, v := range vs {
		for _, m := range []map[int]mix{pages, channels, devices} {
			if m[v.Group] == nil {
				m[v.Group] = mix{}
			}
		}
		for _, e := range v.Events {
			if e.Type != "pageview" {
				continue
			}
			u, _ := url.Parse(e.URL)
			group := "/" + strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 2)[0]
			pages[v.Group][group]++
			if u.RawQuery != "" || e.Referrer != "" {
				channels[v.Group][u.Query().Get("utm_medium")+" "+e.Referrer]++
			}
			devices[v.Group][e.Device]++
		}
	}
	share := func(m mix, key string) float64 {
		total := 0
		for _, n := range m {
			total += n
		}
		return float64(m[key]) / float64(total)
	}
	// Every page group is seen by at least three behaviours (with 1 % of its page views).
	for _, p := range []string{"/", "/deals", "/c", "/p", "/blog", "/docs", "/cart", "/checkout", "/help", "/account"} {
		n := 0
		for g := 0; g < 5; g++ {
			if share(pages[g], p) >= 0.01 {
				n++
			}
		}
		if n < 3 {
			t.Errorf("page group %s: viewed by %d behaviours, want at least 3", p, n)
		}
	}
	checks := []struct {
		what     string
		m        map[int]mix
		group    int
		key      string
		min, max float64
	}{
		{"deal seekers on /deals", pages, 0, "/deals", 0.3, 0.45},
		{"researchers on /blog", pages, 1, "/blog", 0.3, 0.45},
		{"buyers on /checkout", pages, 2, "/checkout", 0.08, 0.25},
		{"support seekers on /help", pages, 3, "/help", 0.4, 0.65},
		{"loyal readers on /blog", pages, 4, "/blog", 0.4, 0.6},
		{"deal seekers on mobile", devices, 0, "mobile", 0.55, 0.8},
		{"researchers on desktop", devices, 1, "desktop", 0.6, 0.85},
		{"noise on /checkout", pages, groundtruth.Noise, "/checkout", 0.05, 0.13},
	}
	for _, c := range checks {
		if s := share(c.m[c.group], c.key); s < c.min || s > c.max {
			t.Errorf("%s: %.2f of page views, want %.2f–%.2f", c.what, s, c.min, c.max)
		}
	}
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	v := generate(50, 5)[0]
	tests := []struct{ h, want int }{{-1, 0}, {0, 0}, {1, 1}, {3, 3}, {len(v.Events), len(v.Events)}, {len(v.Events) + 5, len(v.Events)}}
	for _, tt := range tests {
		got := v.Prefix(tt.h)
		if len(got) != tt.want || !slices.EqualFunc(got, v.Events[:tt.want], func(a, b groundtruth.Event) bool { return cmp.Equal(a, b) }) {
			t.Errorf("Prefix(%d): %d events, want the first %d", tt.h, len(got), tt.want)
		}
	}
	in := v.Events[0].Inline()
	if in.VisitorID != "" || in.SessionID != "" || in.Device != "" || in.URL != v.Events[0].URL || in.TS != v.Events[0].TS {
		t.Errorf("Inline() = %+v: want the event without visitor, session and device", in)
	}
}

func TestNDJSON(t *testing.T) {
	t.Parallel()
	vs := generate(20, 6)
	lines := bytes.Split(bytes.TrimSpace(groundtruth.NDJSON(vs)), []byte("\n"))
	n := 0
	for _, v := range vs {
		n += len(v.Events)
	}
	if len(lines) != n {
		t.Fatalf("%d lines, want one per event (%d)", len(lines), n)
	}
	var first map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "ts", "url", "visitor_id", "session_id", "device"} {
		if _, ok := first[k]; !ok {
			t.Errorf("first line %s lacks %q", lines[0], k)
		}
	}
}
