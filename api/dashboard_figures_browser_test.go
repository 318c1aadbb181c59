package api_test

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"personas/models"
)

// shareBarsJS measures every bar of a share drawn in scope against its 0–100 % track, as
// rendered: [share, bar width / track width, label].
const shareBarsJS = `(scope => Array.from(document.querySelectorAll(scope + ' rect[data-share]')).map(r => {
	const track = r.parentNode.querySelector('rect[data-track="' + (r.classList.contains('ref') ? 'ref' : 'value') + '"]');
	return [parseFloat(r.dataset.share), r.getBoundingClientRect().width / track.getBoundingClientRect().width,
		r.dataset.label, track.getBoundingClientRect().width];
}))`

// pctLabel is the dashboard's percentage of a share.
func pctLabel(v float64) string { return models.FormatPercent(v) }

// checkShareBars asserts that every share bar in scope is drawn on one 0–100 % scale: its
// rendered width is its share of its track's, and its label says the same share.
func checkShareBars(t *testing.T, u *user, scope string, atLeast int) {
	t.Helper()
	bars := eval[[][]any](u, shareBarsJS+"("+strconv.Quote(scope)+")")
	if len(bars) < atLeast {
		t.Errorf("%s: %d share bars, want at least %d", scope, len(bars), atLeast)
	}
	for _, b := range bars {
		share, ratio, label, track := b[0].(float64), b[1].(float64), b[2].(string), b[3].(float64)
		want := math.Min(math.Max(share, 0), 1)
		if math.Abs(ratio-want) > 0.005+1/track {
			t.Errorf("%s: a bar of %v is drawn %.3f of its 0–100 %% track", scope, share, ratio)
		}
		if label != pctLabel(share) {
			t.Errorf("%s: a bar of %v is labelled %q", scope, share, label)
		}
	}
}

var goalOfSentence = regexp.MustCompile(`^(?:Reaches (.+?) (?:[\d.]+× as often|less often|about as often)|None of them reached (.+?) \()`)

// checkOverviewFigures: each card states a goal at most once, as a share of visitors with its
// lift, never as a trait; the share bars are on one scale within and across cards; every
// persona of the drift chart has a legend entry.
func checkOverviewFigures(t *testing.T, u *user) {
	t.Helper()
	cards := eval[[]map[string]any](u, `Array.from(document.querySelectorAll('.persona-card')).map(c => ({
		share: c.querySelector('.share-value').textContent,
		bar: c.querySelector('.sharebar rect:not(.track)').getBoundingClientRect().width,
		track: c.querySelector('.sharebar rect.track').getBoundingClientRect().width,
		traits: Array.from(c.querySelectorAll('.traits li')).map(l => l.textContent),
		goals: Array.from(c.querySelectorAll('.goal-lines li')).map(l => l.textContent)}))`)
	lifts := 0
	var perTrack []float64
	for i, c := range cards {
		share, err := strconv.ParseFloat(strings.TrimSuffix(c["share"].(string), " %"), 64)
		if err != nil {
			t.Fatalf("card %d share %q", i, c["share"])
		}
		bar, track := c["bar"].(float64), c["track"].(float64)
		if math.Abs(bar/track-share/100) > 0.006+1/track {
			t.Errorf("card %d: a share of %v %% is drawn %.3f of its track", i, share, bar/track)
		}
		perTrack = append(perTrack, track)
		for _, tr := range c["traits"].([]any) {
			if s := tr.(string); strings.Contains(s, "Goal") {
				t.Errorf("card %d shows a goal as a trait: %q", i, s)
			}
		}
		seen := map[string]bool{}
		for _, g := range c["goals"].([]any) {
			line := strings.TrimSuffix(g.(string), ".")
			var names []string
			if line == "None of them reached any of your goals" {
				names = []string{"any goal"}
			} else if list, ok := strings.CutPrefix(line, "None of them reached "); ok && !strings.Contains(line, "(") {
				// The goals none of its visitors reached, named together without a figure.
				names = strings.FieldsFunc(strings.ReplaceAll(list, " or ", ","), func(r rune) bool { return r == ',' })
			} else {
				m := goalOfSentence.FindStringSubmatch(line)
				if m == nil {
					t.Errorf("card %d: goal line %q is not a lift sentence", i, line)
					continue
				}
				names = []string{m[1] + m[2]}
				if !strings.Contains(line, " vs ") || (m[1] != "" && !strings.Contains(line, "95 % interval")) {
					t.Errorf("card %d: goal line %q lacks its figures", i, line)
				}
			}
			for _, name := range names {
				name = strings.TrimSpace(name)
				if seen[name] {
					t.Errorf("card %d states goal %q twice", i, name)
				}
				seen[name] = true
			}
			lifts++
		}
	}
	if lifts == 0 {
		t.Error("no persona card states a goal lift, on demo data with goals")
	}
	for i := 1; i < len(perTrack); i++ {
		if math.Abs(perTrack[i]-perTrack[0]) > 1 {
			t.Errorf("card share tracks differ in width (%v, %v): bars of different cards are not on one scale", perTrack[0], perTrack[i])
		}
	}
	checkOverviewDrift(t, u)
	if n := eval[int](u, "document.querySelectorAll('#drift .legend li').length"); n < len(cards) {
		t.Errorf("%d legend entries for %d current personas", n, len(cards))
	}
}

