package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"personas/api"
	"personas/internal/testserver"
)

// BenchmarkSignInFlood is the hostile review's sign-in flood: each iteration sends 64 sign-ins
// at once (distinct addresses and accounts, so no back-off stops them) while one client posts
// collect requests back to back. It reports collect's latency during the flood, the peak heap
// and resident set of the process, and how the sign-ins were answered. "unbounded" gives every
// sign-in a hashing slot, as before the fix; "bounded" is the default (privacy.DefaultHashSlots).
// A collect answered 503 (storage starved of connections) is counted in collect-503/op.
//
//	go test -tags nomsgpack -run '^$' -bench BenchmarkSignInFlood -benchtime 3x ./api/
func BenchmarkSignInFlood(b *testing.B) {
	cases := []struct {
		name  string
		slots int
		flood bool
	}{
		{"idle", 0, false},
		{"bounded", 0, true},
		{"unbounded", 64, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			srv := testserver.New(b, testserver.Options{NoWorker: true, LogOutput: io.Discard,
				APIConfig: api.Config{PasswordHashes: bc.slots}})
			acct := srv.NewAccount(b, "flood-"+bc.name+"@bench.example", false)
			collector := &http.Client{Timeout: 30 * time.Second}
			collectFailed := 0
			collect := func(i int) time.Duration {
				body := `{"site_key":"` + acct.SiteKey + `","visitor_id":"v` + strconv.Itoa(i%500) + `","session_id":"s","events":[{"type":"pageview","ts":` +
					strconv.FormatInt(time.Now().UnixMilli(), 10) + `,"url":"` + testserver.Origin + `/p/` + strconv.Itoa(i%50) + `"}]}`
				req, _ := http.NewRequest("POST", srv.URL+"/v1/collect", strings.NewReader(body))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Origin", testserver.Origin)
				start := time.Now()
				resp, err := collector.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusNoContent:
				case http.StatusServiceUnavailable: // storage starved: counted, and its latency kept
					collectFailed++
				default:
					b.Fatalf("collect: %d", resp.StatusCode)
				}
				return time.Since(start)
			}
			for i := range 50 { // warm the connections, caches and the visitor rows
				collect(i)
			}
			runtime.GC()
			debug.FreeOSMemory()
			baseRSS := rssBytes()

			var peakHeap, peakRSS uint64
			stopSampling := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					metrics.Read(s)
					peakHeap = max(peakHeap, s[0].Value.Uint64())
					peakRSS = max(peakRSS, rssBytes())
					select {
					case <-stopSampling:
						return
					case <-tick.C:
					}
				}
			}()

			var lat []time.Duration
			status := map[int]int{}
			var mu sync.Mutex
			n := 0
			b.ResetTimer()
			for wave := range b.N {
				done := make(chan struct{})
				var wg sync.WaitGroup
				if bc.flood {
					for i := range 64 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							ip := fmt.Sprintf("127.%d.%d.%d", 20+wave/200, wave%200, i+1)
							req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL+"/v1/session",
								strings.NewReader(loginJSON(fmt.Sprintf("w%d-%d@bench.example", wave, i), "wrong password!")))
							req.Header.Set("Content-Type", "application/json")
							resp, err := clientFrom(ip).Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							mu.Lock()
							status[resp.StatusCode]++
							mu.Unlock()
						}()
					}
					go func() { wg.Wait(); close(done) }()
				} else {
					go func() { time.Sleep(2 * time.Second); close(done) }()
				}
			loop:
				for {
					select {
					case <-done:
						break loop
					default:
						lat = append(lat, collect(n))
						n++
					}
				}
			}
			b.StopTimer()
			close(stopSampling)
			<-sampled
			slices.Sort(lat)
			if len(lat) == 0 {
				b.Fatal("no collect request finished during the flood")
			}
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.5), "collect-p50-ms")
			b.ReportMetric(q(0.99), "collect-p99-ms")
			b.ReportMetric(float64(len(lat))/float64(b.N), "collects/op")
			b.ReportMetric(float64(collectFailed)/float64(b.N), "collect-503/op")
			b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(baseRSS)/(1<<20), "base-RSS-MiB")
			if bc.flood {
				b.ReportMetric(float64(status[http.StatusUnauthorized])/float64(b.N), "signin-401/op")
				b.ReportMetric(float64(status[http.StatusServiceUnavailable])/float64(b.N), "signin-503/op")
				if other := 64*b.N - status[http.StatusUnauthorized] - status[http.StatusServiceUnavailable]; other != 0 {
					b.Errorf("%d sign-ins answered neither 401 nor 503: %v", other, status)
				}
			}
		})
	}
}

// rssBytes is the process's resident set, from /proc/self/statm.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}
