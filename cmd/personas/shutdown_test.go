package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"personas/internal/testenv"
)

// TestCleanShutdownLogsNoErrors runs the real binary (`personas all`, and the worker alone),
// lets the worker and its scheduler run, sends SIGTERM and reads everything the process wrote:
// a clean stop exits 0, and every line on stdout and stderr is a JSON log record below WARN.
// It used to end with an ERROR from asynq's scheduler closing the shared Redis client, and,
// once the scheduler had its own client, to print go-redis's "failed to initialize
// maintnotifications" on stderr at every start.
func TestCleanShutdownLogsNoErrors(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	for _, cmd := range []string{"all", "worker"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			e := testenv.New(t)
			_, redisURL := testenv.Redis(t)
			env := testEnv(t, e.DataURL, e.KeysURL, redisURL)
			p := exec.Command(bin, cmd)
			p.Env = os.Environ()
			for k, v := range env {
				p.Env = append(p.Env, k+"="+v)
			}
			proc := startProc(t, "personas "+cmd, p)
			if cmd == "all" {
				proc.waitReady(t, env["PERSONAS_PUBLIC_URL"])
			}
			proc.waitWorker(t)
			time.Sleep(1500 * time.Millisecond) // the scheduler's and the server's first heartbeats
			proc.stop(t)
			out := proc.out
			lines := bytes.Split(bytes.TrimSpace([]byte(out.String())), []byte("\n"))
			for _, line := range lines {
				var rec struct {
					Level string `json:"level"`
				}
				if err := json.Unmarshal(line, &rec); err != nil || rec.Level == "" {
					t.Errorf("personas %s wrote a line that is no log record: %s", cmd, line)
					continue
				}
				if rec.Level != "INFO" && rec.Level != "DEBUG" {
					t.Errorf("personas %s logged %s on a clean shutdown: %s", cmd, rec.Level, line)
				}
			}
			if last := string(lines[len(lines)-1]); !strings.Contains(last, `"msg":"stopped"`) {
				t.Errorf("the last line is %s, want stopped", last)
			}
		})
	}
}