// checkOverviewDrift: every persona with a segment in the drift chart has a legend entry.
func checkOverviewDrift(t *testing.T, u *user) {
	t.Helper()
	missing := eval[[]string](u, `(() => {
		const legend = new Set(Array.from(document.querySelectorAll('#drift .legend li[data-key]')).map(l => l.dataset.key));
		return Array.from(new Set(Array.from(document.querySelectorAll('#drift svg rect[data-key]')).map(r => r.dataset.key))).filter(k => !legend.has(k));
	})()`)
	if len(missing) > 0 {
		t.Errorf("personas in the drift chart without a legend entry: %v", missing)
	}
	if n := eval[int](u, "new Set(Array.from(document.querySelectorAll('#drift svg rect[data-key]')).map(r => r.dataset.key)).size"); n == 0 {
		t.Error("the drift chart has no persona segments")
	}
}

// checkPersonaFigures: a goal appears once on the persona page (its share of visitors, the
// same figure in the sentence and on the bar), never among the traits; every share bar is on
// the 0–100 % track.
func checkPersonaFigures(t *testing.T, u *user) {
	t.Helper()
	checkShareBars(t, u, "main", 4)
	rows := eval[[][]string](u, `Array.from(document.querySelectorAll('#goal-chart g.hbar')).map(g =>
		[g.querySelector('.lbl').textContent, g.querySelector('.val').textContent, (g.querySelector('.refval') || {}).textContent || ''])`)
	if len(rows) == 0 {
		t.Fatal("the persona page has no goal chart, on demo data with goals")
	}
	sentences := eval[[]string](u, `Array.from(document.querySelectorAll('#goal-lines li')).map(l => l.textContent)`)
	byGoal := map[string]string{}
	for _, s := range sentences {
		m := goalOfSentence.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("goal line %q is not a lift sentence", s)
			continue
		}
		name := m[1] + m[2]
		if _, dup := byGoal[name]; dup {
			t.Errorf("goal %q has two sentences", name)
		}
		byGoal[name] = s
	}
	for _, r := range rows {
		name, value, ref := r[0], r[1], strings.TrimPrefix(r[2], "all: ")
		s, ok := byGoal[name]
		if len(sentences) > 0 && !ok {
			t.Errorf("goal %q has a bar but no sentence", name)
			continue
		}
		if ok && !strings.Contains(s, "("+value+" vs "+ref) && !strings.Contains(s, "(0 % vs "+ref) {
			t.Errorf("goal %q: bar says %s (all visitors %s), sentence says %q", name, value, ref, s)
		}
	}
	traits := u.text("#traits")
	for _, twice := range []string{"Visits from ", "Visits on ", "Active in the "} {
		if strings.Contains(traits, twice) {
			t.Errorf("the traits state %q, which the channel, device and hour charts state with another definition: %s", twice, traits)
		}
	}
	others := eval[string](u, `Array.from(document.querySelectorAll('main figure:not(#goal-chart)')).map(f => f.textContent).join(' | ')`)
	for _, bad := range []string{"Goal ", "Goals per visit"} {
		if strings.Contains(others, bad) {
			t.Errorf("a chart other than the goals' shows %q: %s", bad, others)
		}
	}
}

