package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"personas/jobs/queue"
	"personas/models"
)

// SafetyNet is the periodic catch-up (queue.TypeSafetyNet): it re-enqueues work whose task was
// lost (deletions), retrains stale models, and trains the projects due
// (models.Store.ProjectsDueForTraining): a first model at 100 visitors, a weekly retrain and one
// after 20 % growth. It is what makes training run by itself.
type SafetyNet struct {
	Store        *models.Store
	Client       *queue.Client
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
