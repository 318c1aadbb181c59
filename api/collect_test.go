package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/models"
)

// collectPost sends a raw collect body. ctype "" sends no Content-Type; chunked hides the
// length so only the server's reader can see the size.
func collectPost(t testing.TB, srv *testserver.Server, origin, ctype string, body []byte, chunked bool) testserver.Response {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // not a type http.NewRequest can size
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/collect", r)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return testserver.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// eventCount counts a project's stored events.
func eventCount(t testing.TB, srv *testserver.Server, projectID uuid.UUID) int64 {
	t.Helper()
	var n int64
	if err := srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE project_id = $1`, projectID).Scan(&n); err != nil {
		t.Fatalf("count events: %v", err)
	}
	return n
}

// ingestStats sums a project's delivery counters by reason.
func ingestStats(t testing.TB, srv *testserver.Server, projectID uuid.UUID) map[string]int64 {
	t.Helper()
	return srv.Tally(t, ingestStatsByReason, projectID)
}

// ingestStatsByReason sums a project's delivery counters by reason.
const ingestStatsByReason = `SELECT reason, sum(events)::bigint FROM ingest_stats WHERE project_id = $1 GROUP BY reason`

// droppedMetric reads personas_collect_dropped_events_total for a reason from /metrics.
func droppedMetric(t testing.TB, srv *testserver.Server, reason string) float64 {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/metrics"})
	if r.Status != http.StatusOK {
		t.Fatalf("/metrics answered %d", r.Status)
	}
	prefix := `personas_collect_dropped_events_total{reason="` + reason + `"} `
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", sc.Text(), err)
			}
			return f
		}
	}
	return 0
}

// settings changes a project's settings directly in the store and drops the API's cached copy.
func settings(t testing.TB, srv *testserver.Server, projectID uuid.UUID, siteKey string, set models.Settings) {
	t.Helper()
	if _, err := srv.Store.UpdateSettings(context.Background(), projectID, set); err != nil {
		t.Fatalf("update settings: %v", err)
	}
	srv.API.EvictProject(siteKey)
}

func body(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func payload(siteKey, visitor string, events ...map[string]any) map[string]any {
	return map[string]any{"site_key": siteKey, "visitor_id": visitor, "session_id": "s-" + visitor,
		"context": map[string]any{"lang": "en-GB", "tz": "Europe/Paris", "screen": []int{1440, 900}}, "events": events}
}

func pageview(ts int64, u string) map[string]any {
	return map[string]any{"type": "pageview", "ts": ts, "url": u, "referrer": "https://www.google.com/"}
}

func click(ts int64, u string, el map[string]any) map[string]any {
	return map[string]any{"type": "click", "ts": ts, "url": u, "element": el}
}

// visitorIn starts with eight zero hex digits: inside any sample rate above zero.
func visitorIn(name string) string { return "00000000-" + name }

// TestHostileCollectRequests sends requests an attacker or a broken client could send, and
// checks the exact status, how many events were stored, and how the drops were counted.
func TestHostileCollectRequests(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "a@example.com", false)
	b := srv.NewAccount(t, "b@example.com", false)
	settings(t, srv, a.ProjectID, a.SiteKey, models.Settings{SampleRate: new(0.5),
		ExcludedSelectors: &[]string{".promo", "#secret-offer", "aside"}})
	settings(t, srv, b.ProjectID, b.SiteKey, models.Settings{AllowedOrigins: &[]string{"https://b.example"}})

	now := time.Now().UnixMilli()
	page := testserver.Origin + "/p/42"
	good := func(visitor string, n int) []byte {
		evs := make([]map[string]any, n)
		for i := range evs {
			evs[i] = pageview(now-int64(i), fmt.Sprintf("%s/page/%d", testserver.Origin, i))
		}
		return body(payload(a.SiteKey, visitorIn(visitor), evs...))
	}
	withJSON := func(visitor string, events string) []byte {
		return []byte(`{"site_key":"` + a.SiteKey + `","visitor_id":"` + visitorIn(visitor) + `","session_id":"s","events":[` + events + `]}`)
	}
	const inject = `'); DROP TABLE events; -- <script>alert(document.cookie)</script>`

	tests := []struct {
		name    string
		origin  string // "" for testserver.Origin, "-" for none
		ctype   string // "" for text/plain, "-" for none
		chunked bool
		body    []byte
		status  int
		code    string           // error code of a 4xx/5xx answer
		stored  int64            // events added to project A
		countA  map[string]int64 // ingest_stats added to project A
		countB  map[string]int64 // ingest_stats added to project B
	}{
		{name: "good batch", body: good("good", 3), status: 204, stored: 3, countA: map[string]int64{"stored": 3}},
		{name: "json content type", ctype: "application/json", body: good("json", 1), status: 204, stored: 1,
			countA: map[string]int64{"stored": 1}},
		{name: "content type with charset", ctype: "text/plain;charset=UTF-8", body: good("charset", 1), status: 204, stored: 1,
			countA: map[string]int64{"stored": 1}},
		{name: "no content type", ctype: "-", body: good("noct", 1), status: 204, stored: 1, countA: map[string]int64{"stored": 1}},
		{name: "wrong content type", ctype: "application/x-www-form-urlencoded", body: good("form", 2), status: 415,
			code: "unsupported_media_type"},
		{name: "multipart content type", ctype: "multipart/form-data; boundary=x", body: good("mp", 2), status: 415,
			code: "unsupported_media_type"},
		{name: "malformed JSON", body: []byte(`{"site_key":"` + a.SiteKey + `","events":[{"type":"pageview",`), status: 400, code: "bad_request"},
		{name: "not an object", body: []byte(`[1,2,3]`), status: 400, code: "bad_request"},
		{name: "empty body", body: nil, status: 400, code: "bad_request"},
		{name: "two objects", body: append(good("two", 1), good("two", 1)...), status: 400, code: "bad_request"},
		{name: "oversized body", body: body(payload(a.SiteKey, visitorIn("big"), click(now, page,
			map[string]any{"tag": "p", "text": strings.Repeat("x", 70<<10)}))), status: 413, code: "too_large"},
		{name: "oversized chunked body", chunked: true, body: body(payload(a.SiteKey, visitorIn("bigc"), click(now, page,
			map[string]any{"tag": "p", "text": strings.Repeat("x", 70<<10)}))), status: 413, code: "too_large"},
		{name: "1,000 events", body: withJSON("many", strings.TrimSuffix(strings.Repeat(`{"type":"goal","ts":1,"name":"a"},`, 1000), ",")),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1000}},
		{name: "201 events", body: good("201", 201), status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 201}},
		{name: "200 events", body: good("200", 200), status: 204, stored: 200, countA: map[string]int64{"stored": 200}},
		{name: "no events", body: good("none", 0), status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "deep nesting", body: []byte(`{"site_key":"` + a.SiteKey + `","visitor_id":"v","session_id":"s","context":{"screen":` +
			strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `},"events":[]}`), status: 400, code: "bad_request"},
		{name: "nested object in attrs", body: withJSON("nest", `{"type":"click","ts":`+strconv.FormatInt(now, 10)+
			`,"url":"`+page+`","element":{"tag":"a","attrs":{"title":{"a":{"b":{"c":[1,[2,[3]]]}}}}}}`),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "invalid UTF-8", body: withJSON("utf8", `{"type":"goal","ts":`+strconv.FormatInt(now, 10)+`,"name":"a`+"\xff\xfe"+`"}`),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "unknown event type", body: withJSON("type", `{"type":"pageview","ts":`+strconv.FormatInt(now, 10)+`,"url":"`+page+
			`"},{"type":"keystroke","ts":`+strconv.FormatInt(now, 10)+`,"url":"`+page+`"}`),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 2}},
		{name: "unknown top-level field", body: []byte(`{"site_key":"` + a.SiteKey + `","visitor_id":"v","session_id":"s","ip":"1.2.3.4","events":[{"type":"goal","ts":1,"name":"a"}]}`),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "unknown element field (value)", body: withJSON("value", `{"type":"click","ts":`+strconv.FormatInt(now, 10)+
			`,"url":"`+page+`","element":{"tag":"input","value":"hunter2","password":"x"}}`),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "event names its own visitor", body: withJSON("own", `{"type":"goal","ts":1,"name":"a","visitor_id":"other"}`),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "click without element", body: withJSON("noel", `{"type":"click","ts":1,"url":"`+page+`"}`),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "scroll depth out of range", body: withJSON("scroll", `{"type":"leave","ts":1,"url":"`+page+`","scroll_depth":7}`),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "visitor id with spaces", body: body(payload(a.SiteKey, "a visitor", pageview(now, page))),
			status: 400, code: "bad_request", countA: map[string]int64{"bad_shape": 1}},
		{name: "wrong origin", origin: "https://evil.example", body: good("evil", 4), status: 403, code: "origin",
			countA: map[string]int64{"origin": 4}},
		{name: "origin differing only by scheme", origin: "http://shop.example", body: good("scheme", 1), status: 403, code: "origin",
			countA: map[string]int64{"origin": 1}},
		{name: "origin as a suffix", origin: "https://shop.example.evil.example", body: good("suffix", 1), status: 403, code: "origin",
			countA: map[string]int64{"origin": 1}},
		{name: "no origin nor referer", origin: "-", body: good("noorigin", 2), status: 403, code: "origin",
			countA: map[string]int64{"origin": 2}},
		{name: "another project's key", body: body(payload(b.SiteKey, visitorIn("b"), pageview(now, page), pageview(now, page))),
			status: 403, code: "origin", countB: map[string]int64{"origin": 2}},
		{name: "unknown site key", body: body(payload("pk_doesnotexist", visitorIn("x"), pageview(now, page))), status: 403, code: "site_key"},
		{name: "SQL in the site key", body: body(payload("pk_' OR '1'='1", visitorIn("x"), pageview(now, page))), status: 400, code: "bad_request"},
		{name: "NUL bytes in path and campaign", body: body(payload(a.SiteKey, visitorIn("nul"),
			pageview(now, testserver.Origin+"/p%00x/a?utm_source=a%00b&utm_%00=c"), pageview(now, testserver.Origin+"/p%ff%fex/b?utm_term=%ff"))),
			status: 204, stored: 2, countA: map[string]int64{"stored": 2}},
		{name: "clock skew", body: body(payload(a.SiteKey, visitorIn("skew"),
			pageview(now-49*3600*1000, page), pageview(now+6*60*1000, page), pageview(now, page), pageview(now+4*60*1000, page))),
			status: 204, stored: 2, countA: map[string]int64{"stored": 2, "too_old": 1, "ahead": 1}},
		{name: "all too old", body: body(payload(a.SiteKey, visitorIn("old"), pageview(1000, page))),
			status: 204, countA: map[string]int64{"too_old": 1}},
		{name: "sampled out visitor", body: body(payload(a.SiteKey, "ffffffff-out", pageview(now, page), pageview(now, page))),
			status: 204, countA: map[string]int64{"sampled": 2}},
		{name: "excluded selectors", body: body(payload(a.SiteKey, visitorIn("excl"),
			click(now, page, map[string]any{"tag": "div", "classes": []string{"card", "promo"}, "text": "50% off"}),
			click(now, page, map[string]any{"tag": "a", "id": "secret-offer", "text": "secret"}),
			click(now, page, map[string]any{"tag": "aside", "text": "sidebar"}),
			click(now, page, map[string]any{"tag": "button", "classes": []string{"buy"}, "text": "Buy"}))),
			status: 204, stored: 1, countA: map[string]int64{"stored": 1, "excluded": 3}},
		{name: "injection in every field", body: body(map[string]any{
			"site_key": a.SiteKey, "visitor_id": visitorIn("x'--"), "session_id": "s';DROP",
			"context": map[string]any{"lang": "en'--", "tz": "../../etc/passwd", "screen": []int{1, 2}},
			"events": []map[string]any{
				{"type": "pageview", "ts": now, "url": testserver.Origin + "/search/" + url.PathEscape(inject) + "?q=" + url.QueryEscape(inject) + "&utm_source=" + url.QueryEscape(inject),
					"referrer": "https://evil.example/" + url.PathEscape(inject)},
				click(now, testserver.Origin+"/p/1", map[string]any{"tag": "button><script>", "id": "x' OR 1=1", "classes": []string{"ok", "x' OR 1=1--", "<b>"},
					"text": inject, "selector": inject, "attrs": map[string]string{"title": inject, "onclick": "alert(1)", "x' OR 1=1; --": "x", "href": "javascript:alert(1)"}}),
				{"type": "goal", "ts": now, "name": "x'); DROP TABLE personas;--"},
				{"type": "leave", "ts": now, "url": testserver.Origin + "/p/1", "duration_ms": 1000, "scroll_depth": 0.5},
			}}), status: 204, stored: 3, countA: map[string]int64{"stored": 3, "bad_shape": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin, ctype := tt.origin, tt.ctype
			switch origin {
			case "":
				origin = testserver.Origin
			case "-":
				origin = ""
			}
			switch ctype {
			case "":
				ctype = "text/plain"
			case "-":
				ctype = ""
			}
			beforeA, beforeB := ingestStats(t, srv, a.ProjectID), ingestStats(t, srv, b.ProjectID)
			storedA, storedB := eventCount(t, srv, a.ProjectID), eventCount(t, srv, b.ProjectID)
			r := collectPost(t, srv, origin, ctype, tt.body, tt.chunked)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.code != "" {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(r.Body, &e); err != nil || e.Error.Code != tt.code || e.Error.Message == "" {
					t.Errorf("error body %s, want code %q and a message", r.Body, tt.code)
				}
			} else if len(r.Body) != 0 {
				t.Errorf("a 204 with a body: %s", r.Body)
			}
			if got := eventCount(t, srv, a.ProjectID) - storedA; got != tt.stored {
				t.Errorf("%d events stored, want %d", got, tt.stored)
			}
			if got := eventCount(t, srv, b.ProjectID) - storedB; got != 0 {
				t.Errorf("%d events stored in project B", got)
			}
			for _, side := range []struct {
				name          string
				id            uuid.UUID
				before, added map[string]int64
			}{{"A", a.ProjectID, beforeA, tt.countA}, {"B", b.ProjectID, beforeB, tt.countB}} {
				after := ingestStats(t, srv, side.id)
				diff := map[string]int64{}
				for k, v := range after {
					if d := v - side.before[k]; d != 0 {
						diff[k] = d
					}
				}
				want := side.added
				if want == nil {
					want = map[string]int64{}
				}
				if d := cmp.Diff(want, diff); d != "" {
					t.Errorf("ingest_stats of project %s changed (-want +got):\n%s", side.name, d)
				}
			}
		})
	}

	t.Run("origin drops in metrics", func(t *testing.T) {
		before := droppedMetric(t, srv, models.ReasonOrigin)
		if r := collectPost(t, srv, "https://evil.example", "text/plain", good("metric", 5), false); r.Status != 403 {
			t.Fatalf("status %d", r.Status)
		}
		if got := droppedMetric(t, srv, models.ReasonOrigin) - before; got != 5 {
			t.Errorf("origin drops in /metrics grew by %v, want 5", got)
		}
	})

	t.Run("referer stands for a missing origin", func(t *testing.T) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/collect", bytes.NewReader(good("referer", 1)))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Referer", testserver.Origin+"/some/page?x=1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Errorf("status %d, want 204", resp.StatusCode)
		}
	})

	t.Run("injected values are data", func(t *testing.T) {
		for _, table := range []string{"events", "personas", "visitor_features", "ingest_stats", "projects"} {
			var ok bool
			if err := srv.Pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
				t.Errorf("table %s is gone (%v)", table, err)
			}
		}
		r := srv.Do(t, testserver.Request{Method: "GET", Token: a.Token,
			Path: "/v1/projects/" + a.ProjectID.String() + "/visitors/" + url.PathEscape(visitorIn("x'--")) + "/export"})
		if r.Status != 200 {
			t.Fatalf("export: %d %s", r.Status, r.Body)
		}
		if bytes.Contains(r.Body, []byte("<script>")) {
			t.Errorf("the export carries markup unescaped: %s", r.Body)
		}
		var exp models.VisitorExport
		r.JSON(t, &exp)
		if len(exp.Events) != 3 {
			t.Fatalf("export has %d events, want 3: %s", len(exp.Events), r.Body)
		}
		var clickEv *models.ExportedEvent
		for i, e := range exp.Events {
			if e.Type == "click" {
				clickEv = &exp.Events[i]
			}
			if e.Goal != "" {
				t.Errorf("the injected goal name was stored as %q", e.Goal)
			}
			for k, v := range e.UTM {
				if k != "utm_source" {
					t.Errorf("query key %q kept", k)
				}
				if v != inject {
					t.Logf("utm_source stored as %q", v)
				}
			}
		}
		if clickEv == nil {
			t.Fatal("no click exported")
		}
		if clickEv.ElTag != "other" {
			t.Errorf("element tag %q, want other", clickEv.ElTag)
		}
		if d := cmp.Diff([]string{"ok"}, clickEv.ElClasses); d != "" {
			t.Errorf("classes (-want +got):\n%s", d)
		}
		if clickEv.ElText != inject {
			t.Errorf("element text %q, want it kept verbatim as data %q", clickEv.ElText, inject)
		}
		for k, v := range clickEv.ElAttrs {
			switch k {
			case "title":
			case "href":
				if strings.Contains(v, "javascript") {
					t.Errorf("a javascript: href was kept: %q", v)
				}
			default:
				t.Errorf("attribute %q=%q kept", k, v)
			}
		}
	})
}

