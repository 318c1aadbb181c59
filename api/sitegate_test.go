package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/api"
	"personas/internal/testserver"
)

// pageRequest sends a page request (collect, classify, forget) for siteKey from origin and
// returns its status, error code and Retry-After.
func pageRequest(t *testing.T, srv *testserver.Server, route, siteKey, origin string) (int, string, string) {
	t.Helper()
	body := map[string]any{"site_key": siteKey, "visitor_id": "00000000-gate"}
	if route == "collect" {
		body["session_id"] = "s"
		body["events"] = []map[string]any{
			{"type": "pageview", "ts": time.Now().UnixMilli(), "url": testserver.Origin + "/a"},
			{"type": "pageview", "ts": time.Now().UnixMilli(), "url": testserver.Origin + "/b"}}
	}
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/" + route, Body: body,
		Header: map[string]string{"Origin": origin, "Content-Type": "text/plain"}})
	var e struct{ Error struct{ Code string } }
	if r.Status >= 400 {
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatalf("%s: error body %s: %v", route, r.Body, err)
		}
	}
	return r.Status, e.Error.Code, r.Header.Get("Retry-After")
}

// TestSiteGate: collect, classify and forget pass the one site gate. Each refuses an unknown
// key and a foreign origin with 403, and a client past its rate with 429 and Retry-After; each
// route has its own client bucket; only collect counts its refused events (origin, rate) in the
// project's delivery counters.
func TestSiteGate(t *testing.T) {
	t.Parallel()
	// 0.1 per second, a burst of 1: the second request of a route is refused for ten seconds.
	srv := testserver.New(t, testserver.Options{NoWorker: true, APIConfig: api.Config{RatePerClient: 0.1, RatePerSite: -1}})
	acct := srv.NewAccount(t, "gate@shop.example", false)
	ok := map[string]int{"collect": http.StatusNoContent, "classify": http.StatusOK, "forget": http.StatusAccepted}
	counted := map[string]map[string]int64{
		"collect":  {"origin": 4, "rate": 2, "stored": 2}, // two origin refusals of 2 events
		"classify": {},
		"forget":   {},
	}
	for _, route := range []string{"collect", "classify", "forget"} {
		t.Run(route, func(t *testing.T) {
			before := ingestStats(t, srv, acct.ProjectID)
			steps := []struct {
				name, key, origin string
				status            int
				code, retry       string
			}{
				{"unknown site key", "pk_doesnotexist", testserver.Origin, http.StatusForbidden, "site_key", ""},
				{"foreign origin", acct.SiteKey, "https://evil.example", http.StatusForbidden, "origin", ""},
				{"no origin", acct.SiteKey, "", http.StatusForbidden, "origin", ""},
				{"first request", acct.SiteKey, testserver.Origin, ok[route], "", ""},
				{"past the client's rate", acct.SiteKey, testserver.Origin, http.StatusTooManyRequests, "rate_limited", "1"},
			}
			for _, st := range steps {
				status, code, retry := pageRequest(t, srv, route, st.key, st.origin)
				if status != st.status || code != st.code || retry != st.retry {
					t.Errorf("%s: %d %q Retry-After %q, want %d %q %q", st.name, status, code, retry, st.status, st.code, st.retry)
				}
			}
			after := ingestStats(t, srv, acct.ProjectID)
			diff := map[string]int64{}
			for k, v := range after {
				if d := v - before[k]; d != 0 {
					diff[k] = d
				}
			}
			if d := cmp.Diff(counted[route], diff); d != "" {
				t.Errorf("ingest_stats changed (-want +got):\n%s", d)
			}
		})
	}
}

// TestSiteGateSiteRate: the per-site bucket is collect's alone and per site key: a site past
// its rate is refused whatever the client, while its classify and another site's collect go on.
func TestSiteGateSiteRate(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true, APIConfig: api.Config{RatePerClient: -1, RatePerSite: 0.1}})
	a := srv.NewAccount(t, "site-a@shop.example", false)
	b := srv.NewAccount(t, "site-b@shop.example", false)
	steps := []struct {
		name, route, key string
		status           int
	}{
		{"site A's first collect", "collect", a.SiteKey, http.StatusNoContent},
		{"site A past its rate", "collect", a.SiteKey, http.StatusTooManyRequests},
		{"site A's classify", "classify", a.SiteKey, http.StatusOK},
		{"site A's forget", "forget", a.SiteKey, http.StatusAccepted},
		{"site B's first collect", "collect", b.SiteKey, http.StatusNoContent},
	}
	for _, st := range steps {
		if status, _, _ := pageRequest(t, srv, st.route, st.key, testserver.Origin); status != st.status {
			t.Errorf("%s: %d, want %d", st.name, status, st.status)
		}
	}
	if got := ingestStats(t, srv, a.ProjectID)["rate"]; got != 2 {
		t.Errorf("site A's rate drops %d, want the 2 events of its refused collect", got)
	}
}
