package api

import (
	"math"
	"unicode"

	"personas/classifier"
	"personas/models"
)

// Charts are computed here as geometry and drawn by the templates as inline SVG: no script,
// no external library, readable by screen readers through each chart's title and table.

// palette colours personas and reasons; each passes 3:1 against white for graphics.
var palette = []string{"#4f46e5", "#0d9488", "#d97706", "#db2777", "#2563eb", "#65a30d", "#9333ea", "#dc2626",
	"#0891b2", "#78716c", "#ca8a04", "#475569"}

func colour(i int) string { return palette[i%len(palette)] }

// segment is one part of a stacked column.
type segment struct {
	Y, H  float64
	Color string
	Title string
	Key   string // what the colour stands for (a persona id), matched by the legend
}

// column is one stacked column of a chart.
type column struct {
	Label    string
	X, W     float64
	LabelX   float64
	Segments []segment
	Total    string
}

// legendItem names a colour.
type legendItem struct {
	Color, Label, Note string
	Key                string // the segments' Key it names
}

// stackedChart is a chart of stacked columns.
type stackedChart struct {
	W, H, Base float64 // view box and the y of the baseline
	Title      string
	Columns    []column
	Legend     []legendItem
	Ticks      []tick
}

// tick is a horizontal grid line with its label.
type tick struct {
	Y     float64
	Label string
}

// stackInput is one column's values, in the order of the series.
type stackInput struct {
	Label  string
	Values []float64
	Titles []string
	Keys   []string // per value, what it stands for (optional)
}

// stack lays out columns of stacked values: heights relative to the largest total (or to max
// when given, e.g. 1 for shares).
func stack(title string, cols []stackInput, colours []string, maxTotal float64, tickFmt func(float64) string) stackedChart {
	return stackSized(title, cols, colours, maxTotal, tickFmt, 240)
}

// niceStep is the tick step for an axis up to top in about n steps, rounded to 1, 2 or 5 × 10^k,
// and never below min (1 for counts: half an event is no tick).
func niceStep(top float64, n int, min float64) float64 {
	raw := top / float64(n)
	if !(raw > 0) || math.IsInf(raw, 0) {
		return math.Max(min, 1)
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw*(1-1e-9) {
			step = m * mag
			break
		}
	}
	return math.Max(step, min)
}

