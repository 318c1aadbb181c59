package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// FormationOptions place a pg_auto_failover formation. Addresses are parameters so that a later
// step can put each node in a network namespace of its own.
type FormationOptions struct {
	// Host every node listens on and is reached at; default 127.0.0.1.
	Host string
	// Hosts, when set, place the monitor, node1 and node2 on addresses of their own (in
	// this order), instead of all on Host.
	Hosts []string
	// Wrap, when set, rewrites the command line of each pg_autoctl process to run it on the
	// host of its node (host is the node's address): a test with network namespaces returns
	// "ip netns exec NS" + argv. argv already drops to the postgres user when the test runs
	// as root.
	Wrap func(host string, argv []string) []string
	// TrustCIDR, when set, is a network (10.1.2.0/24) whose clients every node trusts for
	// any database and replication: the hosts' subnet of a test network, where the test
	// process connects from the bridge's address.
	TrustCIDR string
	// Databases created on the primary (and replicated to the standby); default "personas".
	Databases []string
	// DefaultTimeouts keeps pg_auto_failover's own health-check timings (a failover then takes
	// 30 s or more); by default the monitor is tuned to notice a dead primary in about 3 s.
	DefaultTimeouts bool
}

// Formation is a private pg_auto_failover formation: a monitor, a primary and a synchronous
// standby, each a `pg_autoctl run` child process in the test's temporary directory. Everything
// is killed and removed at cleanup.
type Formation struct {
	Host    string
	Monitor *PGNode
	Nodes   []*PGNode // node1 starts as the primary, node2 as its synchronous standby
	dir     string
	env     []string
	cred    *syscall.Credential
	wrap    func(host string, argv []string) []string
	trust   string
	bin     string // directory of pg_ctl and postgres
	mu      sync.Mutex
}

// PGNode is one pg_autoctl-managed PostgreSQL instance.
type PGNode struct {
	Name   string
	Host   string // the address it listens on and is reached at
	Port   int
	PGData string
	log    string
	cmd    *exec.Cmd
	done   chan struct{}
	killed bool
}

// Addr is the node's host:port.
func (n *PGNode) Addr(host string) string { return net.JoinHostPort(host, strconv.Itoa(n.Port)) }

// Monitor tuning for tests: a node that stops reporting is unhealthy after 3 s, and a primary
// that cannot be reached is demoted without waiting the default 30 s.
var fastFailover = map[string]string{
	"pgautofailover.health_check_period":               "1000",
	"pgautofailover.health_check_timeout":              "1000",
	"pgautofailover.health_check_max_retries":          "1",
	"pgautofailover.health_check_retry_delay":          "500",
	"pgautofailover.node_considered_unhealthy_timeout": "3000",
	"pgautofailover.primary_demote_timeout":            "5000",
}

// pgBinDir finds the PostgreSQL whose lib directory holds the pg_auto_failover extension.
func pgBinDir() (string, error) {
	libs, _ := filepath.Glob("/usr/lib/postgresql/*/lib/pgautofailover.so")
	if len(libs) == 0 {
		return "", errors.New("pg_auto_failover is not installed: run `make pgautofailover` (Debian's postgresql-15-auto-failover and pg-auto-failover-cli)")
	}
	if _, err := exec.LookPath("pg_autoctl"); err != nil {
		return "", errors.New("pg_autoctl is not on PATH: run `make pgautofailover`")
	}
	return filepath.Join(filepath.Dir(filepath.Dir(libs[len(libs)-1])), "bin"), nil
}

