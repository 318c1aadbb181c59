//go:build hosts

package e2e

// The separate-hosts topology of issue 21: every node on a network namespace of its own, linked
// by a private bridge. Behind the build tag `hosts` (it needs root and takes minutes); `make
// test-hosts`, the last step of `make test`, runs it.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/internal/demodata"
	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/jobs/queue"
	"personas/models"
)

// proc is one `personas` process on a host of the network.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startPersonas runs `bin role` inside host's namespace with env; it is stopped (SIGTERM, then
// SIGKILL after 15 s) when the test ends.
func startPersonas(t *testing.T, h *testenv.NetHost, bin, role string, env []string) *proc {
	t.Helper()
	p := &proc{name: h.Name, log: filepath.Join(t.TempDir(), h.Name+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = h.Command(bin, role)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s %s: %v", role, h.Name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			t.Errorf("%s did not stop within 15 s of SIGTERM", p.name)
		}
		if t.Failed() {
			if b, err := os.ReadFile(p.log); err == nil {
				t.Logf("log of %s (last 3 kB):\n%s", p.name, lastKB(b, 3))
			}
		}
	})
	return p
}

func lastKB(b []byte, n int) []byte {
	if len(b) > n<<10 {
		return b[len(b)-n<<10:]
	}
	return b
}

// logs reads the process's log so far.
func (p *proc) logs() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// topology is the running formation of hosts.
type topology struct {
	net     *testenv.Network
	pg      *testenv.Formation
	redis   *testenv.Cluster
	env     *testenv.Env
	api     []*testserver.Server // one per API host, on its URL
	apiProc []*proc
	workers []*proc
}

