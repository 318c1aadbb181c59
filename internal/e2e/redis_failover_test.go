package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/models"
)

// TestRedisClusterFailover runs the whole service on a private Redis Cluster of three masters
// with a replica each, then kills (SIGKILL) the master of the deletions' queue: see
// checkFailover for what must still work.
func TestRedisClusterFailover(t *testing.T) {
	t.Parallel()
	c := testenv.RedisCluster(t, 3, 1)
	srv := checkFailover(t, c.URL, func(t *testing.T) func() {
		old := c.MasterOf(t, "{critical}")
		old.Kill()
		return func() {
			now := c.WaitFailover(t, "{critical}", old, 30*time.Second)
			t.Logf("cluster: %s took over the critical queue from %s", now.Addr, old.Addr)
		}
	})
	// The whole cluster gone: the instance stays ready (collect and classify need no Redis)
	// and says Redis is unreachable.
	for _, n := range c.Nodes {
		n.Kill()
	}
	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/readyz"})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"redis":"unreachable"`) {
		t.Errorf("/readyz without the cluster: %d %s, want 200 with redis unreachable", r.Status, r.Body)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: "/metrics"})
	if !strings.Contains(string(r.Body), `personas_dependency_up{dependency="redis"} 0`) {
		t.Errorf("/metrics without the cluster lacks personas_dependency_up{dependency=\"redis\"} 0")
	}
}

// TestRedisSentinelFailover runs the whole service on a master, a replica and three
// sentinels, then kills the master: see checkFailover.
func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	s := testenv.RedisSentinel(t)
	checkFailover(t, s.URL, func(t *testing.T) func() {
		old := s.Master(context.Background())
		s.Node(old).Kill()
		return func() {
			now := s.WaitFailover(t, old, 30*time.Second)
			t.Logf("sentinel: %s took over from %s", now.Addr, old)
		}
	})
}

