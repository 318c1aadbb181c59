package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"personas/classifier"
	"personas/enrichment"
	"personas/jobs/queue"
	"personas/models"
	"personas/receipt"
)

// Deps are the dependencies of the task handlers.
type Deps struct {
	Store    *models.Store
	Client   *queue.Client
	Redis    redis.UniversalClient
	Signer   *receipt.Signer
	Enricher *enrichment.Enricher
	Logger   *slog.Logger
	// TrainOptions tune the classifier (zero: its defaults).
	TrainOptions classifier.TrainOptions
	// RetrainDelay debounces retrains after erasures (default 6 h, within the promised 24 h).
	RetrainDelay time.Duration
	// SafetyNetInterval is how often the safety net (automatic training, lost deletions) runs:
	// default a minute; tests shorten it. The scheduler's resolution is a second.
	SafetyNetInterval time.Duration
	// RetentionInterval is how often the retention sweep runs (default an hour).
	RetentionInterval time.Duration
}

// every is the scheduler's period for an interval (default def), at least a second.
func every(d, def time.Duration) time.Duration {
	if d <= 0 {
		d = def
	}
	return max(d.Round(time.Second), time.Second)
}

// uniqueFor keeps a periodic task from being queued twice within one interval: a run still
// queued or running when the next is due (a busy worker) is not doubled. asynq's lock is
// released when the task succeeds, and lasts at least a second.
func uniqueFor(interval time.Duration) time.Duration {
	return max(interval-interval/12, time.Second)
}

// Register wires every task handler and periodic task into w.
func Register(w *Worker, d Deps) error {
	if d.Enricher == nil {
		d.Enricher = enrichment.NewEnricher(nil, d.Logger)
	}
	w.Handle(queue.TypeRetentionSweep, recorded{store: d.Store, logger: d.Logger, h: &RetentionSweeper{Store: d.Store, Logger: d.Logger}})
	w.Handle(queue.TypeDeletion, &Deleter{Store: d.Store, Redis: d.Redis, Client: d.Client, Signer: d.Signer, Logger: d.Logger,
		RetrainDelay: d.RetrainDelay})
	w.Handle(queue.TypeTrainModel, &Trainer{Store: d.Store, Client: d.Client, Signer: d.Signer, Logger: d.Logger, Options: d.TrainOptions})
	w.Handle(queue.TypeReclassify, &Reclassifier{Store: d.Store, Logger: d.Logger})
	w.Handle(queue.TypeEnrich, &Enricher{Store: d.Store, Enricher: d.Enricher, Logger: d.Logger})
	w.Handle(queue.TypeSafetyNet, recorded{store: d.Store, logger: d.Logger,
		h: &SafetyNet{Store: d.Store, Client: d.Client, Logger: d.Logger, RetrainDelay: d.RetrainDelay}})
	sweep, err := queue.NewRetentionSweep()
	if err != nil {
		return err
	}
	net, err := queue.NewSafetyNet()
	if err != nil {
		return err
	}
	sweepEvery := every(d.RetentionInterval, time.Hour)
	netEvery := every(d.SafetyNetInterval, time.Minute)
	return w.Schedule(
		Periodic{Every: sweepEvery, Task: sweep, Opts: []asynq.Option{asynq.Unique(uniqueFor(sweepEvery))}},
		Periodic{Every: netEvery, Task: net, Opts: []asynq.Option{asynq.Unique(uniqueFor(netEvery))}},
	)
}

// recorded stores the outcome of each run of a periodic task (models.Store.RecordPeriodicRun),
// for /metrics and the health page of any process. A run that cannot be recorded is logged;
// the task's own outcome stands.
type recorded struct {
	store  *models.Store
	logger *slog.Logger
	h      asynq.Handler
}

// ProcessTask runs the task and records how it went.
func (r recorded) ProcessTask(ctx context.Context, t *asynq.Task) error {
	started := r.store.Now()
	err := r.h.ProcessTask(ctx, t)
	// Recorded even when the task ran out of time.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := r.store.RecordPeriodicRun(rctx, t.Type(), started, err); rerr != nil {
		r.logger.Warn("record periodic task run", "type", t.Type(), "err", rerr.Error())
	}
	return err
}
