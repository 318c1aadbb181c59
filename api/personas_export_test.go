package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"personas/internal/testserver"
	"personas/models"
)

// exportColumns is the CSV's header, as docs/openapi.yaml documents it.
var exportColumns = []string{"section", "model_version", "persona_id", "persona", "type", "tagline",
	"metric", "label", "value", "unit", "text", "all_visitors", "all_visitors_text", "low", "high", "basis"}

// numericColumns hold numbers only (or nothing).
var numericColumns = map[string]bool{"model_version": true, "value": true, "all_visitors": true, "low": true, "high": true}

// exportCSV is a parsed CSV export: its rows by column name.
type exportCSV []map[string]string

// parseExportCSV checks the CSV's framing (UTF-8 byte-order mark, CRLF, the header, one
// field count) and returns its rows.
func parseExportCSV(t *testing.T, body []byte) exportCSV {
	t.Helper()
	rest, ok := bytes.CutPrefix(body, []byte("\ufeff"))
	if !ok {
		t.Fatalf("CSV does not start with the UTF-8 byte-order mark: %.40q", body)
	}
	if n := bytes.Count(rest, []byte("\n")); n == 0 || bytes.Count(rest, []byte("\r\n")) != n {
		t.Errorf("CSV lines do not all end in CRLF")
	}
	recs, err := csv.NewReader(bytes.NewReader(rest)).ReadAll() // FieldsPerRecord 0: every record as long as the header
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, body)
	}
	if d := cmp.Diff(exportColumns, recs[0]); d != "" {
		t.Fatalf("CSV header (-want +got):\n%s", d)
	}
	var out exportCSV
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, col := range exportColumns {
			row[col] = rec[i]
		}
		out = append(out, row)
	}
	return out
}

// num reads a numeric cell.
func num(t *testing.T, row map[string]string, col string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(row[col], 64)
	if err != nil {
		t.Fatalf("row %v: column %s = %q is not a number", row, col, row[col])
	}
	return v
}

// find returns the rows of a section (and persona, and metric, when not empty).
func (e exportCSV) find(section, persona, metric string) []map[string]string {
	var out []map[string]string
	for _, r := range e {
		if r["section"] == section && (persona == "" || r["persona_id"] == persona) && (metric == "" || r["metric"] == metric) {
			out = append(out, r)
		}
	}
	return out
}

// apiPersona is a persona of GET …/personas with what the export is checked against.
type apiPersona struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Tagline   string    `json:"tagline"`
	Share     float64   `json:"share"`
	Size      int64     `json:"size"`
	Stability *float64  `json:"stability"`
	// The stored aggregates (their field names matched without regard to case).
	Traits struct {
		Traits []struct {
			Feature           string
			Value, Population float64
		}
	} `json:"traits"`
	GoalsLift []struct {
		Goal           string  `json:"goal"`
		Visitors       int     `json:"visitors"`
		Rate           float64 `json:"rate"`
		PopulationRate float64 `json:"population_rate"`
		Lift           float64 `json:"lift"`
		Low            float64 `json:"low"`
		High           float64 `json:"high"`
	} `json:"goals_lift"`
}

func getExport(t *testing.T, srv *testserver.Server, token string, projectID uuid.UUID, query string) testserver.Response {
	t.Helper()
	return srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + projectID.String() + "/personas/export" + query, Token: token})
}

// attachment reads the Content-Disposition's file name; the download must be an attachment.
func attachment(t *testing.T, r testserver.Response) string {
	t.Helper()
	disp, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" {
		t.Fatalf("Content-Disposition %q, want an attachment", r.Header.Get("Content-Disposition"))
	}
	return params["filename"]
}

