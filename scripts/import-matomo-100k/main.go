// Command import-matomo-100k measures a Matomo import in bounded memory: it writes a
// Live.getLastVisitsDetails export (format=JSON, one JSON array) of -visits visits into a
// temporary folder, starts the whole service in-process on fresh databases (internal/testserver,
// so the real router, auth, import handler and group-commit ingester), streams the file to
// POST /v1/projects/{id}/import?format=matomo as personas import does, and reports the wall
// time, visits and events per second, the peak RSS of the process (client and server) and the
// largest Go heap seen, next to the file's size. It checks that the events table holds every
// accepted event. The databases and the file are removed at the end.
//
//	go run -tags nomsgpack ./scripts/import-matomo-100k -visits 100000
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"personas/internal/testenv"
	"personas/internal/testserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "import-matomo-100k:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("import-matomo-100k", flag.ContinueOnError)
	visits := fs.Int("visits", 100_000, "visits in the generated export")
	limit := fs.Duration("timeout", 20*time.Minute, "bound on the whole run; the databases are dropped either way")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	tb := testenv.NewScript("import-matomo-100k", os.Stderr)
	defer tb.Close()
	defer testenv.Recover(&err)
	dir, err := os.MkdirTemp("", "import-matomo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "visits.json")
	t0 := time.Now()
	actions, err := writeExport(path, *visits, time.Now().Add(-10*24*time.Hour))
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "machine: %d CPUs (GOMAXPROCS %d), %s, %s; load average %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0),
		cpuModel(), runtime.Version(), loadAverage())
	fmt.Fprintf(stdout, "export: %d visits, %d actions, %s in %.1f s\n", *visits, actions, mib(fi.Size()), time.Since(t0).Seconds())

	srv := testserver.New(tb, testserver.Options{NoWorker: true, LogOutput: io.Discard})
	a := srv.NewAccount(tb, "bench@example.com", false)

	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset the peak RSS: %w", err)
	}
	baseRSS := procStatus("VmRSS:")
	var maxHeap atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > maxHeap.Load() {
				maxHeap.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	t1 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/projects/"+a.ProjectID.String()+"/import?format=matomo", f)
	if err != nil {
		return err
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		close(stop)
		wg.Wait()
		return fmt.Errorf("import: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wall := time.Since(t1)
	close(stop)
	wg.Wait()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("import: HTTP %d: %s", resp.StatusCode, body)
	}
	var rep struct {
		Records, Accepted, Rejected, Skipped int64
		RejectedByReason                     map[string]int64 `json:"rejected_by_reason"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		return err
	}
	var stored int64
	if err := srv.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE project_id = $1`, a.ProjectID).Scan(&stored); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "import: %d visits read, %d events accepted, %d rejected %v, %d skipped; %d events in the table\n",
		rep.Records, rep.Accepted, rep.Rejected, rep.RejectedByReason, rep.Skipped, stored)
	fmt.Fprintf(stdout, "wall time %.1f s: %.0f visits/s, %.0f events/s, %.1f MB/s\n", wall.Seconds(),
		float64(rep.Records)/wall.Seconds(), float64(rep.Accepted)/wall.Seconds(), float64(fi.Size())/1e6/wall.Seconds())
	fmt.Fprintf(stdout, "memory: peak RSS %s (%s before the import), max Go heap %s, for a file of %s; load average after %s\n",
		mib(procStatus("VmHWM:")), mib(baseRSS), mib(int64(maxHeap.Load())), mib(fi.Size()), loadAverage())
	if stored != rep.Accepted {
		return fmt.Errorf("%d events stored, %d accepted", stored, rep.Accepted)
	}
	if rep.Records != int64(*visits) {
		return fmt.Errorf("%d visits read of %d", rep.Records, *visits)
	}
	return nil
}

var pages = []string{"/", "/category/garden", "/category/kitchen", "/p/%d", "/p/%d", "/cart", "/checkout", "/help/shipping", "/blog/spring"}

