package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Network is a private layer-2 network of separate hosts for one test: a Linux bridge in the
// root network namespace carrying 10.<x>.<y>.1/24 (random per test), and one network namespace
// per host, linked to the bridge by a veth pair. The test process, in the root namespace,
// reaches every host over the bridge; the hosts reach each other and the test the same way
// (and nothing else: no route leaves the subnet). Cleanup removes namespaces, veths and the
// bridge, on failure too. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2.
type Network struct {
	// Bridge is the bridge's interface name, br-<id>.
	Bridge string
	// Gateway is the bridge's own address: the test process as the hosts see it.
	Gateway string
	// CIDR is the subnet, 10.x.y.0/24.
	CIDR   string
	id     string
	prefix string // "10.x.y."
	mu     sync.Mutex
	hosts  []*NetHost
}

// NetHost is one network namespace of a Network, with one address on its subnet.
type NetHost struct {
	Name string
	// NS is the namespace's name (ip netns exec NS …).
	NS string
	// IP is the host's address on the network.
	IP string
}

// ip runs one iproute2 command and fails the test on error.
func ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// NewNetwork creates the bridge on a /24 of 10.0.0.0/8 that no route of the machine uses.
func NewNetwork(t testing.TB) *Network {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is not on PATH (apt-get install -y iproute2)")
	}
	removeOrphans(t)
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	n := &Network{id: hex.EncodeToString(b)}
	if err := os.MkdirAll(netStateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(netStateDir, n.id), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Bridge = "br-" + n.id
	routes, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		t.Fatalf("ip route: %v", err)
	}
	for try := 0; ; try++ {
		x, _ := rand.Int(rand.Reader, big.NewInt(100))
		y, _ := rand.Int(rand.Reader, big.NewInt(254))
		n.prefix = fmt.Sprintf("10.%d.%d.", 150+x.Int64(), 1+y.Int64())
		if !strings.Contains(string(routes), n.prefix) {
			break
		}
		if try == 50 {
			t.Fatal("no free 10.x.y.0/24 for a test network")
		}
	}
	n.Gateway, n.CIDR = n.prefix+"1", n.prefix+"0/24"
	t.Cleanup(func() { n.remove(t) })
	ip(t, "link", "add", n.Bridge, "type", "bridge")
	ip(t, "addr", "add", n.Gateway+"/24", "dev", n.Bridge)
	ip(t, "link", "set", n.Bridge, "up")
	return n
}

// Host creates a network namespace linked to the bridge, with lo up and the next free address
// of the subnet on its eth0.
func (n *Network) Host(t testing.TB, name string) *NetHost {
	t.Helper()
	n.mu.Lock()
	i := len(n.hosts) + 2
	if i > 254 {
		n.mu.Unlock()
		t.Fatal("a test network holds at most 253 hosts")
	}
	h := &NetHost{Name: name, NS: "pt" + n.id + "-" + strconv.Itoa(i) + "-" + name, IP: n.prefix + strconv.Itoa(i)}
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()
	outer, inner := n.veth(i, 'h'), n.veth(i, 'p')
	ip(t, "netns", "add", h.NS)
	ip(t, "link", "add", outer, "type", "veth", "peer", "name", inner)
	ip(t, "link", "set", outer, "master", n.Bridge)
	ip(t, "link", "set", outer, "up")
	ip(t, "link", "set", inner, "netns", h.NS)
	ip(t, "-n", h.NS, "link", "set", "lo", "up")
	ip(t, "-n", h.NS, "link", "set", inner, "name", "eth0")
	ip(t, "-n", h.NS, "addr", "add", h.IP+"/24", "dev", "eth0")
	ip(t, "-n", h.NS, "link", "set", "eth0", "up")
	return h
}

// veth names the root-side ('h') or host-side ('p') end of host i's pair: ≤ 15 characters.
func (n *Network) veth(i int, side byte) string {
	return "v" + n.id + string(side) + strconv.Itoa(i)
}

// Command is argv run inside the host's namespace (ip netns exec execs it: the process's pid
// is the command's own).
func (h *NetHost) Command(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS}, argv...)...)
}

// Addr is the host's address with a port.
func (h *NetHost) Addr(port int) string { return h.IP + ":" + strconv.Itoa(port) }

// remove deletes every namespace (its veth end goes with it, and the peer with that), every
// leftover root-side veth and the bridge. Processes in the namespaces must be stopped first
// (cleanups run last-registered first, so those of processes started later run before).
func (n *Network) remove(t testing.TB) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, h := range n.hosts {
		if out, err := exec.Command("ip", "netns", "del", h.NS).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
			t.Errorf("ip netns del %s: %v: %s", h.NS, err, out)
		}
		_ = exec.Command("ip", "link", "del", n.veth(i+2, 'h')).Run() // gone already, normally
	}
	if out, err := exec.Command("ip", "link", "del", n.Bridge).CombinedOutput(); err != nil {
		t.Errorf("ip link del %s: %v: %s", n.Bridge, err, out)
	}
	_ = os.Remove(filepath.Join(netStateDir, n.id))
}

// netStateDir records which process owns each network (a file per network id holding the
// pid), so that the networks of a test process killed before its cleanup ran are removed by
// the next test that makes one.
const netStateDir = "/run/personas-testnet"

// removeOrphans removes the networks whose owner process is gone: SIGKILL to every process
// left in their namespaces, then the namespaces, veths and bridge.
func removeOrphans(t testing.TB) {
	entries, _ := os.ReadDir(netStateDir)
	for _, e := range entries {
		id := e.Name()
		b, err := os.ReadFile(filepath.Join(netStateDir, id))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // its test still runs
		}
		out, _ := exec.Command("ip", "netns", "list").Output()
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], "pt"+id+"-") {
				continue
			}
			pids, _ := exec.Command("ip", "netns", "pids", f[0]).Output()
			for _, p := range strings.Fields(string(pids)) {
				if n, err := strconv.Atoi(p); err == nil && n > 1 {
					_ = syscall.Kill(n, syscall.SIGKILL)
				}
			}
			time.Sleep(100 * time.Millisecond)
			_ = exec.Command("ip", "netns", "del", f[0]).Run()
		}
		_ = exec.Command("ip", "link", "del", "br-"+id).Run()
		_ = os.Remove(filepath.Join(netStateDir, id))
		t.Logf("removed the test network %s of a test process that is gone (pid %d)", id, pid)
	}
}
