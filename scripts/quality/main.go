// Command quality measures persona quality on generated ground truth through the real service,
// as the test in internal/quality does (same code, internal/quality.Measure): for each seed a
// fresh project on an in-process service with fresh databases, the generator's visitors
// imported, a model trained by the worker, and classify asked about every visitor with its
// full history and about held-out visitors after 1, 3 and 10 events. It prints the markdown
// table of docs/quality.md ("Ground truth") and the targets the figures miss; with -write it
// also replaces the table in that file.
//
//	go run -tags nomsgpack ./scripts/quality -seeds 1,2,3 -write docs/quality.md
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"personas/internal/quality"
	"personas/internal/testenv"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quality:", err)
		os.Exit(1)
	}
}

// Markers delimit the generated part of docs/quality.md.
const (
	beginMarker = "<!-- quality:ground-truth:begin -->"
	endMarker   = "<!-- quality:ground-truth:end -->"
)

func run(_ context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("quality", flag.ContinueOnError)
	seedList := fs.String("seeds", "1,2,3", "generator seeds, comma-separated")
	train := fs.Int("visitors", 3000, "visitors imported and trained on, per seed")
	held := fs.Int("held-out", 500, "fresh visitors asked early, per seed (keep below 20 % of -visitors)")
	write := fs.String("write", "", "replace the table between the markers in this file (docs/quality.md)")
	fixedK := fs.Int("fixed-k", 0, "train at this k instead of choosing it (a diagnosis: are the groups separable?)")
	dump := fs.String("dump", "", "write every visitor's answers to this file (JSON lines), to check the figures by other means")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var seeds []uint64
	for _, s := range strings.Split(*seedList, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("-seeds: %q is not a seed", s)
		}
		seeds = append(seeds, n)
	}
	tb := testenv.NewScript("quality", stderr)
	defer tb.Close()
	defer testenv.Recover(&err)
	started := time.Now()
	load, commit := loadAverage(), gitCommit() // before the run: what was measured
	figs := quality.Measure(tb, quality.Config{Seeds: seeds, Train: *train, HeldOut: *held, FixedK: *fixedK, Logf: tb.Logf})
	table := quality.Markdown(figs)
	command := fmt.Sprintf("go run -tags nomsgpack ./scripts/quality -seeds %s -visitors %d -held-out %d", *seedList, *train, *held)
	if *fixedK > 0 {
		command += fmt.Sprintf(" -fixed-k %d", *fixedK)
	}
	about := fmt.Sprintf("Measured at commit %s on %s, %d CPUs (GOMAXPROCS %d), %s, load average before the run %s; %.0f s in all, with\n\n    %s\n",
		commit, time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), load,
		time.Since(started).Seconds(), command)
	fmt.Fprint(stdout, table)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, about)
	miss := quality.Check(figs)
	if len(miss) > 0 {
		fmt.Fprintf(stdout, "\nTargets missed (%d):\n", len(miss))
		for _, m := range miss {
			fmt.Fprintln(stdout, "- "+m)
		}
	} else {
		fmt.Fprintln(stdout, "\nEvery target is met.")
	}
	if *dump != "" {
		if err := writeDump(*dump, figs); err != nil {
			return err
		}
	}
	if *write != "" {
		if err := replaceSection(*write, about+"\n"+table); err != nil {
			return err
		}
	}
	return nil
}

// writeDump writes, per seed, a line with the model's personas (cluster → persona id and
// majority group), then a line per visitor.
func writeDump(file string, figs []quality.Seed) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, s := range figs {
		if err := enc.Encode(map[string]any{"seed": s.Seed, "k": s.K, "personas": s.PersonaIDs, "groups": s.PersonaGroups}); err != nil {
			f.Close()
			return err
		}
		for _, v := range s.Visitors {
			if err := enc.Encode(struct {
				Seed uint64 `json:"seed"`
				quality.Record
			}{s.Seed, v}); err != nil {
				f.Close()
				return err
			}
		}
	}
	return f.Close()
}

// replaceSection puts body between the markers of file.
func replaceSection(file, body string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s section", file, beginMarker, endMarker)
	}
	out := s[:i+len(beginMarker)] + "\n" + body + s[j:]
	return os.WriteFile(file, []byte(out), 0o644)
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "(unknown)"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
