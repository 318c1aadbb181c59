package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/api"
	"personas/ingest"
	"personas/internal/residue"
	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/models"
)

// importFile posts body to the import endpoint with query (format, dry_run).
func importFile(t *testing.T, srv *testserver.Server, a testserver.Account, query, body string) testserver.Response {
	t.Helper()
	return importPostQuery(t, srv, a.ProjectID.String(), a.Token, query, strings.NewReader(body))
}

func importPostQuery(t *testing.T, srv *testserver.Server, projectID, token, query string, body *strings.Reader) testserver.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/projects/"+projectID+"/import?"+query, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	return testserver.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// fixture reads a file of ingest/testdata with its time stamps moved so that its first visit
// happened three days ago (the files hold fixed dates around 18 November 2026; the service's
// clock is the machine's). Seconds (Matomo) and microseconds (GA4) starting with 17 are moved;
// the rest of the file is left byte for byte.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../ingest/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	const base = 1795000000
	delta := time.Now().Add(-3*24*time.Hour).Unix() - base
	shift := func(re string, scale int64) func(string) string {
		return func(s string) string {
			v, _ := strconv.ParseInt(s, 10, 64)
			return strconv.FormatInt(v+delta*scale, 10)
		}
	}
	out := regexp.MustCompile(`\b17\d{14}\b`).ReplaceAllStringFunc(string(b), shift("us", 1_000_000))
	return regexp.MustCompile(`\b17\d{8}\b`).ReplaceAllStringFunc(out, shift("s", 1))
}

// plantedValues are the personal values of the fixtures: none may be stored, exported or
// logged, in any form.
var plantedValues = []string{"203.0.113.77", "198.51.100.23", "203.0.113.78", "2001:db8::77", "jane.doe+shop@example.com",
	"Planted-Surname", "+44 20 7946 0958", "CUST-998877-PLANTED", "ORDER-PLANTED-77", "a1b2c3d4e5f60718", "0f9e8d7c6b5a4321",
	"1234abcd5678ef90", "987654321.1600000000", "555.1600000000", "5041e282fc23fef1", "PlantedBrowser", "Plantedton", "Pixel 8"}

// checkNothingPlanted searches a pg_dump of the data database, the decrypted exports of the
// visitors and the service's logs for every form of every planted value.
func checkNothingPlanted(t *testing.T, srv *testserver.Server, a testserver.Account, source string, sourceIDs []string) {
	t.Helper()
	im := ingest.NewImport(srv.Store.Index(), models.Project{ID: a.ProjectID}, time.Now())
	var exports strings.Builder
	for _, id := range sourceIDs {
		r := srv.Do(t, testserver.Request{Method: "GET", Token: a.Token,
			Path: "/v1/projects/" + a.ProjectID.String() + "/visitors/" + im.SourceVisitorID(source, id) + "/export"})
		if r.Status != http.StatusOK {
			t.Fatalf("export of %s visitor %s: %d %s", source, id, r.Status, r.Body)
		}
		var exp models.VisitorExport
		r.JSON(t, &exp)
		if len(exp.Events) == 0 {
			t.Errorf("the export of %s visitor %s is empty: the mapped id finds no events", source, id)
		}
		b, _ := json.Marshal(exp) // decoded once more: no \u escapes hide a match
		exports.Write(b)
	}
	places := map[string]string{"pg_dump": testenv.PGDump(t, srv.DataURL, "--no-owner", "--no-privileges"),
		"keys pg_dump": testenv.PGDump(t, srv.KeysURL, "--no-owner", "--no-privileges"),
		"export":       exports.String(), "logs": srv.Logs.String()}
	for _, v := range plantedValues {
		for _, form := range piiForms(v) {
			for place, text := range places {
				if strings.Contains(strings.ToLower(text), strings.ToLower(form)) {
					t.Errorf("planted %q leaked into %s as %q", v, place, form)
				}
			}
		}
	}
}

