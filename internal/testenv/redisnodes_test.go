package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"personas/internal/testenv"
)

// TestRedisClusterFailsOver: the helper's cluster serves every slot, keeps a key written
// before its master is killed (the replica had it) and serves writes again after the
// failover.
func TestRedisClusterFailsOver(t *testing.T) {
	t.Parallel()
	began := time.Now()
	c := testenv.RedisCluster(t, 3, 1)
	t.Logf("six nodes up, the cluster created and healthy in %s", time.Since(began).Round(10*time.Millisecond))
	if len(c.Nodes) != 6 || len(c.Masters(t)) != 3 {
		t.Fatalf("%d nodes, %d masters; want 6 and 3", len(c.Nodes), len(c.Masters(t)))
	}
	ctx := context.Background()
	cl := c.Client(t)
	if err := cl.Set(ctx, "{probe}:a", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old := c.MasterOf(t, "{probe}:a")
	// WAIT: the replica has the write before its master dies.
	if n, err := old.Client().Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v; want the replica to acknowledge", n, err)
	}
	start := time.Now()
	old.Kill()
	now := c.WaitFailover(t, "{probe}:a", old, 20*time.Second)
	t.Logf("failover from %s to %s took %s", old.Addr, now.Addr, time.Since(start).Round(10*time.Millisecond))
	testenvEventually(t, 10*time.Second, func() error { return cl.Set(ctx, "{probe}:b", "after", 0).Err() })
	if v, err := cl.Get(ctx, "{probe}:a").Result(); err != nil || v != "before" {
		t.Errorf("GET after the failover = %q, %v; want before", v, err)
	}
	if len(c.Masters(t)) != 3 {
		t.Errorf("%d masters after the failover, want 3", len(c.Masters(t)))
	}
}

// TestRedisSentinelFailsOver: the sentinels promote the replica when the master is killed,
// and a failover client follows them.
func TestRedisSentinelFailsOver(t *testing.T) {
	t.Parallel()
	began := time.Now()
	s := testenv.RedisSentinel(t)
	t.Logf("master, replica and three sentinels ready in %s", time.Since(began).Round(10*time.Millisecond))
	ctx := context.Background()
	old := s.Master(ctx)
	if old != s.Data[0].Addr {
		t.Fatalf("the sentinels name %q the master, want %s", old, s.Data[0].Addr)
	}
	var sentinels []string
	for _, n := range s.Sentinels {
		sentinels = append(sentinels, n.Addr)
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: sentinels, DialTimeout: time.Second})
	defer fc.Close()
	if err := fc.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Data[0].Client().Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v; want the replica to acknowledge", n, err)
	}
	start := time.Now()
	s.Data[0].Kill()
	now := s.WaitFailover(t, old, 30*time.Second)
	t.Logf("failover from %s to %s took %s", old, now.Addr, time.Since(start).Round(10*time.Millisecond))
	if now != s.Data[1] {
		t.Errorf("new master %s, want the replica %s", now.Addr, s.Data[1].Addr)
	}
	testenvEventually(t, 10*time.Second, func() error { return fc.Set(ctx, "k2", "after", 0).Err() })
	if v, err := fc.Get(ctx, "k").Result(); err != nil || v != "before" {
		t.Errorf("GET after the failover = %q, %v; want before", v, err)
	}
}

func testenvEventually(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
