package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/internal/demodata"
	"personas/internal/testserver"
	"personas/jobs"
	"personas/models"
)

// classifyAnswer is the body of a classify answer.
type classifyAnswer struct {
	Persona *struct {
		ID   uuid.UUID `json:"id"`
		Name string    `json:"name"`
		Type string    `json:"type"`
	} `json:"persona"`
	Confidence    float64 `json:"confidence"`
	Probabilities []struct {
		PersonaID uuid.UUID `json:"persona_id"`
		P         float64   `json:"p"`
	} `json:"probabilities"`
	ModelVersion *int   `json:"model_version"`
	Reason       string `json:"reason"`
}

// classifyAt posts a classify request from origin and decodes a 200 answer.
func classifyAt(t *testing.T, srv *testserver.Server, origin string, body any) (testserver.Response, classifyAnswer) {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/classify", Body: body,
		Header: map[string]string{"Origin": origin, "Content-Type": "text/plain"}})
	var a classifyAnswer
	if r.Status == http.StatusOK {
		r.JSON(t, &a)
	}
	return r, a
}

// trainDirect trains and publishes with the training job's code, without a worker.
func trainDirect(t *testing.T, srv *testserver.Server, projectID uuid.UUID) int {
	t.Helper()
	tr := &jobs.Trainer{Store: srv.Store, Client: srv.Jobs, Logger: srv.Logger, Options: classifier.TrainOptions{MinClusterSize: 10}}
	v, err := tr.Train(context.Background(), projectID)
	if err != nil || v == 0 {
		t.Fatalf("train: version %d, %v", v, err)
	}
	return v
}

// inlineEvents are a session's unsent events of a demo buyer, timed now.
func inlineEvents(n int) []map[string]any {
	now := time.Now().Add(-time.Minute).UnixMilli()
	var evs []map[string]any
	for i := 0; i < n; i++ {
		ts := now + int64(i)
		switch i % 4 {
		case 0:
			evs = append(evs, map[string]any{"type": "pageview", "ts": ts, "url": testserver.Origin + fmt.Sprintf("/p/%d", i)})
		case 1:
			evs = append(evs, map[string]any{"type": "click", "ts": ts, "url": testserver.Origin + "/cart",
				"element": map[string]any{"tag": "button", "id": "buy", "classes": []string{"btn", "primary"}, "text": "Add to cart"}})
		case 2:
			evs = append(evs, map[string]any{"type": "goal", "ts": ts, "name": "add_to_cart"})
		default:
			evs = append(evs, map[string]any{"type": "leave", "ts": ts, "url": testserver.Origin + "/checkout", "duration_ms": 40000, "scroll_depth": 0.7})
		}
	}
	return evs
}

