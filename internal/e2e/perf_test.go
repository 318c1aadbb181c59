package e2e

import (
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// BenchmarkPersonaAnswer measures, in the page, the time from navigation start to the
// personas:persona event (performance.now()), on loopback against a trained project:
//   - cold: a first visit (new browser profile: the script, config, collect and classify);
//   - script-cached: a new session of a returning browser (script from the HTTP cache);
//   - answer-cached: the next page of the session (answer from sessionStorage).
//
// Run: go test ./internal/e2e -run '^$' -bench PersonaAnswer -benchtime 15x
func BenchmarkPersonaAnswer(b *testing.B) {
	browser := newBrowser(b)
	s := newShop(b)
	s.Page("/", variantsPage(s.Snippet, s.variants()))
	var cold, script, cached []float64
	at := `personas.persona().then(() => new Promise(r => setTimeout(r))).then(() => __events[0].at)`
	for i := 0; b.Loop(); i++ {
		tab := newTab(b, browser)
		s.setVisitor(b, tab, s.Visitors[i%len(s.Visitors)])
		do(b, tab, chromedp.Navigate(s.Site+"/"))
		cold = append(cold, eval[float64](b, tab, at))
		eval[bool](b, tab, `sessionStorage.clear(); true`)
		do(b, tab, chromedp.Navigate(s.Site+"/"))
		script = append(script, eval[float64](b, tab, at))
		do(b, tab, chromedp.Navigate(s.Site+"/"))
		cached = append(cached, eval[float64](b, tab, at))
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
