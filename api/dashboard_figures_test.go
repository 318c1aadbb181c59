package api

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/models"
)

func TestGoalLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lifts []classifier.GoalLift
		want  []string
	}{
		{"older model without lifts", nil, nil},
		{"clearly higher", []classifier.GoalLift{
			{Goal: "add_to_cart", Visitors: 31, Rate: 0.31, PopulationRate: 0.12, Lift: 2.6, Low: 2.2, High: 3.0}},
			[]string{"Reaches add to cart 2.6× as often as all visitors (31 % vs 12 %; 95 % interval 2.2–3.0×)"}},
		{"clearly lower", []classifier.GoalLift{
			{Goal: "purchase", Visitors: 4, Rate: 0.04, PopulationRate: 0.1, Lift: 0.4, Low: 0.2, High: 0.8}},
			[]string{"Reaches purchase less often than all visitors: 0.4× as often (4 % vs 10 %; 95 % interval 0.2–0.8×)"}},
		{"no clear difference", []classifier.GoalLift{
			{Goal: "signup", Visitors: 13, Rate: 0.13, PopulationRate: 0.12, Lift: 1.08, Low: 0.7, High: 1.5}},
			[]string{"Reaches signup about as often as all visitors (13 % vs 12 %; 95 % interval 0.7–1.5×: no clear difference)"}},
		{"nobody of the persona", []classifier.GoalLift{
			{Goal: "signup", Visitors: 0, Rate: 0, PopulationRate: 0.12, Lift: 0, Low: 0, High: 0.1}},
			[]string{"None of them reached signup (0 % vs 12 % of all visitors)"}},
		{"nobody at all: nothing to compare", []classifier.GoalLift{
			{Goal: "signup", Visitors: 0, Rate: 0, PopulationRate: 0}}, nil},
		{"large lift in whole numbers", []classifier.GoalLift{
			{Goal: "demo", Visitors: 50, Rate: 0.5, PopulationRate: 0.04, Lift: 12.5, Low: 10.2, High: 14.8}},
			[]string{"Reaches demo 13× as often as all visitors (50 % vs 4 %; 95 % interval 10–15×)"}},
		{"any goal repeats a single goal: left out", []classifier.GoalLift{
			{Goal: "any", Visitors: 31, Rate: 0.31, PopulationRate: 0.12, Lift: 2.6, Low: 2.2, High: 3.0},
			{Goal: "buy", Visitors: 31, Rate: 0.31, PopulationRate: 0.12, Lift: 2.6, Low: 2.2, High: 3.0}},
			[]string{"Reaches buy 2.6× as often as all visitors (31 % vs 12 %; 95 % interval 2.2–3.0×)"}},
		{"not finite: left out", []classifier.GoalLift{
			{Goal: "buy", Visitors: 31, Rate: math.NaN(), PopulationRate: 0.12, Lift: 2.6, Low: 2.2, High: 3.0}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := goalLines(tt.lifts)
			if len(lines) != len(tt.want) {
				t.Fatalf("%d lines %+v, want %d", len(lines), lines, len(tt.want))
			}
			for i, l := range lines {
				if l.Sentence != tt.want[i] {
					t.Errorf("line %d:\n got %q\nwant %q", i, l.Sentence, tt.want[i])
				}
			}
		})
	}
}

func TestCardGoalsClearestFirst(t *testing.T) {
	t.Parallel()
	lines := goalLines([]classifier.GoalLift{
		{Goal: "any", Visitors: 30, Rate: 0.3, PopulationRate: 0.28, Lift: 1.07, Low: 0.9, High: 1.2},
		{Goal: "a", Visitors: 20, Rate: 0.2, PopulationRate: 0.1, Lift: 2, Low: 1.5, High: 2.5},
		{Goal: "b", Visitors: 2, Rate: 0.02, PopulationRate: 0.2, Lift: 0.1, Low: 0.05, High: 0.2},
		{Goal: "c", Visitors: 50, Rate: 0.5, PopulationRate: 0.1, Lift: 5, Low: 4, High: 6},
		{Goal: "d", Visitors: 0, Rate: 0, PopulationRate: 0.1, Lift: 0, Low: 0, High: 0.1},
		{Goal: "e", Visitors: 0, Rate: 0, PopulationRate: 0.2, Lift: 0, Low: 0, High: 0.1},
	})
	var got []string
	for _, l := range cardGoals(lines, 3) {
		got = append(got, l.Goal)
	}
	if strings.Join(got, "|") != "c|a|any goal" {
		t.Errorf("card goals %q, want c (5×), a (2×), any goal (no clear difference)", got)
	}
	got = nil
	for _, l := range cardGoals(append([]goalLine{lines[2]}, lines[4:]...), 3) {
		got = append(got, l.Sentence)
	}
	if strings.Join(got, "|") != "Reaches b less often than all visitors: 0.1× as often (2 % vs 20 %; 95 % interval 0.1–0.2×)|None of them reached d or e" {
		t.Errorf("card goals %q, want b, then d and e together", got)
	}
}

