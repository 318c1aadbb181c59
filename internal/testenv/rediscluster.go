package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisNode is one redis-server process a test started (a cluster node, a replica, a
// sentinel), on an address of its own. The test owns it: Kill stops it hard, Cleanup stops it
// for good.
type RedisNode struct {
	// Addr is host:port, as the node listens and announces itself.
	Addr string
	// Dir holds its configuration, its log (redis.log) and nothing else (no persistence).
	Dir string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// RedisExec builds the command that runs a node's redis-server: exec.Command by default; a
// test that puts nodes on hosts of their own (network namespaces) wraps it ("ip netns exec …").
type RedisExec func(addr string, argv []string) *exec.Cmd

// startRedisNode starts redis-server with args (plus the address and a log file) and waits
// until it answers PING.
func startRedisNode(t testing.TB, run RedisExec, addr string, configFile string, args ...string) *RedisNode {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("Redis node address %q: %v", addr, err)
	}
	dir := t.TempDir()
	argv := []string{"redis-server"}
	if configFile != "" {
		argv = append(argv, configFile)
	}
	argv = append(argv, "--port", port, "--bind", host, "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no")
	if configFile == "" { // a data node: replicas sync at once (the default waits 5 s for more)
		argv = append(argv, "--repl-diskless-sync-delay", "0")
	}
	argv = append(argv, args...)
	if run == nil {
		run = func(_ string, argv []string) *exec.Cmd { return exec.Command(argv[0], argv[1:]...) }
	}
	n := &RedisNode{Addr: addr, Dir: dir, cmd: run(addr, argv), done: make(chan struct{})}
	var stderr bytes.Buffer
	n.cmd.Stderr = &stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start redis-server on %s: %v (apt-get install -y redis-server)", addr, err)
	}
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "redis.log")); err == nil {
				t.Logf("log of the Redis node %s (last 2 kB):\n%s", addr, lastBytes(b, 2048))
			}
		}
	})
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		select {
		case <-n.done:
			t.Fatalf("redis-server on %s exited at start: %s", addr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer PING within 15 s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// lastBytes returns the last n bytes of b.
func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Kill stops the node with SIGKILL, as a crashed host would, and waits until it is gone
// (idempotent).
func (n *RedisNode) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.done
}

// Client connects to this node alone.
func (n *RedisNode) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1, DialTimeout: time.Second})
}

// info reads one field of INFO from the node ("" when it does not answer).
func (n *RedisNode) info(ctx context.Context, section, field string) string {
	c := n.Client()
	defer c.Close()
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// RedisAddrs returns n loopback addresses on free ports whose port + 10000 (a cluster node's
// bus port) is free too.
func RedisAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		p := FreePort(t)
		if p > 55535 {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		ln.Close()
		out = append(out, "127.0.0.1:"+strconv.Itoa(p))
	}
	return out
}

// RedisClusterConfig describes a private Redis Cluster.
type RedisClusterConfig struct {
	Masters, ReplicasPerMaster int
	// Addrs are the nodes' addresses, Masters × (1 + ReplicasPerMaster) of them (redis-cli
	// makes the first Masters the masters); default: loopback, free ports (RedisAddrs).
	Addrs []string
	// NodeTimeout is cluster-node-timeout: how long a master may be silent before its
	// replica takes over (default 1 s).
	NodeTimeout time.Duration
	// Exec runs each node (default: redis-server directly).
	Exec RedisExec
}

// Cluster is a running Redis Cluster of the test's own.
type Cluster struct {
	Nodes []*RedisNode
	// URL names the cluster as PERSONAS_REDIS_URL does: redis+cluster://every,node.
	URL string
	cfg RedisClusterConfig
}

// RedisCluster starts a Redis Cluster of masters × (1 + replicasPerMaster) nodes on loopback,
// with a cluster-node-timeout of one second, and returns once every slot is served and every
// replica is in sync. The nodes stop when the test ends.
func RedisCluster(t testing.TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	return StartRedisCluster(t, RedisClusterConfig{Masters: masters, ReplicasPerMaster: replicasPerMaster})
}

