package ingest_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/ingest"
	"personas/models"
)

// planted are the personal values the fixtures hold in every field they have: none of them
// may reach a stored event, in any form.
var planted = []string{
	"203.0.113.77", "198.51.100.23", "2001:db8::77", // visitIp
	"jane.doe", "example.com", "Planted-Surname", "7946", "442079460958", // emails, names, phones
	"CUST-998877", "ORDER-PLANTED", // userId, order id
	"a1b2c3d4e5f60718", "0f9e8d7c6b5a4321", "987654321.1600000000", "5041e282fc23fef1", // source visitor ids, fingerprint
	"PlantedBrowser", "Plantedton", "Pixel 8", "Android 14", // device and location
}

// readAll reads every record of a source, up to its end or its first stream error.
func readAll(t *testing.T, src ingest.Source) ([]*ingest.Record, error) {
	t.Helper()
	var recs []*ingest.Record
	for range 100000 {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
	t.Fatal("the source never ended")
	return nil, nil
}

type tally struct {
	Records, Accepted, Skipped int
	Rejected                   map[string]int
	Types                      map[string]int
}

func count(recs []*ingest.Record) tally {
	tl := tally{Rejected: map[string]int{}, Types: map[string]int{}}
	for _, r := range recs {
		tl.Records++
		tl.Accepted += len(r.Events)
		tl.Skipped += r.Skipped
		for _, rej := range r.Rejected {
			tl.Rejected[rej.Reason]++
		}
		for _, e := range r.Events {
			tl.Types[e.Type]++
		}
	}
	return tl
}

func openFixture(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkNoPlanted fails if any planted value is in the stored form of an event.
func checkNoPlanted(t *testing.T, recs []*ingest.Record) {
	t.Helper()
	for _, r := range recs {
		for _, e := range r.Events {
			text := strings.ToLower(fmt.Sprintf("%+v %s %s", e, e.VisitorHash, e.SessionHash))
			for _, p := range planted {
				if strings.Contains(text, strings.ToLower(p)) {
					t.Errorf("record %d: %q is in the stored event %+v", r.N, p, e)
				}
			}
		}
	}
}

// TestMatomoFixture maps the Matomo fixture (Live.getLastVisitsDetails, format=JSON, five
// visits with personal data in every field): page views with a leave carrying the time spent,
// events, downloads and outlinks as clicks, goals and the ecommerce order as goals, site
// searches and abandoned carts skipped; a visit without visitorId, a goal named with an
// address and a visit beyond retention rejected; the visitor ids mapped deterministically.
func TestMatomoFixture(t *testing.T) {
	im := ingest.NewImport(testIndex, testProject(), testNow)
	recs, err := readAll(t, ingest.NewSource(ingest.FormatMatomo, openFixture(t, "matomo-visits.json"), im))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	want := tally{Records: 5, Accepted: 16, Skipped: 2,
		Rejected: map[string]int{models.ReasonBadShape: 3, models.ReasonTooOld: 1},
		Types:    map[string]int{"pageview": 5, "leave": 4, "click": 4, "goal": 3}}
	if diff := cmp.Diff(want, count(recs)); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	checkNoPlanted(t, recs)
	first := recs[0].Events
	var kinds []string
	for _, e := range first {
		kinds = append(kinds, e.Type+" "+e.Path+" "+e.Goal)
	}
	wantKinds := []string{"pageview /p/:id ", "leave /p/:id ", "pageview /account/[email]/orders ", "leave /account/[email]/orders ",
		"click /account/[email]/orders ", "click /account/[email]/orders ", "click /account/[email]/orders ",
		"goal /newsletter/thanks newsletter_signup", "goal /account/[email]/orders purchase"}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("visit 101's events (-want +got):\n%s", diff)
	}
	if d := first[1].DurationMS; d == nil || *d != 45000 || first[1].TS.Sub(first[0].TS).Seconds() != 45 {
		t.Errorf("the first leave: duration %v at +%s, want 45000 ms, 45 s after its page view", d, first[1].TS.Sub(first[0].TS))
	}
	if first[0].Device != "mobile" || first[0].Hour != 12 || first[0].UTM["utm_source"] != "newsletter" || first[0].Channel != "campaign" {
		t.Errorf("first page view: device %q hour %d utm %v channel %q, want mobile, 12 (the visitor's clock), newsletter, campaign",
			first[0].Device, first[0].Hour, first[0].UTM, first[0].Channel)
	}
	if first[4].ElText != "Video: play" || first[5].ElAttrs["href"] == "" || first[6].ElCategory != "link" {
		t.Errorf("clicks: event text %q, download href %q, outlink category %q", first[4].ElText, first[5].ElAttrs["href"], first[6].ElCategory)
	}
	if recs[1].Events[3].Goal != "goal_7" || recs[1].Events[0].Device != "desktop" {
		t.Errorf("visit 102: goal %q device %q, want goal_7 (no name, id 7) and desktop", recs[1].Events[3].Goal, recs[1].Events[0].Device)
	}
	if !bytes.Equal(recs[0].Events[0].VisitorHash, recs[4].Events[0].VisitorHash) ||
		bytes.Equal(recs[0].Events[0].VisitorHash, recs[1].Events[0].VisitorHash) ||
		bytes.Equal(recs[0].Events[0].SessionHash, recs[4].Events[0].SessionHash) {
		t.Error("visits 101 and 105 (one visitorId) must share the visitor and not the session; visit 102 is another visitor")
	}
	again, _ := readAll(t, ingest.NewSource(ingest.FormatMatomo, openFixture(t, "matomo-visits.json"), ingest.NewImport(testIndex, testProject(), testNow)))
	if !bytes.Equal(again[0].Events[0].VisitorHash, recs[0].Events[0].VisitorHash) {
		t.Error("a second import of the file maps the visitor elsewhere")
	}
	if id := im.SourceVisitorID("matomo", "a1b2c3d4e5f60718"); len(id) != 32 || strings.Contains(id, "a1b2c3d4e5f60718") ||
		id == im.SourceVisitorID("ga4", "a1b2c3d4e5f60718") {
		t.Errorf("mapped id %q: want 32 hex digits, not the source id, different per source", id)
	}
}

// TestGA4Fixture maps the GA4 fixture (BigQuery events_ rows as JSON lines, personal data in
// every field): page_view, user_engagement and scroll, click and file_download, add_to_cart
// and purchase as goals; session_start and view_item skipped; a row without user_pseudo_id, a
// truncated line and a row beyond retention rejected.
func TestGA4Fixture(t *testing.T) {
	im := ingest.NewImport(testIndex, testProject(), testNow)
	recs, err := readAll(t, ingest.NewSource(ingest.FormatGA4, openFixture(t, "ga4-events.jsonl"), im))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	want := tally{Records: 14, Accepted: 9, Skipped: 2,
		Rejected: map[string]int{models.ReasonBadShape: 2, models.ReasonTooOld: 1},
		Types:    map[string]int{"pageview": 2, "leave": 3, "click": 2, "goal": 2}}
	if diff := cmp.Diff(want, count(recs)); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	checkNoPlanted(t, recs)
	byType := map[string][]models.Event{}
	for _, r := range recs {
		for _, e := range r.Events {
			byType[e.Type+" "+e.Goal] = append(byType[e.Type+" "+e.Goal], e)
		}
	}
	pv := byType["pageview "][0]
	if pv.Device != "mobile" || pv.Path != "/p/:id" || pv.UTM["utm_source"] != "newsletter" || pv.Channel != "campaign" {
		t.Errorf("page view: device %q path %q utm %v channel %q", pv.Device, pv.Path, pv.UTM, pv.Channel)
	}
	leaves := byType["leave "]
	if len(leaves) != 3 || leaves[0].DurationMS == nil || *leaves[0].DurationMS != 45000 || leaves[1].ScrollDepth == nil || *leaves[1].ScrollDepth != 0.9 {
		t.Errorf("leaves %+v: want 45000 ms engaged, then 90 %% scrolled", leaves)
	}
	if len(byType["goal purchase"]) != 1 || len(byType["goal add_to_cart"]) != 1 {
		t.Errorf("goals %v", byType)
	}
	if clicks := byType["click "]; len(clicks) != 2 || clicks[0].ElCategory != "link" || !strings.Contains(strings.Join(clicks[1].ElClasses, " "), "download") {
		t.Errorf("clicks %+v", clicks)
	}
	if !bytes.Equal(pv.SessionHash, leaves[0].SessionHash) || bytes.Equal(pv.VisitorHash, byType["pageview "][1].VisitorHash) {
		t.Error("ga_session_id must make the session, user_pseudo_id the visitor")
	}
}

// TestMatomoHostile: what is not a Matomo export, or breaks inside one, stops the import with
// the right code and says where; a visit of the wrong shape is rejected alone.
func TestMatomoHostile(t *testing.T) {
	visit := `{"idVisit":1,"visitorId":"abc","firstActionTimestamp":1795000000,"actionDetails":[{"type":"action","url":"https://shop.example/","timestamp":1795000000}]}`
	tests := []struct {
		name     string
		body     string
		code     string // the stream error's, or "" when the file reads to its end
		records  int
		accepted int
		rejected int
	}{
		{name: "empty", body: "", code: "empty"},
		{name: "blank", body: " \n\t", code: "empty"},
		{name: "an object", body: `{"visits":[]}`, code: "not_matomo"},
		{name: "Matomo's error answer", body: `{"result":"error","message":"You can't access this resource as it requires 'view' access"}`, code: "not_matomo"},
		{name: "NDJSON instead", body: `{"type":"pageview"}` + "\n" + `{"type":"pageview"}`, code: "not_matomo"},
		{name: "a number", body: `42`, code: "not_matomo"},
		{name: "XML", body: `<?xml version="1.0"?><result/>`, code: "malformed"},
		{name: "empty array", body: `[]`},
		{name: "one visit", body: "[" + visit + "]", records: 1, accepted: 1},
		{name: "truncated inside a visit", body: "[" + visit + "," + visit[:40], code: "truncated", records: 1, accepted: 1},
		{name: "truncated after a visit", body: "[" + visit, code: "truncated", records: 1, accepted: 1},
		{name: "truncated after a comma", body: "[" + visit + ",", code: "truncated", records: 1, accepted: 1},
		{name: "malformed", body: "[" + visit + ",{]", code: "malformed", records: 1, accepted: 1},
		{name: "trailing data", body: "[" + visit + "] []", code: "malformed", records: 1, accepted: 1},
		{name: "a stray quote after the array", body: `[]"`, code: "malformed"},
		{name: "a visit that is a number", body: "[1," + visit + "]", records: 2, accepted: 1, rejected: 1},
		{name: "a visit that is an array", body: `[[1,2,3]]`, records: 1, rejected: 1},
		{name: "actionDetails a string", body: `[{"visitorId":"a","actionDetails":"none"}]`, records: 1, rejected: 1},
		{name: "no visitorId", body: `[{"idVisit":1,"actionDetails":[{"type":"action","url":"https://a.example/","timestamp":1795000000}]}]`, records: 1, rejected: 1},
		{name: "visitorId with spaces", body: `[{"visitorId":"a b","actionDetails":[]}]`, records: 1, rejected: 1},
		{name: "visitorId too long", body: `[{"visitorId":"` + strings.Repeat("a", 200) + `","actionDetails":[]}]`, records: 1, rejected: 1},
		{name: "numbers as strings and floats", body: `[{"visitorId":"a","idVisit":"7","firstActionTimestamp":"1795000000","actionDetails":[{"type":"action","url":"https://a.example/","timestamp":"1795000000","timeSpent":12.7}]}]`,
			records: 1, accepted: 2},
		{name: "timestamp not a number", body: `[{"visitorId":"a","actionDetails":[{"type":"action","url":"https://a.example/","timestamp":"soon"}]}]`, records: 1, rejected: 1},
		{name: "huge timestamp", body: `[{"visitorId":"a","actionDetails":[{"type":"action","url":"https://a.example/","timestamp":1e300}]}]`, records: 1, rejected: 1},
		{name: "time stamps missing", body: `[{"visitorId":"a","actionDetails":[{"type":"action","url":"https://a.example/"}]}]`, records: 1, rejected: 1},
		{name: "ahead", body: `[{"visitorId":"a","actionDetails":[{"type":"action","url":"https://a.example/","timestamp":1895000000}]}]`, records: 1, rejected: 1},
		{name: "page view without url", body: `[{"visitorId":"a","actionDetails":[{"type":"action","timestamp":1795000000}]}]`, records: 1, rejected: 1},
		{name: "javascript url", body: `[{"visitorId":"a","actionDetails":[{"type":"action","url":"javascript:alert(1)","timestamp":1795000000}]}]`, records: 1, rejected: 1},
		{name: "url too long", body: `[{"visitorId":"a","actionDetails":[{"type":"action","url":"https://a.example/` + strings.Repeat("x", 3000) + `","timestamp":1795000000}]}]`, records: 1, rejected: 1},
		{name: "unknown action types skipped", body: `[{"visitorId":"a","actionDetails":[{"type":"media","timestamp":1795000000},{"type":"form"},{"type":""}]}]`, records: 1},
		{name: "goal name of symbols only", body: `[{"visitorId":"a","actionDetails":[{"type":"goal","goalName":"!!!","timestamp":1795000000}]}]`, records: 1, rejected: 1},
		{name: "goal name with a phone", body: `[{"visitorId":"a","actionDetails":[{"type":"goal","goalName":"Call +44 20 7946 0958","timestamp":1795000000}]}]`, records: 1, rejected: 1},
		{name: "a day on one page", body: `[{"visitorId":"a","actionDetails":[{"type":"action","url":"https://a.example/","timeSpent":999999,"timestamp":1795000000}]}]`, records: 1, accepted: 2},
		{name: "invalid UTF-8 in a url", body: "[{\"visitorId\":\"a\",\"actionDetails\":[{\"type\":\"action\",\"url\":\"https://a.example/\xff\xfe\",\"timestamp\":1795000000}]}]", records: 1, accepted: 1},
		{name: "deep nesting in an ignored field", body: `[{"visitorId":"a","customVariables":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `,"actionDetails":[]}]`, records: 1},
		{name: "a visit too large", body: `[{"visitorId":"a","pad":"` + strings.Repeat("x", ingest.MaxMatomoVisit+100<<10) + `"}]`, code: "too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := ingest.NewImport(testIndex, testProject(), testNow)
			recs, err := readAll(t, ingest.NewSource(ingest.FormatMatomo, strings.NewReader(tt.body), im))
			var se *ingest.StreamError
			switch {
			case tt.code == "" && err != nil:
				t.Fatalf("error %v, want the file read to its end", err)
			case tt.code != "" && !errors.As(err, &se):
				t.Fatalf("error %v, want a stream error %s", err, tt.code)
			case tt.code != "" && se.Code != tt.code:
				t.Fatalf("stream error %s (%s), want %s", se.Code, se.Message, tt.code)
			}
			if se != nil && strings.Contains(se.Message, "alert") {
				t.Errorf("the message quotes the file: %s", se.Message)
			}
			got := count(recs)
			rejected := 0
			for _, n := range got.Rejected {
				rejected += n
			}
			if got.Records != tt.records || got.Accepted != tt.accepted || rejected != tt.rejected {
				t.Errorf("records %d accepted %d rejected %d (%v), want %d, %d, %d", got.Records, got.Accepted, rejected, got.Rejected,
					tt.records, tt.accepted, tt.rejected)
			}
		})
	}
}

// TestGA4Hostile: a GA4 file that is not rows of an events_ export stops at its first line;
// a bad row later is rejected alone; a row too long stops the import.
func TestGA4Hostile(t *testing.T) {
	row := func(fields string) string {
		return `{"event_name":"page_view","event_timestamp":"1795000000000000","user_pseudo_id":"p1","event_params":[{"key":"page_location","value":{"string_value":"https://shop.example/"}}]` + fields + "}"
	}
	good := row("")
	tests := []struct {
		name     string
		body     string
		code     string
		records  int
		accepted int
		rejected int
		skipped  int
	}{
		{name: "empty", body: "", code: "empty"},
		{name: "a JSON array", body: "[" + good + "]", code: "not_ga4"},
		{name: "not an events row", body: `{"visitorId":"a"}` + "\n" + good, code: "not_ga4"},
		{name: "Matomo instead", body: `[{"idVisit":1}]`, code: "not_ga4"},
		{name: "one row", body: good, records: 1, accepted: 1},
		{name: "blank lines and CRLF", body: "\r\n" + good + "\r\n\r\n" + good + "\r\n", records: 2, accepted: 2},
		{name: "a bad row later", body: good + "\n" + `{"event_name":"page_view"}` + "\n" + good, records: 3, accepted: 2, rejected: 1},
		{name: "malformed row later", body: good + "\n{\"event_name\":\n" + good, records: 3, accepted: 2, rejected: 1},
		{name: "two objects on a line", body: good + "\n" + good + good, records: 2, accepted: 1, rejected: 1},
		{name: "invalid UTF-8", body: good + "\n" + row(`,"x":"`+"\xff"+`"`), records: 2, accepted: 1, rejected: 1},
		{name: "timestamp not a number", body: good + "\n" + `{"event_name":"page_view","event_timestamp":"soon","user_pseudo_id":"p"}`, records: 2, accepted: 1, rejected: 1},
		{name: "params not an array", body: good + "\n" + row(`,"event_params":{}`), records: 2, accepted: 1, rejected: 1},
		{name: "double NaN", body: good + "\n" + `{"event_name":"scroll","event_timestamp":1795000000000000,"user_pseudo_id":"p","event_params":[{"key":"percent_scrolled","value":{"double_value":"NaN"}}]}`,
			records: 2, accepted: 1, rejected: 1},
		{name: "no user_pseudo_id", body: good + "\n" + `{"event_name":"page_view","event_timestamp":1795000000000000}`, records: 2, accepted: 1, rejected: 1},
		{name: "page view without page_location", body: `{"event_name":"page_view","event_timestamp":1795000000000000,"user_pseudo_id":"p"}`, records: 1, rejected: 1},
		{name: "engagement without time skipped", body: `{"event_name":"user_engagement","event_timestamp":1795000000000000,"user_pseudo_id":"p"}`, records: 1, skipped: 1},
		{name: "scroll over 100 %", body: `{"event_name":"scroll","event_timestamp":1795000000000000,"user_pseudo_id":"p","event_params":[{"key":"page_location","value":{"string_value":"https://a.example/"}},{"key":"percent_scrolled","value":{"int_value":"400"}}]}`,
			records: 1, accepted: 1},
		{name: "unknown events skipped", body: `{"event_name":"first_visit","event_timestamp":1795000000000000,"user_pseudo_id":"p"}`, records: 1, skipped: 1},
		{name: "a goal", body: `{"event_name":"purchase","event_timestamp":1795000000000000,"user_pseudo_id":"p"}`, records: 1, accepted: 1},
		{name: "a click with too many classes", body: `{"event_name":"click","event_timestamp":1795000000000000,"user_pseudo_id":"p","event_params":[{"key":"page_location","value":{"string_value":"https://a.example/"}},{"key":"link_classes","value":{"string_value":"` + strings.Repeat("c ", 100) + `"}}]}`,
			records: 1, accepted: 1},
		{name: "a line too long", body: good + "\n" + row(`,"pad":"`+strings.Repeat("x", ingest.MaxGA4Line)+`"`), code: "too_long", records: 1, accepted: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := ingest.NewImport(testIndex, testProject(), testNow)
			recs, err := readAll(t, ingest.NewSource(ingest.FormatGA4, strings.NewReader(tt.body), im))
			var se *ingest.StreamError
			switch {
			case tt.code == "" && err != nil:
				t.Fatalf("error %v, want the file read to its end", err)
			case tt.code != "" && !errors.As(err, &se):
				t.Fatalf("error %v, want a stream error %s", err, tt.code)
			case tt.code != "" && se.Code != tt.code:
				t.Fatalf("stream error %s (%s), want %s", se.Code, se.Message, tt.code)
			}
			got := count(recs)
			rejected := 0
			for _, n := range got.Rejected {
				rejected += n
			}
			if got.Records != tt.records || got.Accepted != tt.accepted || rejected != tt.rejected || got.Skipped != tt.skipped {
				t.Errorf("records %d accepted %d rejected %d (%v) skipped %d, want %d, %d, %d, %d", got.Records, got.Accepted, rejected,
					got.Rejected, got.Skipped, tt.records, tt.accepted, tt.rejected, tt.skipped)
			}
		})
	}
}

// TestParseFormat: the default is NDJSON, names are case-blind, anything else is refused
// with the list of formats.
func TestParseFormat(t *testing.T) {
	for in, want := range map[string]ingest.Format{"": ingest.FormatNDJSON, "ndjson": ingest.FormatNDJSON, "Matomo": ingest.FormatMatomo, " ga4 ": ingest.FormatGA4} {
		if got, err := ingest.ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"csv", "ga3", "matomo.json", strings.Repeat("x", 500)} {
		_, err := ingest.ParseFormat(in)
		var se *ingest.ShapeError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "ndjson, matomo or ga4") || len(err.Error()) > 200 {
			t.Errorf("ParseFormat(%q): %v, want a bounded bad-shape error naming the formats", in, err)
		}
	}
}

// TestNDJSONSource: the default format reads as the import always did, and says when a line
// is too long or the body is empty.
func TestNDJSONSource(t *testing.T) {
	im := ingest.NewImport(testIndex, testProject(), testNow)
	good := `{"visitor_id":"v","session_id":"s","type":"pageview","ts":` + at(0) + `,"url":"https://shop.example/"}`
	recs, err := readAll(t, ingest.NewSource(ingest.FormatNDJSON, strings.NewReader(good+"\n\n"+`{"visitor_id":"v"}`+"\n"+good), im))
	if err != nil || len(recs) != 3 || recs[2].N != 4 || count(recs).Accepted != 2 {
		t.Fatalf("records %d (%v), want 3, the last on line 4, two accepted", len(recs), err)
	}
	_, err = readAll(t, ingest.NewSource(ingest.FormatNDJSON, strings.NewReader(good+"\n"+strings.Repeat("x", ingest.MaxImportLine+1)), im))
	var se *ingest.StreamError
	if !errors.As(err, &se) || se.Code != "too_long" || se.N != 2 {
		t.Errorf("a long line: %v, want too_long at line 2", err)
	}
	if _, err = readAll(t, ingest.NewSource(ingest.FormatNDJSON, strings.NewReader(""), im)); !errors.As(err, &se) || se.Code != "empty" {
		t.Errorf("an empty body: %v, want empty", err)
	}
}