// checkFailover starts the service on the Redis at redisURL and checks, with values, that
// training, deletion and retention tasks run; then kill stops a Redis master hard, a deletion
// is asked for while the replica takes over (its enqueue may fail or be lost with the master:
// the safety net enqueues it again), and once the returned wait says the switch is done,
// that deletion finishes with its counts, a retraining publishes a newer model version, the
// retention sweep removes expired rows again, and /readyz and /metrics report Redis up.
func checkFailover(t *testing.T, redisURL string, kill func(*testing.T) (wait func())) *testserver.Server {
	ctx := context.Background()
	env := testenv.New(t)
	// The safety net re-enqueues deletions open for two minutes; the test moves the service's
	// clock forward after the switch instead of waiting them out.
	var shift atomic.Int64
	env.Store.SetClock(func() time.Time { return time.Now().Add(time.Duration(shift.Load())) })
	srv := testserver.New(t, testserver.Options{Env: env, RedisURL: redisURL,
		SafetyNetInterval: time.Second, RetentionInterval: time.Second, RetrainDelay: 2 * time.Second})
	p := populate(t, srv, "failover@shop.example", 21)

	// Before: a deletion, the retrain it schedules, a retention sweep.
	d := deleteAndWait(t, srv, p.Account, map[string]string{"scope": "visitor", "visitor_id": p.Visitors[0]})
	if d.Counts["visitor_features"] != 1 || d.Counts["events"] == 0 {
		t.Errorf("deletion before the failover: counts %v, want one visitor and their events", d.Counts)
	}
	version := newerModel(t, srv, p.ProjectID, p.Version, 90*time.Second, "the retrain after the erasure, before the failover")
	expire(t, srv, p.ProjectID, "before")

	wait := kill(t)
	killed := time.Now()
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + p.ProjectID.String() + "/deletions", Token: p.Token,
		Body: map[string]string{"scope": "visitor", "visitor_id": p.Visitors[1]}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST deletions while Redis fails over: %d %s, want 202 (the row is the request)", r.Status, r.Body)
	}
	var acc struct {
		ID uuid.UUID `json:"id"`
	}
	r.JSON(t, &acc)
	wait()
	t.Logf("switch done %s after the kill", time.Since(killed).Round(10*time.Millisecond))
	shift.Store(int64(3 * time.Minute))

	var during models.Deletion
	testserver.Eventually(t, 60*time.Second, "the deletion asked for during the switch is done", func() bool {
		var err error
		if during, err = srv.Store.Deletion(ctx, acc.ID); err != nil {
			t.Fatal(err)
		}
		return during.Status == models.DeletionDone
	})
	t.Logf("the enqueue during the switch failed (the safety net enqueued the deletion again): %v",
		strings.Contains(srv.Logs.String(), `"msg":"enqueue deletion"`))
	if during.Counts["visitor_features"] != 1 || during.Counts["events"] == 0 {
		t.Errorf("deletion during the failover: counts %v, want one visitor and their events", during.Counts)
	}
	left := scanVisitor(t, srv, p.ProjectID, p.Visitors[1])
	delete(left, "deletion_requests") // the request itself stays, as proof
	if left.Total() != 0 {
		t.Errorf("rows of the visitor erased during the failover are left: %v", left)
	}

	// After: the retrain that deletion scheduled, a training asked for, a retention sweep.
	version = newerModel(t, srv, p.ProjectID, version, 90*time.Second, "the retrain after the erasure during the failover")
	r = srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + p.ProjectID.String() + "/models", Token: p.Token})
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST models after the failover: %d %s", r.Status, r.Body)
	}
	// Replication is asynchronous: when the master dies just as the retrain before the kill
	// finishes, the replica that takes over may still hold that task as running, with its
	// uniqueness lock, and the training asked for now is the same task. asynq gives a running
	// task back when its lease (30 s) has expired, at its recoverer's next round (every minute),
	// after a retry delay (15–45 s): a training is published within about two and a half
	// minutes on a quiet machine, not lost (five are allowed for a loaded one).
	newerModel(t, srv, p.ProjectID, version, 5*time.Minute, "the training asked for after the failover")
	expire(t, srv, p.ProjectID, "after")

	r = srv.Do(t, testserver.Request{Method: "GET", Path: "/readyz"})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"redis":"ok"`) {
		t.Errorf("/readyz after the failover: %d %s, want 200 with redis ok", r.Status, r.Body)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: "/metrics"})
	for _, want := range []string{`personas_dependency_up{dependency="redis"} 1`, `personas_queue_tasks{queue="critical",state="completed"}`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("/metrics after the failover lacks %s", want)
		}
	}
	return srv
}

// newerModel waits until the project's model version is above v and returns it.
func newerModel(t *testing.T, srv *testserver.Server, projectID uuid.UUID, v int, within time.Duration, what string) int {
	t.Helper()
	var now int
	testserver.Eventually(t, within, what+": a model version above "+strconv.Itoa(v), func() bool {
		var err error
		now, err = srv.Store.CurrentModelVersion(context.Background(), projectID)
		return err == nil && now > v
	})
	return now
}

// expire inserts a visitor last seen 400 days ago and waits until the retention sweep, run by
// the scheduler every second, has removed it.
func expire(t *testing.T, srv *testserver.Server, projectID uuid.UUID, tag string) {
	t.Helper()
	ctx := context.Background()
	if _, err := srv.Pool.Exec(ctx, `INSERT INTO visitor_features (project_id, visitor_hash, visits, pageviews, first_seen, last_seen, last_day, cur_session)
		SELECT $1::uuid, sha256(convert_to($1::uuid::text || $2::text, 'UTF8')), 1, 1, $3, $3, ($3::timestamptz)::date, '\x00'`,
		projectID, "expired-"+tag, time.Now().AddDate(0, 0, -400)); err != nil {
		t.Fatal(err)
	}
	testserver.Eventually(t, 60*time.Second, "the retention sweep removed the expired visitor ("+tag+" the failover)", func() bool {
		var n int
		if err := srv.Pool.QueryRow(ctx, `SELECT count(*) FROM visitor_features WHERE project_id = $1 AND last_seen < now() - interval '300 days'`,
			projectID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}
