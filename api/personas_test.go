package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/demodata"
	"personas/internal/testserver"
	"personas/jobs"
	"personas/models"
)

// personaView is a persona as the API shows it.
type personaView struct {
	ID         uuid.UUID       `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Tagline    string          `json:"tagline"`
	Summary    string          `json:"summary"`
	Goals      []string        `json:"goals"`
	NamedBy    string          `json:"named_by"`
	PictureURL string          `json:"picture_url"`
	Share      float64         `json:"share"`
	Size       int64           `json:"size"`
	Stability  *float64        `json:"stability"`
	Traits     json.RawMessage `json:"traits"`
	EnrichedAt *time.Time      `json:"enriched_at"`
}

type personaList struct {
	Personas     []personaView `json:"personas"`
	ModelVersion *int          `json:"model_version"`
}

type runView struct {
	ID           uuid.UUID `json:"id"`
	Status       string    `json:"status"`
	Reason       string    `json:"reason"`
	ModelVersion *int      `json:"model_version"`
}

// demoVisitors generates the demo shop's traffic of the last two weeks.
func demoVisitors(n int, seed uint64) []demodata.Visitor {
	return demodata.Generate(demodata.Config{Visitors: n, Days: 14, End: time.Now().Add(-time.Hour),
		Site: testserver.Origin, Seed: seed})
}

// importVisitors sends visitors' events through the import API.
func importVisitors(t *testing.T, srv *testserver.Server, token string, projectID uuid.UUID, vs []demodata.Visitor) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	lines := 0
	for _, v := range vs {
		for _, l := range v.Lines {
			if err := enc.Encode(l); err != nil {
				t.Fatal(err)
			}
			lines++
		}
	}
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + projectID.String() + "/import", Token: token,
		Body: body.Bytes(), Header: map[string]string{"Content-Type": "application/x-ndjson"}})
	if r.Status != http.StatusOK {
		t.Fatalf("import: status %d: %s", r.Status, r.Body)
	}
	var res struct {
		Accepted int `json:"accepted"`
	}
	r.JSON(t, &res)
	if res.Accepted < lines*9/10 {
		t.Fatalf("import accepted %d of %d lines: %s", res.Accepted, lines, r.Body)
	}
}

// trainNow asks for a training through the API and waits until its run is finished.
func trainNow(t *testing.T, srv *testserver.Server, token string, projectID uuid.UUID) runView {
	t.Helper()
	p := "/v1/projects/" + projectID.String()
	r := srv.Do(t, testserver.Request{Method: "POST", Path: p + "/models", Token: token})
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST models: status %d: %s", r.Status, r.Body)
	}
	var acc struct {
		ID     uuid.UUID `json:"id"`
		Status string    `json:"status"`
	}
	r.JSON(t, &acc)
	if acc.ID == uuid.Nil || acc.Status != "queued" {
		t.Fatalf("POST models answered %s, want an id and status queued", r.Body)
	}
	var run runView
	testserver.Eventually(t, 90*time.Second, "training run "+acc.ID.String()+" finished", func() bool {
		r := srv.Do(t, testserver.Request{Method: "GET", Path: p + "/training-runs/" + acc.ID.String(), Token: token})
		if r.Status != http.StatusOK {
			t.Fatalf("GET training run: status %d: %s", r.Status, r.Body)
		}
		r.JSON(t, &run)
		return run.Status != "queued" && run.Status != "running"
	})
	return run
}

func listPersonas(t *testing.T, srv *testserver.Server, token string, projectID uuid.UUID) personaList {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + projectID.String() + "/personas", Token: token})
	if r.Status != http.StatusOK {
		t.Fatalf("GET personas: status %d: %s", r.Status, r.Body)
	}
	var l personaList
	r.JSON(t, &l)
	return l
}

func getPersona(t *testing.T, srv *testserver.Server, token string, projectID, id uuid.UUID) personaView {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + projectID.String() + "/personas/" + id.String(), Token: token})
	if r.Status != http.StatusOK {
		t.Fatalf("GET persona: status %d: %s", r.Status, r.Body)
	}
	var p personaView
	r.JSON(t, &p)
	return p
}

// TestTrainingThroughTheAPI trains on the demo shop's traffic through import, the training job
// and publication, and checks what a marketing team reads: too little data says why, personas
// have distinct names and shares summing to 1, a retrain on the same data keeps every persona
// (stability 1), and a person's name survives retraining and re-enrichment.
func TestTrainingThroughTheAPI(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{})
	acct := srv.NewAccount(t, "owner@shop.example", false)
	_, viewer := srv.Member(t, acct.ProjectID, "viewer@shop.example", models.RoleViewer)
	other := srv.NewAccount(t, "other@elsewhere.example", false)
	base := "/v1/projects/" + acct.ProjectID.String()

	// Too little data: a run that says why, and no model.
	importVisitors(t, srv, acct.Token, acct.ProjectID, demoVisitors(5, 1))
	run := trainNow(t, srv, acct.Token, acct.ProjectID)
	if run.Status != "skipped" || !strings.Contains(run.Reason, "too little data") || run.ModelVersion != nil {
		t.Fatalf("training on 5 visitors: run = %+v, want skipped for too little data without a model", run)
	}
	r := srv.Do(t, testserver.Request{Method: "GET", Path: base + "/models", Token: viewer})
	var ml struct {
		Models       []json.RawMessage `json:"models"`
		ModelVersion *int              `json:"model_version"`
		Runs         []runView         `json:"training_runs"`
	}
	r.JSON(t, &ml)
	if r.Status != http.StatusOK || len(ml.Models) != 0 || ml.ModelVersion != nil || len(ml.Runs) != 1 || ml.Runs[0].Status != "skipped" {
		t.Fatalf("models after a skipped run: %d %s", r.Status, r.Body)
	}
	if l := listPersonas(t, srv, viewer, acct.ProjectID); len(l.Personas) != 0 || l.ModelVersion != nil {
		t.Fatalf("personas without a model = %+v, want none", l)
	}

	// Enough data: a published model.
	importVisitors(t, srv, acct.Token, acct.ProjectID, demoVisitors(400, 2))
	run = trainNow(t, srv, acct.Token, acct.ProjectID)
	if run.Status != "published" || run.ModelVersion == nil || *run.ModelVersion != 1 {
		t.Fatalf("training on 405 visitors: run = %+v, want published as version 1", run)
	}
	l := listPersonas(t, srv, viewer, acct.ProjectID)
	if l.ModelVersion == nil || *l.ModelVersion != 1 || len(l.Personas) < 2 {
		t.Fatalf("personas = %d of version %v, want at least 2 of version 1", len(l.Personas), l.ModelVersion)
	}
	names := map[string]bool{}
	sum := 0.0
	for _, p := range l.Personas {
		if p.Name == "" || names[p.Name] {
			t.Errorf("persona %s has name %q: want distinct, non-empty names", p.ID, p.Name)
		}
		names[p.Name] = true
		sum += p.Share
		if p.NamedBy != "rules" && p.NamedBy != "llm" {
			t.Errorf("persona %q named_by = %q, want rules or llm", p.Name, p.NamedBy)
		}
		if len(p.Traits) < 10 || p.Size < 10 {
			t.Errorf("persona %q: size %d, traits %s; want aggregates", p.Name, p.Size, p.Traits)
		}
	}
	if math.Abs(sum-1) > 1e-6 {
		t.Errorf("shares sum to %v, want 1", sum)
	}
	t.Logf("personas of version 1: %v", names)

	// The picture is an SVG that cannot run script.
	pic := l.Personas[0].PictureURL
	if !strings.HasPrefix(pic, srv.URL+base+"/personas/") {
		t.Fatalf("picture_url = %q, want the persona's picture route", pic)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: strings.TrimPrefix(pic, srv.URL), Token: viewer})
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/svg+xml" ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") || !bytes.HasPrefix(r.Body, []byte("<svg")) {
		t.Fatalf("picture: %d %v %.60s", r.Status, r.Header, r.Body)
	}

	// Inspect the model with its metrics.
	r = srv.Do(t, testserver.Request{Method: "GET", Path: base + "/models/1", Token: viewer})
	var mv struct {
		Version  int             `json:"version"`
		K        int             `json:"k"`
		Metrics  json.RawMessage `json:"metrics"`
		Current  bool            `json:"current"`
		Personas []struct {
			PersonaID uuid.UUID `json:"persona_id"`
		} `json:"personas"`
	}
	r.JSON(t, &mv)
	if r.Status != http.StatusOK || mv.Version != 1 || mv.K != len(l.Personas) || !mv.Current || len(mv.Metrics) < 3 || len(mv.Personas) != mv.K {
		t.Fatalf("GET models/1: %d %s", r.Status, r.Body)
	}

	// Roles and tenancy.
	renamed := l.Personas[0]
	checks := []struct {
		name  string
		req   testserver.Request
		wantS int
	}{
		{"viewer cannot rename", testserver.Request{Method: "PATCH", Path: base + "/personas/" + renamed.ID.String(), Token: viewer, Body: map[string]string{"name": "X"}}, 403},
		{"viewer cannot train", testserver.Request{Method: "POST", Path: base + "/models", Token: viewer}, 403},
		{"viewer cannot read the context", testserver.Request{Method: "GET", Path: base + "/context", Token: viewer}, 403},
		{"other tenant sees nothing", testserver.Request{Method: "GET", Path: base + "/personas/" + renamed.ID.String(), Token: other.Token}, 404},
		{"other tenant cannot rename", testserver.Request{Method: "PATCH", Path: base + "/personas/" + renamed.ID.String(), Token: other.Token, Body: map[string]string{"name": "X"}}, 404},
		{"persona of another project", testserver.Request{Method: "GET", Path: "/v1/projects/" + other.ProjectID.String() + "/personas/" + renamed.ID.String(), Token: other.Token}, 404},
		{"malformed persona id", testserver.Request{Method: "GET", Path: base + "/personas/nope", Token: viewer}, 404},
		{"unknown model version", testserver.Request{Method: "GET", Path: base + "/models/9", Token: viewer}, 404},
		{"empty name", testserver.Request{Method: "PATCH", Path: base + "/personas/" + renamed.ID.String(), Token: acct.Token, Body: map[string]string{"name": " "}}, 400},
		{"name too long", testserver.Request{Method: "PATCH", Path: base + "/personas/" + renamed.ID.String(), Token: acct.Token, Body: map[string]string{"name": strings.Repeat("n", 41)}}, 400},
		{"unknown field", testserver.Request{Method: "PATCH", Path: base + "/personas/" + renamed.ID.String(), Token: acct.Token, Body: map[string]string{"title": "X"}}, 400},
		{"enrich unknown persona", testserver.Request{Method: "POST", Path: base + "/personas/" + uuid.NewString() + "/enrich", Token: acct.Token}, 404},
	}
	for _, c := range checks {
		if r := srv.Do(t, c.req); r.Status != c.wantS {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.Status, c.wantS, r.Body)
		}
	}

	// A person's name.
	const manual = "Evening Coupon Hunters"
	r = srv.Do(t, testserver.Request{Method: "PATCH", Path: base + "/personas/" + renamed.ID.String(), Token: acct.Token,
		Body: map[string]string{"name": manual}})
	var after personaView
	r.JSON(t, &after)
	if r.Status != http.StatusOK || after.Name != manual || after.NamedBy != "person" {
		t.Fatalf("rename: %d %s", r.Status, r.Body)
	}

	// Retrain on the same data: every persona keeps its id, fully stable; the name stays.
	run = trainNow(t, srv, acct.Token, acct.ProjectID)
	if run.Status != "published" || run.ModelVersion == nil || *run.ModelVersion != 2 {
		t.Fatalf("retrain: run = %+v, want version 2 published", run)
	}
	l2 := listPersonas(t, srv, viewer, acct.ProjectID)
	if len(l2.Personas) != len(l.Personas) {
		t.Fatalf("retrain: %d personas, want %d", len(l2.Personas), len(l.Personas))
	}
	before := map[uuid.UUID]personaView{}
	for _, p := range l.Personas {
		before[p.ID] = p
	}
	for _, p := range l2.Personas {
		old, ok := before[p.ID]
		if !ok {
			t.Errorf("retrain: persona %s (%q) is new, want every id kept", p.ID, p.Name)
			continue
		}
		if p.Stability == nil || *p.Stability != 1 {
			t.Errorf("retrain: persona %q stability %v, want 1", p.Name, p.Stability)
		}
		if p.ID != renamed.ID && p.Name != old.Name {
			t.Errorf("retrain: persona %s renamed from %q to %q", p.ID, old.Name, p.Name)
		}
	}
	if p := getPersona(t, srv, viewer, acct.ProjectID, renamed.ID); p.Name != manual || p.NamedBy != "person" {
		t.Fatalf("after retrain the renamed persona is %q by %s, want %q by person", p.Name, p.NamedBy, manual)
	}

	// Re-enrichment runs (enriched_at moves) and keeps the person's name.
	prev := getPersona(t, srv, viewer, acct.ProjectID, renamed.ID).EnrichedAt
	r = srv.Do(t, testserver.Request{Method: "POST", Path: base + "/personas/" + renamed.ID.String() + "/enrich", Token: acct.Token})
	if r.Status != http.StatusAccepted {
		t.Fatalf("enrich: %d %s", r.Status, r.Body)
	}
	testserver.Eventually(t, 30*time.Second, "persona re-enriched", func() bool {
		p := getPersona(t, srv, viewer, acct.ProjectID, renamed.ID)
		return p.EnrichedAt != nil && (prev == nil || p.EnrichedAt.After(*prev))
	})
	if p := getPersona(t, srv, viewer, acct.ProjectID, renamed.ID); p.Name != manual || p.NamedBy != "person" || p.Summary == "" {
		t.Fatalf("after re-enrichment: %q by %s (summary %q), want %q by person with a summary", p.Name, p.NamedBy, p.Summary, manual)
	}

	// Drift across versions.
	r = srv.Do(t, testserver.Request{Method: "GET", Path: base + "/personas/history", Token: viewer})
	var hist struct {
		Versions []struct {
			ModelVersion int `json:"model_version"`
			Personas     []struct {
				PersonaID uuid.UUID `json:"persona_id"`
				Name      string    `json:"name"`
				Share     float64   `json:"share"`
			} `json:"personas"`
		} `json:"versions"`
	}
	r.JSON(t, &hist)
	if r.Status != http.StatusOK || len(hist.Versions) != 2 || hist.Versions[1].ModelVersion != 2 ||
		len(hist.Versions[1].Personas) != len(l.Personas) {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	for _, p := range hist.Versions[1].Personas {
		if p.PersonaID == renamed.ID && p.Name != manual {
			t.Errorf("history names the renamed persona %q, want %q", p.Name, manual)
		}
	}
}

// TestTrainerSkipsConstantData runs the training job directly: no model, no task
// failure, and the run says why.
func TestTrainerSkipsConstantData(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "owner@shop.example", false)
	// Sixty identical visitors: every feature is constant.
	for i := 0; i < 60; i++ {
		srv.Collect(t, acct.SiteKey, fmt.Sprintf("same-%02d", i), "s1", []map[string]any{
			{"type": "pageview", "ts": time.Now().Add(-time.Minute).UnixMilli(), "url": testserver.Origin + "/"}})
	}
	ctx := context.Background()
	r, err := srv.Store.CreateTrainingRun(ctx, acct.ProjectID, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &jobs.Trainer{Store: srv.Store, Client: srv.Jobs, Logger: srv.Logger}
	v, err := tr.Train(ctx, acct.ProjectID)
	if err != nil || v != 0 {
		t.Fatalf("Train on constant data = %d, %v; want no version and no error", v, err)
	}
	run, err := srv.Store.TrainingRun(ctx, acct.ProjectID, r.ID)
	if err != nil || run.Status != "skipped" || run.Reason == "" {
		t.Fatalf("run = %+v, %v; want skipped with a reason", run, err)
	}
	if _, err := srv.Store.CurrentModelVersion(ctx, acct.ProjectID); err != models.ErrNotFound {
		t.Fatalf("current model after a skipped run: %v, want none", err)
	}
}

// TestBusinessContextAndIngestStats covers the context's round trip, its limits and sealing,
// and the delivery counters.
func TestBusinessContextAndIngestStats(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "owner@shop.example", false)
	_, editor := srv.Member(t, acct.ProjectID, "editor@shop.example", models.RoleEditor)
	_, viewer := srv.Member(t, acct.ProjectID, "viewer@shop.example", models.RoleViewer)
	base := "/v1/projects/" + acct.ProjectID.String()

	r := srv.Do(t, testserver.Request{Method: "GET", Path: base + "/context", Token: editor})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"goals":""`) {
		t.Fatalf("empty context: %d %s", r.Status, r.Body)
	}
	want := models.BusinessContext{Goals: "Sell more winter boots sealed-ctx-7f3a", Industry: "retail", Audience: "hikers", Notes: "no discounts"}
	r = srv.Do(t, testserver.Request{Method: "PUT", Path: base + "/context", Token: editor, Body: want})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT context: %d %s", r.Status, r.Body)
	}
	var got models.BusinessContext
	r = srv.Do(t, testserver.Request{Method: "GET", Path: base + "/context", Token: editor})
	r.JSON(t, &got)
	if got != want {
		t.Fatalf("context = %+v, want %+v", got, want)
	}
	var n int
	if err := srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM business_context
		WHERE project_id = $1 AND position('sealed-ctx-7f3a'::bytea in context_enc) = 0`, acct.ProjectID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stored context in plain text (count of sealed rows %d, %v)", n, err)
	}
	for _, c := range []struct {
		name string
		body any
		want int
	}{
		{"notes too long", map[string]string{"notes": strings.Repeat("x", 1001)}, 400},
		{"industry too long", map[string]string{"industry": strings.Repeat("x", 101)}, 400},
		{"unknown field", map[string]string{"mission": "x"}, 400},
		{"body over the limit", map[string]string{"notes": strings.Repeat("x", 300<<10)}, 413},
	} {
		if r := srv.Do(t, testserver.Request{Method: "PUT", Path: base + "/context", Token: editor, Body: c.body}); r.Status != c.want {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.Status, c.want, r.Body)
		}
	}

	// Stats: stored events and a drop by origin and by age, today.
	now := time.Now()
	srv.Collect(t, acct.SiteKey, "v1", "s1", []map[string]any{
		{"type": "pageview", "ts": now.UnixMilli(), "url": testserver.Origin + "/"},
		{"type": "pageview", "ts": now.UnixMilli(), "url": testserver.Origin + "/p/1"},
		{"type": "pageview", "ts": now.Add(-72 * time.Hour).UnixMilli(), "url": testserver.Origin + "/old"},
	})
	r = srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/collect", Header: map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"},
		Body: map[string]any{"site_key": acct.SiteKey, "visitor_id": "v2", "session_id": "s2",
			"events": []map[string]any{{"type": "pageview", "ts": now.UnixMilli(), "url": "https://evil.example/"}}}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("collect from a wrong origin: %d", r.Status)
	}
	var st struct {
		Days []struct {
			Day      string           `json:"day"`
			Received int64            `json:"received"`
			Stored   int64            `json:"stored"`
			ByReason map[string]int64 `json:"dropped_by_reason"`
		} `json:"days"`
		Totals struct {
			Received, Stored, Dropped int64
			ByReason                  map[string]int64 `json:"dropped_by_reason"`
		} `json:"totals"`
		DropShare float64 `json:"drop_share"`
	}
	testserver.Eventually(t, 10*time.Second, "ingest stats counted", func() bool {
		r = srv.Do(t, testserver.Request{Method: "GET", Path: base + "/ingest-stats", Token: viewer})
		if r.Status != http.StatusOK {
			t.Fatalf("ingest-stats: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &st)
		return st.Totals.Received == 4
	})
	if st.Totals.Stored != 2 || st.Totals.Dropped != 2 || st.Totals.ByReason["origin"] != 1 || st.Totals.ByReason["too_old"] != 1 || st.DropShare != 0.5 {
		t.Errorf("ingest stats = %s, want 2 stored, 1 dropped for origin, 1 for age, drop share 0.5", r.Body)
	}
	if len(st.Days) != 1 || st.Days[0].Day != now.UTC().Format(time.DateOnly) {
		t.Errorf("ingest stats days = %+v, want today only", st.Days)
	}
	for _, q := range []string{"?from=yesterday", "?from=2026-02-01&to=2026-01-01", "?from=2020-01-01&to=2026-01-01"} {
		if r := srv.Do(t, testserver.Request{Method: "GET", Path: base + "/ingest-stats" + q, Token: viewer}); r.Status != http.StatusBadRequest {
			t.Errorf("ingest-stats%s: status %d, want 400", q, r.Status)
		}
	}
	if r := srv.Do(t, testserver.Request{Method: "GET", Path: base + "/ingest-stats?from=2020-01-01&to=2020-01-31", Token: viewer}); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"days":[]`) {
		t.Errorf("an empty range: %d %s", r.Status, r.Body)
	}
}