// piiCorpus is personal data in many formats and countries: none of it may be stored, in any
// form. Each entry is what a visitor could leave in a page's text, an attribute or a URL.
var piiCorpus = []struct{ kind, value string }{
	{"email", "jane.doe+shop@example.com"},
	{"email", "Jean-Pierre.Élysée@société.fr"},
	{"email", "o'brien_42@mail.co.uk"},
	{"phone US", "+1 (415) 555-0132"},
	{"phone US national", "(415) 555-0199"},
	{"phone UK", "+44 20 7946 0958"},
	{"phone UK national", "020 7946 0321"},
	{"phone FR", "06 12 34 56 78"},
	{"phone FR intl", "+33 6 12 34 56 79"},
	{"phone DE", "+49 30 90182734"},
	{"phone DE national", "030 901827 35"},
	{"phone IN", "+91 98765 43210"},
	{"phone BR", "+55 11 91234-5678"},
	{"phone JP", "+81 3-1234-5678"},
	{"phone dotted", "415.555.0143"},
	{"card visa", "4111 1111 1111 1111"},
	{"card mastercard", "5500-0000-0000-0004"},
	{"card amex", "378282246310005"},
	{"iban GB", "GB82 WEST 1234 5698 7654 32"},
	{"iban DE", "DE89370400440532013000"},
	{"iban FR", "FR14 2004 1010 0505 0001 3M02 606"},
	{"ipv4", "192.168.10.23"},
	{"ipv6", "2001:db8:85a3::8a2e:370:7334"},
	{"ssn US", "123-45-6789"},
	{"ni UK", "AB 12 34 56 C"},
	{"insee FR", "1 85 05 78 006 084 36"},
	{"dni ES", "12345678Z"},
	{"codice fiscale IT", "RSSMRA85T10A562S"},
	{"cpf BR", "123.456.789-09"},
	{"long digits", "40028922117734"},
	{"bearer", "Bearer abcDEF123456ghiJKL789012mnoPQR"},
	{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},
}

