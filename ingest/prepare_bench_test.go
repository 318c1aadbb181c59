package ingest_test

import (
	"strings"
	"testing"
	"time"

	"personas/ingest"
)

// BenchmarkPrepare is the privacy pass of a full collect request: 200 events, page views with
// campaigns, clicks with text and attributes, leaves and goals.
func BenchmarkPrepare(b *testing.B) {
	kinds := []string{
		pageview(0, "https://shop.example/p/42?utm_source=news&email=jane%40example.com"),
		clickOn(`{"tag":"button","id":"buy","classes":["btn","primary"],"text":"Add to cart, call +44 20 7946 0958","attrs":{"role":"button","aria-label":"Add to cart","href":"/cart?x=1"}}`),
		`{"type":"leave","ts":` + at(-time.Minute) + `,"url":"https://shop.example/p/42","duration_ms":30000,"scroll_depth":0.8}`,
		`{"type":"goal","ts":` + at(0) + `,"name":"add_to_cart"}`,
	}
	evs := make([]string, 200)
	for i := range evs {
		evs[i] = kinds[i%len(kinds)]
	}
	req, err := ingest.ParsePayload(collectBody("00000000-bench", `{"tz":"Europe/Paris","screen":[1440,900]}`, evs...))
	if err != nil {
		b.Fatal(err)
	}
	p := testProject()
	b.ReportAllocs()
	for b.Loop() {
		batch := ingest.Prepare(testIndex, p, desktopUA, req, testNow)
		if len(batch.Events) != 200 {
			b.Fatalf("%d events kept (%v)", len(batch.Events), batch.Dropped)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/200, "ns/event")
}

// BenchmarkParsePayload decodes and checks the same request's body.
func BenchmarkParsePayload(b *testing.B) {
	body := collectBody("00000000-bench", `{"tz":"Europe/Paris","screen":[1440,900]}`,
		strings.Split(strings.Repeat(clickOn(`{"tag":"a","text":"More","attrs":{"href":"/p/8"}}`)+"\x00", 200), "\x00")[:200]...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ingest.ParsePayload(body); err != nil {
			b.Fatal(err)
		}
	}
}
