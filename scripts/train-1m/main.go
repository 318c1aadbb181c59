// Command train-1m measures the end-to-end training of a large project: it creates fresh
// databases (as the tests do), inserts synthetic visitor aggregates of the demo shop's behaviours
// with COPY, runs jobs.Trainer.Train twice (a first version, then a retrain matched to it) and
// reports the wall time of each phase and the peak resident memory of the training, then drops
// its databases. Results are recorded in docs/perf.md ("Training a million visitors").
//
//	go run ./scripts/train-1m -visitors 1000000
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"personas/config"
	"personas/internal/demodata"
	"personas/internal/testenv"
	"personas/jobs"
	"personas/jobs/queue"
	"personas/models"
	"personas/privacy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "train-1m:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("train-1m", flag.ContinueOnError)
	visitors := fs.Int("visitors", 1_000_000, "visitors of the project")
	limit := fs.Duration("timeout", 15*time.Minute, "bound on the whole run; the databases are dropped either way")
	seed := fs.Uint64("seed", 1, "seed of the synthetic visitors")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the trainings to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	// The test environment's helpers want a testing.TB: a small one whose cleanups run on return.
	tb := testenv.NewScript("train-1m", os.Stderr)
	defer tb.Close()
	defer testenv.Recover(&err)
	env := testenv.New(tb)
	rdb, _ := testenv.Redis(tb)
	store := env.Store

	owner, _, err := store.EnsureUser(ctx, "bench@example.com", "", false)
	if err != nil {
		return err
	}
	project, err := store.CreateProject(ctx, owner.ID, "train-1m", nil)
	if err != nil {
		return err
	}
	now := store.Now()
	fmt.Fprintf(stdout, "machine: %d CPUs (GOMAXPROCS %d), %s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), runtime.Version())

	t0 := time.Now()
	if err := insertVisitors(ctx, store, project.ID, *visitors, *seed, now); err != nil {
		return err
	}
	if _, err := env.Pool.Exec(ctx, `VACUUM ANALYZE visitor_features`); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "insert: %d visitor_features rows with COPY in %.1f s (%.0f rows/s); peak RSS %s\n",
		*visitors, time.Since(t0).Seconds(), float64(*visitors)/time.Since(t0).Seconds(), mib(peakRSS()))

	// Measure the training alone: return the generator's memory and restart the high-water mark.
	runtime.GC()
	debug.FreeOSMemory()
	if err := resetPeakRSS(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// The worker's soft memory limit, set as personas worker sets it (GOMEMLIMIT stands).
	fmt.Fprintf(stdout, "soft memory limit: %s\n", mib(config.LimitMemory(config.TrainMemoryLimit)))
	logs := &captureHandler{}
	tr := &jobs.Trainer{Store: store, Client: queue.NewClient(rdb), Logger: slog.New(logs)}
	for _, name := range []string{"first training", "retrain (matched to the first version)"} {
		base := currentRSS()
		cpu := cpuTime()
		t := time.Now()
		version, err := tr.Train(ctx, project.ID)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if version == 0 {
			return fmt.Errorf("%s published no model: %s", name, logs.last("training skipped"))
		}
		total := time.Since(t)
		info, err := store.ModelInfo(ctx, project.ID, version)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: version %d, k=%d, %d visitors: %.1f s wall, %.1f s CPU (%s); RSS before %s, peak %s\n",
			name, version, info.K, info.NVisitors, total.Seconds(), (cpuTime() - cpu).Seconds(), logs.last("model published"),
			mib(base), mib(peakRSS()))
	}
	return nil
}

// insertVisitors writes n visitors' aggregates with COPY, drawn from the demo shop's behaviours.
func insertVisitors(ctx context.Context, store *models.Store, projectID uuid.UUID, n int, seed uint64, now time.Time) error {
	rng := rand.New(rand.NewPCG(seed, 0x76))
	weights := 0.0
	for _, b := range demodata.Behaviours {
		weights += b.Weight
	}
	cols := []string{"project_id", "visitor_hash", "visits", "pageviews", "clicks", "goals", "bounces", "time_ms",
		"scroll_sum", "scroll_count", "active_days", "first_seen", "last_seen", "last_day", "cur_session",
		"paths", "elements", "channels", "devices", "goal_names", "hours", "weekdays"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		if i%100_000 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r := weights * rng.Float64()
		b := demodata.Behaviours[len(demodata.Behaviours)-1]
		for _, c := range demodata.Behaviours {
			if r -= c.Weight; r < 0 {
				b = c
				break
			}
		}
		v := draw(rng, b)
		v.hash = store.VisitorHash(projectID, fmt.Sprintf("bench-visitor-%d", i))
		i++
		last := now.Add(-time.Duration(rng.Float64() * 60 * 24 * float64(time.Hour)))
		first := last.Add(-time.Duration(float64(v.visits-1) * (1 + 3*rng.Float64()) * 24 * float64(time.Hour)))
		return []any{projectID, v.hash, v.visits, v.pageViews, v.clicks, v.goals, v.bounces, v.timeMS,
			v.scrollSum, v.pageViews, min(v.visits, 1+int64(last.Sub(first).Hours()/24)), first, last,
			last.Truncate(24 * time.Hour), []byte{}, v.paths, v.elements, v.channels, v.devices, v.goalNames,
			v.hours[:], v.weekdays[:]}, nil
	})
	_, err := store.Pool().CopyFrom(ctx, pgx.Identifier{"visitor_features"}, cols, src)
	if err != nil {
		return fmt.Errorf("copy visitor features: %w", err)
	}
	return nil
}

