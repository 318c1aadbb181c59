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
}

// stack lays out columns of stacked values: heights relative to the largest total (or to max
// when given, e.g. 1 for shares).
func stack(title string, cols []stackInput, colours []string, maxTotal float64, tickFmt func(float64) string) stackedChart {
	return stackSized(title, cols, colours, maxTotal, tickFmt, 240)
}

// stackSized is stack with a chart height (small multiples are lower).
func stackSized(title string, cols []stackInput, colours []string, maxTotal float64, tickFmt func(float64) string, h float64) stackedChart {
	const w, top, left, bottom = 640.0, 12.0, 44.0, 28.0
	ch := stackedChart{W: w, H: h, Base: h - bottom, Title: title}
	if maxTotal <= 0 {
		for _, c := range cols {
			t := 0.0
			for _, v := range c.Values {
				t += v
			}
			maxTotal = max(maxTotal, t)
		}
	}
	if maxTotal <= 0 {
		maxTotal = 1
	}
	plot := ch.Base - top
	for i := 0; i <= 4; i++ {
		v := maxTotal * float64(i) / 4
		ch.Ticks = append(ch.Ticks, tick{Y: round1(ch.Base - plot*float64(i)/4), Label: tickFmt(v)})
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
			t := ""
			if j < len(c.Titles) {
				t = c.Titles[j]
			}
			col.Segments = append(col.Segments, segment{Y: round1(y), H: round1(max(sh, 0.5)), Color: colours[j%len(colours)], Title: t})
		}
		col.Total = tickFmt(total)
		ch.Columns = append(ch.Columns, col)
	}
	return ch
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// hbar is one horizontal bar row: a value against a reference (the population).
type hbar struct {
	Label          string
	Value, Ref     string
	W, RefW        float64 // widths in the 0..290 bar area
	VX, RX         float64 // x of the value and reference labels
	Y              float64
	Higher, Strong bool
	Note           string
}

// hbarChart is a list of bars compared with a reference.
type hbarChart struct {
	W, H, BarX float64
	Title      string
	Rows       []hbar
}

// traitChart shows the persona's most distinguishing traits against the population.
func traitChart(traits []classifier.Trait, limit int) hbarChart {
	ch := hbarChart{W: 900, BarX: 300, Title: "Traits of this persona against all visitors"}
	const barMax = 460.0
	n := 0
	for _, t := range traits {
		if n == limit {
			break
		}
		if !finite(t.Value) || !finite(t.Population) || !finite(t.Z) {
			continue
		}
		v, p := displayValue(t.Feature, t.Value), displayValue(t.Feature, t.Population)
		top := max(math.Abs(v), math.Abs(p), 1e-9)
		row := hbar{Label: traitLabel(t.Feature), Value: formatTrait(t.Feature, v), Ref: formatTrait(t.Feature, p),
			W: round1(barMax * math.Abs(v) / top), RefW: round1(barMax * math.Abs(p) / top), Y: float64(n) * 48,
			Higher: t.Z > 0, Strong: math.Abs(t.Z) >= 1, Note: zWords(t.Z)}
		row.VX, row.RX = ch.BarX+row.W+6, ch.BarX+row.RefW+6
		ch.Rows = append(ch.Rows, row)
		n++
	}
	ch.H = float64(n)*48 + 4
	return ch
}

// shareChart is a list of keys and their shares (channels, devices, hours, pages, goals).
func shareChart(title string, shares []classifier.Share, label func(string) string) hbarChart {
	ch := hbarChart{W: 400, BarX: 150, Title: title}
	const barMax = 190.0
	for _, s := range shares {
		if !finite(s.Share) {
			continue
		}
		w := round1(barMax * min(max(s.Share, 0), 1))
		ch.Rows = append(ch.Rows, hbar{Label: label(s.Key), Value: pct(s.Share), W: w, VX: ch.BarX + w + 6,
			Y: float64(len(ch.Rows)) * 30})
	}
	ch.H = float64(len(ch.Rows))*30 + 4
	return ch
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// traitLabel names a feature for people, as models.FeatureFigure does for every text:
// "time_per_page" is "Time per page", "path:/p" is "Page views of Product pages".
func traitLabel(f string) string {
	l := models.FeatureLabel(f, nil)
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
