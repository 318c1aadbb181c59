package classifier

import (
	"testing"
	"time"
)

func TestThinIsAConsistentPrefix(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	a := Aggregates{Visits: 4, PageViews: 20, Clicks: 8, Goals: 2, Bounces: 1, TimeMS: 600000, ScrollSum: 10, ScrollCount: 20,
		FirstSeen: first, LastSeen: first.Add(96 * time.Hour), ActiveDays: 3,
		Paths:    map[string]int64{"/p/:id": 12, "/cart": 5}, // 3 page views on paths outside the map
		Elements: map[string]int64{"button": 8}, Channels: map[string]int64{"direct": 3, "search": 1},
		Devices: map[string]int64{"desktop": 4}, GoalNames: map[string]int64{"purchase": 2}}
	a.Hours[10], a.Hours[20] = 20, 10
	a.Weekdays[1], a.Weekdays[6] = 25, 5
	rng := newRand(1, 2)
	for _, h := range []int64{1, 2, 3, 7, 10, 29} {
		for range 50 {
			v := thin(&a, h, rng)
			if got := v.PageViews + v.Clicks + v.Goals; got != h {
				t.Fatalf("thinned to %d events: %d page views, %d clicks, %d goals", h, v.PageViews, v.Clicks, v.Goals)
			}
			var paths, channels int64
			for _, c := range v.Paths {
				paths += c
			}
			for _, c := range v.Channels {
				channels += c
			}
			if paths > v.PageViews || channels != v.Visits || v.Visits < 1 || v.Visits > a.Visits || v.Bounces > v.Visits ||
				v.ActiveDays < 1 || v.ActiveDays > a.ActiveDays || v.Devices["desktop"] != v.Visits ||
				v.LastSeen.Before(v.FirstSeen) || v.LastSeen.After(a.LastSeen) || v.GoalNames["purchase"] != v.Goals ||
				v.Elements["button"] != v.Clicks {
				t.Fatalf("thinned to %d events: inconsistent view %+v", h, v)
			}
			var hours int64
			for _, c := range v.Hours {
				hours += c
			}
			// Every event of the view is in the hours, and so are the leaves of the pages left.
			if hours != h+v.ScrollCount {
				t.Fatalf("thinned to %d events: %d events in the hours, want %d", h, hours, h+v.ScrollCount)
			}
			// A prefix opens with a page view; time and scroll come only from pages left.
			if v.PageViews < 1 || v.ScrollCount > v.PageViews || (v.ScrollCount == 0) != (v.TimeMS == 0) {
				t.Fatalf("thinned to %d events: not a prefix %+v", h, v)
			}
			if h == 1 && (v.PageViews != 1 || v.Visits != 1 || v.Bounces != 1) {
				t.Fatalf("first event: %+v, want one page view of one visit in progress, a bounce so far", v)
			}
		}
	}
	if v := thin(&a, 30, rng); v.PageViews != a.PageViews || v.Paths["/p/:id"] != 12 {
		t.Errorf("thinning to all 30 events changed the visitor: %+v", v)
	}
}
