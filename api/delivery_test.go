package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"personas/internal/tcpproxy"
	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/models"
)

// TestDeliveryCountersAddUp sends a mixed load of good and bad requests, cuts PostgreSQL in the
// middle (through a proxy of the test's own), restores it, and checks that for each reason the
// counted events equal the events offered, and that "stored" equals the rows in events.
func TestDeliveryCountersAddUp(t *testing.T) {
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

	got := map[string]int64{}
	rows, err := e.Pool.Query(context.Background(), `SELECT reason, sum(events)::bigint FROM ingest_stats WHERE project_id = $1 GROUP BY reason`, acct.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		var n int64
		if err := rows.Scan(&r, &n); err != nil {
			t.Fatal(err)
		}
		got[r] = n
	}
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
