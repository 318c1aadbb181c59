package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RedisSentinelConfig describes a private master, its replicas and the sentinels watching it.
type RedisSentinelConfig struct {
	// MasterName is the name the sentinels monitor the master under (default "personas").
	MasterName string
	// Addrs are the data nodes' addresses, the master's first (default: a master and one
	// replica on loopback, free ports); SentinelAddrs the sentinels' (default: three).
	Addrs, SentinelAddrs []string
	// DownAfter is down-after-milliseconds: how long the master may be silent before the
	// sentinels fail it over (default 1 s).
	DownAfter time.Duration
	// Exec runs each process (default: redis-server directly).
	Exec RedisExec
}

// Sentinel is a running master, its replicas and their sentinels, all of the test's own.
type Sentinel struct {
	// Data are the master (first) and its replicas, as started.
	Data []*RedisNode
	// Sentinels watch them.
	Sentinels []*RedisNode
	// MasterName is what the sentinels call the master.
	MasterName string
	// URL names them as PERSONAS_REDIS_URL does: redis+sentinel://s1,s2,s3/master.
	URL string
}

// RedisSentinel starts a master, one replica and three sentinels (quorum two) on loopback and
// returns once the sentinels know each other and the replica is in sync. They stop when the
// test ends.
func RedisSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return StartRedisSentinel(t, RedisSentinelConfig{})
}

// StartRedisSentinel starts what cfg describes (see RedisSentinel).
func StartRedisSentinel(t testing.TB, cfg RedisSentinelConfig) *Sentinel {
	t.Helper()
	if cfg.MasterName == "" {
		cfg.MasterName = "personas"
	}
	if cfg.Addrs == nil {
		cfg.Addrs = RedisAddrs(t, 2)
	}
	if cfg.SentinelAddrs == nil {
		cfg.SentinelAddrs = RedisAddrs(t, 3)
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = time.Second
	}
	s := &Sentinel{MasterName: cfg.MasterName, URL: "redis+sentinel://" + strings.Join(cfg.SentinelAddrs, ",") + "/" + cfg.MasterName}
	masterHost, masterPort, _ := net.SplitHostPort(cfg.Addrs[0])
	for i, a := range cfg.Addrs {
		var args []string
		if i > 0 {
			args = []string{"--replicaof", masterHost, masterPort}
		}
		s.Data = append(s.Data, startRedisNode(t, cfg.Exec, a, "", args...))
	}
	quorum := len(cfg.SentinelAddrs)/2 + 1
	for _, a := range cfg.SentinelAddrs {
		// A sentinel rewrites its configuration file: each gets its own, in a directory of
		// its own.
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s %[4]d\n"+
			"sentinel down-after-milliseconds %[1]s %[5]d\n"+
			"sentinel failover-timeout %[1]s %[6]d\n"+
			"sentinel parallel-syncs %[1]s 1\n",
			cfg.MasterName, masterHost, masterPort, quorum, cfg.DownAfter.Milliseconds(), 3*cfg.DownAfter.Milliseconds())
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s.Sentinels = append(s.Sentinels, startRedisNode(t, cfg.Exec, a, conf, "--sentinel"))
	}
	s.waitReady(t, 30*time.Second)
	return s
}

// Master asks the sentinels for the master's address now ("" when none answers).
func (s *Sentinel) Master(ctx context.Context) string {
	for _, n := range s.Sentinels {
		select {
		case <-n.done:
			continue
		default:
		}
		c := n.Client()
		addr, err := c.Do(ctx, "SENTINEL", "get-master-addr-by-name", s.MasterName).StringSlice()
		c.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1])
		}
	}
	return ""
}

// Node returns the data node at addr.
func (s *Sentinel) Node(addr string) *RedisNode {
	for _, n := range s.Data {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// waitReady waits until every sentinel sees the master, its replicas and the other sentinels,
// and every replica's link is up.
func (s *Sentinel) waitReady(t testing.TB, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		problem := ""
		for _, n := range s.Sentinels {
			c := n.Client()
			m, err := c.Do(ctx, "SENTINEL", "master", s.MasterName).Result()
			c.Close()
			fields := sentinelFields(m)
			switch {
			case err != nil:
				problem = n.Addr + ": " + err.Error()
			case fields["num-other-sentinels"] != fmt.Sprint(len(s.Sentinels)-1):
				problem = n.Addr + " knows " + fields["num-other-sentinels"] + " other sentinels"
			case fields["num-slaves"] != fmt.Sprint(len(s.Data)-1):
				problem = n.Addr + " knows " + fields["num-slaves"] + " replicas"
			}
		}
		for _, n := range s.Data[1:] {
			if l := n.info(ctx, "replication", "master_link_status"); l != "up" {
				problem = n.Addr + ": replica link " + l
			}
		}
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Sentinel set not ready within %s: %s", within, problem)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sentinelFields reads SENTINEL MASTER's answer (a flat list, or a map with RESP3).
func sentinelFields(v any) map[string]string {
	out := map[string]string{}
	switch x := v.(type) {
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			out[fmt.Sprint(x[i])] = fmt.Sprint(x[i+1])
		}
	case map[any]any:
		for k, v := range x {
			out[fmt.Sprint(k)] = fmt.Sprint(v)
		}
	}
	return out
}

// WaitFailover waits until the sentinels name another master than old and that node answers
// as a master; it returns the new master.
func (s *Sentinel) WaitFailover(t testing.TB, old string, within time.Duration) *RedisNode {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		if a := s.Master(ctx); a != "" && a != old {
			if n := s.Node(a); n != nil && n.info(ctx, "replication", "role") == "master" {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinels did not fail over from %s within %s", old, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
