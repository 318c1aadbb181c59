package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/api"
	"personas/internal/tcpproxy"
	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/models"
)

// TestDeliveryCountersAddUp sends a mixed load of good and bad requests, cuts PostgreSQL in the
// middle (through a proxy of the test's own), restores it, and checks that for each reason the
// counted events equal the events offered, and that "stored" equals the rows in events.
func TestDeliveryCountersAddUp(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	u, _ := url.Parse(e.DataURL)
	proxy := tcpproxy.New(t, u.Host)
	u.Host = proxy.Addr()
	proxied := *e
	proxied.Pool = testenv.Pool(t, u.String())
	proxied.Store = models.NewStore(proxied.Pool, e.Keys, e.Keyring, e.Index)
	srv := testserver.New(t, testserver.Options{Env: &proxied, NoWorker: true})
	acct := srv.NewAccount(t, "owner@example.com", false)

	offered := map[string]int64{}
	now := time.Now().UnixMilli()
	event := func(i int, ts int64) map[string]any {
		return map[string]any{"type": "pageview", "ts": ts, "url": fmt.Sprintf("https://shop.example/p/%d", i)}
	}
	send := func(origin string, body any) int {
		h := map[string]string{"Content-Type": "text/plain"}
		if origin != "" {
			h["Origin"] = origin
		}
		return srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/collect", Header: h, Body: body}).Status
	}
	payload := func(visitor string, events ...map[string]any) map[string]any {
		return map[string]any{"site_key": acct.SiteKey, "visitor_id": visitor, "session_id": "s", "events": events}
	}
	round := func(r int, expectStored bool) {
		good := payload(fmt.Sprintf("v%d", r), event(1, now), event(2, now), event(3, now-72*3600*1000))
		switch st := send(testserver.Origin, good); {
		case expectStored && st == http.StatusNoContent:
			offered[models.ReasonStored] += 2
			offered[models.ReasonTooOld]++
		case !expectStored && st == http.StatusServiceUnavailable:
			offered[models.ReasonUnavailable] += 2
			offered[models.ReasonTooOld]++
		default:
			t.Fatalf("round %d (stored=%v): good request answered %d", r, expectStored, st)
		}
		if st := send("https://evil.example", payload("x", event(1, now), event(2, now))); st != http.StatusForbidden {
			t.Fatalf("wrong origin answered %d", st)
		}
		offered[models.ReasonOrigin] += 2
		bad := map[string]any{"site_key": acct.SiteKey, "visitor_id": "x", "session_id": "s",
			"events": []map[string]any{{"type": "teleport", "ts": now}}}
		if st := send(testserver.Origin, bad); st != http.StatusBadRequest {
			t.Fatalf("bad shape answered %d", st)
		}
		offered[models.ReasonBadShape]++
	}
	for r := 0; r < 5; r++ {
		round(r, true)
	}
	proxy.Cut()
	for r := 5; r < 8; r++ {
		round(r, false)
	}
	proxy.Restore()
	testserver.Eventually(t, 15*time.Second, "collect works again after PostgreSQL is back", func() bool {
		st := send(testserver.Origin, payload("probe", event(9, now)))
		if st == http.StatusNoContent {
			offered[models.ReasonStored]++
			return true
		}
		offered[models.ReasonUnavailable]++
		return false
	})
	for r := 8; r < 10; r++ {
		round(r, true)
	}

	got := e.Tally(t, ingestStatsByReason, acct.ProjectID)
	for reason, want := range offered {
		if got[reason] != want {
			t.Errorf("ingest_stats[%s] = %d, offered %d", reason, got[reason], want)
		}
	}
	for reason, n := range got {
		if _, ok := offered[reason]; !ok {
			t.Errorf("ingest_stats has %d events under unexpected reason %s", n, reason)
		}
	}
	var stored int64
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE project_id = $1`, acct.ProjectID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != got[models.ReasonStored] {
		t.Errorf("events table holds %d rows, ingest_stats says %d stored", stored, got[models.ReasonStored])
	}
}

// TestDropsCountedThroughLongOutage cuts PostgreSQL (a proxy of the test's own) for many times
// the site cache's lifetime and the interval at which caches are refreshed (both made short
// here instead of waiting 30 s): every collect during the outage answers 503 with Retry-After,
// and once PostgreSQL is back, with no further request to carry them, the drops counted in
// ingest_stats equal the events those requests held, exactly.
func TestDropsCountedThroughLongOutage(t *testing.T) {
	t.Parallel()
	const ttl, refresh, outage = 50 * time.Millisecond, 100 * time.Millisecond, 1500 * time.Millisecond
	e := testenv.New(t)
	u, _ := url.Parse(e.DataURL)
	proxy := tcpproxy.New(t, u.Host)
	u.Host = proxy.Addr()
	proxied := *e
	proxied.Pool = testenv.Pool(t, u.String())
	proxied.Store = models.NewStore(proxied.Pool, e.Keys, e.Keyring, e.Index)
	srv := testserver.New(t, testserver.Options{Env: &proxied, NoWorker: true,
		APIConfig: api.Config{SiteCacheTTL: ttl, VersionCheck: refresh}})
	acct := srv.NewAccount(t, "outage@example.com", false)
	now := time.Now().UnixMilli()
	payload := func(visitor string, fresh, old int) map[string]any {
		var evs []map[string]any
		for i := range fresh {
			evs = append(evs, map[string]any{"type": "pageview", "ts": now, "url": fmt.Sprintf("https://shop.example/p/%d", i)})
		}
		for range old {
			evs = append(evs, map[string]any{"type": "pageview", "ts": now - 72*3600*1000, "url": "https://shop.example/old"})
		}
		return map[string]any{"site_key": acct.SiteKey, "visitor_id": visitor, "session_id": "s", "events": evs}
	}
	collect := func(body any) testserver.Response {
		return srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/collect", Body: body,
			Header: map[string]string{"Origin": testserver.Origin, "Content-Type": "text/plain"}})
	}
	if r := collect(payload("before", 1, 0)); r.Status != http.StatusNoContent {
		t.Fatalf("collect before the outage: %d %s", r.Status, r.Body)
	}
	want := map[string]int64{models.ReasonStored: 1}

	proxy.Cut()
	start := time.Now()
	requests := 0
	for i := 0; time.Since(start) < outage; i++ {
		fresh, old := 1+i%5, i%2
		r := collect(payload(fmt.Sprintf("v%d", i), fresh, old))
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Fatalf("request %d, %s into the outage: %d Retry-After %q, want 503 with Retry-After: %s",
				i, time.Since(start).Round(time.Millisecond), r.Status, r.Header.Get("Retry-After"), r.Body)
		}
		want[models.ReasonUnavailable] += int64(fresh)
		if old > 0 {
			want[models.ReasonTooOld] += int64(old)
		}
		requests++
	}
	if requests < 20 {
		t.Fatalf("only %d requests during the outage", requests)
	}
	t.Logf("%d requests over %s of outage (site cache lifetime %s, refresh every %s)", requests, outage, ttl, refresh)
	proxy.Restore()

	got := func() map[string]int64 { return e.Tally(t, ingestStatsByReason, acct.ProjectID) }
	testserver.Eventually(t, 20*time.Second, "the drops kept through the outage reach ingest_stats", func() bool {
		return srv.Ingester.PendingDrops() == 0 && got()[models.ReasonUnavailable] >= want[models.ReasonUnavailable]
	})
	if diff := cmp.Diff(want, got()); diff != "" {
		t.Errorf("ingest_stats per reason (-offered +counted):\n%s", diff)
	}
}
