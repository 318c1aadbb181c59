package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"personas/internal/testenv"
)

// TestProductionTouchesNoFile runs the real binary (`personas all`: the API and the worker)
// with PERSONAS_ENV=production and its keys in the environment, in a working directory, HOME
// and TMPDIR it cannot write (it runs as nobody when the test runs as root, whom permissions do
// not stop), with the development key file pointed into that directory: it serves (/readyz
// 200, the worker started), stops cleanly, and the directory is still empty. A service that
// wrote a cache, an upload or a key file to disk would fail here; so would one that read the
// development key file in production.
func TestProductionTouchesNoFile(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	e := testenv.New(t)
	_, redisURL := testenv.Redis(t)
	env := testEnv(t, e.DataURL, e.KeysURL, redisURL)
	ro := readOnlyDir(t)
	env["PERSONAS_ENV"] = "production"
	env["PERSONAS_KEY_FILE"] = filepath.Join(ro, ".keys", "dev.env")
	env["HOME"] = ro
	env["TMPDIR"] = ro
	env["PATH"] = os.Getenv("PATH")

	p := exec.Command(runnable(t, bin), "all")
	p.Dir = ro
	for k, v := range env {
		p.Env = append(p.Env, k+"="+v)
	}
	if os.Geteuid() == 0 {
		p.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out := &testenv.Buffer{}
	p.Stdout, p.Stderr = out, out
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.Wait() }()
	t.Cleanup(func() {
		if p.ProcessState == nil {
			_ = p.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for code, _ := get(env["PERSONAS_PUBLIC_URL"] + "/readyz"); code != http.StatusOK; code, _ = get(env["PERSONAS_PUBLIC_URL"] + "/readyz") {
		select {
		case err := <-exited:
			t.Fatalf("personas all in production, read-only directories: exited (%v) before serving; output:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer 200 within 30 s; output:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for !strings.Contains(out.String(), `"msg":"worker started"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not start within 30 s; output:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // the worker's first heartbeats and polls
	if err := p.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("personas all after SIGTERM: %v; output:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("personas all did not stop within 30 s of SIGTERM; output:\n%s", out.String())
	}
	if s := out.String(); strings.Contains(s, `"level":"ERROR"`) || strings.Contains(s, `"level":"WARN"`) {
		t.Errorf("a production run in read-only directories logged a warning or an error:\n%s", s)
	}
	entries, err := os.ReadDir(ro)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("the read-only directory holds %d entries after the run, want none", len(entries))
	}
}

// readOnlyDir is an empty directory that the process of runnable can read and not write.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "personas-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700); _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runnable is a copy of bin that nobody may run (the built binary sits in a directory only its
// owner can enter).
func runnable(t *testing.T, bin string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "personas-exec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "personas")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
