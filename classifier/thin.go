package classifier

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// thin returns a view of a as if only its first h events (page views, clicks and goals) had
// been seen, aggregated as the ingest path aggregates them: a real prefix, the first visits
// first, each opening with a page view. The view's visits are as many as h events make at the
// visitor's events per visit; its other events are drawn without replacement from the rest;
// the finished visits bounce as the visitor's visits do, and the visit in progress counts as a
// bounce while it has one page view and no click (as it does at classification); time and
// scroll come only from pages already left (every page of a finished visit, the pages before
// the last of the visit in progress, and the last one with the chance that its leave came
// before the next event); channels, devices, hours and weekdays are those of the view's visits,
// every event of a visit (its leaves too) at that visit's hour and day; the span ends with the
// view's last visit, so a view is judged at its own last event (recency 0). It is how Train
// simulates the early views of a visitor whose full history it knows. h at or above the
// visitor's events gives a copy.
func thin(a *Aggregates, h int64, rng *rand.Rand) Aggregates {
	pv, cl, gl := max(a.PageViews, 0), max(a.Clicks, 0), max(a.Goals, 0)
	events := pv + cl + gl
	if h >= events || events == 0 {
		return *a
	}
	h = max(h, 1)
	visits := max(a.Visits, 1)
	perVisit := float64(events) / float64(visits)
	nv := min(visits, h, max(1, int64(math.Ceil(float64(h)/perVisit))))
	// Events of the finished visits, and of the one in progress (at least its first).
	done := min(h-1, max(nv-1, int64(math.Round(float64(nv-1)*perVisit))))
	cur := h - done
	// Every visit opens with a page view, as far as there are page views.
	opens := min(nv, pv)
	openDone := min(nv-1, opens)
	openCur := opens - openDone
	pools := []int64{pv - opens, cl, gl}
	extraDone := max(0, done-openDone)
	d := drawCounts(pools, extraDone, rng)
	for i := range pools {
		pools[i] -= d[i]
	}
	c := drawCounts(pools, max(0, cur-openCur), rng)
	out := Aggregates{Visits: nv, FirstSeen: a.FirstSeen}
	out.PageViews = opens + d[0] + c[0]
	out.Clicks = d[1] + c[1]
	out.Goals = d[2] + c[2]
	curViews := openCur + c[0]
	// Bounces: the finished visits drawn from the visitor's, the visit in progress by its events.
	if nv > 1 {
		b := min(max(a.Bounces, 0), visits)
		out.Bounces = drawCounts([]int64{b, visits - b}, nv-1, rng)[0]
	}
	if curViews == 1 && c[1] == 0 {
		out.Bounces++
	}
	// Pages left: those of the finished visits, the open visit's pages but its last, and its
	// last with the chance that a leave comes next.
	leaves := max(a.ScrollCount, 0)
	if leaves == 0 && a.TimeMS > 0 {
		leaves = pv
	}
	left := openDone + d[0] + max(0, curViews-1)
	if curViews > 0 && leaves > 0 && rng.Float64() < float64(leaves)/float64(events+leaves) {
		left++
	}
	left = min(left, out.PageViews)
	if pv > 0 && left > 0 {
		lf := float64(left) / float64(pv)
		out.TimeMS = int64(float64(max(a.TimeMS, 0)) * lf)
		out.ScrollCount = min(left, int64(math.Round(float64(max(a.ScrollCount, 0))*lf)))
		if a.ScrollCount > 0 {
			out.ScrollSum = a.ScrollSum * float64(out.ScrollCount) / float64(a.ScrollCount)
		}
	}
	out.ActiveDays = min(max(a.ActiveDays, 1), max(1, int64(math.Ceil(float64(max(a.ActiveDays, 0))*float64(nv)/float64(visits)))))
	if !a.FirstSeen.IsZero() && a.LastSeen.After(a.FirstSeen) && visits > 1 {
		out.LastSeen = a.FirstSeen.Add(time.Duration(float64(a.LastSeen.Sub(a.FirstSeen)) * float64(nv-1) / float64(visits-1)))
	} else {
		out.LastSeen = a.FirstSeen
	}
	if out.LastSeen.IsZero() {
		out.LastSeen = a.LastSeen
	}
	out.Paths = thinMap(a.Paths, pv, out.PageViews, rng)
	out.Elements = thinMap(a.Elements, cl, out.Clicks, rng)
	out.GoalNames = thinMap(a.GoalNames, gl, out.Goals, rng)
	out.Channels = thinMap(a.Channels, visits, nv, rng)
	out.Devices = thinMap(a.Devices, visits, nv, rng)
	// Hours and weekdays: each visit's events (leaves too) at one hour and day, drawn from the
	// visitor's.
	hc := make([]int64, 24)
	for i, v := range a.Hours {
		hc[i] = max(v, 0)
	}
	dc := make([]int64, 7)
	for i, v := range a.Weekdays {
		dc[i] = max(v, 0)
	}
	leftCur := left - openDone - d[0]
	for v := range nv {
		n := cur + leftCur
		if v < nv-1 {
			n = (done + openDone + d[0]) / max(1, nv-1)
			if v == 0 {
				n += (done + openDone + d[0]) % max(1, nv-1)
			}
		}
		if i := drawOne(hc, rng); i >= 0 {
			out.Hours[i] += n
			hc[i]--
		}
		if i := drawOne(dc, rng); i >= 0 {
			out.Weekdays[i] += n
			dc[i]--
		}
	}
	return out
}

// drawOne draws one item from pools of the given sizes and returns its pool, -1 when all are
// empty.
func drawOne(pools []int64, rng *rand.Rand) int {
	var total int64
	for _, v := range pools {
		total += v
	}
	if total <= 0 {
		return -1
	}
	r := rng.Int64N(total)
	for i, v := range pools {
		if r < v {
			return i
		}
		r -= v
	}
	return -1
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
