package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"personas/jobs/queue"
)

// Queues are the weighted queues a worker serves.
var Queues = map[string]int{queue.QueueCritical: 6, queue.QueueDefault: 3, queue.QueueLow: 1}

// WorkerConfig tunes the worker server.
type WorkerConfig struct {
	Concurrency     int
	ShutdownTimeout time.Duration
	// PollInterval is how often idle workers look for tasks; short because people wait for
	// training and deletions (asynq's default of 1 s adds up to 1.5 s to each).
	PollInterval time.Duration
}

// Worker runs the asynq server and the periodic scheduler in-process.
type Worker struct {
	srv       *asynq.Server
	scheduler *asynq.Scheduler
	mux       *asynq.ServeMux
	logger    *slog.Logger
}

// Periodic is one scheduled task.
type Periodic struct {
	Cron string
	Task *asynq.Task
	Opts []asynq.Option
}

// NewWorker builds a worker serving the weighted queues. Register handlers on Mux before Start.
func NewWorker(rdb redis.UniversalClient, cfg WorkerConfig, logger *slog.Logger) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	l := logger.With("component", "worker")
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   Queues,
		TaskCheckInterval:        cfg.PollInterval,
		DelayedTaskCheckInterval: time.Second,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		Logger:                   asynqLogger{l},
		LogLevel:                 asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			l.Error("task failed", "type", t.Type(), "retry", retried, "max_retry", maxRetry, "err", err.Error())
		}),
	})
	// asynq's scheduler closes its client on Shutdown (and logs an ERROR for one it was
	// lent): it gets the shared client with Close made a no-op; the owner closes it.
	sched := asynq.NewScheduler(lent{rdb}, &asynq.SchedulerOpts{
		Logger:   asynqLogger{l},
		LogLevel: asynq.WarnLevel,
		Location: time.UTC,
	})
	return &Worker{srv: srv, scheduler: sched, mux: asynq.NewServeMux(), logger: l}
}

// Handle registers the handler of a task type.
func (w *Worker) Handle(taskType string, h asynq.Handler) { w.mux.Handle(taskType, h) }

// Schedule registers periodic tasks with the scheduler.
func (w *Worker) Schedule(ps ...Periodic) error {
	for _, p := range ps {
		if _, err := w.scheduler.Register(p.Cron, p.Task, p.Opts...); err != nil {
			return fmt.Errorf("schedule %s: %w", p.Task.Type(), err)
		}
	}
	return nil
}

// Start starts processing and the scheduler; it returns at once.
func (w *Worker) Start() error {
	if err := w.srv.Start(w.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := w.scheduler.Start(); err != nil {
		w.srv.Shutdown()
		return fmt.Errorf("start scheduler: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks, waits for running ones (bounded by the configured timeout) and
// stops the scheduler.
func (w *Worker) Shutdown() {
	w.scheduler.Shutdown()
	w.srv.Stop()
	w.srv.Shutdown()
}

// lent is an asynq.RedisConnOpt that hands an asynq component a shared client (one server,
// cluster or Sentinel alike) that it cannot close: the component closes what it is given, and
// the client is its owner's.
type lent struct{ redis.UniversalClient }

// MakeRedisClient returns the shared client behind a no-op Close.
func (l lent) MakeRedisClient() any { return unclosable(l) }

// unclosable is a client whose Close does nothing.
type unclosable struct{ redis.UniversalClient }

// Close leaves the shared client open.
func (unclosable) Close() error { return nil }

// asynqLogger adapts slog to asynq's logger interface.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
