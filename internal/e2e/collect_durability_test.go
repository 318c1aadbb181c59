package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/tcpproxy"
	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/models"
)

// marker names request i of client c with letters only, so that no scrubber or path
// normaliser mistakes it for an id: it is stored as the goal name.
func marker(c, i int) string {
	var b strings.Builder
	b.WriteString("mk_")
	for _, n := range []int{c, i} {
		for {
			b.WriteByte(byte('a' + n%26))
			n /= 26
			if n == 0 {
				break
			}
		}
		b.WriteByte('_')
	}
	return b.String()
}

func goalBody(siteKey, goal string) []byte {
	b, _ := json.Marshal(map[string]any{"site_key": siteKey, "visitor_id": fmt.Sprintf("%032x", len(goal)*7919),
		"session_id": "s", "events": []map[string]any{
			{"type": "goal", "ts": time.Now().UnixMilli(), "name": goal},
			{"type": "pageview", "ts": time.Now().UnixMilli(), "url": "https://shop.example/" + goal}}})
	return b
}

// hammer posts goal batches from clients until stop is closed and returns the markers whose
// request was answered 204.
type hammer struct {
	mu     sync.Mutex
	acked  map[string]bool
	status map[int]int
	sent   atomic.Int64
}

func (h *hammer) run(url, origin, siteKey string, clients int, stop <-chan struct{}) *sync.WaitGroup {
	h.acked, h.status = map[string]bool{}, map[int]int{}
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := marker(c, i)
				req, _ := http.NewRequest(http.MethodPost, url+"/v1/collect", bytes.NewReader(goalBody(siteKey, m)))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Origin", origin)
				h.sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					h.mu.Lock()
					h.status[0]++
					h.mu.Unlock()
					continue // the server died mid-request: no acknowledgement
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				h.mu.Lock()
				h.status[resp.StatusCode]++
				if resp.StatusCode == http.StatusNoContent {
					h.acked[m] = true
				}
				h.mu.Unlock()
			}
		}()
	}
	return &wg
}

func (h *hammer) ackedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acked)
}

// goalsIn reads the goal names stored for a project with their counts.
func goalsIn(t *testing.T, e *testenv.Env, projectID uuid.UUID) map[string]int64 {
	t.Helper()
	return e.Tally(t, `SELECT goal, count(*) FROM events WHERE project_id = $1 AND type = 'goal' GROUP BY goal`, projectID)
}

