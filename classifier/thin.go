package classifier

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// thin returns a view of a as if only h of its events (page views, clicks and goals) had been
// seen: the events are drawn without replacement, and everything counted with them in the same
// proportion (visits, channels and devices among the visits, paths among the page views,
// element categories among the clicks, goal names among the goals, hours and weekdays, time and
// scroll among the page views, the seen span). It is how Train simulates the early views of a
// visitor whose full history it knows. h at or above the visitor's events gives a copy.
func thin(a *Aggregates, h int64, rng *rand.Rand) Aggregates {
	pv, cl, gl := max(a.PageViews, 0), max(a.Clicks, 0), max(a.Goals, 0)
	events := pv + cl + gl
	if h >= events || events == 0 {
		return *a
	}
	h = max(h, 1)
	counts := drawCounts([]int64{pv, cl, gl}, h, rng)
	out := Aggregates{PageViews: counts[0], Clicks: counts[1], Goals: counts[2], FirstSeen: a.FirstSeen}
	frac := float64(h) / float64(events)
	visits := max(a.Visits, 1)
	out.Visits = min(visits, max(1, int64(math.Ceil(float64(visits)*frac))))
	vf := float64(out.Visits) / float64(visits)
	out.Bounces = min(out.Visits, int64(math.Round(float64(max(a.Bounces, 0))*vf)))
	out.ActiveDays = min(max(a.ActiveDays, 1), max(1, int64(math.Ceil(float64(max(a.ActiveDays, 0))*vf))))
	if pv > 0 {
		pf := float64(out.PageViews) / float64(pv)
		out.TimeMS = int64(float64(max(a.TimeMS, 0)) * pf)
		out.ScrollCount = int64(math.Round(float64(max(a.ScrollCount, 0)) * pf))
		if a.ScrollCount > 0 {
			out.ScrollSum = a.ScrollSum * float64(out.ScrollCount) / float64(a.ScrollCount)
		}
	}
	if !a.FirstSeen.IsZero() && a.LastSeen.After(a.FirstSeen) {
		out.LastSeen = a.FirstSeen.Add(time.Duration(float64(a.LastSeen.Sub(a.FirstSeen)) * frac))
	} else {
		out.LastSeen = a.LastSeen
	}
	out.Paths = thinMap(a.Paths, pv, out.PageViews, rng)
	out.Elements = thinMap(a.Elements, cl, out.Clicks, rng)
	out.GoalNames = thinMap(a.GoalNames, gl, out.Goals, rng)
	out.Channels = thinMap(a.Channels, visits, out.Visits, rng)
	out.Devices = thinMap(a.Devices, visits, out.Visits, rng)
	var hours, days int64
	for _, v := range a.Hours {
		hours += max(v, 0)
	}
	for _, v := range a.Weekdays {
		days += max(v, 0)
	}
	hc := make([]int64, 24)
	for i, v := range a.Hours {
		hc[i] = max(v, 0)
	}
	for i, v := range drawCounts(hc, min(hours, h), rng) {
		out.Hours[i] = v
	}
	dc := make([]int64, 7)
	for i, v := range a.Weekdays {
		dc[i] = max(v, 0)
	}
	for i, v := range drawCounts(dc, min(days, h), rng) {
		out.Weekdays[i] = v
	}
	return out
}

// thinMap draws m of a map's counts (total: the count they are part of; what the map does not
// name is drawn too, and dropped) without replacement, keys in sorted order so that the draw
// depends only on rng.
func thinMap(counts map[string]int64, total, m int64, rng *rand.Rand) map[string]int64 {
	if len(counts) == 0 || m <= 0 {
		return nil
	}
	keys := make([]string, 0, len(counts))
	var named int64
	for k, v := range counts {
		if v > 0 {
			keys = append(keys, k)
			named += v
		}
	}
	slices.Sort(keys)
	pools := make([]int64, len(keys)+1)
	for i, k := range keys {
		pools[i] = counts[k]
	}
	pools[len(keys)] = max(0, total-named)
	drawn := drawCounts(pools, m, rng)
	out := make(map[string]int64, len(keys))
	for i, k := range keys {
		if drawn[i] > 0 {
			out[k] = drawn[i]
		}
	}
	return out
}

// drawCounts draws m items without replacement from pools of the given sizes (multivariate
// hypergeometric) and returns how many came from each.
func drawCounts(pools []int64, m int64, rng *rand.Rand) []int64 {
	left := slices.Clone(pools)
	var total int64
	for _, v := range left {
		total += v
	}
	out := make([]int64, len(pools))
	for range min(m, total) {
		r := rng.Int64N(total)
		for i, v := range left {
			if r < v {
				out[i]++
				left[i]--
				break
			}
			r -= v
		}
		total--
	}
	return out
}