// writeExport writes n visits in the shape of Live.getLastVisitsDetails (format=JSON), with the
// fields a real export has (addresses, user ids, location, browser: all ignored by the import)
// and 2 to 8 actions each, the first visit starting at start, and returns the number of actions.
func writeExport(path string, n int, start time.Time) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(2026, 100_000))
	devices := []string{"Desktop", "Smartphone", "Tablet", "Phablet"}
	total := 0
	w.WriteString("[\n")
	span := 9 * 24 * time.Hour
	for i := range n {
		if i > 0 {
			w.WriteString(",\n")
		}
		ts := start.Add(time.Duration(rng.Int64N(int64(span)))).Unix()
		visitor := fmt.Sprintf("%016x", rng.Uint64N(uint64(n)/3+1))
		var acts []string
		k := 2 + rng.IntN(7)
		at := ts
		for j := range k {
			spent := 5 + rng.IntN(120)
			page := pages[rng.IntN(len(pages))]
			if strings.Contains(page, "%d") {
				page = fmt.Sprintf(page, rng.IntN(500))
			}
			url := "https://shop.example" + page
			if j == 0 {
				url += "?utm_source=newsletter&utm_medium=email"
			}
			switch r := rng.IntN(10); {
			case r < 7:
				acts = append(acts, fmt.Sprintf(`{"type":"action","url":%q,"pageTitle":"Shop page %d","pageIdAction":"%d","idpageview":"x%d","serverTimePretty":"12:00:00","pageId":"%d","timeSpent":"%d","timeSpentPretty":"%ds","pageviewPosition":"%d","title":"Shop page %d","subtitle":%q,"icon":"","iconSVG":"plugins/Morpheus/images/action.svg","timestamp":%d}`,
					url, j, j, j, j, spent, spent, j+1, j, url, at))
			case r < 8:
				acts = append(acts, fmt.Sprintf(`{"type":"event","url":%q,"pageIdAction":"7","eventCategory":"Video","eventAction":"play","eventName":"intro","eventValue":1,"timestamp":%d}`, url, at))
			case r < 9:
				acts = append(acts, fmt.Sprintf(`{"type":"outlink","url":"https://partner.example/offer/%d","pageIdAction":"8","timestamp":%d}`, rng.IntN(50), at))
			default:
				acts = append(acts, fmt.Sprintf(`{"type":"goal","goalName":"Add to cart","goalId":"2","revenue":0,"url":%q,"timestamp":%d}`, url, at))
			}
			at += int64(spent)
		}
		total += k
		fmt.Fprintf(w, `{"idSite":1,"idVisit":%d,"visitIp":"203.0.%d.%d","visitorId":%q,"fingerprint":"%016x","actionDetails":[%s],"goalConversions":0,"siteCurrency":"EUR","serverDate":"2026-11-20","visitServerHour":"12","lastActionTimestamp":%d,"siteName":"Shop","serverTimestamp":%d,"firstActionTimestamp":%d,"userId":"customer-%d@example.com","visitorType":"returning","visitCount":"2","visitDuration":"%d","actions":"%d","referrerType":"search","referrerName":"Google","referrerUrl":"https://www.google.com/","languageCode":"en-gb","deviceType":%q,"operatingSystem":"Android 14","browserName":"Chrome Mobile","continent":"Europe","country":"United Kingdom","city":"London","latitude":"51.5","longitude":"-0.1","visitLocalTime":"13:00:00","resolution":"1440x900","plugins":"cookie"}`,
			i+1, rng.IntN(256), rng.IntN(256), visitor, rng.Uint64(), strings.Join(acts, ","), at, at, ts, rng.IntN(n), at-ts, k, devices[rng.IntN(len(devices))])
	}
	w.WriteString("\n]\n")
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return total, f.Close()
}

func procStatus(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb * 1024
		}
	}
	return -1
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown CPU"
}