// checkAcked fails for every acknowledged marker whose goal and page view are not stored.
func checkAcked(t *testing.T, e *testenv.Env, projectID uuid.UUID, acked map[string]bool) {
	t.Helper()
	goals := goalsIn(t, e, projectID)
	var paths int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT path) FROM events WHERE project_id = $1 AND type = 'pageview'`, projectID).Scan(&paths); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for m := range acked {
		if goals[m] == 0 {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged goal %s is not in PostgreSQL", m)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged requests lost", lost, len(acked))
	}
	if paths < len(acked) {
		t.Errorf("%d distinct page views stored for %d acknowledged requests", paths, len(acked))
	}
}

// TestCollectSurvivesSIGKILL builds the binary, runs `personas serve` on the test's databases,
// fires concurrent collect requests, kills the process with SIGKILL in the middle, restarts it
// and checks that every event whose request got 204 is in PostgreSQL.
func TestCollectSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	e := testenv.New(t)
	_, redisURL := testenv.Redis(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "personas")
	build := exec.Command("go", "build", "-o", bin, "./cmd/personas")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx := context.Background()
	u, _, err := e.Store.EnsureUser(ctx, "owner@example.com", "correct horse battery staple", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Store.CreateProject(ctx, u.ID, "crash", []string{testserver.Origin})
	if err != nil {
		t.Fatal(err)
	}

	start := func(name string) (*exec.Cmd, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		cmd := exec.Command(bin, "serve")
		env := append(os.Environ(), "PERSONAS_DATABASE_URL="+e.DataURL, "PERSONAS_KEYSTORE_URL="+e.KeysURL,
			"PERSONAS_REDIS_URL="+redisURL, "PERSONAS_HTTP_ADDR="+addr, "PERSONAS_PUBLIC_URL=http://"+addr,
			"PERSONAS_ENV=development", "PERSONAS_KEY_FILE="+filepath.Join(dir, "keys.env"), "PERSONAS_LOG_LEVEL=warn")
		for k, v := range e.Secrets.Env() {
			env = append(env, k+"="+v)
		}
		cmd.Env = env
		logs, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { logs.Close() })
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		base := "http://" + addr
		testserver.Eventually(t, 30*time.Second, name+" is ready", func() bool {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		return cmd, base
	}

	cmd, base := start("first")
	h := &hammer{}
	stop := make(chan struct{})
	wg := h.run(base, testserver.Origin, p.SiteKey, 16, stop)
	testserver.Eventually(t, 60*time.Second, "a few hundred acknowledged requests", func() bool { return h.ackedCount() >= 300 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(stop)
	wg.Wait()
	h.mu.Lock()
	acked := h.acked
	t.Logf("sent %d requests before and around the kill: %v by status (0: no answer)", h.sent.Load(), h.status)
	h.mu.Unlock()
	if h.status[0] == 0 {
		t.Log("no request was in flight when the process died")
	}

	_, base = start("second")
	checkAcked(t, e, p.ID, acked)
	resp, err := http.Post(base+"/v1/collect", "text/plain", bytes.NewReader(goalBody(p.SiteKey, "after_restart")))
	if err == nil {
		resp.Body.Close()
	}
	// Origin is missing on purpose above: a 403 proves the restarted server answers and checks.
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("the restarted server answered %v %v to a collect without origin", resp, err)
	}
}

// TestCollectAnswers503WhenPostgresIsDown cuts PostgreSQL (a proxy of the test's own between
// the service and the server) under load: collect answers 503 with Retry-After instead of
// hanging, nothing acknowledged is lost, and collect recovers when the path is restored.
func TestCollectAnswers503WhenPostgresIsDown(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	u, _ := url.Parse(e.DataURL)
	proxy := tcpproxy.New(t, u.Host)
	u.Host = proxy.Addr()
	proxied := *e
	proxied.Pool = testenv.Pool(t, u.String())
	proxied.Store = models.NewStore(proxied.Pool, e.Keys, e.Keyring, e.Index)
	srv := testserver.New(t, testserver.Options{Env: &proxied, NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)

	h := &hammer{}
	stop := make(chan struct{})
	wg := h.run(srv.URL, testserver.Origin, a.SiteKey, 8, stop)
	testserver.Eventually(t, 30*time.Second, "load is acknowledged", func() bool { return h.ackedCount() >= 100 })
	proxy.Cut()

	// While it is cut, a request fails fast with 503 and Retry-After.
	var last testserver.Response
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		last = srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/collect", Body: goalBody(a.SiteKey, fmt.Sprintf("cut_%c", 'a'+i)),
			Header: map[string]string{"Origin": testserver.Origin, "Content-Type": "text/plain"}})
		took := time.Since(t0)
		if last.Status == http.StatusServiceUnavailable {
			if last.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			// The handler would give up after 10 s; failing fast means well before that.
			if took > 5*time.Second {
				t.Errorf("503 took %s", took)
			}
			t.Logf("503 in %s: %s", took, last.Body)
		}
	}
	if last.Status != http.StatusServiceUnavailable {
		t.Fatalf("with PostgreSQL cut, collect answered %d: %s", last.Status, last.Body)
	}
	proxy.Restore()
	testserver.Eventually(t, 20*time.Second, "collect recovers", func() bool {
		r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/collect", Body: goalBody(a.SiteKey, "recovered"),
			Header: map[string]string{"Origin": testserver.Origin, "Content-Type": "text/plain"}})
		return r.Status == http.StatusNoContent
	})
	before := h.ackedCount()
	testserver.Eventually(t, 30*time.Second, "load is acknowledged again", func() bool { return h.ackedCount() >= before+50 })
	close(stop)
	wg.Wait()
	h.mu.Lock()
	t.Logf("statuses under load: %v", h.status)
	if h.status[http.StatusServiceUnavailable] == 0 {
		t.Error("no request of the load was answered 503 while PostgreSQL was cut")
	}
	acked := h.acked
	h.mu.Unlock()
	checkAcked(t, e, a.ProjectID, acked)
}
