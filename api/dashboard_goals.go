package api

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"personas/classifier"
	"personas/models"
)

// A goal has one figure on the dashboard: the share of visitors who reached it at least once.
// A persona's goal is that share for its visitors, set against all visitors' as a lift with its
// 95 % interval (classifier.GoalLift), in sentences a marketer can quote.

// goalLine is one goal of one persona, in words and figures.
type goalLine struct {
	Goal     string  // the goal's name for people ("add to cart", "any goal")
	Sentence string  // "Reaches add to cart 2.6× as often as all visitors (31 % vs 12 %; …)"
	Rate     float64 // the persona's visitors who reached it, 0..1
	PopRate  float64 // all visitors who reached it
	Lift     float64
	Clear    bool // the interval excludes 1: a difference the data supports
}

// goalName names a goal for people; "any" is any goal.
func goalName(key string) string {
	if key == "any" {
		return "any goal"
	}
	return strings.ReplaceAll(key, "_", " ")
}

// times writes a lift as every text does.
func times(v float64) string { return models.FormatLift(v) }

// interval writes a lift's 95 % interval.
func interval(lo, hi float64) string {
	l, h := strings.TrimSuffix(times(lo), "×"), times(hi)
	return "95 % interval " + l + "–" + h
}

// goalLines reads a persona's goal lifts. Goals nobody reached are left out (there is nothing
// to compare), and so is "any goal" when the project records a single goal (it would repeat
// it). A persona of a model without lifts has none: nothing is shown rather than zeros.
func goalLines(lifts []classifier.GoalLift) []goalLine {
	named := 0
	for _, gl := range lifts {
		if gl.Goal != "any" {
			named++
		}
	}
	var out []goalLine
	for _, gl := range lifts {
		if gl.Goal == "any" && named == 1 {
			continue
		}
		if !(gl.PopulationRate > 0) || !finite(gl.Rate) || !finite(gl.Lift) || !finite(gl.Low) || !finite(gl.High) {
			continue
		}
		g := goalName(gl.Goal)
		l := goalLine{Goal: g, Rate: gl.Rate, PopRate: gl.PopulationRate, Lift: gl.Lift, Clear: gl.Low > 1 || gl.High < 1}
		figures := fmt.Sprintf("%s vs %s; %s", pct(gl.Rate), pct(gl.PopulationRate), interval(gl.Low, gl.High))
		switch {
		case gl.Visitors == 0:
			l.Sentence = fmt.Sprintf("None of them reached %s (0 %% vs %s of all visitors)", g, pct(gl.PopulationRate))
		case gl.Low > 1:
			l.Sentence = fmt.Sprintf("Reaches %s %s as often as all visitors (%s)", g, times(gl.Lift), figures)
		case gl.High < 1:
			l.Sentence = fmt.Sprintf("Reaches %s less often than all visitors: %s as often (%s)", g, times(gl.Lift), figures)
		default:
			l.Sentence = fmt.Sprintf("Reaches %s about as often as all visitors (%s: no clear difference)", g, figures)
		}
		out = append(out, l)
	}
	return out
}

// cardGoals are the goal lines a persona card has room for: what the persona reaches more
// often first (largest lift first), then no clear difference, then less often; goals none of
// its visitors reached are named together in one last line when there is room.
func cardGoals(lines []goalLine, limit int) []goalLine {
	rank := func(l goalLine) int {
		switch {
		case l.Clear && l.Lift > 1:
			return 0
		case !l.Clear:
			return 1
		}
		return 2
	}
	var out, none []goalLine
	for _, l := range lines {
		if l.Rate == 0 {
			none = append(none, l)
		} else {
			out = append(out, l)
		}
	}
	slices.SortStableFunc(out, func(a, b goalLine) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return cmp.Compare(math.Abs(math.Log(b.Lift)), math.Abs(math.Log(a.Lift)))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	if len(none) > 0 && len(out) < limit {
		names := make([]string, len(none))
		for i, l := range none {
			names[i] = l.Goal
		}
		list := names[0]
		if len(names) > 1 {
			list = strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
		}
		sentence := "None of them reached " + list
		if none[0].Goal == goalName("any") { // "any" comes first: then no goal at all was reached
			sentence = "None of them reached any of your goals"
		}
		out = append(out, goalLine{Goal: list, Sentence: sentence, Clear: true})
	}
	return out
}

// goalChart draws each goal's share of the persona's visitors against all visitors', on the
// 0–100 % track, with the lift as the row's note.
func goalChart(lines []goalLine) hbarChart {
	ch := hbarChart{W: 900, BarX: 300, BarMax: 460, ID: "goal-chart",
		Title: "Goals: share of visitors who reached each (bars on one scale, 0–100 %)"}
	for _, l := range lines {
		row := hbar{Label: l.Goal, Value: pct(l.Rate), Ref: pct(l.PopRate), Share: true, V: l.Rate, RefV: l.PopRate,
			W: shareWidth(l.Rate, ch.BarMax), RefW: shareWidth(l.PopRate, ch.BarMax), Higher: l.Lift >= 1,
			Note: liftNote(l), Y: float64(len(ch.Rows)) * 48}
		row.VX, row.RX = ch.BarX+ch.BarMax+6, ch.BarX+ch.BarMax+6
		ch.Rows = append(ch.Rows, row)
	}
	ch.H = float64(len(ch.Rows))*48 + 4
	return ch
}

// liftNote is a goal bar's few words: the lift, when the data supports a difference.
func liftNote(l goalLine) string {
	switch {
	case l.Rate == 0:
		return "none of them"
	case !l.Clear:
		return "about as often as all visitors"
	}
	return times(l.Lift) + " as often as all visitors"
}
