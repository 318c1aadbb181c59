package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"personas/models"
	"personas/privacy"
)

// FuzzCollectPayload feeds arbitrary bodies to the collect parser and every accepted event to
// the server-side privacy pass. The parser must never panic, must accept only what the
// contract allows, and what it accepts must survive a round trip; the privacy pass must keep
// its own promises (bounded UTF-8 text, no form-field text, plain goal names, absolute paths).
// Seeds live in testdata/fuzz/FuzzCollectPayload.
func FuzzCollectPayload(f *testing.F) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := now.UnixMilli()
	f.Add([]byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","events":[{"type":"pageview","ts":` +
		jsonNum(ts) + `,"url":"https://shop.example/p/42?utm_source=x&email=a@b.c"}]}`))
	f.Add([]byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","context":{"tz":"Europe/Paris","screen":[390,844]},"events":[{"type":"click","ts":` +
		jsonNum(ts) + `,"url":"https://shop.example/","element":{"tag":"input","text":"jane@example.com","attrs":{"type":"password","name":"pw"}}}]}`))
	f.Add([]byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","events":[{"type":"goal","ts":` + jsonNum(ts) + `,"name":"Sign-Up"}]}`))
	f.Add([]byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","events":[{"type":"leave","ts":1,"url":"https://a/","duration_ms":5,"scroll_depth":0.5}]}`))
	f.Add([]byte("{\"site_key\":\"pk\xff\"}"))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]`))

	index, err := privacy.NewBlindIndex([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	project := models.Project{ID: uuid.MustParse("00000000-0000-4000-8000-000000000001"), SampleRate: 1,
		ExcludedSelectors: []string{".promo", "#x", "aside"}, AllowedQueryKeys: []string{"q"}, DataAttributes: []string{"data-product"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePayload(body)
		if err != nil {
			if _, ok := err.(*ShapeError); !ok {
				t.Fatalf("error %T is not a bad-shape error: %v", err, err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatal("accepted invalid UTF-8")
		}
		if n := len(p.Events); n < 1 || n > MaxEvents {
			t.Fatalf("accepted %d events", n)
		}
		for _, id := range []string{p.SiteKey, p.VisitorID, p.SessionID} {
			if id == "" || len(id) > maxIDLen || strings.ContainsAny(id, " \t\r\n") {
				t.Fatalf("accepted id %q", id)
			}
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := ParsePayload(again); err != nil {
			t.Fatalf("an accepted payload does not parse again: %v\n%s", err, again)
		}
		n := ForBrowser(index, project, "", p.Context, now)
		for i := range p.Events {
			ev, reason := n.Normalize(&p.Events[i], p.VisitorID, p.SessionID)
			if reason != "" {
				continue
			}
			if !utf8.ValidString(ev.ElText) || utf8.RuneCountInString(ev.ElText) > maxTextRunes {
				t.Fatalf("stored text %q", ev.ElText)
			}
			if el := p.Events[i].Element; el != nil && (formTags[ev.ElTag] || strings.EqualFold(el.Attrs["type"], "password")) {
				if ev.ElText != "" {
					t.Fatalf("kept the text %q of a form field", ev.ElText)
				}
				for k := range ev.ElAttrs {
					if k != "type" && k != "role" {
						t.Fatalf("kept attribute %q of a form field", k)
					}
				}
			}
			if ev.Type == models.EventGoal && (!identLike(ev.Goal) || ev.Goal != strings.ToLower(ev.Goal)) {
				t.Fatalf("stored goal %q", ev.Goal)
			}
			if ev.Type != models.EventGoal && !strings.HasPrefix(ev.Path, "/") {
				t.Fatalf("stored path %q", ev.Path)
			}
			for _, v := range []string{ev.Path, ev.PathGroup, ev.Goal, ev.ElTag, ev.Channel, ev.Device} {
				if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
					t.Fatalf("a text column would get %q, which PostgreSQL refuses", v)
				}
			}
			for k, v := range ev.UTM {
				if !utf8.ValidString(k+v) || strings.ContainsRune(k+v, 0) {
					t.Fatalf("utm %q=%q would make jsonb refuse the row", k, v)
				}
				if !strings.HasPrefix(strings.ToLower(k), "utm_") && !strings.EqualFold(k, "q") {
					t.Fatalf("kept query key %q", k)
				}
			}
		}
	})
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// FuzzImportLine feeds arbitrary lines to the import's parser and privacy pass. It must never
// panic; a refused line must be counted under a known drop reason with a message; a stored
// line's event must hold only what PostgreSQL accepts and only the devices the contract names.
// Seeds live in testdata/fuzz/FuzzImportLine.
func FuzzImportLine(f *testing.F) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := jsonNum(now.UnixMilli())
	f.Add([]byte(`{"visitor_id":"v","session_id":"s","type":"pageview","ts":` + ts + `,"url":"https://shop.example/p/1?utm_source=x&q=y&email=a@b.c","device":"mobile","tz":"Europe/Paris"}`))
	f.Add([]byte(`{"visitor_id":"v","session_id":"s","type":"click","ts":` + ts + `,"url":"https://shop.example/","element":{"tag":"textarea","text":"my address","attrs":{"name":"addr"}}}`))
	f.Add([]byte(`{"visitor_id":"v","session_id":"s","type":"goal","ts":1,"name":"old"}`))
	f.Add([]byte(`{"visitor_id":"v","session_id":"s","type":"leave","ts":` + ts + `,"url":"https://a/","duration_ms":1,"scroll_depth":1,"device":"toaster"}`))
	f.Add([]byte("{\"visitor_id\":\"v\xff\"}"))

	index, err := privacy.NewBlindIndex([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	project := models.Project{ID: uuid.MustParse("00000000-0000-4000-8000-000000000002"), SampleRate: 1,
		AllowedQueryKeys: []string{"q"}, Retention: models.Retention{EventsDays: 30}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		im := NewImport(index, project, now)
		ev, rej := im.Line(raw)
		if rej != nil {
			known := false
			for _, r := range models.DropReasons {
				known = known || r == rej.Reason
			}
			if !known || rej.Message == "" {
				t.Fatalf("rejected as %q (%q): not a drop reason with a message", rej.Reason, rej.Message)
			}
			return
		}
		if !utf8.Valid(raw) {
			t.Fatal("stored a line of invalid UTF-8")
		}
		if age := now.Sub(ev.TS); age > 30*24*time.Hour || age < -eventMaxAhead {
			t.Fatalf("stored an event %v old, outside the retention window", age)
		}
		switch ev.Device {
		case "desktop", "mobile", "tablet", "other":
		default:
			t.Fatalf("stored device %q", ev.Device)
		}
		for _, v := range []string{ev.Path, ev.PathGroup, ev.Goal, ev.ElTag, ev.ElText, ev.Channel} {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				t.Fatalf("a text column would get %q, which PostgreSQL refuses", v)
			}
		}
		if formTags[ev.ElTag] && ev.ElText != "" {
			t.Fatalf("kept the text %q of a form field", ev.ElText)
		}
	})
}

// fuzzSource reads body as an import file of format f to its end and checks what the privacy
// pass promises of every record: the reader never panics and stops only on a *StreamError;
// every rejection is a known drop reason with a message; every stored event is within the
// retention window, of a device the contract names, with text PostgreSQL accepts and plain
// goal names, and its visitor is a blind-index hash.
func fuzzSource(t *testing.T, f Format, body []byte) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	index, err := privacy.NewBlindIndex([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	project := models.Project{ID: uuid.MustParse("00000000-0000-4000-8000-000000000003"), SampleRate: 1,
		Retention: models.Retention{EventsDays: 30}}
	src := NewSource(f, bytes.NewReader(body), NewImport(index, project, now))
	for n := 0; ; n++ {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			var se *StreamError
			if !errors.As(err, &se) || se.Code == "" || se.Message == "" {
				t.Fatalf("error %T %v: not a stream error with a code and a message", err, err)
			}
			return
		}
		if n > len(body) {
			t.Fatalf("%d records from %d bytes", n, len(body))
		}
		for _, rej := range rec.Rejected {
			if !slices.Contains(models.DropReasons, rej.Reason) || rej.Message == "" || !utf8.ValidString(rej.Message) {
				t.Fatalf("rejected as %q (%q): not a drop reason with a message", rej.Reason, rej.Message)
			}
		}
		for _, ev := range rec.Events {
			if age := now.Sub(ev.TS); age > 30*24*time.Hour || age < -eventMaxAhead {
				t.Fatalf("stored an event %v old, outside the retention window", age)
			}
			switch ev.Device {
			case "desktop", "mobile", "tablet", "other", "bot":
			default:
				t.Fatalf("stored device %q", ev.Device)
			}
			if len(ev.VisitorHash) != 32 || len(ev.SessionHash) != 32 {
				t.Fatalf("visitor hash of %d bytes", len(ev.VisitorHash))
			}
			for _, v := range []string{ev.Path, ev.PathGroup, ev.Goal, ev.ElTag, ev.ElText, ev.Channel} {
				if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
					t.Fatalf("a text column would get %q, which PostgreSQL refuses", v)
				}
			}
			if ev.Type == models.EventGoal && !identLike(ev.Goal) {
				t.Fatalf("goal %q", ev.Goal)
			}
			if ev.Path != "" && !strings.HasPrefix(ev.Path, "/") {
				t.Fatalf("path %q", ev.Path)
			}
		}
	}
}

// FuzzMatomo feeds arbitrary files to the Matomo reader (Live.getLastVisitsDetails JSON).
// Seeds live in testdata/fuzz/FuzzMatomo (one is a visit of the fixture).
func FuzzMatomo(f *testing.F) {
	f.Add([]byte(`[{"visitorId":"a","idVisit":1,"visitLocalTime":"23:59:59","firstActionTimestamp":1795300000,"actionDetails":[{"type":"action","url":"https://a.example/p/1?utm_source=x","timeSpent":"3","timestamp":1795300000},{"type":"goal","goalName":"Sign up!","timestamp":"1795300005"},{"type":"outlink","url":"mailto:a@b.c"}]}]`))
	f.Add([]byte(`{"result":"error","message":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) { fuzzSource(t, FormatMatomo, body) })
}

// FuzzGA4 feeds arbitrary files to the GA4 reader (BigQuery events_ rows as JSON lines).
// Seeds live in testdata/fuzz/FuzzGA4 (one holds rows of the fixture).
func FuzzGA4(f *testing.F) {
	f.Add([]byte(`{"event_name":"scroll","event_timestamp":1795300000000000,"user_pseudo_id":"p","event_params":[{"key":"page_location","value":{"string_value":"https://a.example/"}},{"key":"percent_scrolled","value":{"double_value":"-1e308"}}]}` + "\n"))
	f.Add([]byte(`{"event_name":"click","event_timestamp":"1795300000000000","user_pseudo_id":7,"event_params":[{"key":"page_location","value":{"string_value":"https://a.example/"}},{"key":"link_classes","value":{"string_value":"a b c"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) { fuzzSource(t, FormatGA4, body) })
}
