// Command hostile repeats the hostile review's two floods against a running service and prints
// what they did to it:
//
//   - metrics: -methods requests with random methods (on real and random paths), then the size
//     of /metrics before and after;
//   - sign-in: waves of -signins concurrent sign-ins with wrong passwords (each from a loopback
//     address and an email of its own, so no back-off stops them) for -flood, while one client
//     posts collect requests back to back; collect's p50/p99 before and during the flood, and
//     the service's peak resident set and heap as its own /metrics report them (sampled every
//     50 ms).
//
// The service must listen on loopback (the sign-ins leave from 127.x.y.z addresses):
//
//	go run ./scripts/hostile -url http://127.0.0.1:8080 -site-key pk_… -origin https://shop.example
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

type flood struct {
	base, siteKey, origin string
	http                  *http.Client
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("hostile", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "the service's base URL (on loopback)")
	siteKey := fs.String("site-key", "", "a project's site key, for collect")
	origin := fs.String("origin", "https://shop.example", "an allowed origin of that project")
	methods := fs.Int("methods", 20000, "random-method requests")
	signins := fs.Int("signins", 64, "concurrent sign-ins per wave")
	dur := fs.Duration("flood", 5*time.Second, "how long the sign-in flood lasts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *siteKey == "" {
		return fmt.Errorf("-site-key is required")
	}
	f := &flood{base: strings.TrimRight(*base, "/"), siteKey: *siteKey, origin: *origin,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}

	before, err := f.scrapeSize()
	if err != nil {
		return err
	}
	start := time.Now()
	f.randomMethods(*methods)
	after, err := f.scrapeSize()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "metrics: %d random-method requests in %s; /metrics %d bytes before, %d after\n",
		*methods, time.Since(start).Round(time.Millisecond), before, after)

	idle := f.collectFor(3*time.Second, nil)
	rss, heap := f.gauges()
	fmt.Fprintf(out, "sign-in: idle collect p50 %.1f ms p99 %.1f ms (%d requests); RSS %.0f MiB, heap %.0f MiB\n",
		q(idle, 0.5), q(idle, 0.99), len(idle), rss/(1<<20), heap/(1<<20))
	stop := make(chan struct{})
	var peakRSS, peakHeap float64
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			r, h := f.gauges()
			peakRSS, peakHeap = max(peakRSS, r), max(peakHeap, h)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	statuses := map[int]int{}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(*dur)
		for wave := 0; time.Now().Before(deadline); wave++ {
			var wg sync.WaitGroup
			for i := range *signins {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code := f.signIn(fmt.Sprintf("127.%d.%d.%d", 100+wave/250, wave%250, i%250+1), fmt.Sprintf("w%d-%d@flood.example", wave, i))
					mu.Lock()
					statuses[code]++
					mu.Unlock()
				}()
			}
			wg.Wait()
		}
	}()
	during := f.collectFor(0, done)
	close(stop)
	sampler.Wait()
	fmt.Fprintf(out, "sign-in: flood of %d at once for %s: collect p50 %.1f ms p99 %.1f ms (%d requests); peak RSS %.0f MiB, peak heap %.0f MiB; sign-ins by status %v\n",
		*signins, *dur, q(during, 0.5), q(during, 0.99), len(during), peakRSS/(1<<20), peakHeap/(1<<20), statuses)
	return nil
}

// randomMethods sends n requests with random methods from 16 clients: a quarter on /v1/collect,
// the rest on random paths.
func (f *flood) randomMethods(n int) {
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				path := "/v1/collect"
				if i%4 != 0 {
					path = "/" + word(16)
				}
				req, err := http.NewRequest(word(10), f.base+path, nil)
				if err != nil {
					continue
				}
				if resp, err := f.http.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

func word(n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

func (f *flood) scrapeSize() (int, error) {
	resp, err := f.http.Get(f.base + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return len(b), err
}

// gauges reads the service's resident set and heap in use from its /metrics.
func (f *flood) gauges() (rss, heap float64) {
	resp, err := f.http.Get(f.base + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			rss, _ = strconv.ParseFloat(v, 64)
		case "go_memstats_heap_inuse_bytes":
			heap, _ = strconv.ParseFloat(v, 64)
		}
	}
	return rss, heap
}

// collectFor posts collect requests back to back for d, or until done closes, and returns
// their latencies.
func (f *flood) collectFor(d time.Duration, done <-chan struct{}) []time.Duration {
	var lat []time.Duration
	deadline := time.Now().Add(d)
	for i := 0; ; i++ {
		if done == nil && time.Now().After(deadline) {
			break
		}
		if done != nil {
			select {
			case <-done:
				return lat
			default:
			}
		}
		body := `{"site_key":"` + f.siteKey + `","visitor_id":"hostile` + strconv.Itoa(i%200) + `","session_id":"s","events":[{"type":"pageview","ts":` +
			strconv.FormatInt(time.Now().UnixMilli(), 10) + `,"url":"` + f.origin + `/p/` + strconv.Itoa(i%40) + `"}]}`
		req, _ := http.NewRequest("POST", f.base+"/v1/collect", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", f.origin)
		start := time.Now()
		resp, err := f.http.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
	}
	return lat
}

// signIn posts one wrong sign-in from a loopback address and returns the status (0: no answer).
func (f *flood) signIn(ip, email string) int {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 60 * time.Second}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", f.base+"/v1/session",
		strings.NewReader(`{"email":"`+email+`","password":"wrong password!"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func q(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
}