// StartRedisCluster starts the cluster cfg describes (see RedisCluster).
func StartRedisCluster(t testing.TB, cfg RedisClusterConfig) *Cluster {
	t.Helper()
	if cfg.Masters < 3 {
		t.Fatalf("a Redis Cluster needs at least 3 masters, not %d", cfg.Masters)
	}
	total := cfg.Masters * (1 + cfg.ReplicasPerMaster)
	if cfg.Addrs == nil {
		cfg.Addrs = RedisAddrs(t, total)
	}
	if len(cfg.Addrs) != total {
		t.Fatalf("%d addresses for %d cluster nodes", len(cfg.Addrs), total)
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = time.Second
	}
	c := &Cluster{cfg: cfg, URL: "redis+cluster://" + strings.Join(cfg.Addrs, ",")}
	for _, a := range cfg.Addrs {
		host, _, _ := net.SplitHostPort(a)
		c.Nodes = append(c.Nodes, startRedisNode(t, cfg.Exec, a, "",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(cfg.NodeTimeout.Milliseconds(), 10),
			"--cluster-announce-ip", host,
			// A replica may always take over, however long its link was down: the tests
			// kill masters on purpose.
			"--cluster-replica-validity-factor", "0"))
	}
	args := append([]string{"--cluster", "create"}, cfg.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(cfg.ReplicasPerMaster), "--cluster-yes")
	cmd := exec.Command("redis-cli", args...)
	if cfg.Exec != nil {
		cmd = cfg.Exec(cfg.Addrs[0], append([]string{"redis-cli"}, args...))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitHealthy(t, 30*time.Second)
	return c
}

// Client is a cluster client of the test (closed when the test ends).
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.cfg.Addrs, DialTimeout: time.Second,
		ClusterStateReloadInterval: time.Second})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// alive are the nodes not killed.
func (c *Cluster) alive() []*RedisNode {
	var out []*RedisNode
	for _, n := range c.Nodes {
		select {
		case <-n.done:
		default:
			out = append(out, n)
		}
	}
	return out
}

// Node returns the node at addr.
func (c *Cluster) Node(addr string) *RedisNode {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// MasterOf returns the master that serves key's slot now, as the live nodes see it.
func (c *Cluster) MasterOf(t testing.TB, key string) *RedisNode {
	t.Helper()
	m := c.masterOf(key)
	if m == nil {
		t.Fatalf("no live node knows an online master of %q", key)
	}
	return m
}

// masterOf is MasterOf, nil when no live node names an online master of the slot.
func (c *Cluster) masterOf(key string) *RedisNode {
	ctx := context.Background()
	for _, n := range c.alive() {
		cl := n.Client()
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			cl.Close()
			continue
		}
		shards, err := cl.ClusterShards(ctx).Result()
		cl.Close()
		if err != nil {
			continue
		}
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if r.Start > slot || slot > r.End {
					continue
				}
				for _, node := range sh.Nodes {
					if node.Role != "master" || node.Health != "online" {
						continue
					}
					if m := c.Node(net.JoinHostPort(node.IP, strconv.FormatInt(node.Port, 10))); m != nil {
						return m
					}
				}
			}
		}
	}
	return nil
}

// Masters are the live masters.
func (c *Cluster) Masters(t testing.TB) []*RedisNode {
	t.Helper()
	var out []*RedisNode
	for _, n := range c.alive() {
		if n.info(context.Background(), "replication", "role") == "master" {
			out = append(out, n)
		}
	}
	return out
}

// waitHealthy waits until every live node reports cluster_state:ok, every slot is assigned,
// the live masters number cfg.Masters, and every live replica's link to its master is up.
func (c *Cluster) waitHealthy(t testing.TB, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		problem := ""
		masters := 0
		for _, n := range c.alive() {
			cl := n.Client()
			s, err := cl.ClusterInfo(ctx).Result()
			role := n.info(ctx, "replication", "role")
			link := n.info(ctx, "replication", "master_link_status")
			cl.Close()
			switch {
			case err != nil:
				problem = n.Addr + ": " + err.Error()
			case !strings.Contains(s, "cluster_state:ok") || !strings.Contains(s, "cluster_slots_ok:16384"):
				problem = n.Addr + " is not ok"
			case role == "master":
				masters++
			case role == "slave" && link != "up":
				problem = n.Addr + ": replica link " + link
			}
		}
		if problem == "" && masters != c.cfg.Masters {
			problem = fmt.Sprintf("%d masters, want %d", masters, c.cfg.Masters)
		}
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis Cluster not healthy within %s: %s", within, problem)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitFailover waits until a replica has taken over from the master killed and the cluster
// serves every slot again (cluster_state:ok on every live node); it returns the new master of
// key's slot.
func (c *Cluster) WaitFailover(t testing.TB, key string, killed *RedisNode, within time.Duration) *RedisNode {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok := true
		for _, n := range c.alive() {
			cl := n.Client()
			s, err := cl.ClusterInfo(context.Background()).Result()
			cl.Close()
			ok = ok && err == nil && strings.Contains(s, "cluster_state:ok")
		}
		if ok {
			if m := c.masterOf(key); m != nil && m != killed {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica took over from %s within %s", killed.Addr, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