// TestSeparateHosts runs the service as two API hosts and two worker hosts against a
// three-master Redis Cluster (a replica each) and a PostgreSQL primary with a synchronous
// standby under pg_auto_failover, every node in a network namespace of its own on a private
// bridge, and drives it from the root namespace (see the subtests).
func TestSeparateHosts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the separate-hosts test creates network namespaces: it must run as root")
	}
	bin := filepath.Join(t.TempDir(), "personas")
	build := exec.Command("go", "build", "-tags", "nomsgpack", "-o", bin, "./cmd/personas")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	started := time.Now()
	top := &topology{net: testenv.NewNetwork(t)}
	byIP := map[string]*testenv.NetHost{}
	host := func(name string) *testenv.NetHost {
		h := top.net.Host(t, name)
		byIP[h.IP] = h
		return h
	}

	pgHosts := []*testenv.NetHost{host("pgmon"), host("pg1"), host("pg2")}
	top.pg = testenv.NewFormation(t, testenv.FormationOptions{
		Hosts:     []string{pgHosts[0].IP, pgHosts[1].IP, pgHosts[2].IP},
		Databases: []string{"personas", "personas_keys"},
		TrustCIDR: top.net.CIDR,
		Wrap: func(ip string, argv []string) []string {
			return append([]string{"ip", "netns", "exec", byIP[ip].NS}, argv...)
		},
	})
	var redisAddrs []string
	for i := 0; i < 6; i++ {
		redisAddrs = append(redisAddrs, host(fmt.Sprintf("redis%d", i+1)).Addr(6379))
	}
	top.redis = testenv.StartRedisCluster(t, testenv.RedisClusterConfig{Masters: 3, ReplicasPerMaster: 1, Addrs: redisAddrs,
		Exec: func(addr string, argv []string) *exec.Cmd {
			return byIP[strings.Split(addr, ":")[0]].Command(argv...)
		}})
	top.env = testenv.OnDatabases(t, top.pg.URL("personas"), top.pg.URL("personas_keys"))
	t.Logf("formation, cluster and schema up in %s", time.Since(started).Round(time.Millisecond))

	common := []string{"PERSONAS_ENV=production", "PERSONAS_DATABASE_URL=" + top.pg.URL("personas"),
		"PERSONAS_KEYSTORE_URL=" + top.pg.URL("personas_keys"), "PERSONAS_DATABASE_READ_URL=" + top.pg.ReadURL("personas"),
		"PERSONAS_REDIS_URL=" + top.redis.URL, "PERSONAS_RATE_PER_CLIENT=-1", "PERSONAS_RATE_PER_SITE=-1",
		"PERSONAS_LOG_LEVEL=info", "PERSONAS_SHUTDOWN_TIMEOUT=5s"}
	for k, v := range top.env.Secrets.Env() {
		common = append(common, k+"="+v)
	}
	for i := 1; i <= 2; i++ {
		h := host(fmt.Sprintf("api%d", i))
		url := "http://" + h.Addr(8080)
		p := startPersonas(t, h, bin, "serve", append([]string{"PERSONAS_HTTP_ADDR=" + h.Addr(8080), "PERSONAS_PUBLIC_URL=" + url}, common...))
		top.apiProc = append(top.apiProc, p)
		top.api = append(top.api, &testserver.Server{Env: top.env, URL: url})
	}
	for i := 1; i <= 2; i++ {
		h := host(fmt.Sprintf("worker%d", i))
		top.workers = append(top.workers, startPersonas(t, h, bin, "worker", append([]string{"PERSONAS_HTTP_ADDR=" + h.Addr(8080)}, common...)))
	}
	for i, a := range top.api {
		ready(t, a.URL, top.apiProc[i])
	}
	for _, w := range top.workers {
		testserver.Eventually(t, 30*time.Second, w.name+" starts its worker", func() bool { return strings.Contains(w.logs(), "worker started") })
	}
	t.Logf("all %d hosts up in %s", 3+6+4, time.Since(started).Round(time.Millisecond))

	acct := top.api[0].NewAccount(t, "owner@hosts.example", false)
	shops := []*shop{{Srv: top.api[0], Acct: acct, Site: testserver.Origin}, {Srv: top.api[1], Acct: acct, Site: testserver.Origin}}
	vs := demodata.Generate(demodata.Config{Visitors: 300, Days: 14, End: time.Now().Add(-time.Hour), Site: testserver.Origin, Seed: 12})
	shops[0].importVisitors(t, vs)
	// A model published through one API host is answered by the other within a second, before
	// and after the PostgreSQL failover.
	crossHost := func(when string, from, to *shop, within time.Duration) int {
		t.Helper()
		v := from.train(t)
		published := time.Now()
		testserver.Eventually(t, within, when+": the other API host answers with model "+fmt.Sprint(v), func() bool {
			got := to.Classify(t, vs[0].ID)
			return got.ModelVersion != nil && *got.ModelVersion == v
		})
		t.Logf("%s: model %d published through %s answered by %s after %s", when, v, from.Srv.URL, to.Srv.URL,
			time.Since(published).Round(time.Millisecond))
		return v
	}
	crossHost("before the failover", shops[0], shops[1], time.Second)

	t.Run("PostgresPrimaryKilled", func(t *testing.T) { pgFailover(t, top, acct.SiteKey, acct) })
	// The model's notification reaches an API host through its change listener, which
	// reconnects to the new primary on its own.
	for _, p := range top.apiProc {
		testserver.Eventually(t, 30*time.Second, p.name+"'s change listener listens again", func() bool {
			return strings.Contains(p.logs(), "change listener listening again")
		})
	}
	crossHost("after the PostgreSQL failover", shops[1], shops[0], time.Second)
	t.Run("RedisMasterKilled", func(t *testing.T) { redisFailover(t, top, acct, vs) })
	t.Logf("whole test body %s", time.Since(started).Round(time.Millisecond))
}

