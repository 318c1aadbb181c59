package main

import (
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
	proc := startProc(t, "personas all in production, read-only directories", p)
	proc.waitReady(t, env["PERSONAS_PUBLIC_URL"])
	proc.waitWorker(t)
	time.Sleep(1500 * time.Millisecond) // the worker's first heartbeats and polls
	proc.stop(t)
	out := proc.out
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