// TestPersonasExport trains the demo shop twice, renames a persona with a formula, and reads
// the export as CSV and JSON: every figure matches what the API's personas JSON says, shares
// sum to 100 % in every version, the formula is neutralised, the JSON is snake_case, and roles,
// tenancy, bad formats and a project without a model answer as documented.
func TestPersonasExport(t *testing.T) {
	srv := testserver.New(t, testserver.Options{})
	acct := srv.NewAccount(t, "owner@shop.example", false)
	_, viewer := srv.Member(t, acct.ProjectID, "viewer@shop.example", models.RoleViewer)
	other := srv.NewAccount(t, "owner@other.example", false)
	base := "/v1/projects/" + acct.ProjectID.String()

	importVisitors(t, srv, acct.Token, acct.ProjectID, demoVisitors(400, 7))
	if run := trainNow(t, srv, acct.Token, acct.ProjectID); run.Status != "published" {
		t.Fatalf("training: %+v, want published", run)
	}
	var l struct {
		Personas []apiPersona `json:"personas"`
	}
	srv.Do(t, testserver.Request{Method: "GET", Path: base + "/personas", Token: viewer}).JSON(t, &l)
	const hostile = `=HYPERLINK("http://evil.example","x")`
	r := srv.Do(t, testserver.Request{Method: "PATCH", Path: base + "/personas/" + l.Personas[0].ID.String(), Token: acct.Token,
		Body: map[string]string{"name": hostile}})
	if r.Status != http.StatusOK {
		t.Fatalf("rename to %s: %d %s", hostile, r.Status, r.Body)
	}
	if run := trainNow(t, srv, acct.Token, acct.ProjectID); run.Status != "published" || *run.ModelVersion != 2 {
		t.Fatalf("retrain: %+v, want version 2 published", run)
	}
	srv.Do(t, testserver.Request{Method: "GET", Path: base + "/personas", Token: viewer}).JSON(t, &l)
	if len(l.Personas) < 2 {
		t.Fatalf("%d personas, want at least 2", len(l.Personas))
	}

	t.Run("csv", func(t *testing.T) {
		r := getExport(t, srv, viewer, acct.ProjectID, "?format=csv")
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/csv; charset=utf-8; header=present" {
			t.Fatalf("CSV export: %d %s: %.300s", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		today := time.Now().UTC().Format(time.DateOnly)
		if name := attachment(t, r); name != "personas-project-of-owner-shop-example-v2-"+today+".csv" {
			t.Errorf("file name %q", name)
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		rows := parseExportCSV(t, r.Body)
		number := regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
		for _, row := range rows {
			for col, v := range row {
				if numericColumns[col] {
					if v != "" && !number.MatchString(v) {
						t.Errorf("numeric column %s holds %q", col, v)
					}
				} else if v != "" && strings.ContainsAny(v[:1], "=+-@\t\r\n") {
					t.Errorf("text cell %s = %q would run as a formula", col, v)
				}
			}
		}

		sum := 0.0
		for _, p := range l.Personas {
			id := p.ID.String()
			name := p.Name
			if p.Name == hostile {
				name = "'" + hostile
			}
			for _, row := range rows.find("", id, "") {
				if row["persona"] != name || row["type"] != p.Type || strings.TrimPrefix(row["tagline"], "'") != p.Tagline {
					t.Errorf("row %v: persona %q type %q tagline %q, want %q %q %q", row, row["persona"], row["type"], row["tagline"], name, p.Type, p.Tagline)
				}
			}
			share := rows.find("persona", id, "share")
			size := rows.find("persona", id, "size")
			if len(share) != 1 || len(size) != 1 || share[0]["model_version"] != "2" {
				t.Fatalf("persona %s: share rows %v, size rows %v; want one each of version 2", id, share, size)
			}
			if v := num(t, share[0], "value"); math.Abs(v-p.Share) > 1e-4 {
				t.Errorf("persona %q share %v, API says %v", p.Name, v, p.Share)
			}
			sum += num(t, share[0], "value")
			if v := num(t, size[0], "value"); int64(v) != p.Size {
				t.Errorf("persona %q size %v, API says %d", p.Name, v, p.Size)
			}
			stab := rows.find("persona", id, "stability")
			if len(stab) != 1 || p.Stability == nil || math.Abs(num(t, stab[0], "value")-*p.Stability) > 1e-4 {
				t.Errorf("persona %q stability rows %v, API says %v", p.Name, stab, p.Stability)
			}

			// Traits: human units of the stored means, goal traits left out.
			raw := map[string][2]float64{}
			for _, tr := range p.Traits.Traits {
				raw[tr.Feature] = [2]float64{tr.Value, tr.Population}
			}
			traits := rows.find("trait", id, "")
			if len(traits) < 5 {
				t.Errorf("persona %q: %d trait rows, want the traits of its page", p.Name, len(traits))
			}
			for _, row := range traits {
				f := row["metric"]
				rv, ok := raw[f]
				if !ok || models.IsGoalFeature(f) || row["unit"] == "" || row["label"] == "" || row["text"] == "" {
					t.Errorf("trait row %v: not a stored non-goal trait with unit, label and text", row)
					continue
				}
				for col, want := range map[string]float64{"value": models.HumanValue(f, rv[0]), "all_visitors": models.HumanValue(f, rv[1])} {
					if got := num(t, row, col); math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
						t.Errorf("persona %q trait %s: %s %v, want %v (human units of %v)", p.Name, f, col, got, want, rv)
					}
				}
			}
			if rows := rows.find("trait", id, "time_per_page"); len(rows) == 1 && rows[0]["unit"] != "seconds" {
				t.Errorf("time per page in %q, want seconds", rows[0]["unit"])
			}

			// Goal lifts: exactly the API's.
			if len(p.GoalsLift) == 0 {
				t.Errorf("persona %q has no goal lifts in the API", p.Name)
			}
			for _, g := range p.GoalsLift {
				reached, lift, visitors := rows.find("goal_reached", id, g.Goal), rows.find("goal_lift", id, g.Goal), rows.find("goal_visitors", id, g.Goal)
				if len(reached) != 1 || len(lift) != 1 || len(visitors) != 1 {
					t.Errorf("persona %q goal %s: rows %v %v %v, want one of each", p.Name, g.Goal, reached, lift, visitors)
					continue
				}
				got := []float64{num(t, reached[0], "value"), num(t, reached[0], "all_visitors"), num(t, lift[0], "value"),
					num(t, lift[0], "low"), num(t, lift[0], "high"), num(t, visitors[0], "value")}
				want := []float64{g.Rate, g.PopulationRate, g.Lift, g.Low, g.High, float64(g.Visitors)}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("persona %q goal %s: rate, population rate, lift, low, high, visitors (-API +export):\n%s", p.Name, g.Goal, d)
				}
				if g.Lift > 0 && !(g.Low <= g.Lift && g.Lift <= g.High) {
					t.Errorf("persona %q goal %s: lift %v outside its interval [%v, %v]", p.Name, g.Goal, g.Lift, g.Low, g.High)
				}
			}
		}
		if math.Abs(sum-1) > 1e-3 {
			t.Errorf("shares of the current personas sum to %v, want 1", sum)
		}

		// History: every kept version, its shares summing to 100 %, the current one equal to
		// the personas' rows.
		byVersion := map[string]float64{}
		for _, row := range rows.find("history", "", "share") {
			byVersion[row["model_version"]] += num(t, row, "value")
		}
		if len(byVersion) != 2 {
			t.Errorf("history covers versions %v, want 1 and 2", byVersion)
		}
		for v, s := range byVersion {
			if math.Abs(s-1) > 1e-3 {
				t.Errorf("version %s: shares sum to %v, want 1", v, s)
			}
		}
		for _, p := range l.Personas {
			h := rows.find("history", p.ID.String(), "share")
			cur := 0
			for _, row := range h {
				if row["model_version"] == "2" {
					cur++
					if math.Abs(num(t, row, "value")-p.Share) > 1e-4 {
						t.Errorf("history of %q in version 2: share %v, API %v", p.Name, row["value"], p.Share)
					}
				}
			}
			if cur != 1 {
				t.Errorf("persona %q: %d history rows of version 2, want 1", p.Name, cur)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		r := getExport(t, srv, viewer, acct.ProjectID, "?format=json")
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("JSON export: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		if name := attachment(t, r); !strings.HasSuffix(name, ".json") || !strings.HasPrefix(name, "personas-project-of-owner-shop-example-v2-") {
			t.Errorf("file name %q", name)
		}
		var raw any
		if err := json.Unmarshal(r.Body, &raw); err != nil {
			t.Fatal(err)
		}
		snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					if !snake.MatchString(k) {
						t.Errorf("%s: key %q is not snake_case", path, k)
					}
					walk(path+"."+k, x)
				}
			case []any:
				for _, x := range v {
					walk(path+"[]", x)
				}
			}
		}
		walk("export", raw)

		var exp struct {
			ModelVersion *int  `json:"model_version"`
			NVisitors    int64 `json:"n_visitors"`
			Personas     []struct {
				apiPersona
				Traits []struct {
					Feature     string  `json:"feature"`
					Unit        string  `json:"unit"`
					Value       float64 `json:"value"`
					AllVisitors float64 `json:"all_visitors"`
				} `json:"traits"`
				GoalLifts json.RawMessage `json:"goal_lifts"`
				Channels  []struct {
					Share float64 `json:"share"`
				} `json:"channels"`
			} `json:"personas"`
			Versions []struct {
				ModelVersion int  `json:"model_version"`
				Current      bool `json:"current"`
				Personas     []struct {
					Share float64 `json:"share"`
				} `json:"personas"`
			} `json:"versions"`
		}
		r.JSON(t, &exp)
		if exp.ModelVersion == nil || *exp.ModelVersion != 2 || len(exp.Personas) != len(l.Personas) || len(exp.Versions) != 2 ||
			!exp.Versions[1].Current || exp.Versions[0].Current || exp.NVisitors < 300 {
			t.Fatalf("JSON export: version %v, %d personas (API %d), %d versions, %d visitors", exp.ModelVersion, len(exp.Personas),
				len(l.Personas), len(exp.Versions), exp.NVisitors)
		}
		var api struct {
			Personas []struct {
				GoalsLift json.RawMessage `json:"goals_lift"`
			} `json:"personas"`
		}
		srv.Do(t, testserver.Request{Method: "GET", Path: base + "/personas", Token: viewer}).JSON(t, &api)
		for i, p := range exp.Personas {
			want := l.Personas[i]
			if p.ID != want.ID || p.Name != want.Name || p.Type != want.Type || p.Tagline != want.Tagline || p.Size != want.Size ||
				math.Abs(p.Share-want.Share) > 1e-4 {
				t.Errorf("persona %d: %s %q %s %d %v, API %s %q %s %d %v", i, p.ID, p.Name, p.Type, p.Size, p.Share,
					want.ID, want.Name, want.Type, want.Size, want.Share)
			}
			var got, apiLifts any
			_ = json.Unmarshal(p.GoalLifts, &got)
			_ = json.Unmarshal(api.Personas[i].GoalsLift, &apiLifts)
			if d := cmp.Diff(apiLifts, got); d != "" {
				t.Errorf("persona %q goal_lifts differ from the API's goals_lift (-API +export):\n%s", p.Name, d)
			}
			if len(p.Traits) == 0 || p.Traits[0].Unit == "" {
				t.Errorf("persona %q: traits %v, want human units", p.Name, p.Traits)
			}
			ch := 0.0
			for _, c := range p.Channels {
				ch += c.Share
			}
			if len(p.Channels) > 0 && math.Abs(ch-1) > 0.01 {
				t.Errorf("persona %q: channel shares sum to %v, want 1", p.Name, ch)
			}
		}
		for _, v := range exp.Versions {
			s := 0.0
			for _, p := range v.Personas {
				s += p.Share
			}
			if math.Abs(s-1) > 1e-3 {
				t.Errorf("version %d: shares sum to %v", v.ModelVersion, s)
			}
		}
	})

	t.Run("requests", func(t *testing.T) {
		checks := []struct {
			name, token, query string
			project            uuid.UUID
			status             int
			code               string
		}{
			{"default is CSV", viewer, "", acct.ProjectID, 200, ""},
			{"unknown format", viewer, "?format=xlsx", acct.ProjectID, 400, "invalid"},
			{"upper case", viewer, "?format=CSV", acct.ProjectID, 400, "invalid"},
			{"empty format", viewer, "?format=", acct.ProjectID, 400, "invalid"},
			{"formula as format", viewer, "?format=%3D1%2B1", acct.ProjectID, 400, "invalid"},
			{"format with a null byte", viewer, "?format=csv%00", acct.ProjectID, 400, "invalid"},
			{"format of 10 KiB", viewer, "?format=" + strings.Repeat("c", 10<<10), acct.ProjectID, 400, "invalid"},
			{"another tenant's project", other.Token, "?format=csv", acct.ProjectID, 404, "not_found"},
			{"no token", "", "?format=csv", acct.ProjectID, 401, "unauthenticated"},
			{"a project that does not exist", viewer, "?format=csv", uuid.New(), 404, "not_found"},
		}
		for _, c := range checks {
			r := getExport(t, srv, c.token, c.project, c.query)
			if r.Status != c.status {
				t.Errorf("%s: status %d, want %d: %.200s", c.name, r.Status, c.status, r.Body)
				continue
			}
			if c.code != "" {
				var e errorJSON
				r.JSON(t, &e)
				if e.Error.Code != c.code {
					t.Errorf("%s: error %s, want code %s", c.name, r.Body, c.code)
				}
				if bytes.Contains(r.Body, []byte("cccccccc")) {
					t.Errorf("%s: the answer repeats the input", c.name)
				}
			}
		}
		if r := getExport(t, srv, viewer, acct.ProjectID, ""); !bytes.Equal(r.Body, getExport(t, srv, viewer, acct.ProjectID, "?format=csv").Body) {
			t.Error("the default export differs from format=csv")
		}
	})

	t.Run("no model", func(t *testing.T) {
		r := getExport(t, srv, other.Token, other.ProjectID, "?format=csv")
		if r.Status != http.StatusOK {
			t.Fatalf("CSV export without a model: %d %s", r.Status, r.Body)
		}
		if rows := parseExportCSV(t, r.Body); len(rows) != 0 {
			t.Errorf("CSV export without a model has %d rows, want the header only", len(rows))
		}
		if name := attachment(t, r); !strings.Contains(name, "-no-model-") {
			t.Errorf("file name %q, want it to say there is no model", name)
		}
		r = getExport(t, srv, other.Token, other.ProjectID, "?format=json")
		var exp map[string]json.RawMessage
		r.JSON(t, &exp)
		if r.Status != http.StatusOK || string(exp["model_version"]) != "null" || string(exp["personas"]) != "[]" || string(exp["versions"]) != "[]" {
			t.Errorf("JSON export without a model: %d %s", r.Status, r.Body)
		}
	})
}

