package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the linker (the Makefile's build target: -ldflags "-X main.version=…"). Empty in a
// plain `go build`, where the build information stamped by the go command stands in.
var (
	version    string // `git describe --tags --always --dirty`
	commit     string // `git rev-parse HEAD`
	commitTime string // the commit's time, RFC 3339
	modified   string // "true" when the work tree had changes
)

// buildVersion is what `personas --version` reports.
type buildVersion struct {
	Version  string // a tag, a describe string, the module version, or "devel"
	Commit   string // the full revision, or "unknown"
	Time     string // the commit's time, or "" when unknown
	Modified bool   // built from a work tree with uncommitted changes
	Go       string // the toolchain, "go1.26.8"
	Platform string // "linux/amd64"
}

// readVersion combines the linker's values with the go command's build information: a value
// given to the linker wins, since `go build` stamps no VCS information in a git worktree or
// with -buildvcs=false.
func readVersion(bi *debug.BuildInfo, ok bool, linked buildVersion, linkedModified string) buildVersion {
	v := buildVersion{Version: linked.Version, Commit: linked.Commit, Time: linked.Time, Modified: linkedModified == "true",
		Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok {
		v.Go = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.Time == "" {
					v.Time = s.Value
				}
			case "vcs.modified":
				if linkedModified == "" {
					v.Modified = s.Value == "true"
				}
			}
		}
		if mv := bi.Main.Version; v.Version == "" && mv != "" && mv != "(devel)" {
			v.Version = mv
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

// currentVersion is this binary's version.
func currentVersion() buildVersion {
	bi, ok := debug.ReadBuildInfo()
	return readVersion(bi, ok, buildVersion{Version: version, Commit: commit, Time: commitTime}, modified)
}

// write prints the version as `personas --version` does: the version on the first line, then
// the commit, its time and the toolchain.
func (v buildVersion) write(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "personas %s\n", v.Version)
	fmt.Fprintf(&b, "commit   %s", v.Commit)
	if v.Modified {
		b.WriteString(" (modified)")
	}
	b.WriteString("\n")
	if v.Time != "" {
		fmt.Fprintf(&b, "time     %s\n", v.Time)
	}
	fmt.Fprintf(&b, "go       %s %s\n", v.Go, v.Platform)
	_, _ = io.WriteString(w, b.String())
}
