package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestFormationFailsOver starts a formation, writes a row through the multi-host URL, kills the
// primary hard and reads the row through the same URL from the promoted standby; cleanup leaves
// no process of the formation behind.
func TestFormationFailsOver(t *testing.T) {
	var pids []int
	t.Run("formation", func(t *testing.T) {
		f := NewFormation(t, FormationOptions{Databases: []string{"personas"}})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p, err := f.Primary(ctx)
		if err != nil || p != f.Nodes[0] {
			t.Fatalf("primary %v (%v), want node1", p, err)
		}
		conn, err := pgx.Connect(ctx, f.URL("personas"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE acked (v int); INSERT INTO acked VALUES (42)`); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		// The standby flushed the row before the primary answered (synchronous replication); it
		// shows once replayed.
		var v int
		var inRecovery bool
		deadline := time.Now().Add(10 * time.Second)
		for {
			sb, err := pgx.Connect(ctx, f.NodeURL(f.Nodes[1], "personas"))
			if err == nil {
				err = sb.QueryRow(ctx, `SELECT v, pg_is_in_recovery() FROM acked`).Scan(&v, &inRecovery)
				sb.Close(ctx)
			}
			if err == nil && v == 42 && inRecovery {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("standby: %d in recovery %v (%v), want 42 on a standby", v, inRecovery, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		pids = append(descendants(f.Monitor.cmd.Process.Pid), f.Monitor.cmd.Process.Pid)
		for _, n := range f.Nodes {
			pids = append(pids, n.cmd.Process.Pid)
			pids = append(pids, descendants(n.cmd.Process.Pid)...)
		}

		t0 := time.Now()
		f.Kill(t, f.Nodes[0])
		f.WaitStates(t, time.Minute, map[string]string{"node2": "wait_primary"})
		t.Logf("node2 promoted %s after the kill", time.Since(t0).Round(100*time.Millisecond))
		conn, err = pgx.Connect(ctx, f.URL("personas"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var port int
		if err := conn.QueryRow(ctx, `SELECT v, inet_server_port() FROM acked`).Scan(&v, &port); err != nil || v != 42 || port != f.Nodes[1].Port {
			t.Fatalf("after failover: %d from port %d (%v), want 42 from node2 (%d)", v, port, err, f.Nodes[1].Port)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO acked VALUES (43)`); err != nil {
			t.Fatalf("write after failover: %v", err)
		}
	})
	if len(pids) == 0 {
		return
	}
	for _, p := range pids {
		if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "stat")); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("process %d of the formation outlived its cleanup: %s", p, b)
		}
	}
}