// TestPersonasExportFromTheDashboard follows the personas page's download links with a viewer's
// dashboard session, over HTTP and then from the page in Chromium: both download, and the
// viewer cannot export a project they are not a member of (404). A project without a model
// offers no download.
func TestPersonasExportFromTheDashboard(t *testing.T) {
	srv := testserver.New(t, testserver.Options{})
	acct := srv.NewAccount(t, "owner@dash.example", false)
	other := srv.NewAccount(t, "owner@elsewhere.example", false)
	if _, _, err := srv.Store.EnsureUser(context.Background(), "viewer@dash.example", password, false); err != nil {
		t.Fatal(err)
	}
	srv.Member(t, acct.ProjectID, "viewer@dash.example", models.RoleViewer)
	importVisitors(t, srv, acct.Token, acct.ProjectID, demoVisitors(300, 11))
	if run := trainNow(t, srv, acct.Token, acct.ProjectID); run.Status != "published" {
		t.Fatalf("training: %+v", run)
	}
	cookie, _, _ := session(t, srv, "viewer@dash.example")
	get := func(path string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(cookie)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Header, b.Bytes()
	}
	status, _, page := get("/projects/" + acct.ProjectID.String())
	if status != http.StatusOK {
		t.Fatalf("personas page: %d", status)
	}
	link := regexp.MustCompile(`id="download-(csv|json)" href="([^"]+)" download>Download (CSV|JSON)<`)
	found := link.FindAllSubmatch(page, -1)
	if len(found) != 2 {
		t.Fatalf("the personas page has %d download links, want Download CSV and Download JSON:\n%s", len(found), page)
	}
	for _, m := range found {
		format, href := string(m[1]), strings.ReplaceAll(string(m[2]), "&amp;", "&")
		if strings.ToLower(string(m[3])) != format {
			t.Errorf("link %s is labelled %s", href, m[3])
		}
		status, h, body := get(href)
		if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") {
			t.Fatalf("GET %s with the viewer's session: %d %v %.200s", href, status, h, body)
		}
		switch format {
		case "csv":
			if rows := parseExportCSV(t, body); len(rows) < 10 {
				t.Errorf("CSV download has %d rows", len(rows))
			}
		case "json":
			var exp struct {
				ModelVersion int               `json:"model_version"`
				Personas     []json.RawMessage `json:"personas"`
			}
			if err := json.Unmarshal(body, &exp); err != nil || exp.ModelVersion != 1 || len(exp.Personas) < 2 {
				t.Errorf("JSON download: %v %.200s", err, body)
			}
		}
		// The same link for a project the viewer is not a member of: nothing there.
		foreign := strings.Replace(href, acct.ProjectID.String(), other.ProjectID.String(), 1)
		if status, _, body := get(foreign); status != http.StatusNotFound {
			t.Errorf("GET %s (another project) with the viewer's session: %d %.200s, want 404", foreign, status, body)
		}
	}

	// The owner of a project without a model sees no download links.
	cookie, _, _ = session(t, srv, "owner@elsewhere.example")
	if status, _, page := get("/projects/" + other.ProjectID.String()); status != http.StatusOK || link.Match(page) {
		t.Errorf("the page of a project without a model: %d, download links %q", status, link.FindAll(page, -1))
	}

	// In a browser: the viewer signs in, and the page's links answer the downloads with the
	// browser's own session (fetched from the page, as a click would send them).
	u := newShots(t).open(t, newBrowser(t), srv.URL, "viewer")
	u.login("viewer@dash.example")
	u.visit("/projects/"+acct.ProjectID.String(), "#download-csv", "personas with downloads")
	got := eval[string](u, `(async () => {
		const out = [];
		for (const a of document.querySelectorAll('#downloads a')) {
			const r = await fetch(a.href, {credentials: 'same-origin'});
			const body = await r.text();
			out.push([a.textContent.trim(), r.status, r.headers.get('Content-Disposition').split(';')[0],
				body.replace(/^\ufeff/, '').slice(0, 9)].join(' '));
		}
		const foreign = await fetch(document.querySelector('#download-csv').href.replace('`+acct.ProjectID.String()+`', '`+other.ProjectID.String()+`'));
		out.push('foreign ' + foreign.status);
		return out.join('\n');
	})()`)
	want := "Download CSV 200 attachment section,m\nDownload JSON 200 attachment {\n  \"proj\nforeign 404"
	if got != want {
		t.Errorf("the downloads fetched in the browser:\n%s\nwant:\n%s", got, want)
	}
}