type visitor struct {
	hash                                              []byte
	visits, pageViews, clicks, goals, bounces, timeMS int64
	scrollSum                                         float64
	paths, elements, channels, devices, goalNames     map[string]int64
	hours                                             [24]int64
	weekdays                                          [7]int64
}

func between(rng *rand.Rand, r [2]int) int64 { return int64(r[0] + rng.IntN(r[1]-r[0]+1)) }

// draw simulates one visitor of behaviour b, visit by visit, as the ingester would have folded
// its events: path groups as privacy.PathGroup makes them, element categories, a mostly
// faithful channel and device, goals at the behaviour's rate, hours in its active window.
func draw(rng *rand.Rand, b demodata.Behaviour) visitor {
	v := visitor{paths: map[string]int64{}, elements: map[string]int64{}, channels: map[string]int64{},
		devices: map[string]int64{}, goalNames: map[string]int64{}}
	channels := []string{"direct", "search", "social", "referral", "email", "campaign"}
	devices := []string{"desktop", "mobile", "tablet"}
	weekend := rng.Float64() < 0.3
	v.visits = between(rng, b.Visits)
	for range v.visits {
		pages, clicks := between(rng, b.Pages), between(rng, b.Clicks)
		if rng.Float64() < b.BounceRate {
			pages, clicks = 1, 0
			v.bounces++
		}
		ch, dev := b.Channel, b.Device
		if rng.Float64() < 0.1 {
			ch = channels[rng.IntN(len(channels))]
		}
		if rng.Float64() < 0.05 {
			dev = devices[rng.IntN(len(devices))]
		}
		v.channels[ch]++
		v.devices[dev]++
		day := rng.IntN(5) + 1
		if weekend {
			day = 6 * rng.IntN(2)
		}
		hour := int(between(rng, b.Hours))
		for range pages {
			p := b.Paths[rng.IntN(len(b.Paths))]
			if strings.Contains(p, "%d") {
				p = fmt.Sprintf(p, 1+rng.IntN(500))
			}
			v.paths[privacy.PathGroup(privacy.NormalizePath(p))]++
			v.timeMS += 1000 * between(rng, b.Dwell)
			v.scrollSum += b.Scroll[0] + (b.Scroll[1]-b.Scroll[0])*rng.Float64()
		}
		for range clicks {
			v.elements[category(b.Elements[rng.IntN(len(b.Elements))])]++
		}
		if len(b.Goals) > 0 && rng.Float64() < b.GoalRate {
			v.goalNames[b.Goals[rng.IntN(len(b.Goals))]]++
			v.goals++
		}
		v.pageViews += pages
		v.clicks += clicks
		v.hours[hour] += pages + clicks
		v.weekdays[day] += pages + clicks
	}
	return v
}

// category is the collector's element category of a demo element, roughly.
func category(e demodata.Element) string {
	switch {
	case e.Role == "navigation" || slicesContain(e.Classes, "nav-link"):
		return "nav"
	case slicesContain(e.Classes, "primary") || slicesContain(e.Classes, "checkout"):
		return "cta"
	case e.Tag == "button":
		return "button"
	case e.Tag == "a":
		return "link"
	}
	return "other"
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's resident high-water mark (VmHWM), in bytes.
func peakRSS() int64 { return procStatus("VmHWM:") }

// currentRSS is the process's resident memory (VmRSS), in bytes.
func currentRSS() int64 { return procStatus("VmRSS:") }

func procStatus(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb * 1024
		}
	}
	return -1
}

// resetPeakRSS restarts VmHWM from the current RSS (Linux: "5" to clear_refs).
func resetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset the peak RSS: %w", err)
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown CPU"
}

// captureHandler keeps the trainer's log records, to report the phases it logs.
type captureHandler struct {
	mu      sync.Mutex
	records []string
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "seconds" {
			for _, g := range a.Value.Group() {
				fmt.Fprintf(&b, " %s=%.2fs", g.Key, g.Value.Float64())
			}
		} else if a.Key != "project_id" && a.Key != "version" && a.Key != "k" && a.Key != "visitors" {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	})
	h.mu.Lock()
	h.records = append(h.records, b.String())
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

// last is the newest record with this message, without the message.
func (h *captureHandler) last(msg string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.records) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(h.records[i], msg); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "(not logged)"
}
