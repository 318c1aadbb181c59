package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"personas/api"
	"personas/internal/demodata"
	"personas/internal/testenv"
	"personas/internal/testserver"
)

// failoverLoad posts goal batches from clients, at most perClient requests each (every marker
// prefixed by prefix, the API host's name where there are several), and records
// every answer: the markers acknowledged with 204, the time of each status, and whether every
// 503 carried Retry-After.
type failoverLoad struct {
	prefix       string
	mu           sync.Mutex
	acked        map[string]bool
	status       map[int]int
	noRetryAfter int
	other        []string  // answers other than 204 and 503
	first204     time.Time // answer to the first request sent after `after` that got 204
	after        time.Time // when the primary was dead: every process killed
	in503        int       // 503s to requests sent after `after`
	last503      time.Time
}

func (l *failoverLoad) run(url, origin, siteKey string, clients, perClient int, stop <-chan struct{}) *sync.WaitGroup {
	l.acked, l.status = map[string]bool{}, map[int]int{}
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := l.prefix + marker(c, i)
				req, _ := http.NewRequest(http.MethodPost, url+"/v1/collect", bytes.NewReader(goalBody(siteKey, m)))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Origin", origin)
				l.mu.Lock()
				sentAfter := !l.after.IsZero() && time.Now().After(l.after)
				l.mu.Unlock()
				resp, err := client.Do(req)
				now := time.Now()
				l.mu.Lock()
				if err != nil {
					l.status[0]++
					l.other = append(l.other, err.Error())
					l.mu.Unlock()
					time.Sleep(50 * time.Millisecond) // the host is unreachable: no busy loop
					continue
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				resp.Body.Close()
				l.status[resp.StatusCode]++
				switch resp.StatusCode {
				case http.StatusNoContent:
					l.acked[m] = true
					if sentAfter && l.first204.IsZero() {
						l.first204 = now
					}
				case http.StatusServiceUnavailable:
					l.last503 = now
					if sentAfter && l.first204.IsZero() {
						l.in503++
					}
					if resp.Header.Get("Retry-After") == "" {
						l.noRetryAfter++
					}
					time.Sleep(50 * time.Millisecond) // a client honours Retry-After, in short
				default:
					l.other = append(l.other, resp.Status+": "+strings.TrimSpace(string(body)))
				}
				l.mu.Unlock()
			}
		}()
	}
	return &wg
}