// ready waits until an API host answers /readyz 200.
func ready(t *testing.T, url string, p *proc) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	testserver.Eventually(t, 60*time.Second, p.name+" answers /readyz 200", func() bool {
		select {
		case <-p.done:
			t.Fatalf("%s exited:\n%s", p.name, lastKB([]byte(p.logs()), 3))
		default:
		}
		resp, err := client.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// pgFailover kills the PostgreSQL primary hard under collect load through both API hosts: no
// acknowledged event is lost, the requests in the gap get 503 with Retry-After, and both hosts
// answer 204 again, without a restart, once the standby is promoted.
func pgFailover(t *testing.T, top *topology, siteKey string, acct testserver.Account) {
	loads := []*failoverLoad{{prefix: "a1"}, {prefix: "a2"}}
	stop := make(chan struct{})
	var wgs []*sync.WaitGroup
	for i, l := range loads {
		wgs = append(wgs, l.run(top.api[i].URL, testserver.Origin, siteKey, 4, 100000, stop))
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			for _, wg := range wgs {
				wg.Wait()
			}
		}
	}
	defer halt()
	for _, l := range loads {
		testserver.Eventually(t, 30*time.Second, l.prefix+" load is acknowledged", func() bool { return l.ackedCount() >= 200 })
	}
	killed := time.Now()
	top.pg.Kill(t, top.pg.Nodes[0])
	after := time.Now()
	for _, l := range loads {
		l.mu.Lock()
		l.after = after
		l.mu.Unlock()
	}
	for _, l := range loads {
		testserver.Eventually(t, 90*time.Second, l.prefix+": collect answers 204 again", func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return !l.first204.IsZero()
		})
	}
	for _, l := range loads {
		before := l.ackedCount()
		testserver.Eventually(t, 30*time.Second, l.prefix+": load is acknowledged again", func() bool { return l.ackedCount() >= before+100 })
	}
	halt()
	for i, l := range loads {
		l.mu.Lock()
		t.Logf("API host %d: primary killed (in %s): first 204 to a request sent after it %s after the kill, %d answers 503 before it; statuses %v",
			i+1, after.Sub(killed).Round(time.Millisecond), l.first204.Sub(killed).Round(10*time.Millisecond), l.in503, l.status)
		if l.in503 == 0 {
			t.Errorf("API host %d: no request was answered 503 while there was no primary", i+1)
		}
		if l.noRetryAfter > 0 {
			t.Errorf("API host %d: %d answers 503 without Retry-After", i+1, l.noRetryAfter)
		}
		for j, o := range l.other {
			if j < 5 {
				t.Errorf("API host %d: answer neither 204 nor 503: %s", i+1, o)
			}
		}
		l.mu.Unlock()
	}
	p, err := top.pg.Primary(context.Background())
	if err != nil || p != top.pg.Nodes[1] {
		t.Fatalf("primary after the kill: %v (%v), want node2", p, err)
	}
	acked := map[string]bool{}
	for _, l := range loads {
		for m := range l.acked {
			acked[m] = true
		}
	}
	checkAcked(t, top.env, acct.ProjectID, acked)
	for i, p := range top.apiProc {
		select {
		case <-p.done:
			t.Errorf("API host %d exited", i+1)
		default:
		}
	}
}

