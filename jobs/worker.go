package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
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
	srv      *asynq.Server
	client   *asynq.Client
	mux      *asynq.ServeMux
	logger   *slog.Logger
	periodic []Periodic
	stop     context.CancelFunc
	done     sync.WaitGroup
}

// Periodic is one scheduled task, queued once per period of Every: periods are slots of the
// wall clock (multiples of Every since the Unix epoch), the same on every host.
type Periodic struct {
	Every time.Duration
	Task  *asynq.Task
	Opts  []asynq.Option
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
	// A client made from a shared connection never closes it: the owner does.
	return &Worker{srv: srv, client: asynq.NewClientFromRedisClient(rdb), mux: asynq.NewServeMux(), logger: l}
}

// Handle registers the handler of a task type.
func (w *Worker) Handle(taskType string, h asynq.Handler) { w.mux.Handle(taskType, h) }

// Schedule registers periodic tasks (before Start); a period is at least a second.
func (w *Worker) Schedule(ps ...Periodic) error {
	for _, p := range ps {
		if p.Every < time.Second || p.Task == nil {
			return fmt.Errorf("schedule: a periodic task needs a task and a period of a second or more, got %v", p.Every)
		}
		w.periodic = append(w.periodic, p)
	}
	return nil
}

// Start starts processing and the scheduler; it returns at once.
//
// Every worker process schedules, and still each periodic task runs once per period whatever
// the number of workers on one Redis: each process queues the task at the start of a slot
// with the slot's task id (type:slot-start), so the second process's enqueue of the same slot
// is refused by asynq (ErrTaskIDConflict), and the finished task is kept (Retention) until
// the slot is over. asynq's own Scheduler would not do: it counts its periods from its own
// start and its uniqueness lock is released when the task succeeds, so two workers ran each
// task twice per period.
func (w *Worker) Start() error {
	if err := w.srv.Start(w.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	for _, p := range w.periodic {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			w.schedule(ctx, p)
		}()
	}
	return nil
}

// schedule queues p at the start of each slot until ctx ends. The first slot it queues begins
// at least one period after the start, as asynq's scheduler did: a process that just started
// (a deploy, `make run`'s import of the demo history) is not trained or swept at once.
func (w *Worker) schedule(ctx context.Context, p Periodic) {
	next := time.Now().Add(p.Every).Truncate(p.Every).Add(p.Every)
	for ; ; next = time.Now().Truncate(p.Every).Add(p.Every) {
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		w.enqueueSlot(ctx, p, next)
	}
}

// enqueueSlot queues p for the slot starting at slot, once across every worker.
func (w *Worker) enqueueSlot(ctx context.Context, p Periodic, slot time.Time) {
	opts := append(slices.Clone(p.Opts), asynq.TaskID(SlotTaskID(p.Task.Type(), slot)), asynq.Retention(p.Every))
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := w.client.EnqueueContext(ectx, p.Task, opts...)
	switch {
	case err == nil:
	case errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
		// Another worker queued this slot, or the previous run is still busy.
	case ctx.Err() != nil:
	default:
		w.logger.Warn("enqueue periodic task", "type", p.Task.Type(), "err", err.Error())
	}
}

// SlotTaskID is the task id of a periodic task's run for the slot starting at slot.
func SlotTaskID(taskType string, slot time.Time) string {
	return fmt.Sprintf("%s:%d", taskType, slot.Unix())
}

// Shutdown stops the scheduler, stops taking tasks and waits for running ones (bounded by the
// configured timeout).
func (w *Worker) Shutdown() {
	if w.stop != nil {
		w.stop()
		w.done.Wait()
	}
	w.srv.Stop()
	w.srv.Shutdown()
}

// asynqLogger adapts slog to asynq's logger interface.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