func (l *failoverLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// TestCollectSurvivesPrimaryFailover runs the whole service on a pg_auto_failover formation's
// multi-host URLs (data and key store), kills the primary hard under collect load, and checks
// that the standby's promotion is all it takes: no acknowledged event is lost, the requests in
// the gap get 503 with Retry-After, collect and classify answer again without a restart, and a
// model published after the failover reaches classify through the re-established LISTEN.
func TestCollectSurvivesPrimaryFailover(t *testing.T) {
	f := testenv.NewFormation(t, testenv.FormationOptions{Databases: []string{"personas", "personas_keys"}})
	env := testenv.OnDatabases(t, f.URL("personas"), f.URL("personas_keys"))
	read := testenv.Pool(t, f.ReadURL("personas")) // the reports' standby (PERSONAS_DATABASE_READ_URL)
	env.Store.SetReadPool(read)
	// The version check is the safety net for missed notifications: pushed out of the test's
	// reach, so that only NOTIFY can bring the new model to classify.
	srv := testserver.New(t, testserver.Options{Env: env,
		APIConfig: api.Config{VersionCheck: time.Hour}})
	a := srv.NewAccount(t, "owner@example.com", false)
	s := &shop{Srv: srv, Acct: a}
	vs := demodata.Generate(demodata.Config{Visitors: 200, Days: 7, End: time.Now().Add(-time.Hour), Site: testserver.Origin, Seed: 21})
	s.importVisitors(t, vs)
	v1 := s.train(t)
	s.Site = testserver.Origin
	if got := s.Classify(t, vs[0].ID); got.ModelVersion == nil || *got.ModelVersion != v1 {
		t.Fatalf("classify before the failover: %+v, want model %d", got, v1)
	}

	var inRecovery bool
	if err := read.QueryRow(context.Background(), `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("the read pool is not on the standby (in recovery %v, %v)", inRecovery, err)
	}

	l := &failoverLoad{}
	stop := make(chan struct{})
	wg := l.run(srv.URL, testserver.Origin, a.SiteKey, 6, 20000, stop)
	defer func() { close(stop); wg.Wait() }()
	testserver.Eventually(t, 30*time.Second, "load is acknowledged", func() bool { return l.ackedCount() >= 200 })

	killed := time.Now()
	f.Kill(t, f.Nodes[0])
	l.mu.Lock()
	l.after = time.Now()
	l.mu.Unlock()
	testserver.Eventually(t, 90*time.Second, "collect answers 204 again", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return !l.first204.IsZero()
	})
	before := l.ackedCount()
	testserver.Eventually(t, 30*time.Second, "load is acknowledged again", func() bool { return l.ackedCount() >= before+200 })
	close(stop)
	wg.Wait()
	stop = make(chan struct{}) // for the deferred close
	l.mu.Lock()
	gap := l.first204.Sub(killed)
	t.Logf("primary killed (in %s): first 204 to a request sent after it %s after the kill, %d answers 503 before it; statuses %v; last 503 %s after the kill",
		l.after.Sub(killed).Round(time.Millisecond), gap.Round(10*time.Millisecond), l.in503, l.status, l.last503.Sub(killed).Round(10*time.Millisecond))
	if l.in503 == 0 {
		t.Error("no request was answered 503 while there was no primary")
	}
	if l.noRetryAfter > 0 {
		t.Errorf("%d answers 503 without Retry-After", l.noRetryAfter)
	}
	for i, o := range l.other {
		if i < 5 {
			t.Errorf("answer neither 204 nor 503: %s", o)
		}
	}
	acked := l.acked
	l.mu.Unlock()

	ctx := context.Background()
	p, err := f.Primary(ctx)
	if err != nil || p != f.Nodes[1] {
		t.Fatalf("primary after the kill: %v (%v), want node2", p, err)
	}
	var port int
	if err := env.Pool.QueryRow(ctx, `SELECT inet_server_port()`).Scan(&port); err != nil || port != f.Nodes[1].Port {
		t.Fatalf("the service's pool is on port %d (%v), want the new primary's %d", port, err, f.Nodes[1].Port)
	}
	checkAcked(t, env, a.ProjectID, acked) // counted in the new primary

	// The report of stored events reads the read pool, which has no standby left: it answers
	// from the new primary, every acknowledged event counted.
	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + a.ProjectID.String() + "/ingest-stats", Token: a.Token})
	var stats struct {
		Totals struct {
			Stored int64 `json:"stored"`
		} `json:"totals"`
	}
	if r.Status != http.StatusOK {
		t.Fatalf("ingest-stats after the failover: status %d: %s", r.Status, r.Body)
	}
	r.JSON(t, &stats)
	stored := stats.Totals.Stored
	if stored < int64(2*len(acked)) { // a goal and a page view per acknowledged request
		t.Errorf("ingest-stats counts %d stored events after the failover, want at least %d: %s", stored, 2*len(acked), r.Body)
	}

	// classify answers with the model of before, then with one published after the failover:
	// its notification came through the listener's new connection.
	if got := s.Classify(t, vs[0].ID); got.ModelVersion == nil || *got.ModelVersion != v1 {
		t.Fatalf("classify after the failover: %+v, want model %d", got, v1)
	}
	testserver.Eventually(t, 30*time.Second, "the change listener listens again", func() bool {
		return strings.Contains(srv.Logs.String(), "change listener listening again")
	})
	v2 := s.train(t)
	published := time.Now()
	testserver.Eventually(t, 10*time.Second, "classify answers with the model published after the failover", func() bool {
		got := s.Classify(t, vs[0].ID)
		return got.ModelVersion != nil && *got.ModelVersion == v2
	})
	t.Logf("model %d published after the failover reached classify in %s", v2, time.Since(published).Round(time.Millisecond))
}
