package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"personas/classifier"
	"personas/enrichment"
	"personas/models"
	"personas/privacy"
)

// Deps are the dependencies of the task handlers.
type Deps struct {
	Store    *models.Store
	Client   *Client
	Redis    *redis.Client
	Signer   *privacy.Signer
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

// PeriodicTaskTypes are the task types the scheduler runs, in the order reports list them.
func PeriodicTaskTypes() []string { return []string{TypeSafetyNet, TypeRetentionSweep} }

// every is the scheduler's spec for an interval (default def), at least a second.
func every(d, def time.Duration) (string, time.Duration) {
	if d <= 0 {
		d = def
	}
	d = max(d.Round(time.Second), time.Second)
	return "@every " + d.String(), d
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
	w.Handle(TypeRetentionSweep, recorded{store: d.Store, logger: d.Logger, h: &RetentionSweeper{Store: d.Store, Logger: d.Logger}})
	w.Handle(TypeDeletion, &Deleter{Store: d.Store, Redis: d.Redis, Client: d.Client, Signer: d.Signer, Logger: d.Logger,
		RetrainDelay: d.RetrainDelay})
	w.Handle(TypeTrainModel, &Trainer{Store: d.Store, Client: d.Client, Signer: d.Signer, Logger: d.Logger, Options: d.TrainOptions})
	w.Handle(TypeReclassify, &Reclassifier{Store: d.Store, Logger: d.Logger})
	w.Handle(TypeEnrich, &Enricher{Store: d.Store, Enricher: d.Enricher, Logger: d.Logger})
	w.Handle(TypeSafetyNet, recorded{store: d.Store, logger: d.Logger,
		h: &SafetyNet{Store: d.Store, Client: d.Client, Logger: d.Logger, RetrainDelay: d.RetrainDelay}})
	sweep, err := NewRetentionSweepTask()
	if err != nil {
		return err
	}
	sweepSpec, sweepEvery := every(d.RetentionInterval, time.Hour)
	netSpec, netEvery := every(d.SafetyNetInterval, time.Minute)
	net, _ := json.Marshal(struct {
		V int `json:"v"`
	}{1})
	return w.Schedule(
		Periodic{Cron: sweepSpec, Task: sweep, Opts: []asynq.Option{asynq.Unique(uniqueFor(sweepEvery))}},
		Periodic{Cron: netSpec, Task: asynq.NewTask(TypeSafetyNet, net), Opts: []asynq.Option{
			asynq.Queue(QueueLow), asynq.Unique(uniqueFor(netEvery)), asynq.Timeout(5 * time.Minute), asynq.MaxRetry(0)}},
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

// TypeSafetyNet re-enqueues work whose task was lost (deletions), retrains stale models, and
// trains the projects due (models.Store.ProjectsDueForTraining): a first model at 100 visitors,
// a weekly retrain and one after 20 % growth. It is what makes training run by itself.
const TypeSafetyNet = "maintenance:safety-net"

// SafetyNet is the periodic catch-up.
type SafetyNet struct {
	Store        *models.Store
	Client       *Client
	Logger       *slog.Logger
	RetrainDelay time.Duration
}

// ProcessTask runs the catch-up once.
func (s *SafetyNet) ProcessTask(ctx context.Context, t *asynq.Task) error {
	ids, err := s.Store.OpenDeletions(ctx, s.Store.Now().Add(-2*time.Minute))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.Client.EnqueueDeletion(ctx, id); err != nil {
			return err
		}
	}
	stale, err := s.Store.StaleProjects(ctx)
	if err != nil {
		return err
	}
	delay := s.RetrainDelay
	if delay <= 0 {
		delay = 6 * time.Hour
	}
	for _, pid := range stale {
		if err := s.Client.EnqueueRetrain(ctx, pid, delay); err != nil {
			return err
		}
	}
	due, err := s.Store.ProjectsDueForTraining(ctx, s.Store.Now())
	if err != nil {
		return err
	}
	for _, pid := range due {
		run, err := s.Store.CreateTrainingRun(ctx, pid, nil)
		if err != nil {
			return err
		}
		if err := s.Client.EnqueueTrain(ctx, pid); err != nil {
			// Nothing will pick the run up: it fails now, and the project waits for the cooldown.
			_ = s.Store.FinishTrainingRuns(ctx, pid, run.ID, "failed", "could not enqueue the training")
			return err
		}
		s.Logger.Info("automatic training queued", "project_id", pid, "run_id", run.ID)
	}
	return nil
}
