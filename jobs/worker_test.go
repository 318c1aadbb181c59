package jobs

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"personas/internal/testenv"
	"personas/jobs/queue"
)

// TestShutdownFinishesRunningTask checks that a task that is running when shutdown starts
// completes (its context is not cancelled) before Shutdown returns.
func TestShutdownFinishesRunningTask(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.Redis(t)
	w := NewWorker(rdb, WorkerConfig{PollInterval: 10 * time.Millisecond, ShutdownTimeout: 10 * time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	started := make(chan struct{})
	var finished, cancelled atomic.Bool
	w.Handle("test:slow", asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		close(started)
		select {
		case <-time.After(700 * time.Millisecond):
			finished.Store(true)
			return nil
		case <-ctx.Done():
			cancelled.Store(true)
			return ctx.Err()
		}
	}))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	c := queue.NewClient(rdb)
	if _, err := c.Enqueue(context.Background(), asynq.NewTask("test:slow", nil), asynq.Queue(queue.QueueDefault)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("task did not start")
	}
	w.Shutdown()
	if !finished.Load() || cancelled.Load() {
		t.Fatalf("after Shutdown: finished=%v cancelled=%v, want the running task to finish", finished.Load(), cancelled.Load())
	}
}

// TestQueuesAreWeighted checks critical work is served first when queues compete.
func TestQueuesAreWeighted(t *testing.T) {
	t.Parallel()
	if Queues[queue.QueueCritical] <= Queues[queue.QueueDefault] || Queues[queue.QueueDefault] <= Queues[queue.QueueLow] {
		t.Fatalf("queue weights %v: want critical > default > low", Queues)
	}
}

// TestCleanShutdownLogsNoWarning: a worker and its scheduler that start, schedule a periodic task
// and stop cleanly log nothing at WARN or above (asynq's scheduler logged an ERROR on every stop
// when it shared the process's Redis client).
func TestCleanShutdownLogsNoWarning(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.Redis(t)
	var buf testenv.Buffer
	w := NewWorker(rdb, WorkerConfig{PollInterval: 10 * time.Millisecond, ShutdownTimeout: 5 * time.Second},
		slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	w.Handle("test:tick", asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }))
	if err := w.Schedule(Periodic{Every: time.Hour, Task: asynq.NewTask("test:tick", nil)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	w.Shutdown()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the process's Redis client no longer answers after the worker stopped: %v", err)
	}
	if s := buf.String(); s != "" {
		t.Errorf("a clean start and stop logged:\n%s", s)
	}
}