// TestClassify covers the public contract of POST /v1/classify: bad input with exact statuses,
// each reason, inline events merged but not stored, assignments written, and a corrupted model
// answering no_model.
func TestClassify(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "owner@shop.example", false)
	ctx := context.Background()
	owner, _, err := srv.Store.EnsureUser(ctx, "b@other.example", "correct horse battery staple", false)
	if err != nil {
		t.Fatal(err)
	}
	const otherOrigin = "https://other.example"
	other, err := srv.Store.CreateProject(ctx, owner.ID, "Other", []string{otherOrigin})
	if err != nil {
		t.Fatal(err)
	}
	vs := demodata.Generate(demodata.Config{Visitors: 400, Days: 14, End: time.Now().Add(-time.Hour), Site: testserver.Origin, Seed: 3})
	importVisitors(t, srv, acct.Token, acct.ProjectID, vs)
	// The other project knows a visitor, but has no model.
	srv.Collect(t, acct.SiteKey, "warmup", "s", inlineEvents(4))
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/collect", Body: map[string]any{"site_key": other.SiteKey,
		"visitor_id": vs[0].ID, "session_id": "s1", "events": inlineEvents(4)},
		Header: map[string]string{"Origin": otherOrigin, "Content-Type": "text/plain"}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("collect on the other project: %d %s", r.Status, r.Body)
	}

	// Before any model: no_model, for known and unknown visitors alike.
	_, a := classifyAt(t, srv, testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": vs[0].ID})
	if a.Reason != "no_model" || a.Persona != nil || a.ModelVersion != nil {
		t.Fatalf("before training: %+v, want no_model", a)
	}
	version := trainDirect(t, srv, acct.ProjectID)

	tooMany := inlineEvents(201)
	huge := map[string]any{"site_key": acct.SiteKey, "visitor_id": "v", "events": []map[string]any{
		{"type": "click", "ts": time.Now().UnixMilli(), "url": testserver.Origin + "/",
			"element": map[string]any{"tag": "a", "text": strings.Repeat("x", 70<<10)}}}}
	bad := []struct {
		name   string
		origin string
		body   any
		status int
		code   string
	}{
		{"wrong origin", "https://evil.example", map[string]any{"site_key": acct.SiteKey, "visitor_id": "v"}, 403, "origin"},
		{"no origin", "", map[string]any{"site_key": acct.SiteKey, "visitor_id": "v"}, 403, "origin"},
		{"other project's key", testserver.Origin, map[string]any{"site_key": other.SiteKey, "visitor_id": "v"}, 403, "origin"},
		{"unknown key", testserver.Origin, map[string]any{"site_key": "pk_doesnotexist", "visitor_id": "v"}, 403, "site_key"},
		{"malformed JSON", testserver.Origin, `{"site_key": "` + acct.SiteKey + `", "visitor_id": `, 400, "bad_request"},
		{"not an object", testserver.Origin, `[1,2]`, 400, "bad_request"},
		{"unknown field", testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": "v", "email": "a@b.c"}, 400, "bad_request"},
		{"no visitor", testserver.Origin, map[string]any{"site_key": acct.SiteKey}, 400, "bad_request"},
		{"visitor id too long", testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": strings.Repeat("v", 129)}, 400, "bad_request"},
		{"bad event type", testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": "v",
			"events": []map[string]any{{"type": "scroll", "ts": time.Now().UnixMilli()}}}, 400, "bad_request"},
		{"more than 200 events", testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": "v", "events": tooMany}, 400, "bad_request"},
		{"oversized inline events", testserver.Origin, huge, 413, "too_large"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			r, _ := classifyAt(t, srv, c.origin, c.body)
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(r.Body, &e)
			if r.Status != c.status || e.Error.Code != c.code {
				t.Errorf("status %d code %q, want %d %q: %s", r.Status, e.Error.Code, c.status, c.code, r.Body)
			}
		})
	}

	// The other project has no model even though it knows the visitor.
	_, a = classifyAt(t, srv, otherOrigin, map[string]any{"site_key": other.SiteKey, "visitor_id": vs[0].ID})
	if a.Reason != "no_model" || a.Persona != nil || len(a.Probabilities) != 0 {
		t.Errorf("other project: %+v, want no_model", a)
	}

	personas := listPersonas(t, srv, acct.Token, acct.ProjectID)
	known := map[uuid.UUID]string{}
	for _, p := range personas.Personas {
		known[p.ID] = p.Name
	}
	// Known visitors: ok (or, for the far-off few, outlier) with consistent probabilities.
	ok, outliers := 0, 0
	var okVisitor string
	var okPersona uuid.UUID
	for _, v := range vs[:40] {
		_, a := classifyAt(t, srv, testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": v.ID})
		if a.ModelVersion == nil || *a.ModelVersion != version || len(a.Probabilities) != len(known) {
			t.Fatalf("visitor %s: %+v, want version %d with %d probabilities", v.ID, a, version, len(known))
		}
		sum, maxP := 0.0, 0.0
		for _, p := range a.Probabilities {
			if _, ok := known[p.PersonaID]; !ok {
				t.Fatalf("probability for unknown persona %s", p.PersonaID)
			}
			sum += p.P
			maxP = math.Max(maxP, p.P)
		}
		if math.Abs(sum-1) > 0.01 || math.Abs(a.Confidence-maxP) > 1e-3 {
			t.Errorf("visitor %s: probabilities sum to %v, confidence %v vs max %v", v.ID, sum, a.Confidence, maxP)
		}
		switch a.Reason {
		case "ok":
			if a.Persona == nil || known[a.Persona.ID] != a.Persona.Name || a.Persona.Type == "" {
				t.Fatalf("visitor %s: persona %+v, want one of %v", v.ID, a.Persona, known)
			}
			ok++
			okVisitor, okPersona = v.ID, a.Persona.ID
		case "outlier":
			if a.Persona != nil {
				t.Errorf("outlier with a persona: %+v", a)
			}
			outliers++
		default:
			t.Errorf("known visitor %s: reason %q", v.ID, a.Reason)
		}
	}
	if ok < 30 {
		t.Errorf("%d of 40 known visitors ok (%d outliers), want most", ok, outliers)
	}

	// Unknown visitor: unknown_visitor, with the model version.
	_, a = classifyAt(t, srv, testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": "never-seen"})
	if a.Reason != "unknown_visitor" || a.Persona != nil || a.ModelVersion == nil || *a.ModelVersion != version {
		t.Errorf("unknown visitor: %+v", a)
	}

	// Inline events: classified, never stored.
	countEvents := func() int {
		var n int
		if err := srv.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE project_id = $1`, acct.ProjectID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := countEvents()
	_, a = classifyAt(t, srv, testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": "inline-only",
		"session_id": "s9", "events": inlineEvents(12)})
	if a.Reason != "ok" && a.Reason != "outlier" {
		t.Errorf("inline-only visitor: %+v, want ok or outlier", a)
	}
	if after := countEvents(); after != before {
		t.Errorf("classify stored %d events", after-before)
	}
	if _, err := srv.Store.VisitorFeatures(ctx, acct.ProjectID, srv.Store.VisitorHash(acct.ProjectID, "inline-only")); err != models.ErrNotFound {
		t.Errorf("classify created aggregates for an inline-only visitor: %v", err)
	}

	// Far-off behaviour: outlier, without a persona.
	var far []map[string]any
	for i := 0; i < 200; i++ {
		far = append(far, map[string]any{"type": "click", "ts": time.Now().Add(-time.Minute).UnixMilli() + int64(i),
			"url": testserver.Origin + "/admin/zzz", "element": map[string]any{"tag": "canvas"}})
	}
	_, a = classifyAt(t, srv, testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": "far-off", "events": far})
	if a.Reason != "outlier" || a.Persona != nil || len(a.Probabilities) != len(known) {
		t.Errorf("far-off visitor: %+v, want outlier", a)
	}

	// Assignments are written off the request path.
	hash := srv.Store.VisitorHash(acct.ProjectID, okVisitor)
	testserver.Eventually(t, 10*time.Second, "assignment written", func() bool {
		var pid uuid.UUID
		var v int
		err := srv.Pool.QueryRow(ctx, `SELECT persona_id, model_version FROM visitor_personas WHERE project_id = $1 AND visitor_hash = $2`,
			acct.ProjectID, hash).Scan(&pid, &v)
		return err == nil && pid == okPersona && v == version
	})

	// An unchanged answer is not written again; an erasure request makes the next one write.
	unchanged := func() float64 {
		m := srv.Do(t, testserver.Request{Method: "GET", Path: "/metrics"})
		return metricValue(t, string(m.Body), "personas_assignment_writes_unchanged_total")
	}
	skipped := unchanged()
	for range 3 {
		if _, a := classifyAt(t, srv, testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": okVisitor}); a.Persona == nil || a.Persona.ID != okPersona {
			t.Fatalf("classify again: %+v, want persona %s", a, okPersona)
		}
	}
	if got := unchanged() - skipped; got != 3 {
		t.Errorf("%v unchanged assignments skipped, want 3", got)
	}
	if _, err := srv.Pool.Exec(ctx, `DELETE FROM visitor_personas WHERE project_id = $1 AND visitor_hash = $2`, acct.ProjectID, hash); err != nil {
		t.Fatal(err)
	}
	if r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/forget", Body: map[string]any{"site_key": acct.SiteKey, "visitor_id": okVisitor},
		Header: map[string]string{"Origin": testserver.Origin, "Content-Type": "text/plain"}}); r.Status != http.StatusAccepted {
		t.Fatalf("forget: %d %s", r.Status, r.Body)
	}
	// The erasure request removes the visitor's aggregates at once. When the visitor comes back,
	// the next answer is written, even if it names the same persona as before.
	srv.Collect(t, acct.SiteKey, okVisitor, "s-back", inlineEvents(8))
	if _, a := classifyAt(t, srv, testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": okVisitor}); a.Reason != "ok" && a.Reason != "outlier" {
		t.Fatalf("returning visitor: %+v", a)
	}
	testserver.Eventually(t, 10*time.Second, "assignment written again after the erasure request", func() bool {
		var n int
		err := srv.Pool.QueryRow(ctx, `SELECT count(*) FROM visitor_personas WHERE project_id = $1 AND visitor_hash = $2`,
			acct.ProjectID, hash).Scan(&n)
		return err == nil && n == 1
	})

	// Successful classify requests are logged at debug level only, refused ones at info.
	var okLine, refusedLine bool
	for _, l := range strings.Split(srv.Logs.String(), "\n") {
		if !strings.Contains(l, `"msg":"request"`) || !strings.Contains(l, `"route":"/v1/classify"`) {
			continue
		}
		switch {
		case strings.Contains(l, `"status":200`):
			okLine = true
			if !strings.Contains(l, `"level":"DEBUG"`) {
				t.Errorf("a successful classify logged above debug: %s", l)
			}
		case strings.Contains(l, `"status":403`):
			refusedLine = true
			if !strings.Contains(l, `"level":"INFO"`) {
				t.Errorf("a refused classify not logged at info: %s", l)
			}
		}
	}
	if !okLine || !refusedLine {
		t.Errorf("access log lines: successful %v, refused %v; want both", okLine, refusedLine)
	}

	// A corrupted model: no_model, never a 500, and a metric.
	if _, err := srv.Pool.Exec(ctx, `UPDATE persona_models SET model_enc = 'garbage' WHERE project_id = $1`, acct.ProjectID); err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.Notify(ctx, models.Change{Kind: models.ChangeModelPublished, ProjectID: acct.ProjectID, Version: version}); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 10*time.Second, "corrupted model answers no_model", func() bool {
		r, a := classifyAt(t, srv, testserver.Origin, map[string]any{"site_key": acct.SiteKey, "visitor_id": okVisitor})
		if r.Status != http.StatusOK {
			t.Fatalf("corrupted model: status %d: %s", r.Status, r.Body)
		}
		return a.Reason == "no_model" && a.Persona == nil
	})
	m := srv.Do(t, testserver.Request{Method: "GET", Path: "/metrics"})
	if !strings.Contains(string(m.Body), "personas_model_load_errors_total 1") {
		t.Errorf("metrics lack one model load error:\n%s", grepLines(string(m.Body), "personas_model_load_errors_total"))
	}
	if !strings.Contains(srv.Logs.String(), `"msg":"model unreadable"`) {
		t.Errorf("no error log for the unreadable model")
	}
}

// metricValue reads an unlabelled sample of a Prometheus text exposition (0 when absent).
func metricValue(t *testing.T, exposition, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(l, name+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("metric %s: %q", name, l)
			}
			return v
		}
	}
	return 0
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// freshWithin is how soon every API instance must see a publication or a deletion.
const freshWithin = time.Second

// TestClassifyFreshAcrossInstances runs two API instances on one database and one Redis: a
// model published through one and the personas deleted through the other are each seen by both
// within a second.
func TestClassifyFreshAcrossInstances(t *testing.T) {
	t.Parallel()
	a := testserver.New(t, testserver.Options{})
	b := testserver.New(t, testserver.Options{Env: a.Env, Redis: a.Redis, NoWorker: true})
	acct := a.NewAccount(t, "owner@shop.example", false)
	vs := demodata.Generate(demodata.Config{Visitors: 400, Days: 14, End: time.Now().Add(-time.Hour), Site: testserver.Origin, Seed: 5})
	importVisitors(t, a, acct.Token, acct.ProjectID, vs)
	visitor := map[string]any{"site_key": acct.SiteKey, "visitor_id": vs[1].ID}
	for _, srv := range []*testserver.Server{a, b} {
		// Both instances cache the project (and its lack of a model) first.
		if _, ans := classifyAt(t, srv, testserver.Origin, visitor); ans.Reason != "no_model" {
			t.Fatalf("before training: %+v", ans)
		}
	}
	seenBy := func(what string, cond func(classifyAnswer) bool) {
		t.Helper()
		start := time.Now()
		for _, srv := range []*testserver.Server{a, b} {
			testserver.Eventually(t, freshWithin-time.Since(start), what+" on "+srv.URL, func() bool {
				_, ans := classifyAt(t, srv, testserver.Origin, visitor)
				return cond(ans)
			})
		}
		t.Logf("%s seen by both instances after %s", what, time.Since(start))
	}

	// Publish through a (its worker trains); wait on b's run status, then both answer.
	r := a.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + acct.ProjectID.String() + "/models", Token: acct.Token})
	var acc struct{ ID uuid.UUID }
	r.JSON(t, &acc)
	testserver.Eventually(t, 60*time.Second, "model published", func() bool {
		run, err := b.Store.TrainingRun(context.Background(), acct.ProjectID, acc.ID)
		return err == nil && run.Status == "published"
	})
	seenBy("publication", func(ans classifyAnswer) bool {
		return ans.ModelVersion != nil && *ans.ModelVersion == 1 && ans.Reason != "no_model"
	})

	// Delete the personas through b (a's worker runs the cascade).
	r = b.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + acct.ProjectID.String() + "/deletions", Token: acct.Token,
		Body: map[string]string{"scope": "personas"}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("delete personas: %d %s", r.Status, r.Body)
	}
	var del struct{ ID uuid.UUID }
	r.JSON(t, &del)
	testserver.Eventually(t, 60*time.Second, "deletion done", func() bool {
		d, err := a.Store.Deletion(context.Background(), del.ID)
		if err == nil && (d.Status == "failed" || d.Error != "") {
			t.Fatalf("deletion: status %s, error %q", d.Status, d.Error)
		}
		return err == nil && d.Status == "done"
	})
	seenBy("deletion", func(ans classifyAnswer) bool {
		return ans.Reason == "no_model" && ans.Persona == nil && ans.ModelVersion == nil
	})
}