// NewFormation starts a monitor, a primary and a synchronous standby on free ports and waits
// (at most two minutes) until the monitor reports them primary and secondary. PostgreSQL refuses
// to run as root: when the test runs as root, the processes run as the postgres user in a
// directory it owns.
func NewFormation(t testing.TB, opts FormationOptions) *Formation {
	t.Helper()
	bin, err := pgBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if len(opts.Databases) == 0 {
		opts.Databases = []string{"personas"}
	}
	if opts.Hosts != nil && len(opts.Hosts) != 3 {
		t.Fatalf("FormationOptions.Hosts names %d hosts, want 3 (monitor, node1, node2)", len(opts.Hosts))
	}
	hostOf := func(i int) string {
		if opts.Hosts != nil {
			return opts.Hosts[i]
		}
		return opts.Host
	}
	f := &Formation{Host: opts.Host, bin: bin, wrap: opts.Wrap, trust: opts.TrustCIDR}
	f.dir = f.ownDir(t)
	f.env = []string{"HOME=" + f.dir, "XDG_CONFIG_HOME=" + filepath.Join(f.dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(f.dir, "share"), "XDG_RUNTIME_DIR=" + filepath.Join(f.dir, "run"),
		"PATH=" + bin + ":/usr/bin:/bin", "LANG=C.UTF-8"}
	t.Cleanup(func() { f.stopAll(t) })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f.Monitor = &PGNode{Name: "monitor", Host: hostOf(0), Port: FreePort(t), PGData: filepath.Join(f.dir, "monitor")}
	f.create(t, ctx, f.Monitor, "monitor")
	f.start(t, f.Monitor)
	f.waitSQL(t, ctx, f.MonitorURL(), "the monitor accepts connections")
	if !opts.DefaultTimeouts {
		conn := f.connect(t, ctx, strings.Replace(f.MonitorURL(), "autoctl_node@", "postgres@", 1))
		for k, v := range fastFailover {
			if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER SYSTEM SET %s = %s", k, v)); err != nil {
				t.Fatalf("tune monitor %s: %v", k, err)
			}
		}
		if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
	}
	for i := 1; i <= 2; i++ {
		n := &PGNode{Name: fmt.Sprintf("node%d", i), Host: hostOf(i), Port: FreePort(t), PGData: filepath.Join(f.dir, fmt.Sprintf("node%d", i))}
		f.Nodes = append(f.Nodes, n)
		f.create(t, ctx, n, "postgres")
		f.start(t, n)
		if i == 1 {
			f.waitStates(t, ctx, map[string]string{"node1": "single"})
		}
	}
	f.waitStates(t, ctx, map[string]string{"node1": "primary", "node2": "secondary"})
	conn := f.connect(t, ctx, f.NodeURL(f.Nodes[0], "postgres"))
	defer conn.Close(ctx)
	for _, db := range opts.Databases {
		if db == "postgres" {
			continue
		}
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
				t.Fatalf("create database %s: %v", db, err)
			}
		}
	}
	var sync string
	if err := conn.QueryRow(ctx, `SHOW synchronous_standby_names`).Scan(&sync); err != nil || sync == "" {
		t.Fatalf("the primary has no synchronous standby (synchronous_standby_names %q, %v)", sync, err)
	}
	return f
}

// ownDir makes a directory inside t.TempDir() that the postgres user owns when the test runs as
// root (the temporary directories are made traversable, never readable, by others).
func (f *Formation) ownDir(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "pgaf")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		return dir
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root needs a postgres user to run PostgreSQL as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	f.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	for d := base; d != "/" && d != os.TempDir() && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (f *Formation) command(ctx context.Context, n *PGNode, args ...string) *exec.Cmd {
	if f.wrap == nil {
		cmd := exec.CommandContext(ctx, "pg_autoctl", args...)
		cmd.Env = f.env
		cmd.Dir = f.dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: f.cred}
		return cmd
	}
	// The wrapper (ip netns exec) needs root: the drop to the postgres user comes after it.
	argv := append([]string{"pg_autoctl"}, args...)
	if f.cred != nil {
		argv = append([]string{"setpriv", "--reuid=" + strconv.Itoa(int(f.cred.Uid)), "--regid=" + strconv.Itoa(int(f.cred.Gid)),
			"--clear-groups", "--"}, argv...)
	}
	argv = f.wrap(n.Host, argv)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = f.env
	cmd.Dir = f.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// MonitorURL is the monitor's connection URL.
func (f *Formation) MonitorURL() string {
	return "postgres://autoctl_node@" + f.Monitor.Addr(f.Monitor.Host) + "/pg_auto_failover?sslmode=disable"
}

// NodeURL is the URL of one node's database, whatever its role.
func (f *Formation) NodeURL(n *PGNode, db string) string {
	return "postgres://postgres@" + n.Addr(n.Host) + "/" + url.PathEscape(db) + "?sslmode=disable"
}

// URL is the multi-host URL of the formation's primary, as the service is given it: pgx tries
// every node and keeps the one that accepts writes.
func (f *Formation) URL(db string) string {
	hosts := make([]string, len(f.Nodes))
	for i, n := range f.Nodes {
		hosts[i] = n.Addr(n.Host)
	}
	return "postgres://postgres@" + strings.Join(hosts, ",") + "/" + url.PathEscape(db) +
		"?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
}

// ReadURL is the multi-host URL of a standby when one is up (any node otherwise): for reads
// that may be stale.
func (f *Formation) ReadURL(db string) string {
	return strings.Replace(f.URL(db), "target_session_attrs=read-write", "target_session_attrs=prefer-standby", 1)
}

