package jobs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"

	"personas/models"
)

// RetentionSweeper runs the sweep (queue.TypeRetentionSweep): every table's expiry.
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
