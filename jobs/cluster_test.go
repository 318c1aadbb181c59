package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"personas/internal/testenv"
	"personas/jobs"
	"personas/jobs/queue"
	"personas/models"
	"personas/privacy"
)

// keyRules place every Redis key the service writes. The service writes no key of its own:
// all of them are asynq's. A queue's keys carry the queue's name as hash tag
// (asynq:{critical}:…), so each queue's scripts, which touch several of its keys at once, run
// on one cluster slot; the registries of servers, workers and schedulers are single keys, and
// each server's or scheduler's own keys are tagged by its id. A key that no rule places (a
// new key of ours, say) fails the test: tag it, and add its rule here.
var keyRules = []struct {
	name string
	re   *regexp.Regexp
}{
	{"queue", regexp.MustCompile(`^asynq:\{(critical|default|low)\}:`)},
	{"registry", regexp.MustCompile(`^asynq:(servers|workers|schedulers|queues)$`)},
	{"server", regexp.MustCompile(`^asynq:(servers|workers):\{[^{}]+\}$`)},
	{"scheduler", regexp.MustCompile(`^asynq:schedulers:\{[^{}]+\}$`)},
	{"scheduler history", regexp.MustCompile(`^asynq:scheduler_history:[^{}]+$`)},
}

// TestKeysOnTheirSlots runs the worker (every handler, both periodic tasks each second) on a
// private three-master Redis Cluster, has it run a deletion that removes a queued task of the
// project and leaves another project's (asynq's inspector scripts on a cluster), then scans every master: each key follows a
// rule of keyRules, and each queue's keys all sit on the slot of the queue's hash tag, on the
// master serving that slot.
func TestKeysOnTheirSlots(t *testing.T) {
	t.Parallel()
	cluster := testenv.RedisCluster(t, 3, 0)
	var addrs []string
	for _, n := range cluster.Nodes {
		addrs = append(addrs, n.Addr)
	}
	rdb := queue.NewRedis(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: true})
	t.Cleanup(func() { _ = rdb.Close() })
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("queue.NewRedis made a %T for a cluster", rdb)
	}
	env := testenv.New(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	signer, err := privacy.NewSigner(env.Secrets.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	_, pid := newProject(t, env.Store, "slots@example.com")
	client := queue.NewClient(rdb)
	_, other := newProject(t, env.Store, "other@example.com")
	for _, p := range []uuid.UUID{pid, other} { // the other project's stays queued (default)
		if err := client.EnqueueRetrain(ctx, p, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	del, err := env.Store.CreateDeletion(ctx, pid, models.ScopePersonas, nil, nil, "api")
	if err != nil {
		t.Fatal(err)
	}
	if err := client.EnqueueDeletion(ctx, del.ID); err != nil {
		t.Fatal(err)
	}
	w := jobs.NewWorker(rdb, jobs.WorkerConfig{PollInterval: 10 * time.Millisecond, ShutdownTimeout: 5 * time.Second}, logger)
	if err := jobs.Register(w, jobs.Deps{Store: env.Store, Client: client, Redis: rdb, Signer: signer, Logger: logger,
		SafetyNetInterval: time.Second, RetentionInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			w.Shutdown()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := env.Store.Deletion(ctx, del.ID)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := env.Store.PeriodicTasks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ran := 0
		for _, pt := range ts {
			if pt.Successes > 0 {
				ran++
			}
		}
		if d.Status == models.DeletionDone && ran == len(queue.PeriodicTaskTypes()) {
			if got := d.Counts["redis:asynq_tasks"]; got != 1 {
				t.Errorf("the deletion removed %d queued tasks, want 1 (the scheduled retrain)", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 30 s: deletion %s, %d of %d periodic tasks ran", d.Status, ran, len(queue.PeriodicTaskTypes()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The keys of a running worker (servers, workers, the periodic tasks of each slot) are there now.
	keys := scanMasters(t, cc)
	w.Shutdown()
	stopped = true

	queues := map[string]bool{}
	for addr, ks := range keys {
		for _, k := range ks {
			rule := ""
			for _, r := range keyRules {
				if r.re.MatchString(k) {
					rule = r.name
					break
				}
			}
			if rule == "" {
				t.Errorf("key %q (on %s) follows no rule: tag it with its group, {…}, and add a rule", k, addr)
				continue
			}
			slot := cc.ClusterKeySlot(ctx, k).Val()
			if owner := cluster.MasterOf(t, k).Addr; owner != addr {
				t.Errorf("key %q (slot %d) is on %s, but %s serves the slot", k, slot, addr, owner)
			}
			if rule == "queue" {
				q := keyRules[0].re.FindStringSubmatch(k)[1]
				queues[q] = true
				if want := cc.ClusterKeySlot(ctx, "{"+q+"}").Val(); slot != want {
					t.Errorf("key %q of queue %s is on slot %d, want the queue's slot %d", k, q, slot, want)
				}
			}
		}
	}
	for _, q := range []string{queue.QueueCritical, queue.QueueDefault, queue.QueueLow} {
		if !queues[q] {
			t.Errorf("no key of queue %s found on any master: %v", q, keys)
		}
	}
}

// scanMasters lists every key on each master, by the master's address.
func scanMasters(t *testing.T, cc *redis.ClusterClient) map[string][]string {
	t.Helper()
	var mu sync.Mutex
	out := map[string][]string{}
	err := cc.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		var ks []string
		it := c.Scan(ctx, 0, "*", 1000).Iterator()
		for it.Next(ctx) {
			ks = append(ks, it.Val())
		}
		slices.Sort(ks)
		mu.Lock()
		out[c.Options().Addr] = ks
		mu.Unlock()
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, ks := range out {
		total += len(ks)
	}
	if len(out) != 3 || total == 0 {
		t.Fatalf("scanned %d masters holding %d keys", len(out), total)
	}
	t.Logf("keys by master:\n%s", formatKeys(out))
	return out
}

func formatKeys(m map[string][]string) string {
	var b strings.Builder
	for a, ks := range m {
		b.WriteString(a + ": " + strings.Join(ks, " ") + "\n")
	}
	return b.String()
}
