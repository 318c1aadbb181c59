package main

import (
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"personas/internal/testenv"
)

// proc is a personas process a test started, with everything it writes to stdout and stderr.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *testenv.Buffer
	exited chan error
}

// startProc starts cmd (its environment and credentials set by the caller) and kills it at the
// end of the test if it still runs.
func startProc(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &testenv.Buffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitReady waits up to 30 s for /readyz at baseURL to answer 200; the process must not exit
// meanwhile.
func (p *proc) waitReady(t *testing.T, baseURL string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for code, _ := get(baseURL + "/readyz"); code != http.StatusOK; code, _ = get(baseURL + "/readyz") {
		select {
		case err := <-p.exited:
			t.Fatalf("%s exited (%v) before serving; output:\n%s", p.name, err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer 200 within 30 s; output:\n%s", p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitWorker waits up to 30 s for the worker's start to be logged.
func (p *proc) waitWorker(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), `"msg":"worker started"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not start within 30 s; output:\n%s", p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and requires a clean exit within 30 s.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("%s after SIGTERM: %v; output:\n%s", p.name, err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30 s of SIGTERM; output:\n%s", p.name, p.out.String())
	}
}
