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
}

// Register wires every task handler and periodic task into w.
func Register(w *Worker, d Deps) error {
	if d.Enricher == nil {
		d.Enricher = enrichment.NewEnricher(nil, d.Logger)
	}
	w.Handle(TypeRetentionSweep, &RetentionSweeper{Store: d.Store, Logger: d.Logger})
	w.Handle(TypeDeletion, &Deleter{Store: d.Store, Redis: d.Redis, Client: d.Client, Signer: d.Signer, Logger: d.Logger,
		RetrainDelay: d.RetrainDelay})
	w.Handle(TypeTrainModel, &Trainer{Store: d.Store, Client: d.Client, Signer: d.Signer, Logger: d.Logger, Options: d.TrainOptions})
	w.Handle(TypeReclassify, &Reclassifier{Store: d.Store, Logger: d.Logger})
	w.Handle(TypeEnrich, &Enricher{Store: d.Store, Enricher: d.Enricher, Logger: d.Logger})
	w.Handle(TypeSafetyNet, &SafetyNet{Store: d.Store, Client: d.Client, Logger: d.Logger, RetrainDelay: d.RetrainDelay})
	sweep, err := NewRetentionSweepTask()
	if err != nil {
		return err
	}
	net, _ := json.Marshal(struct {
		V int `json:"v"`
	}{1})
	return w.Schedule(
		Periodic{Cron: "@every 1h", Task: sweep},
		Periodic{Cron: "@every 1m", Task: asynq.NewTask(TypeSafetyNet, net), Opts: []asynq.Option{
			asynq.Queue(QueueLow), asynq.Unique(55 * time.Second), asynq.Timeout(5 * time.Minute), asynq.MaxRetry(0)}},
	)
}

// TypeSafetyNet re-enqueues work whose task was lost (deletions), retrains stale models and
// projects due for their weekly retrain.
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
		if _, err := s.Store.CreateTrainingRun(ctx, pid, nil); err != nil {
			return err
		}
		if err := s.Client.EnqueueTrain(ctx, pid); err != nil {
			return err
		}
	}
	return nil
}
