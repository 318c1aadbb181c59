//go:build hosts

package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNetwork checks the separate-hosts network: hosts reach each other and the test over the
// bridge, not the machine's loopback services; cleanup removes everything; the network of a
// test process that died is removed by the next one.
func TestNetwork(t *testing.T) {
	var bridge string
	var namespaces []string
	t.Run("hosts", func(t *testing.T) {
		n := NewNetwork(t)
		a, b := n.Host(t, "a"), n.Host(t, "b")
		bridge, namespaces = n.Bridge, []string{a.NS, b.NS}
		if a.IP == b.IP || !strings.HasPrefix(a.IP, strings.TrimSuffix(n.Gateway, "1")) {
			t.Fatalf("addresses %s and %s on the network of %s", a.IP, b.IP, n.Gateway)
		}
		for _, name := range []string{n.Bridge, n.veth(2, 'h'), n.veth(3, 'h')} {
			if len(name) > 15 {
				t.Errorf("interface name %q is longer than 15 characters", name)
			}
		}
		srv := startRedisNode(t, func(_ string, argv []string) *exec.Cmd { return a.Command(argv...) }, a.Addr(6379), "")
		out, err := b.Command("redis-cli", "-h", a.IP, "-p", "6379", "ping").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "PONG" {
			t.Errorf("host b to host a: %q, %v; want PONG", out, err)
		}
		c := srv.Client() // the test, from the root namespace, over the bridge
		if got, err := c.Ping(t.Context()).Result(); err != nil || got != "PONG" {
			t.Errorf("root namespace to host a: %q, %v", got, err)
		}
		c.Close()
		// The machine's own Redis on 127.0.0.1:6379 is not reachable from a host: its
		// loopback is its own.
		out, err = b.Command("redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping").CombinedOutput()
		if err == nil && strings.Contains(string(out), "PONG") {
			t.Errorf("host b reached 127.0.0.1:6379 of the machine: %q", out)
		}
	})
	list, _ := exec.Command("ip", "netns", "list").Output()
	links, _ := exec.Command("ip", "link").Output()
	for _, ns := range namespaces {
		if strings.Contains(string(list), ns) {
			t.Errorf("namespace %s left after cleanup", ns)
		}
	}
	if bridge == "" || strings.Contains(string(links), bridge) {
		t.Errorf("bridge %q left after cleanup", bridge)
	}

	// An orphan: the network of a process that is gone (pid 999999999 is beyond pid_max).
	if err := os.MkdirAll(netStateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ns := "ptdead-2-x"
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := exec.Command("ip", "link", "add", "br-dead", "type", "bridge").CombinedOutput(); err != nil {
		_ = exec.Command("ip", "netns", "del", ns).Run()
		t.Fatalf("%v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(netStateDir, "dead"), []byte("999999999"), 0o600); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = sleeper.Wait(); close(exited) }()
	NewNetwork(t)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = sleeper.Process.Kill()
		t.Error("the process in the orphan namespace was not killed")
	}
	list, _ = exec.Command("ip", "netns", "list").Output()
	links, _ = exec.Command("ip", "link").Output()
	if strings.Contains(string(list), ns) || strings.Contains(string(links), "br-dead") {
		t.Errorf("the orphan network was not removed: namespaces %q", list)
	}
	if _, err := os.Stat(filepath.Join(netStateDir, "dead")); !os.IsNotExist(err) {
		t.Errorf("the orphan's state file is left: %v", err)
	}
}
