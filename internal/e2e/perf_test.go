package e2e

import (
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"personas/internal/testenv"
)

// BenchmarkPersonaAnswer measures, in the page, the time from navigation start to the
// personas:persona event (performance.now()), on loopback against a trained project:
//   - cold: a first visit (new browser profile: the script, config, collect and classify);
//   - script-cached: a new session of a returning browser (script from the HTTP cache);
//   - answer-cached: the next page of the session (answer from sessionStorage).
//
// Run: go test ./internal/e2e -run '^$' -bench PersonaAnswer -benchtime 15x
func BenchmarkPersonaAnswer(b *testing.B) {
	browser := testenv.Browser(b)
	s := newShop(b)
	s.Page("/", variantsPage(s.Snippet, s.variants()))
	var cold, script, cached []float64
	at := `personas.persona().then(() => new Promise(r => setTimeout(r))).then(() => __events[0].at)`
	for i := 0; b.Loop(); i++ {
		tab := testenv.Tab(b, browser)
		s.setVisitor(b, tab, s.Visitors[i%len(s.Visitors)])
		testenv.Do(b, tab, chromedp.Navigate(s.Site+"/"))
		cold = append(cold, testenv.Eval[float64](b, tab, at))
		testenv.Eval[bool](b, tab, `sessionStorage.clear(); true`)
		testenv.Do(b, tab, chromedp.Navigate(s.Site+"/"))
		script = append(script, testenv.Eval[float64](b, tab, at))
		testenv.Do(b, tab, chromedp.Navigate(s.Site+"/"))
		cached = append(cached, testenv.Eval[float64](b, tab, at))
	}
	for _, m := range []struct {
		name string
		v    []float64
	}{{"cold", cold}, {"script-cached", script}, {"answer-cached", cached}} {
		slices.Sort(m.v)
		b.ReportMetric(m.v[len(m.v)/2], "ms-"+m.name+"-median")
		b.ReportMetric(m.v[len(m.v)*9/10], "ms-"+m.name+"-p90")
		b.Logf("%s: %v", m.name, m.v)
	}
	b.ReportMetric(0, "ns/op")
}