// redisFailover kills the Redis master of the deletions' queue ({critical}) hard: a deletion
// asked for during the switch still finishes (the safety net may enqueue it again), and
// training, deletion and retention tasks run on the worker hosts once a replica has taken over.
func redisFailover(t *testing.T, top *topology, acct testserver.Account, vs []demodata.Visitor) {
	ctx := context.Background()
	jobs := queue.NewClient(top.redis.Client(t))
	// Trainings run on a project of their own: a visitor deletion schedules the project's
	// debounced retrain (six hours out in production), whose uniqueness lock holds back any
	// training asked for meanwhile.
	other := top.api[0].NewAccount(t, "trainer@hosts.example", false)
	trainers := []*shop{{Srv: top.api[0], Acct: other, Site: testserver.Origin}, {Srv: top.api[1], Acct: other, Site: testserver.Origin}}
	trainers[1].importVisitors(t, vs)
	v0 := trainers[1].train(t)
	// Before: a deletion and a retention sweep (the test stands in for the hourly scheduler).
	d := deleteAndWait(t, top.api[0], acct, map[string]string{"scope": "visitor", "visitor_id": vs[10].ID})
	if d.Counts["visitor_features"] != 1 || d.Counts["events"] == 0 {
		t.Errorf("deletion before the failover: counts %v, want one visitor and their events", d.Counts)
	}
	sweep(t, top, jobs, acct.ProjectID, "before")

	old := top.redis.MasterOf(t, "{critical}")
	old.Kill()
	killed := time.Now()
	r := top.api[1].Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + acct.ProjectID.String() + "/deletions", Token: acct.Token,
		Body: map[string]string{"scope": "visitor", "visitor_id": vs[11].ID}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST deletions while Redis fails over: %d %s, want 202 (the row is the request)", r.Status, r.Body)
	}
	var acc struct {
		ID uuid.UUID `json:"id"`
	}
	r.JSON(t, &acc)
	answered := time.Since(killed)
	now := top.redis.WaitFailover(t, "{critical}", old, 30*time.Second)
	switched := time.Since(killed)
	t.Logf("Redis: %s took over the critical queue from %s %s after the kill; the deletion asked for meanwhile was accepted after %s",
		now.Addr, old.Addr, switched.Round(10*time.Millisecond), answered.Round(time.Millisecond))

	// The deletion's enqueue may have failed or died with the master: then the safety net
	// re-enqueues it once it is two minutes old. The test ages the request instead of waiting.
	var during models.Deletion
	deadline := time.Now().Add(90 * time.Second)
	aged := false
	for {
		var err error
		if during, err = top.env.Store.Deletion(ctx, acc.ID); err != nil {
			t.Fatal(err)
		}
		if during.Status == models.DeletionDone || during.Status == models.DeletionFailed {
			break
		}
		if !aged && time.Since(killed) > switched+5*time.Second {
			aged = true
			if _, err := top.env.Pool.Exec(ctx, `UPDATE deletion_requests SET created_at = created_at - interval '3 minutes' WHERE id = $1`, acc.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := jobs.Enqueue(ctx, mustTask(t)(queue.NewSafetyNet())); err != nil {
				t.Fatalf("enqueue the safety net after the switch: %v", err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deletion asked for during the switch is %s after 90 s", during.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the deletion asked for during the switch is %s %s after the kill (picked up by the safety net: %v)",
		during.Status, time.Since(killed).Round(10*time.Millisecond), aged)
	if during.Status != models.DeletionDone || during.Counts["visitor_features"] != 1 || during.Counts["events"] == 0 {
		t.Errorf("deletion during the failover: status %s, counts %v, want done with one visitor and their events", during.Status, during.Counts)
	}
	left := scanVisitor(t, top.api[0], acct.ProjectID, vs[11].ID)
	delete(left, "deletion_requests") // the request itself stays, as proof
	if left.Total() != 0 {
		t.Errorf("rows of the visitor erased during the failover are left: %v", left)
	}

	// After: a deletion, a training through each API host, a retention sweep.
	d = deleteAndWait(t, top.api[1], acct, map[string]string{"scope": "visitor", "visitor_id": vs[12].ID})
	if d.Counts["visitor_features"] != 1 {
		t.Errorf("deletion after the failover: counts %v, want one visitor", d.Counts)
	}
	v1 := trainers[0].train(t)
	v2 := trainers[1].train(t)
	if v0 >= v1 || v1 >= v2 {
		t.Errorf("trainings before and after the Redis failover published versions %d, %d, %d", v0, v1, v2)
	}
	sweep(t, top, jobs, acct.ProjectID, "after")
	for i, a := range top.api {
		r := a.Do(t, testserver.Request{Method: "GET", Path: "/readyz"})
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"redis":"ok"`) {
			t.Errorf("/readyz of API host %d after the Redis failover: %d %s, want 200 with redis ok", i+1, r.Status, r.Body)
		}
	}
}

func mustTask(t *testing.T) func(task *asynq.Task, err error) *asynq.Task {
	return func(task *asynq.Task, err error) *asynq.Task {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
}

// sweep inserts a visitor last seen 400 days ago, enqueues retention sweeps (once a second, as
// the scheduler of a worker host would every hour) and waits until one has removed it.
func sweep(t *testing.T, top *topology, jobs *queue.Client, projectID uuid.UUID, tag string) {
	t.Helper()
	ctx := context.Background()
	if _, err := top.env.Pool.Exec(ctx, `INSERT INTO visitor_features (project_id, visitor_hash, visits, pageviews, first_seen, last_seen, last_day, cur_session)
		SELECT $1::uuid, sha256(convert_to($1::uuid::text || $2::text, 'UTF8')), 1, 1, $3, $3, ($3::timestamptz)::date, '\x00'`,
		projectID, "expired-"+tag, time.Now().AddDate(0, 0, -400)); err != nil {
		t.Fatal(err)
	}
	var last time.Time
	testserver.Eventually(t, 60*time.Second, "a retention sweep removed the expired visitor ("+tag+" the Redis failover)", func() bool {
		if time.Since(last) > time.Second {
			last = time.Now()
			if _, err := jobs.Enqueue(ctx, mustTask(t)(queue.NewRetentionSweep())); err != nil {
				t.Logf("enqueue a retention sweep: %v", err)
			}
		}
		var n int
		if err := top.env.Pool.QueryRow(ctx, `SELECT count(*) FROM visitor_features WHERE project_id = $1 AND last_seen < now() - interval '300 days'`,
			projectID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}
