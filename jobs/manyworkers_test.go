package jobs

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"personas/internal/testenv"
	"personas/jobs/queue"
)

// TestOneSchedulerAcrossWorkers runs three workers on one Redis and one database, started a
// second apart with every periodic task due each two seconds, for several periods: each task
// ran once per period (the slots between the first start and the last stop), not once per
// worker and period. asynq's own Scheduler, which every worker ran, counted its periods from
// its own start, and its uniqueness lock ends when the task succeeds: the workers each queued
// the tasks, and the count came out two or three times the periods.
func TestOneSchedulerAcrossWorkers(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	rdb, _ := testenv.Redis(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	const period = 2 * time.Second
	// Start just after a slot boundary, so that none falls within the start-up.
	time.Sleep(time.Until(time.Now().Truncate(period).Add(period + 100*time.Millisecond)))
	first := time.Now()
	var workers []*Worker
	for i := range 3 {
		if i > 0 {
			time.Sleep(time.Second + 100*time.Millisecond*time.Duration(i))
		}
		w := NewWorker(rdb, WorkerConfig{PollInterval: 10 * time.Millisecond, ShutdownTimeout: 5 * time.Second}, logger)
		if err := Register(w, Deps{Store: env.Store, Client: queue.NewClient(rdb), Redis: rdb, Logger: logger,
			SafetyNetInterval: period, RetentionInterval: period}); err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
	}
	// Run until just before a boundary, five periods from the first start.
	time.Sleep(time.Until(first.Truncate(period).Add(6*period - 300*time.Millisecond)))
	// Let the last slot's runs finish: a run is a few milliseconds on an empty database.
	time.Sleep(200 * time.Millisecond)
	stopping := time.Now()
	for _, w := range workers {
		w.Shutdown()
	}
	stopped := time.Now()
	// The slots are counted from the clocks read, not from the sleeps (a loaded machine
	// oversleeps): at least every boundary from one period after the first start (a worker
	// leaves the first period after its start out) to the shutdown ran, at most every boundary
	// up to the end of the shutdown. Once per worker, the bug, is about three times that.
	boundaries := func(from, to time.Time) int { return int(to.Truncate(period).Sub(from.Truncate(period)) / period) }
	least, most := boundaries(first.Add(period), stopping), boundaries(first, stopped)
	ts, err := env.Store.PeriodicTasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]int64{}
	for _, pt := range ts {
		runs[pt.Task] = pt.Successes + pt.Failures
	}
	for _, typ := range queue.PeriodicTaskTypes() {
		if runs[typ] < int64(least) || runs[typ] > int64(most) {
			t.Errorf("%s ran %d times in %d to %d periods with three workers, want once per period", typ, runs[typ], least, most)
		}
	}
}