// forms of a personal value that must not appear anywhere: as written, escaped for URLs, and
// its digits alone when it has many.
func piiForms(v string) []string {
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	var digits strings.Builder
	for _, r := range v {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	if digits.Len() >= 8 {
		forms = append(forms, digits.String())
	}
	if i := strings.IndexByte(v, '@'); i > 0 {
		forms = append(forms, v[:i]) // the local part of an address
	}
	return forms
}

// TestCollectLeavesNoPersonalData sends the PII corpus through /v1/collect in element text,
// attributes, URLs (path and query) and referrers, then searches a pg_dump of the database,
// the decrypted export and the logs: nothing personal is left, and the surrounding words are.
func TestCollectLeavesNoPersonalData(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "pii@example.com", false)
	settings(t, srv, a.ProjectID, a.SiteKey, models.Settings{DataAttributes: &[]string{"data-product"},
		AllowedQueryKeys: &[]string{"q"}})
	now := time.Now().UnixMilli()
	visitor := visitorIn("pii-visitor")
	var events []map[string]any
	for i, p := range piiCorpus {
		word := fmt.Sprintf("kangaroo%d", i)
		u := testserver.Origin + "/contact/" + url.PathEscape(p.value) + "/orders?q=" + url.QueryEscape(p.value) +
			"&email=" + url.QueryEscape(p.value) + "&utm_term=" + url.QueryEscape(p.value) + "&utm_source=" + word
		events = append(events,
			map[string]any{"type": "pageview", "ts": now - int64(i), "url": u,
				"referrer": "https://www.google.com/search?q=" + url.QueryEscape(p.value) + "#" + url.PathEscape(p.value)},
			click(now-int64(i), u, map[string]any{
				"tag": "button", "id": "b" + strconv.Itoa(i), "classes": []string{"btn", word},
				"text":     "Call " + word + " at " + p.value + " please",
				"selector": "main > button",
				"attrs": map[string]string{"title": "Write to " + p.value + " now", "aria-label": "Contact " + word + " " + p.value,
					"data-product": p.value + " " + word, "href": "https://shop.example/u/" + url.PathEscape(p.value) + "?q=" + url.QueryEscape(p.value),
					"name": p.value, "alt": word + " " + p.value}}),
		)
		if len(p.value) <= 64 {
			events = append(events, map[string]any{"type": "goal", "ts": now - int64(i), "name": p.value})
		}
	}
	// Form fields: whatever the client claims, their text and labels are not kept.
	for i, tag := range []string{"input", "textarea", "select"} {
		secret := fmt.Sprintf("Secret typed text %d walrus", i)
		events = append(events, click(now, testserver.Origin+"/form", map[string]any{"tag": tag, "text": secret,
			"attrs": map[string]string{"title": secret, "name": secret, "aria-label": secret}}))
	}
	events = append(events, click(now, testserver.Origin+"/form", map[string]any{"tag": "div", "text": "Secret typed text pw walrus",
		"attrs": map[string]string{"type": "password", "title": "Secret typed text pw walrus"}}))
	for start := 0; start < len(events); start += 50 {
		end := min(start+50, len(events))
		srv.Collect(t, a.SiteKey, visitor, "sess-1", events[start:end])
	}

	stored := eventCount(t, srv, a.ProjectID)
	if want := int64(len(events) - len(piiCorpus)); stored < want-int64(len(piiCorpus)) || stored > int64(len(events)) {
		t.Fatalf("stored %d events of %d sent", stored, len(events))
	}
	r := srv.Do(t, testserver.Request{Method: "GET", Token: a.Token,
		Path: "/v1/projects/" + a.ProjectID.String() + "/visitors/" + visitor + "/export"})
	if r.Status != 200 {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	var exp models.VisitorExport
	r.JSON(t, &exp)
	if int64(len(exp.Events)) != stored {
		t.Fatalf("export has %d events, the table %d", len(exp.Events), stored)
	}
	exported, _ := json.Marshal(exp) // decoded once more: no \u escapes hide a match
	places := map[string]string{"pg_dump": testenv.PGDump(t, srv.DataURL, "--no-owner", "--no-privileges"), "export": string(exported), "logs": srv.Logs.String()}
	for _, p := range piiCorpus {
		for _, form := range piiForms(p.value) {
			for place, text := range places {
				if strings.Contains(strings.ToLower(text), strings.ToLower(form)) {
					t.Errorf("%s %q leaked into %s as %q", p.kind, p.value, place, form)
				}
			}
		}
	}
	for _, form := range []string{"Secret typed text", "walrus"} {
		for place, text := range places {
			if strings.Contains(text, form) {
				t.Errorf("form field text %q leaked into %s", form, place)
			}
		}
	}
	// The non-personal words around each value are kept.
	var texts, titles, utm int
	for _, e := range exp.Events {
		if strings.HasPrefix(e.ElText, "Call kangaroo") && strings.HasSuffix(e.ElText, " please") {
			texts++
		}
		if strings.HasPrefix(e.ElAttrs["title"], "Write to ") && strings.HasSuffix(e.ElAttrs["title"], " now") {
			titles++
		}
		if strings.HasPrefix(e.UTM["utm_source"], "kangaroo") {
			utm++
		}
		if e.Type == "pageview" && !strings.HasPrefix(e.Path, "/contact/") {
			t.Errorf("path %q lost its non-personal segments", e.Path)
		}
	}
	if texts != len(piiCorpus) || titles != len(piiCorpus) || utm != len(piiCorpus) {
		t.Errorf("kept surrounding words in %d texts, %d titles and %d utm_source values, want %d each", texts, titles, utm, len(piiCorpus))
	}
	placeholder := regexp.MustCompile(`\[[a-z_]+\]`)
	if n := len(placeholder.FindAllString(string(exported), -1)); n < len(piiCorpus) {
		t.Errorf("only %d typed placeholders in the export", n)
	}
}

// TestExportOneVisitor checks the data-subject access request: one visitor's events and
// aggregates, decrypted, and nothing of another visitor; admins only; other tenants get 404.
func TestExportOneVisitor(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)
	other := srv.NewAccount(t, "other@example.com", false)
	now := time.Now().UnixMilli()
	srv.Collect(t, a.SiteKey, "alice-visitor", "s1", []map[string]any{
		pageview(now-3000, testserver.Origin+"/pricing?utm_source=newsletter&secret=1"),
		click(now-2000, testserver.Origin+"/pricing", map[string]any{"tag": "button", "classes": []string{"cta"},
			"text": "Start the alpaca plan", "attrs": map[string]string{"aria-label": "Alpaca plan"}}),
		{"type": "leave", "ts": now - 1000, "url": testserver.Origin + "/pricing", "duration_ms": 2000, "scroll_depth": 0.75},
		{"type": "goal", "ts": now, "name": "signup"},
	})
	srv.Collect(t, a.SiteKey, "bob-visitor", "s2", []map[string]any{
		pageview(now, testserver.Origin+"/llama-only"),
		click(now, testserver.Origin+"/llama-only", map[string]any{"tag": "a", "text": "Llama secret link"}),
	})
	base := "/v1/projects/" + a.ProjectID.String() + "/visitors/"
	r := srv.Do(t, testserver.Request{Method: "GET", Path: base + "alice-visitor/export", Token: a.Token})
	if r.Status != 200 {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	for _, s := range []string{"llama", "Llama", "bob-visitor", "alice-visitor", "secret"} {
		if bytes.Contains(r.Body, []byte(s)) {
			t.Errorf("export of alice holds %q: %s", s, r.Body)
		}
	}
	var exp models.VisitorExport
	r.JSON(t, &exp)
	var got []string
	for _, e := range exp.Events {
		got = append(got, fmt.Sprintf("%s %s %s %q %v %s", e.Type, e.Path, e.ElTag, e.ElText, e.ElAttrs, e.Goal))
	}
	want := []string{
		`pageview /pricing  "" map[] `,
		`click /pricing button "Start the alpaca plan" map[aria-label:Alpaca plan] `,
		`leave /pricing  "" map[] `,
		`goal   "" map[] signup`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("exported events (-want +got):\n%s", d)
	}
	if exp.Events[0].UTM["utm_source"] != "newsletter" || len(exp.Events[0].UTM) != 1 {
		t.Errorf("utm %v, want only utm_source=newsletter", exp.Events[0].UTM)
	}
	if exp.Features == nil || exp.Features.PageViews != 1 || exp.Features.Clicks != 1 || exp.Features.Goals != 1 {
		t.Errorf("features %+v, want 1 pageview, 1 click, 1 goal", exp.Features)
	}

	r = srv.Do(t, testserver.Request{Method: "GET", Path: base + "nobody/export", Token: a.Token})
	if r.Status != 200 {
		t.Fatalf("export of an unknown visitor: %d %s", r.Status, r.Body)
	}
	var empty models.VisitorExport
	r.JSON(t, &empty)
	if len(empty.Events) != 0 || empty.Features != nil {
		t.Errorf("an unknown visitor exports %s", r.Body)
	}

	_, viewer := srv.Member(t, a.ProjectID, "viewer@example.com", models.RoleViewer)
	_, editor := srv.Member(t, a.ProjectID, "editor@example.com", models.RoleEditor)
	_, admin := srv.Member(t, a.ProjectID, "admin@example.com", models.RoleAdmin)
	for _, c := range []struct {
		name, token string
		status      int
	}{{"viewer", viewer, 403}, {"editor", editor, 403}, {"admin", admin, 200}, {"other tenant", other.Token, 404}, {"anonymous", "", 401}} {
		if r := srv.Do(t, testserver.Request{Method: "GET", Path: base + "alice-visitor/export", Token: c.token}); r.Status != c.status {
			t.Errorf("%s: status %d, want %d", c.name, r.Status, c.status)
		}
	}
}
