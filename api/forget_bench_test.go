package api_test

import (
	"fmt"
	"testing"
	"time"

	"personas/internal/testserver"
)

// BenchmarkForget times POST /v1/forget end to end for a known visitor (a deletion committed
// and enqueued) and for a visitor never seen (nothing written, the answer paced to the known
// ones'): the two should be close.
func BenchmarkForget(b *testing.B) {
	srv := testserver.New(b, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(b, "bench@forget.example", false)
	for _, known := range []bool{true, false} {
		b.Run(fmt.Sprintf("known=%v", known), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				v := fmt.Sprintf("v-%v-%d", known, i)
				if known {
					b.StopTimer()
					srv.Collect(b, acct.SiteKey, v, "s", []map[string]any{{"type": "pageview", "ts": time.Now().UnixMilli(), "url": testserver.Origin + "/"}})
					b.StartTimer()
				}
				r := srv.Do(b, testserver.Request{Method: "POST", Path: "/v1/forget", Body: map[string]string{"site_key": acct.SiteKey, "visitor_id": v},
					Header: map[string]string{"Origin": testserver.Origin, "Content-Type": "text/plain"}})
				if r.Status != 202 {
					b.Fatalf("forget: %d %s", r.Status, r.Body)
				}
			}
		})
	}
}
