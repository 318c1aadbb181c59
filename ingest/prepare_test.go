package ingest_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"personas/ingest"
	"personas/models"
	"personas/privacy"
)

var (
	testNow   = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	testIndex = mustIndex()
)

func mustIndex() *privacy.BlindIndex {
	ix, err := privacy.NewBlindIndex([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return ix
}

func testProject() models.Project {
	return models.Project{ID: uuid.MustParse("00000000-0000-4000-8000-000000000001"), SiteKey: "pk_1", SampleRate: 1,
		ExcludedSelectors: []string{".promo", "#secret-offer", "aside", "div.card.ad", "main > .x"},
		AllowedQueryKeys:  []string{"q"}, DataAttributes: []string{"data-product"}}
}

// at is a time stamp d from testNow, in the contract's milliseconds.
func at(d time.Duration) string { return fmt.Sprint(testNow.Add(d).UnixMilli()) }

func pageview(d time.Duration, url string) string {
	return `{"type":"pageview","ts":` + at(d) + `,"url":"` + url + `"}`
}

func clickOn(el string) string {
	return `{"type":"click","ts":` + at(0) + `,"url":"https://shop.example/p/1","element":` + el + `}`
}

func collectBody(visitor, context string, events ...string) []byte {
	if context == "" {
		context = "{}"
	}
	return []byte(`{"site_key":"pk_1","visitor_id":"` + visitor + `","session_id":"s1","context":` + context +
		`,"events":[` + strings.Join(events, ",") + `]}`)
}

const (
	mobileUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
	desktopUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
)

// TestPrepare runs the privacy pass of accepted collect bodies: what is stored of each event,
// and every event not stored counted under its reason.
func TestPrepare(t *testing.T) {
	visitor := "00000000-visitor"
	tests := []struct {
		name    string
		project func(*models.Project)
		ua      string
		body    []byte
		stored  int
		dropped map[string]int64
		check   func(t *testing.T, evs []models.Event)
	}{
		{name: "time window", body: collectBody(visitor, "",
			pageview(-49*time.Hour, "https://shop.example/a"), pageview(6*time.Minute, "https://shop.example/b"),
			pageview(-47*time.Hour, "https://shop.example/c"), pageview(4*time.Minute, "https://shop.example/d"),
			pageview(0, "https://shop.example/e")),
			stored: 3, dropped: map[string]int64{models.ReasonTooOld: 1, models.ReasonAhead: 1}},
		{name: "ts at the epoch's start", body: collectBody(visitor, "", `{"type":"goal","ts":1,"name":"a"}`),
			dropped: map[string]int64{models.ReasonTooOld: 1}},
		{name: "ts in the far future", body: collectBody(visitor, "", `{"type":"goal","ts":9223372036854775807,"name":"a"}`),
			dropped: map[string]int64{models.ReasonAhead: 1}},
		{name: "visitor outside the sample", project: func(p *models.Project) { p.SampleRate = 0.5 },
			body:    collectBody("ffffffff-out", "", pageview(0, "https://shop.example/"), pageview(0, "https://shop.example/")),
			dropped: map[string]int64{models.ReasonSampled: 2}},
		{name: "visitor inside the sample", project: func(p *models.Project) { p.SampleRate = 0.5 },
			body: collectBody("00000000-in", "", pageview(0, "https://shop.example/")), stored: 1},
		{name: "sampled out even when too old", project: func(p *models.Project) { p.SampleRate = 0.01 },
			body:    collectBody("ffffffff-out", "", pageview(-72*time.Hour, "https://shop.example/")),
			dropped: map[string]int64{models.ReasonSampled: 1}},
		{name: "excluded selectors", body: collectBody(visitor, "",
			clickOn(`{"tag":"div","classes":["card","promo"],"text":"50% off"}`),
			clickOn(`{"tag":"a","id":"secret-offer","text":"secret"}`),
			clickOn(`{"tag":"ASIDE","text":"sidebar"}`),
			clickOn(`{"tag":"div","classes":["card","ad"]}`),
			clickOn(`{"tag":"div","classes":["card"]}`),
			clickOn(`{"tag":"p","classes":["x"]}`)),
			stored: 2, dropped: map[string]int64{models.ReasonExcluded: 4},
			check: func(t *testing.T, evs []models.Event) {
				if got := []string{evs[0].ElTag, evs[1].ElTag}; !cmp.Equal(got, []string{"div", "p"}) {
					t.Errorf("kept tags %v, want the plain card and the paragraph (ancestor selectors are the collector's)", got)
				}
			}},
		{name: "personal data in a click", body: collectBody(visitor, "",
			clickOn(`{"tag":"button","id":"buy","classes":["btn","jane@example.com","x' OR 1=1--"],"text":"  Write to jane.doe+x@mail.example  ",`+
				`"attrs":{"title":"Call +44 20 7946 0958","onclick":"steal()","href":"https://shop.example/a?email=a@b.c&utm_medium=mail","data-product":"42","data-secret":"x"}}`)),
			stored: 1, check: func(t *testing.T, evs []models.Event) {
				e := evs[0]
				if e.ElText != "Write to [email]" {
					t.Errorf("text %q, want the email scrubbed", e.ElText)
				}
				if !cmp.Equal(e.ElClasses, []string{"btn"}) {
					t.Errorf("classes %v, want only btn", e.ElClasses)
				}
				want := map[string]string{"id": "buy", "title": "Call [phone]", "href": "https://shop.example/a?utm_medium=mail", "data-product": "42"}
				if d := cmp.Diff(want, e.ElAttrs); d != "" {
					t.Errorf("attributes (-want +got):\n%s", d)
				}
			}},
		{name: "a form field keeps nothing typed", body: collectBody(visitor, "",
			clickOn(`{"tag":"input","id":"email","text":"jane@example.com","attrs":{"type":"email","name":"customer-email","aria-label":"Your email","role":"textbox"}}`),
			clickOn(`{"tag":"div","text":"draft","attrs":{"contenteditable":"true","title":"draft"}}`),
			clickOn(`{"tag":"span","text":"hunter2","attrs":{"type":"password"}}`)),
			stored: 3, check: func(t *testing.T, evs []models.Event) {
				for i, e := range evs {
					if e.ElText != "" {
						t.Errorf("form field %d kept text %q", i, e.ElText)
					}
					for k := range e.ElAttrs {
						if k != "type" && k != "role" {
							t.Errorf("form field %d kept attribute %s=%q", i, k, e.ElAttrs[k])
						}
					}
				}
				if d := cmp.Diff(map[string]string{"type": "email", "role": "textbox"}, evs[0].ElAttrs); d != "" {
					t.Errorf("input attributes (-want +got):\n%s", d)
				}
			}},
		{name: "url, campaign and channel", body: collectBody(visitor, "",
			`{"type":"pageview","ts":`+at(0)+`,"url":"https://shop.example/p/42?utm_source=news&email=a%40b.c&q=shoes&session=abc","referrer":"https://www.google.com/search?q=jane"}`),
			stored: 1, check: func(t *testing.T, evs []models.Event) {
				e := evs[0]
				if e.Path != "/p/:id" || e.Channel != "campaign" {
					t.Errorf("path %q channel %q, want /p/:id and campaign", e.Path, e.Channel)
				}
				if d := cmp.Diff(map[string]string{"utm_source": "news", "q": "shoes"}, e.UTM); d != "" {
					t.Errorf("kept query (-want +got):\n%s", d)
				}
			}},
		{name: "search referrer", body: collectBody(visitor, "",
			`{"type":"pageview","ts":`+at(0)+`,"url":"https://shop.example/","referrer":"https://www.google.com/"}`),
			stored: 1, check: func(t *testing.T, evs []models.Event) {
				if evs[0].Channel != "search" || evs[0].UTM != nil {
					t.Errorf("channel %q utm %v, want search and none", evs[0].Channel, evs[0].UTM)
				}
			}},
		{name: "control characters in path and campaign", body: collectBody(visitor, "",
			pageview(0, "https://shop.example/p%00x/a?utm_source=a%00b&utm_%00=c"), pageview(0, "https://shop.example/p%ff%fex/b?utm_term=%ff")),
			stored: 2, check: func(t *testing.T, evs []models.Event) {
				for _, e := range evs {
					for _, s := range append([]string{e.Path, e.PathGroup}, flatten(e.UTM)...) {
						if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) || !strings.HasPrefix(e.Path, "/") {
							t.Errorf("stored %q of path %q", s, e.Path)
						}
					}
				}
			}},
		{name: "an unusable url", body: collectBody(visitor, "", pageview(0, "javascript:alert(1)")),
			dropped: map[string]int64{models.ReasonBadShape: 1}},
		{name: "goals", body: collectBody(visitor, "",
			`{"type":"goal","ts":`+at(0)+`,"name":" Sign-Up "}`,
			`{"type":"goal","ts":`+at(0)+`,"name":"jane@example.com"}`,
			`{"type":"goal","ts":`+at(0)+`,"name":"x'); DROP TABLE personas;--"}`,
			`{"type":"goal","ts":`+at(0)+`,"name":"4111 1111 1111 1111"}`),
			stored: 1, dropped: map[string]int64{models.ReasonBadShape: 3},
			check: func(t *testing.T, evs []models.Event) {
				if evs[0].Goal != "sign-up" || evs[0].Path != "" {
					t.Errorf("goal %q path %q, want sign-up and no path", evs[0].Goal, evs[0].Path)
				}
			}},
		{name: "leave", body: collectBody(visitor, "",
			`{"type":"leave","ts":`+at(0)+`,"url":"https://shop.example/","duration_ms":30000,"scroll_depth":0.8}`),
			stored: 1, check: func(t *testing.T, evs []models.Event) {
				e := evs[0]
				if e.DurationMS == nil || *e.DurationMS != 30000 || e.ScrollDepth == nil || *e.ScrollDepth != 0.8 {
					t.Errorf("duration %v scroll %v, want 30000 and 0.8", e.DurationMS, e.ScrollDepth)
				}
			}},
		{name: "device and hours from the browser", ua: mobileUA,
			body:   collectBody(visitor, `{"tz":"Europe/Paris","screen":[390,844]}`, pageview(0, "https://shop.example/")),
			stored: 1, check: func(t *testing.T, evs []models.Event) {
				e := evs[0]
				if e.Device != "mobile" || e.Hour != 13 || e.Weekday != int(time.Monday) {
					t.Errorf("device %q hour %d weekday %d, want mobile, 13 (Paris) and Monday", e.Device, e.Hour, e.Weekday)
				}
			}},
		{name: "a time zone that is a path", ua: desktopUA,
			body:   collectBody(visitor, `{"tz":"../../etc/passwd","screen":[1440,900]}`, pageview(0, "https://shop.example/")),
			stored: 1, check: func(t *testing.T, evs []models.Event) {
				if e := evs[0]; e.Device != "desktop" || e.Hour != 12 {
					t.Errorf("device %q hour %d, want desktop and 12 (UTC)", e.Device, e.Hour)
				}
			}},
		{name: "pseudonymous ids", body: collectBody(visitor, "", pageview(0, "https://shop.example/"), pageview(0, "https://shop.example/x")),
			stored: 2, check: func(t *testing.T, evs []models.Event) {
				p := testProject()
				want := testIndex.VisitorHash(p.ID.String(), visitor)
				for _, e := range evs {
					if !bytes.Equal(e.VisitorHash, want) || e.ProjectID != p.ID {
						t.Errorf("visitor hash %x of project %s, want %x of %s", e.VisitorHash, e.ProjectID, want, p.ID)
					}
					if bytes.Contains(e.SessionHash, []byte("s1")) || len(e.SessionHash) == 0 || bytes.Equal(e.SessionHash, e.VisitorHash) {
						t.Errorf("session hash %x", e.SessionHash)
					}
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProject()
			if tt.project != nil {
				tt.project(&p)
			}
			req, err := ingest.ParsePayload(tt.body)
			if err != nil {
				t.Fatalf("ParsePayload: %v", err)
			}
			b := ingest.Prepare(testIndex, p, tt.ua, req, testNow)
			if b.ProjectID != p.ID || !b.Day.Equal(testNow) || b.ByEventDay {
				t.Errorf("batch of project %s day %v by event day %v, want %s, %v, false", b.ProjectID, b.Day, b.ByEventDay, p.ID, testNow)
			}
			if len(b.Events) != tt.stored {
				t.Fatalf("%d events kept, want %d (dropped %v)", len(b.Events), tt.stored, b.Dropped)
			}
			want := tt.dropped
			if want == nil {
				want = map[string]int64{}
			}
			if d := cmp.Diff(want, b.Dropped); d != "" {
				t.Errorf("dropped (-want +got):\n%s", d)
			}
			if kept := int64(len(b.Events)) + sum(b.Dropped); kept != int64(len(req.Events)) {
				t.Errorf("%d events accounted for, %d sent", kept, len(req.Events))
			}
			for r := range b.Dropped {
				if !contains(models.DropReasons, r) {
					t.Errorf("drop reason %q is not one of models.DropReasons", r)
				}
			}
			if tt.check != nil {
				tt.check(t, b.Events)
			}
		})
	}
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func flatten(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

// TestInlineEventsCountAsCollected: classify's inline events, normalised by ForBrowser, are
// the events collect would store from the same browser request.
func TestInlineEventsCountAsCollected(t *testing.T) {
	p := testProject()
	cc := `{"tz":"America/New_York","screen":[820,1180]}`
	req, err := ingest.ParsePayload(collectBody("00000000-v", cc,
		pageview(0, "https://shop.example/p/7?utm_campaign=x"), clickOn(`{"tag":"a","text":"More","attrs":{"href":"/p/8"}}`)))
	if err != nil {
		t.Fatal(err)
	}
	b := ingest.Prepare(testIndex, p, mobileUA, req, testNow)
	n := ingest.ForBrowser(testIndex, p, mobileUA, req.Context, testNow)
	for i := range req.Events {
		ev, reason := n.Normalize(&req.Events[i], req.VisitorID, req.SessionID)
		if reason != "" {
			t.Fatalf("event %d dropped: %s", i, reason)
		}
		if d := cmp.Diff(b.Events[i], ev); d != "" {
			t.Errorf("event %d differs from collect's (-collect +inline):\n%s", i, d)
		}
	}
}