func (f *Formation) create(t testing.TB, ctx context.Context, n *PGNode, kind string) {
	t.Helper()
	args := []string{"create", kind, "--pgdata", n.PGData, "--pgport", strconv.Itoa(n.Port),
		"--hostname", n.Host, "--auth", "trust", "--no-ssl", "--pgctl", filepath.Join(f.bin, "pg_ctl")}
	if kind == "postgres" {
		args = append(args, "--listen", n.Host, "--name", n.Name, "--dbname", "postgres", "--monitor", f.MonitorURL())
	}
	out, err := f.command(ctx, n, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_autoctl create %s %s: %v\n%s", kind, n.Name, err, tail(string(out), 30))
	}
	if f.trust != "" {
		hba, err := os.OpenFile(filepath.Join(n.PGData, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, err = fmt.Fprintf(hba, "host all all %[1]s trust\nhost replication all %[1]s trust\n", f.trust)
			if cerr := hba.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Fatalf("trust %s on %s: %v", f.trust, n.Name, err)
		}
	}
}

// start runs `pg_autoctl run` for the node as a child process in a process group of its own.
func (f *Formation) start(t testing.TB, n *PGNode) {
	t.Helper()
	n.log = filepath.Join(f.dir, n.Name+".log")
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := f.command(context.Background(), n, "run", "--pgdata", n.PGData)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("pg_autoctl run %s: %v", n.Name, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(n.done) }()
}

// Kill stops a node hard: SIGKILL to pg_autoctl, its PostgreSQL and every backend, as a crash
// of the machine would. The node stays down.
func (f *Formation) Kill(t testing.TB, n *PGNode) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if n.cmd == nil || n.killed {
		return
	}
	n.killed = true
	killTree(n.cmd.Process.Pid)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		t.Errorf("pg_autoctl of %s did not exit after SIGKILL", n.Name)
	}
}

// killTree SIGKILLs a process, its process group and all its descendants: PostgreSQL's children
// each lead a session of their own, so the group alone would leave them behind.
func killTree(pid int) {
	pids := append(descendants(pid), pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(fields[1])
		parent[p] = pp
	}
	var out []int
	frontier := []int{pid}
	for len(frontier) > 0 {
		cur := frontier[0]
		frontier = frontier[1:]
		for p, pp := range parent {
			if pp == cur {
				out = append(out, p)
				frontier = append(frontier, p)
			}
		}
	}
	return out
}

func (f *Formation) stopAll(t testing.TB) {
	nodes := append([]*PGNode{}, f.Nodes...)
	if f.Monitor != nil {
		nodes = append(nodes, f.Monitor)
	}
	for _, n := range nodes {
		if n.cmd == nil {
			continue
		}
		if t.Failed() && n.log != "" {
			if b, err := os.ReadFile(n.log); err == nil {
				t.Logf("%s log (tail):\n%s", n.Name, tail(string(b), 25))
			}
		}
		f.Kill(t, n)
	}
}

// Primary asks the monitor which node is the primary now.
func (f *Formation) Primary(ctx context.Context) (*PGNode, error) {
	conn, err := pgx.Connect(ctx, f.MonitorURL())
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var port int
	if err := conn.QueryRow(ctx, `SELECT primary_port FROM pgautofailover.get_primary('default', 0)`).Scan(&port); err != nil {
		return nil, err
	}
	for _, n := range f.Nodes {
		if n.Port == port {
			return n, nil
		}
	}
	return nil, fmt.Errorf("the monitor names a primary on port %d, not a node of this formation", port)
}

// States reads every node's reported and assigned state from the monitor.
func (f *Formation) States(ctx context.Context) (map[string][2]string, error) {
	conn, err := pgx.Connect(ctx, f.MonitorURL())
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node`)
	if err != nil {
		return nil, err
	}
	out := map[string][2]string{}
	for rows.Next() {
		var name, rep, goal string
		if err := rows.Scan(&name, &rep, &goal); err != nil {
			return nil, err
		}
		out[name] = [2]string{rep, goal}
	}
	return out, rows.Err()
}

// WaitStates waits (bounded by within) until every named node reports and is assigned the
// given state.
func (f *Formation) WaitStates(t testing.TB, within time.Duration, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	f.waitStates(t, ctx, want)
}

func (f *Formation) waitStates(t testing.TB, ctx context.Context, want map[string]string) {
	t.Helper()
	var last map[string][2]string
	var lastErr error
	for {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last, lastErr = f.States(qctx)
		cancel()
		ok := lastErr == nil
		for name, st := range want {
			if s, found := last[name]; !found || s[0] != st || s[1] != st {
				ok = false
			}
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("formation states %v (%v), want %v", last, lastErr, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (f *Formation) connect(t testing.TB, ctx context.Context, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to %s: %v", u, err)
	}
	return conn
}

func (f *Formation) waitSQL(t testing.TB, ctx context.Context, u, what string) {
	t.Helper()
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, u)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
