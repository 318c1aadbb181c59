package api_test

import (
	"net/http"
	"testing"
	"time"

	"personas/api"
	"personas/internal/demodata"
	"personas/internal/testserver"
)

// TestDeletionEvictsEveryInstance runs two API instances on one database and one Redis. Both
// classify a visitor first, so each caches the site, the model and the visitor's aggregates;
// then deletions go through instance a, and within a second (the time an erasure may take to
// reach every cache, the visitor aggregates cache included) instance b answers as a has: the
// erased visitor is unknown (another visitor still classified), the deleted personas leave no
// model, and the deleted project's site key is refused.
func TestDeletionEvictsEveryInstance(t *testing.T) {
	t.Parallel()
	a := testserver.New(t, testserver.Options{})
	// b keeps every cache for an hour, and checks its model versions hourly: only the
	// notifications of a's deletions can refresh it within the second.
	b := testserver.New(t, testserver.Options{Env: a.Env, Redis: a.Redis, NoWorker: true,
		APIConfig: api.Config{VisitorTTL: time.Hour, SiteCacheTTL: time.Hour, VersionCheck: time.Hour}})
	acct := a.NewAccount(t, "owner@shop.example", false)
	vs := demodata.Generate(demodata.Config{Visitors: 400, Days: 14, End: time.Now().Add(-time.Hour), Site: testserver.Origin, Seed: 7})
	importVisitors(t, a, acct.Token, acct.ProjectID, vs)
	trainDirect(t, a, acct.ProjectID)
	erased := map[string]any{"site_key": acct.SiteKey, "visitor_id": vs[1].ID}
	kept := map[string]any{"site_key": acct.SiteKey, "visitor_id": vs[2].ID}
	for _, srv := range []*testserver.Server{a, b} {
		for _, v := range []map[string]any{erased, kept} {
			testserver.Eventually(t, 5*time.Second, "the model on "+srv.URL, func() bool {
				_, ans := classifyAt(t, srv, testserver.Origin, v)
				return ans.ModelVersion != nil && ans.Reason != "no_model" && ans.Reason != "unknown_visitor"
			})
		}
	}
	onBoth := func(what string, body map[string]any, cond func(testserver.Response, classifyAnswer) bool) {
		t.Helper()
		start := time.Now()
		for _, srv := range []*testserver.Server{a, b} {
			testserver.Eventually(t, freshWithin-time.Since(start), what+" on "+srv.URL, func() bool {
				return cond(classifyAt(t, srv, testserver.Origin, body))
			})
		}
		t.Logf("%s seen by both instances after %s", what, time.Since(start))
	}
	deletion := func(body map[string]string) {
		t.Helper()
		r := a.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + acct.ProjectID.String() + "/deletions",
			Token: acct.Token, Body: body})
		if r.Status != http.StatusAccepted {
			t.Fatalf("deletion %v: %d %s", body, r.Status, r.Body)
		}
	}

	deletion(map[string]string{"scope": "visitor", "visitor_id": vs[1].ID})
	onBoth("the visitor's erasure", erased, func(_ testserver.Response, ans classifyAnswer) bool {
		return ans.Reason == "unknown_visitor" && ans.Persona == nil && len(ans.Probabilities) == 0
	})
	for _, srv := range []*testserver.Server{a, b} {
		if _, ans := classifyAt(t, srv, testserver.Origin, kept); ans.Reason == "unknown_visitor" || ans.ModelVersion == nil {
			t.Errorf("another visitor on %s after one's erasure: %+v, want still classified", srv.URL, ans)
		}
	}

	deletion(map[string]string{"scope": "personas"})
	onBoth("the personas' deletion", kept, func(_ testserver.Response, ans classifyAnswer) bool {
		return ans.Reason == "no_model" && ans.Persona == nil && ans.ModelVersion == nil
	})

	deletion(map[string]string{"scope": "all"})
	onBoth("the project's deletion", kept, func(r testserver.Response, _ classifyAnswer) bool {
		return r.Status != http.StatusOK
	})
	for _, srv := range []*testserver.Server{a, b} {
		if r, _ := classifyAt(t, srv, testserver.Origin, kept); r.Status < 400 || r.Status >= 500 {
			t.Errorf("the deleted project's site key on %s: %d %s, want refused (4xx)", srv.URL, r.Status, r.Body)
		}
	}
}
