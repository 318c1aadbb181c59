package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"personas/models"
)

// TypeRetentionSweep applies every table's expiry.
const TypeRetentionSweep = "retention:sweep"

// RetentionSweepPayload is the (empty) payload of a sweep.
type RetentionSweepPayload struct {
	Version int `json:"v"`
}

// NewRetentionSweepTask builds a sweep task: low priority, one at a time.
func NewRetentionSweepTask() (*asynq.Task, error) {
	b, err := json.Marshal(RetentionSweepPayload{Version: 1})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeRetentionSweep, b,
		asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(30*time.Minute),
		asynq.Unique(55*time.Minute), asynq.Retention(time.Hour)), nil
}

// RetentionSweeper runs the sweep.
type RetentionSweeper struct {
	Store  *models.Store
	Logger *slog.Logger
}

// ProcessTask expires what is past its retention.
func (r *RetentionSweeper) ProcessTask(ctx context.Context, t *asynq.Task) error {
	counts, err := r.Store.SweepExpired(ctx, r.Store.Now(), false)
	if err != nil {
		return fmt.Errorf("retention sweep: %w", err)
	}
	r.Logger.Info("retention sweep done", "removed", counts)
	return nil
}