func TestNiceTicks(t *testing.T) {
	t.Parallel()
	for _, top := range []float64{1, 3, 7, 9, 11, 99, 101, 1234, 4999, 12345, 987654} {
		cols := []stackInput{{Values: []float64{top * 0.4, top * 0.6}}, {Values: []float64{top / 3}}}
		ch := stackSized("t", cols, []string{"#000", "#111"}, 0, func(v float64) string { return formatCount(int64(v)) }, 240)
		if len(ch.Ticks) < 2 || len(ch.Ticks) > 6 {
			t.Fatalf("max %v: %d ticks", top, len(ch.Ticks))
		}
		step, err := parseCount(ch.Ticks[1].Label)
		if err != nil {
			t.Fatal(err)
		}
		mag := math.Pow(10, math.Floor(math.Log10(step)))
		if m := step / mag; m != 1 && m != 2 && m != 5 {
			t.Errorf("max %v: tick step %v is not 1, 2 or 5 × 10^n", top, step)
		}
		last, _ := parseCount(ch.Ticks[len(ch.Ticks)-1].Label)
		if last < top || last >= top+step {
			t.Errorf("max %v: axis ends at %v, want the first step at or above it", top, last)
		}
		for i, tk := range ch.Ticks {
			v, _ := parseCount(tk.Label)
			if v != step*float64(i) {
				t.Errorf("max %v: tick %d is %v, want %v", top, i, v, step*float64(i))
			}
		}
		// The tallest column reaches exactly its share of the axis.
		seg := ch.Columns[0].Segments
		height := ch.Base - seg[len(seg)-1].Y
		if want := (ch.Base - 12) * top / last; math.Abs(height-want) > 0.2 {
			t.Errorf("max %v: column height %v, want %v", top, height, want)
		}
	}
	shares := stack("s", []stackInput{{Values: []float64{0.3, 0.7}}}, []string{"#000"}, 1, pct)
	var labels []string
	for _, tk := range shares.Ticks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, ","); got != "0 %,20 %,40 %,60 %,80 %,100 %" {
		t.Errorf("share ticks %s", got)
	}
}

func parseCount(s string) (float64, error) {
	var n float64
	for _, r := range strings.ReplaceAll(s, ",", "") {
		if r < '0' || r > '9' {
			return 0, &models.ValidationError{}
		}
		n = n*10 + float64(r-'0')
	}
	return n, nil
}

func TestTraitChartsScale(t *testing.T) {
	t.Parallel()
	traits := []classifier.Trait{
		{Feature: "goal:coupon_applied", Value: 0.24, Population: 0.1, Z: 3},
		{Feature: "goal_rate", Value: 0.8, Population: 0.3, Z: 2.5},
		{Feature: "path:/deals", Value: 0.4, Population: 0.1, Z: 2},
		{Feature: "bounce_rate", Value: 1, Population: 0.3, Z: -1.5},
		{Feature: "visits", Value: math.Log1p(4), Population: math.Log1p(2), Z: 1},
		{Feature: "channel:campaign", Value: 0.05, Population: 0.2, Z: -0.8},
	}
	shares, amounts := traitCharts(traits, 8, map[string]bool{"channel:campaign": true}, nil)
	if len(shares.Rows) != 2 || len(amounts.Rows) != 1 {
		t.Fatalf("%d share rows and %d amount rows, want 2 and 1 (goal traits and the channel shown elsewhere left out)", len(shares.Rows), len(amounts.Rows))
	}
	for _, r := range append(shares.Rows, amounts.Rows...) {
		if strings.Contains(r.Label, "oal") {
			t.Errorf("goal trait %q in the trait charts", r.Label)
		}
	}
	for _, r := range shares.Rows {
		if !r.Share || math.Abs(r.W-shares.BarMax*r.V) > 0.1 || math.Abs(r.RefW-shares.BarMax*r.RefV) > 0.1 {
			t.Errorf("%s: width %v (ref %v) for %v (ref %v), want %v of %v per unit", r.Label, r.W, r.RefW, r.V, r.RefV, shares.BarMax, shares.BarMax)
		}
	}
	// 40 % is 40 % of the width of 100 %.
	if got := shares.Rows[0].W / shares.Rows[1].W; math.Abs(got-0.4) > 0.001 {
		t.Errorf("a 40 %% bar is %.3f of a 100 %% bar", got)
	}
	a := amounts.Rows[0]
	if a.Share || a.W != amounts.BarMax || math.Abs(a.RefW-amounts.BarMax/2) > 0.1 || a.Value != "4 visits" {
		t.Errorf("visits row %+v, want full width for 4 visits and half for 2", a)
	}
	sc := shareChart("c", []classifier.Share{{Key: "a", Share: 1}, {Key: "b", Share: 0.4}, {Key: "c", Share: 1.7}, {Key: "d", Share: math.NaN()}}, titleCase)
	if len(sc.Rows) != 3 || sc.Rows[1].W/sc.Rows[0].W != 0.4 || sc.Rows[2].W != sc.BarMax {
		t.Errorf("share chart rows %+v", sc.Rows)
	}
}