// stackSized is stack with a chart height (small multiples are lower). A fixed maxTotal (1 for
// shares) is ticked every 20 %; an axis fitted to the data (maxTotal 0: counts) ends on the
// first round step above the largest column and is ticked in whole 1, 2, 5 × 10^k steps.
func stackSized(title string, cols []stackInput, colours []string, maxTotal float64, tickFmt func(float64) string, h float64) stackedChart {
	const w, top, left, bottom = 640.0, 12.0, 44.0, 28.0
	ch := stackedChart{W: w, H: h, Base: h - bottom, Title: title}
	var step float64
	if maxTotal > 0 {
		step = maxTotal / 5
	} else {
		for _, c := range cols {
			t := 0.0
			for _, v := range c.Values {
				t += max(v, 0)
			}
			maxTotal = max(maxTotal, t)
		}
		step = niceStep(maxTotal, 4, 1)
		maxTotal = max(step, math.Ceil(maxTotal/step-1e-9)*step)
	}
	plot := ch.Base - top
	for i := 0; ; i++ {
		v := step * float64(i)
		if v > maxTotal*(1+1e-9) {
			break
		}
		ch.Ticks = append(ch.Ticks, tick{Y: round1(ch.Base - plot*v/maxTotal), Label: tickFmt(v)})
	}
	n := max(len(cols), 1)
	slot := (w - left - 8) / float64(n)
	bw := min(slot*0.7, 56)
	for i, c := range cols {
		x := left + slot*float64(i) + (slot-bw)/2
		col := column{Label: c.Label, X: round1(x), W: round1(bw), LabelX: round1(x + bw/2)}
		y := ch.Base
		total := 0.0
		for j, v := range c.Values {
			if v <= 0 {
				continue
			}
			total += v
			sh := plot * v / maxTotal
			y -= sh
			t, key := "", ""
			if j < len(c.Titles) {
				t = c.Titles[j]
			}
			if j < len(c.Keys) {
				key = c.Keys[j]
			}
			col.Segments = append(col.Segments, segment{Y: round1(y), H: round1(max(sh, 0.5)), Color: colours[j%len(colours)],
				Title: t, Key: key})
		}
		col.Total = tickFmt(total)
		ch.Columns = append(ch.Columns, col)
	}
	return ch
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// hbar is one horizontal bar row: a value, and optionally a reference (all visitors). A share
// row is drawn on a 0–100 % track, so that bars of shares compare across rows and charts.
type hbar struct {
	Label          string
	Value, Ref     string
	W, RefW        float64 // widths in the chart's bar area (BarMax wide)
	VX, RX         float64 // x of the value and reference labels
	Y              float64
	Higher, Strong bool
	Note           string
	Share          bool    // the value is a share in 0..1, drawn on the 0–100 % track
	V, RefV        float64 // the values drawn (shares in 0..1), for the page's readers and tests
}

// hbarChart is a list of bars compared with a reference.
type hbarChart struct {
	W, H, BarX, BarMax float64
	Title              string
	ID                 string // the figure's id, for links and tests
	Rows               []hbar
}

// shareWidth is a share's bar width on a track of barMax: one scale, 0 to 100 %.
func shareWidth(v, barMax float64) float64 { return round1(barMax * min(max(v, 0), 1)) }

// shareFeature reports whether a trait is a share or rate in 0..1 (drawn on the 0–100 % track),
// as opposed to an amount (counts, seconds, days), by the one definition of figures.
func shareFeature(f string) bool { return models.FeatureFigure(f, 0, nil).Kind == models.KindShare }

// goalFeature reports whether a trait is about goals. Goal traits are per-visit rates, not the
// share of visitors who reached the goal: the dashboard states a goal once, as that share
// (goalLines and goalChart), so these traits are left out of the trait charts.
func goalFeature(f string) bool { return models.IsGoalFeature(f) }

// traitCharts shows the persona's most distinguishing traits against the population: shares on
// one 0–100 % scale, and amounts (counts, times), each row scaled to the larger of the persona's
// and all visitors' value. Goal traits are left out, and so are the features in skip: those the
// page states elsewhere with another definition (a channel's share of the persona's visits in
// the channel chart), so that one thing has one figure on the page.
func traitCharts(traits []classifier.Trait, limit int, skip map[string]bool, pages models.PageLabeler) (shares, amounts hbarChart) {
	shares = hbarChart{W: 900, BarX: 300, BarMax: 460, ID: "trait-shares",
		Title: "Shares of their activity, against all visitors (bars on one scale, 0–100 %)"}
	amounts = hbarChart{W: 900, BarX: 300, BarMax: 460, ID: "trait-amounts",
		Title: "Amounts per visitor, against all visitors (each row scaled to its larger value)"}
	n := 0
	for _, t := range traits {
		if n == limit {
			break
		}
		if !finite(t.Value) || !finite(t.Population) || !finite(t.Z) || goalFeature(t.Feature) || skip[t.Feature] {
			continue
		}
		v, p := displayValue(t.Feature, t.Value), displayValue(t.Feature, t.Population)
		row := hbar{Label: traitLabel(t.Feature, pages), Value: formatTrait(t.Feature, v), Ref: formatTrait(t.Feature, p),
			Higher: t.Z > 0, Strong: math.Abs(t.Z) >= 1, Note: zWords(t.Z), V: v, RefV: p}
		ch := &amounts
		if shareFeature(t.Feature) {
			ch = &shares
			row.Share = true
			row.W, row.RefW = shareWidth(v, ch.BarMax), shareWidth(p, ch.BarMax)
		} else {
			top := max(math.Abs(v), math.Abs(p), 1e-9)
			row.W, row.RefW = round1(ch.BarMax*math.Abs(v)/top), round1(ch.BarMax*math.Abs(p)/top)
		}
		row.Y = float64(len(ch.Rows)) * 48
		row.VX, row.RX = ch.BarX+row.W+6, ch.BarX+row.RefW+6
		if row.Share {
			row.VX, row.RX = ch.BarX+ch.BarMax+6, ch.BarX+ch.BarMax+6
		}
		ch.Rows = append(ch.Rows, row)
		n++
	}
	shares.H = float64(len(shares.Rows))*48 + 4
	amounts.H = float64(len(amounts.Rows))*48 + 4
	return shares, amounts
}

// shareChart is a list of keys and their shares (channels, devices, hours, pages), each on the
// 0–100 % track.
func shareChart(title string, shares []classifier.Share, label func(string) string) hbarChart {
	ch := hbarChart{W: 400, BarX: 150, BarMax: 190, Title: title}
	for _, s := range shares {
		if !finite(s.Share) {
			continue
		}
		w := shareWidth(s.Share, ch.BarMax)
		ch.Rows = append(ch.Rows, hbar{Label: label(s.Key), Value: pct(s.Share), W: w, VX: ch.BarX + ch.BarMax + 6,
			Y: float64(len(ch.Rows)) * 30, Share: true, V: s.Share})
	}
	ch.H = float64(len(ch.Rows))*30 + 4
	return ch
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// traitLabel names a feature for people, as models.FeatureFigure does for every text:
// "time_per_page" is "Time per page", "path:/p" is "Page views of Product pages" (or the
// project's own label of the page group).
func traitLabel(f string, pages models.PageLabeler) string {
	l := models.FeatureLabel(f, pages)
	if l == "" {
		return f
	}
	r := []rune(l)
	return string(unicode.ToUpper(r[0])) + string(r[1:])
}

// displayValue turns a trait value into human units (expm1 of the log1p features).
func displayValue(f string, v float64) float64 { return models.HumanValue(f, v) }

// formatTrait writes a feature's human value with its unit ("2 min 30 s", "2.3 visits", "38 %").
func formatTrait(f string, v float64) string { return models.FormatFeature(f, v) }

// zWords reads a z-score as words.
func zWords(z float64) string {
	a := math.Abs(z)
	dir := "higher"
	if z < 0 {
		dir = "lower"
	}
	switch {
	case a >= 1.5:
		return "much " + dir + " than average"
	case a >= 0.75:
		return dir + " than average"
	case a >= 0.3:
		return "a little " + dir
	}
	return "about average"
}

// stabilityWords reads a persona's stability in plain words.
func stabilityWords(st *float64) string {
	if st == nil {
		return "New in this model: no earlier version to compare with."
	}
	v := *st
	kept := pct(v)
	switch {
	case v >= 0.9:
		return "Very stable: kept " + kept + " of its visitors since the previous model."
	case v >= 0.75:
		return "Stable: kept " + kept + " of its visitors; normal movement between retrains."
	case v >= 0.5:
		return "Shifting: kept " + kept + " of its visitors. Treat changes in its traits with care."
	}
	return "Changed a lot: kept only " + kept + " of its visitors. It may describe a different group now."
}