func projectRows(t *testing.T, srv *testserver.Server, a testserver.Account) residue.Counts {
	t.Helper()
	c, err := residue.Project(context.Background(), srv.Pool, a.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestImportMatomoAndGA4 imports the two fixtures through the API: a dry run first reports
// the same counts as the import and adds no row anywhere; the import stores the accepted
// events, counts the rejected ones under their reasons, and leaves none of the personal data
// planted in every field of the files in the database, the decrypted exports or the logs.
func TestImportMatomoAndGA4(t *testing.T) {
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)
	tests := []struct {
		format, file string
		want         api.ImportReport
		source       string
		visitors     []string
	}{
		{format: "matomo", file: "matomo-visits.json", source: "matomo", visitors: []string{"a1b2c3d4e5f60718", "0f9e8d7c6b5a4321"},
			want: api.ImportReport{Format: "matomo", Records: 5, Accepted: 16, Rejected: 4, Skipped: 2,
				RejectedByReason: map[string]int64{models.ReasonBadShape: 3, models.ReasonTooOld: 1}}},
		{format: "ga4", file: "ga4-events.jsonl", source: "ga4", visitors: []string{"987654321.1600000000", "555.1600000000"},
			want: api.ImportReport{Format: "ga4", Records: 14, Accepted: 9, Rejected: 3, Skipped: 2,
				RejectedByReason: map[string]int64{models.ReasonBadShape: 2, models.ReasonTooOld: 1}}},
	}
	stored := int64(0)
	for _, tt := range tests {
		body := fixture(t, tt.file)
		before := projectRows(t, srv, a)
		r := importFile(t, srv, a, "format="+tt.format+"&dry_run=true", body)
		if r.Status != http.StatusOK {
			t.Fatalf("%s dry run: %d %s", tt.format, r.Status, r.Body)
		}
		var dry api.ImportReport
		r.JSON(t, &dry)
		want := tt.want
		want.DryRun = true
		if diff := cmp.Diff(want, dry, cmpIgnoreErrors); diff != "" {
			t.Errorf("%s dry run (-want +got):\n%s", tt.format, diff)
		}
		if diff := cmp.Diff(before, projectRows(t, srv, a)); diff != "" {
			t.Errorf("the %s dry run wrote rows (-before +after):\n%s", tt.format, diff)
		}

		r = importFile(t, srv, a, "format="+tt.format, body)
		if r.Status != http.StatusOK {
			t.Fatalf("%s import: %d %s", tt.format, r.Status, r.Body)
		}
		var got api.ImportReport
		r.JSON(t, &got)
		if diff := cmp.Diff(tt.want, got, cmpIgnoreErrors); diff != "" {
			t.Errorf("%s import (-want +got):\n%s", tt.format, diff)
		}
		if int64(len(got.Errors)) != got.Rejected {
			t.Errorf("%s: %d errors listed for %d rejected", tt.format, len(got.Errors), got.Rejected)
		}
		for _, e := range got.Errors {
			if e.Line < 1 || e.Reason == "" || strings.Contains(e.Reason, "jane") {
				t.Errorf("%s: error %+v: want a record number and a reason that quotes nothing of the file", tt.format, e)
			}
		}
		stored += tt.want.Accepted
		if n := eventCount(t, srv, a.ProjectID); n != stored {
			t.Errorf("after the %s import: %d events stored, want %d", tt.format, n, stored)
		}
	}
	stats := ingestStats(t, srv, a.ProjectID)
	if stats[models.ReasonStored] != 25 || stats[models.ReasonBadShape] != 5 || stats[models.ReasonTooOld] != 2 {
		t.Errorf("delivery counters %v: want 25 stored, 5 bad_shape, 2 too_old (the dry runs counted nothing)", stats)
	}
	for _, tt := range tests {
		checkNothingPlanted(t, srv, a, tt.source, tt.visitors)
	}
}

var cmpIgnoreErrors = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Errors" }, cmp.Ignore())

// TestImportFormatErrors: an unknown format, a file that is not of its format, a truncated
// or malformed file and a line too long answer 400 with a code and a message that says where;
// what was rejected is not stored, and the message says how many events were stored before
// the break (the batches committed before it, 2,000 events each, stay).
func TestImportFormatErrors(t *testing.T) {
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)
	ts := time.Now().Add(-time.Hour).Unix()
	visit := func(i int) string {
		return fmt.Sprintf(`{"idVisit":%d,"visitorId":"v%d","actionDetails":[{"type":"action","url":"https://shop.example/p/%d","timeSpent":"3","timestamp":%d}]}`, i, i%50, i, ts)
	}
	var many strings.Builder
	many.WriteString("[")
	for i := range 1500 { // two events a visit: one batch of 2,000 is committed, 1,000 are pending
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(visit(i))
	}
	many.WriteString(",{\"idVisit\":") // cut inside the next visit
	ga4Row := fmt.Sprintf(`{"event_name":"page_view","event_timestamp":%d,"user_pseudo_id":"p","event_params":[{"key":"page_location","value":{"string_value":"https://shop.example/"}}]}`, ts*1_000_000)

	tests := []struct {
		name, query, body string
		status            int
		code              string
		message           string // a part of the message
		stored            int64  // events stored by it
	}{
		{"unknown format", "format=csv", "a,b\n", 400, "unknown_format", "use ndjson, matomo or ga4", 0},
		{"dry_run not a boolean", "format=matomo&dry_run=maybe", "[]", 400, "bad_request", "dry_run must be true or false", 0},
		{"not a Matomo file", "format=matomo", `{"visits":[` + visit(1) + `]}`, 400, "not_matomo", "JSON array of visits", 0},
		{"Matomo's error answer", "format=matomo", `{"result":"error","message":"token_auth is invalid"}`, 400, "not_matomo", "error answer", 0},
		{"NDJSON sent as Matomo", "format=matomo", ga4Row + "\n" + ga4Row, 400, "not_matomo", "not a Matomo file", 0},
		{"empty Matomo file", "format=matomo", "", 400, "empty", "empty body", 0},
		{"truncated after a few visits", "format=matomo", "[" + visit(1) + "," + visit(2) + ",{\"idVisit\":3", 400, "truncated", "ends inside visit 3; 0 events were stored before it", 0},
		{"malformed", "format=matomo", "[" + visit(1) + ",}", 400, "malformed", "malformed JSON in visit 2", 0},
		{"truncated after a committed batch", "format=matomo", many.String(), 400, "truncated", "ends inside visit 1501; 2000 events were stored before it", 2000},
		{"dry run of a truncated file", "format=matomo&dry_run=true", many.String(), 400, "truncated", "dry run: nothing was stored", 0},
		{"a Matomo array sent as GA4", "format=ga4", "[" + visit(1) + "]", 400, "not_ga4", "newline-delimited JSON", 0},
		{"Matomo visits sent as GA4 lines", "format=ga4", visit(1) + "\n" + visit(2), 400, "not_ga4", "event_name", 0},
		{"GA4 line too long", "format=ga4", ga4Row + "\n" + strings.Repeat("x", ingest.MaxGA4Line+10), 400, "too_long", "line 2 is longer than 262144 bytes; 0 events were stored", 0},
		{"NDJSON line too long", "", strings.Repeat("x", ingest.MaxImportLine+10), 400, "too_long", "line 1 is longer than 16384 bytes", 0},
	}
	stored := int64(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := importFile(t, srv, a, tt.query, tt.body)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			r.JSON(t, &e)
			if r.Status != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("%d %s %q, want %d %s with %q", r.Status, e.Error.Code, e.Error.Message, tt.status, tt.code, tt.message)
			}
			stored += tt.stored
			if n := eventCount(t, srv, a.ProjectID); n != stored {
				t.Errorf("%d events stored, want %d", n, stored)
			}
		})
	}
}