// TestDriftReading checks that the words under the drift chart never contradict it.
func TestDriftReading(t *testing.T) {
	t.Parallel()
	st := func(v float64) *float64 { return &v }
	a, b, c, gone := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	names := map[uuid.UUID]string{a: "Deal Hunters", b: "Researchers", c: "Newcomers", gone: "Window Shoppers"}
	point := func(v int, id uuid.UUID, share float64) models.DriftPoint {
		return models.DriftPoint{ModelVersion: v, PersonaID: id, Share: share}
	}
	tests := []struct {
		name     string
		hist     []models.DriftPoint
		current  []models.Persona
		fates    map[uuid.UUID]fate
		want     []string
		wantNot  []string
		legend   int
		segments int
	}{
		{"steady", []models.DriftPoint{point(1, a, 0.6), point(1, b, 0.4), point(2, a, 0.605), point(2, b, 0.395)},
			[]models.Persona{{ID: a, Name: "Deal Hunters", Stability: st(0.95)}, {ID: b, Name: "Researchers", Stability: st(0.93)}}, nil,
			[]string{"Since v1 the personas held steady", "94 %", "No continuing persona's share moved by more than a point"}, nil, 2, 4},
		{"steady with a small move", []models.DriftPoint{point(1, a, 0.6), point(1, b, 0.4), point(2, a, 0.62), point(2, b, 0.38)},
			[]models.Persona{{ID: a, Name: "Deal Hunters", Stability: st(0.95)}, {ID: b, Name: "Researchers", Stability: st(0.93)}}, nil,
			[]string{"Since v1 the personas held steady", "The largest move was "}, []string{"grew the most", "shrank the most"}, 2, 4},
		{"stable members but shares moved", []models.DriftPoint{point(1, a, 0.6), point(1, b, 0.4), point(2, a, 0.7), point(2, b, 0.3)},
			[]models.Persona{{ID: a, Name: "Deal Hunters", Stability: st(0.95)}, {ID: b, Name: "Researchers", Stability: st(0.93)}}, nil,
			[]string{"kept their visitors, but shares moved", " the most, from "}, []string{"held steady"}, 2, 4},
		{"a persona merged", []models.DriftPoint{point(1, a, 0.5), point(1, b, 0.31), point(1, gone, 0.19), point(2, a, 0.62), point(2, b, 0.38)},
			[]models.Persona{{ID: a, Name: "Deal Hunters", Stability: st(0.97)}, {ID: b, Name: "Researchers", Stability: st(0.97)}},
			map[uuid.UUID]fate{gone: {Version: 2, Into: a, Share: 0.8}},
			[]string{"Window Shoppers (19 % of visitors in v1) merged into Deal Hunters in v2 (80 % of its visitors went there)",
				"The personas that continued from v1 kept on average 97 %"}, []string{"held steady"}, 3, 5},
		{"a persona vanished, its visitors unknown", []models.DriftPoint{point(1, a, 0.81), point(1, gone, 0.19), point(2, a, 1)},
			[]models.Persona{{ID: a, Name: "Deal Hunters", Stability: st(0.99)}}, map[uuid.UUID]fate{gone: {Version: 2}},
			[]string{"Window Shoppers (19 % of visitors in v1) is no longer a persona in v2"}, []string{"held steady"}, 2, 3},
		{"a new persona", []models.DriftPoint{point(1, a, 1), point(2, a, 0.8), point(2, c, 0.2)},
			[]models.Persona{{ID: a, Name: "Deal Hunters", Stability: st(0.92)}, {ID: c, Name: "Newcomers"}}, nil,
			[]string{"New persona in v2: Newcomers (20 % of visitors)", "Deal Hunters shrank the most"}, []string{"held steady"}, 2, 3},
		{"first model", []models.DriftPoint{point(1, a, 1)}, []models.Persona{{ID: a, Name: "Deal Hunters"}}, nil,
			[]string{"This is the first model"}, []string{"held steady"}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, reading := driftChart(tt.hist, tt.current, names, tt.fates)
			for _, w := range tt.want {
				if !strings.Contains(reading, w) {
					t.Errorf("reading %q lacks %q", reading, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(reading, w) {
					t.Errorf("reading %q says %q", reading, w)
				}
			}
			keys := map[string]bool{}
			for _, l := range ch.Legend {
				keys[l.Key] = true
			}
			if len(ch.Legend) != tt.legend {
				t.Errorf("%d legend entries %+v, want %d", len(ch.Legend), ch.Legend, tt.legend)
			}
			n := 0
			for _, col := range ch.Columns {
				for _, s := range col.Segments {
					n++
					if !keys[s.Key] {
						t.Errorf("segment %q (%s) has no legend entry", s.Key, s.Title)
					}
				}
			}
			if n != tt.segments {
				t.Errorf("%d segments, want %d", n, tt.segments)
			}
		})
	}
}

func TestFateOf(t *testing.T) {
	t.Parallel()
	gone, a, b := uuid.New(), uuid.New(), uuid.New()
	ts := []models.Transition{{From: gone, To: a, Visitors: 30}, {From: gone, To: b, Visitors: 70}, {From: a, To: a, Visitors: 500}}
	f := fateOf(gone, 3, ts)
	if f.Into != b || math.Abs(f.Share-0.7) > 1e-9 || !f.merged() || f.Version != 3 {
		t.Errorf("fate %+v, want merged into b with 70 %%", f)
	}
	if f := fateOf(uuid.New(), 3, ts); f.Into != uuid.Nil || f.merged() {
		t.Errorf("fate of a persona without known visitors %+v", f)
	}
}

func TestAuditWords(t *testing.T) {
	t.Parallel()
	actor, member, pid := uuid.New(), uuid.New(), uuid.New()
	pj := models.Project{ID: uuid.New(), Name: "Shop"}
	n := auditNamer{users: map[uuid.UUID]string{actor: "owner@example.com", member: "ex@example.com (former member)"},
		personas: map[uuid.UUID]string{pid: "Deal Hunters"}}
	at := time.Date(2026, 11, 20, 10, 4, 0, 0, time.UTC)
	g := func(action, target string, details map[string]any, count int) models.AuditGroup {
		return models.AuditGroup{AuditEntry: models.AuditEntry{ActorID: &actor, Action: action, Target: target, Details: details, At: at},
			Count: count, First: at.Add(-time.Duration(count-1) * time.Minute)}
	}
	tests := []struct {
		g          models.AuditGroup
		what, when string
		link       bool
	}{
		{g("events.import", pj.ID.String(), map[string]any{"accepted": 12345.0, "rejected": 0.0}, 32), "Imported 12,345 events (32 batches)", "20 Nov 2026, 09:33–10:04 UTC", false},
		{g("events.import", pj.ID.String(), map[string]any{"accepted": 1.0, "rejected": 1.0}, 1), "Imported 1 event; 1 line rejected", "20 Nov 2026, 10:04 UTC", false},
		{g("persona.rename", pid.String(), nil, 2), "Renamed the persona now called Deal Hunters (2 times)", "20 Nov 2026, 10:03–10:04 UTC", true},
		{g("persona.enrich", uuid.NewString(), nil, 1), "Asked for a new description of a persona no longer stored", "", false},
		{g("member.update", member.String(), map[string]any{"role": "editor"}, 1), "Changed the role of ex@example.com (former member) to editor", "", false},
		{g("deletion.create", uuid.NewString(), map[string]any{"scope": "visitor"}, 1), "Asked to delete one visitor's data", "", true},
		{g("project.update", pj.ID.String(), map[string]any{"fields": []any{"sample_rate", "respect_gpc"}}, 1), "Changed the settings: sample rate, respect gpc", "", false},
		{g("something.new", "x", map[string]any{"k": "v"}, 1), "something.new", "", false},
	}
	for _, tt := range tests {
		r := auditWords(tt.g, pj, n)
		if r.What != tt.what || (tt.when != "" && r.When != tt.when) || (r.Link != "") != tt.link || r.Actor != "owner@example.com" {
			t.Errorf("%s: %q at %q by %q (link %q), want %q at %q", tt.g.Action, r.What, r.When, r.Actor, r.Link, tt.what, tt.when)
		}
	}
}

// TestTransitionCacheBounded: the cache of transitions is safe for concurrent pages and never
// holds more than its bound.
func TestTransitionCacheBounded(t *testing.T) {
	t.Parallel()
	var tc transitionCache
	p := uuid.New()
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 1000 {
				k := transitionKey{p, g*1000 + i, g*1000 + i + 1}
				tc.put(k, []models.Transition{{Visitors: int64(i)}})
				if ts, ok := tc.get(k); ok && ts[0].Visitors != int64(i) {
					t.Errorf("cached %v for %v", ts, k)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if n := len(tc.m); n > maxTransitionEntries || n == 0 {
		t.Errorf("%d cached pairs, bound %d", n, maxTransitionEntries)
	}
}
