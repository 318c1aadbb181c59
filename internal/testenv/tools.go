package testenv

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// PGDump runs pg_dump with args (say "--data-only") on the database at dbURL and returns its
// SQL text. It prefers the newest versioned pg_dump of Debian's packages, which can dump a
// server newer than the one on PATH.
func PGDump(t testing.TB, dbURL string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(pgDumpBinary(t), append(slices.Clone(args), "--dbname", dbURL)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump: %v: %s", err, stderr.String())
	}
	if !strings.Contains(string(out), "PostgreSQL database dump") {
		t.Fatalf("pg_dump printed no dump (%d bytes): %.200s", len(out), out)
	}
	return string(out)
}

func pgDumpBinary(t testing.TB) string {
	t.Helper()
	cands, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	slices.SortFunc(cands, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, c := range append(cands, "/usr/bin/pg_dump", "pg_dump") {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	t.Fatal("no pg_dump under /usr/lib/postgresql/*/bin, in /usr/bin or on PATH (apt-get install -y postgresql-client)")
	return ""
}

// versionOf is the major version in a path /usr/lib/postgresql/<major>/bin/pg_dump.
func versionOf(path string) int {
	v := 0
	for _, r := range filepath.Base(filepath.Dir(filepath.Dir(path))) {
		if r < '0' || r > '9' {
			return v
		}
		v = v*10 + int(r-'0')
	}
	return v
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for a process the test
// starts that must be told its address.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
