package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadVersion(t *testing.T) {
	t.Parallel()
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "personas", Version: "v0.0.0-20261202052550-dbeef18baaa0+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "dbeef18baaa04eb746359985ed7445249a02f3d6"},
			{Key: "vcs.time", Value: "2026-12-02T05:25:50Z"}, {Key: "vcs.modified", Value: "true"}}}
	bare := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "personas", Version: "(devel)"}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name     string
		bi       *debug.BuildInfo
		ok       bool
		linked   buildVersion
		modified string
		want     buildVersion
	}{
		{"go build in a git checkout", stamped, true, buildVersion{}, "",
			buildVersion{Version: "v0.0.0-20261202052550-dbeef18baaa0+dirty", Commit: "dbeef18baaa04eb746359985ed7445249a02f3d6",
				Time: "2026-12-02T05:25:50Z", Modified: true, Go: "go1.26.8", Platform: platform}},
		{"make build: the linker's values win", stamped, true,
			buildVersion{Version: "v1.4.0-3-gabc1234", Commit: "abc1234000000000000000000000000000000000", Time: "2026-12-01T10:00:00+00:00"}, "false",
			buildVersion{Version: "v1.4.0-3-gabc1234", Commit: "abc1234000000000000000000000000000000000", Time: "2026-12-01T10:00:00+00:00",
				Modified: false, Go: "go1.26.8", Platform: platform}},
		{"make build outside git: only the version", bare, true, buildVersion{Version: "devel"}, "",
			buildVersion{Version: "devel", Commit: "unknown", Go: "go1.26.8", Platform: platform}},
		{"go build in a worktree or with -buildvcs=false", bare, true, buildVersion{}, "",
			buildVersion{Version: "devel", Commit: "unknown", Go: "go1.26.8", Platform: platform}},
		{"go install of a tagged module", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.5.0"}}, true, buildVersion{}, "",
			buildVersion{Version: "v1.5.0", Commit: "unknown", Go: "go1.26.1", Platform: platform}},
		{"no build information", nil, false, buildVersion{}, "",
			buildVersion{Version: "devel", Commit: "unknown", Go: runtime.Version(), Platform: platform}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readVersion(tt.bi, tt.ok, tt.linked, tt.modified)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("readVersion (-want +got):\n%s", d)
			}
		})
	}
}

func TestVersionWrite(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	buildVersion{Version: "v1.4.0-3-gabc1234-dirty", Commit: "abc1234", Time: "2026-12-01T10:00:00Z", Modified: true,
		Go: "go1.26.8", Platform: "linux/amd64"}.write(&b)
	want := "personas v1.4.0-3-gabc1234-dirty\ncommit   abc1234 (modified)\ntime     2026-12-01T10:00:00Z\ngo       go1.26.8 linux/amd64\n"
	if b.String() != want {
		t.Errorf("write:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--version", "-version", "version"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{arg}, func(string) string { return "" }, nil, &out, &out); err != nil {
			t.Fatalf("personas %s: %v", arg, err)
		}
		if !strings.HasPrefix(out.String(), "personas ") || !strings.Contains(out.String(), "\ngo       "+runtime.Version()+" ") {
			t.Errorf("personas %s printed %q, want the version and %s", arg, out.String(), runtime.Version())
		}
	}
}

// binDir holds the binary as `make build` makes it, built once for the tests that run the real
// process; TestMain removes it.
var binDir = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "personas-bin-")
	if err != nil {
		panic(err)
	}
	return dir
})

var builtBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir(), "personas")
	out, err := exec.Command("make", "-C", "../..", "build", "BIN="+bin).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make build: %w\n%s", err, out)
	}
	return bin, nil
})

func binary(t *testing.T) string {
	t.Helper()
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// git runs a git command in the repository; ok is false outside a git checkout.
func git(args ...string) (string, bool) {
	out, err := exec.Command("git", append([]string{"-C", "../.."}, args...)...).Output()
	return strings.TrimSpace(string(out)), err == nil
}

// TestBuiltBinaryVersion builds the binary as the Makefile does and checks that --version
// names the commit it was built from.
func TestBuiltBinaryVersion(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("personas --version: %v", err)
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := map[string]string{"go": strings.TrimSpace(string(goVersion)) + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if rev, ok := git("rev-parse", "HEAD"); ok {
		desc, _ := git("describe", "--tags", "--always", "--dirty")
		dirty, _ := git("status", "--porcelain")
		want["personas"] = desc
		want["commit"] = rev
		if dirty != "" {
			want["commit"] += " (modified)"
		}
		want["time"], _ = git("log", "-1", "--format=%cI")
	} else {
		want["personas"] = "devel"
		want["commit"] = "unknown"
	}
	got := map[string]string{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, " ")
		got[k] = strings.TrimSpace(v)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("personas --version printed\n%s\n(-want +got):\n%s", out, d)
	}
}