// checkHealthChart: the axis is ticked in 1, 2, 5 × 10^n steps, and imported history spreads
// over the days it happened instead of one spike on the day of the import.
func checkHealthChart(t *testing.T, u *user) {
	t.Helper()
	ticks := eval[[]string](u, `Array.from(document.querySelectorAll('#health svg text.tick[text-anchor="end"]')).map(t => t.textContent)`)
	if len(ticks) < 3 {
		t.Fatalf("health chart ticks %v", ticks)
	}
	var vals []float64
	for _, tk := range ticks {
		v, err := strconv.ParseFloat(strings.ReplaceAll(tk, ",", ""), 64)
		if err != nil {
			t.Fatalf("tick %q is not a count", tk)
		}
		vals = append(vals, v)
	}
	step := vals[1] - vals[0]
	mag := math.Pow(10, math.Floor(math.Log10(step)))
	if m := step / mag; vals[0] != 0 || (m != 1 && m != 2 && m != 5) {
		t.Errorf("health ticks %v: not round 1, 2, 5 × 10^n steps", ticks)
	}
	for i := range vals {
		if vals[i] != step*float64(i) {
			t.Errorf("health ticks %v are not evenly spaced", ticks)
			break
		}
	}
	days := eval[int](u, `Array.from(document.querySelectorAll('#health svg g.col')).filter(g => g.querySelector('rect')).length`)
	if days < 15 {
		t.Errorf("stored events on %d days, want the three weeks of imported history spread over their days", days)
	}
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// checkAudit: an import sent in batches is one line with its count, actors are named, no raw
// id is shown, and the action filter narrows the log.
func checkAudit(t *testing.T, u *user, pid string) {
	t.Helper()
	rows := eval[[]string](u, `Array.from(document.querySelectorAll('#audit tbody tr')).map(r => r.innerText)`)
	batches := regexp.MustCompile(`Imported [\d,]+ events \(3 batches\)`)
	found := false
	for _, r := range rows {
		found = found || batches.MatchString(r)
		if uuidPattern.MatchString(r) {
			t.Errorf("audit row shows a raw id: %q", r)
		}
		if !strings.Contains(r, "owner@example.com") && !strings.Contains(r, "the service") {
			t.Errorf("audit row does not name its actor: %q", r)
		}
	}
	if !found {
		t.Errorf("no audit row for the import in three batches: %q", rows)
	}
	u.do(chromedpSetValue("#action", "events.import"))
	u.do(chromedpClick("#audit-filter button"))
	u.waitFor("location.search.includes('action=events.import') && document.readyState === 'complete'")
	u.shot("audit filtered")
	actions := eval[[]string](u, `Array.from(document.querySelectorAll('#audit tbody tr')).map(r => r.dataset.action)`)
	if len(actions) != 2 {
		t.Errorf("filtered audit rows %v, want the two imports", actions)
	}
	for _, a := range actions {
		if a != "events.import" {
			t.Errorf("filtered by imports, the log shows %q", a)
		}
	}
	status := eval[int](u, fmt.Sprintf("fetch('/projects/%s/audit?action=%%3Cscript%%3E').then(r => r.status)", pid))
	if status != 400 {
		t.Errorf("audit filtered by a made-up action: status %d, want 400", status)
	}
}

func chromedpSetValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), v)
}

func chromedpClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel))
}
