package jobs

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/jobs/queue"
)

// TestTrainingOfAGoneProjectIsDone: a training queued for a project deleted since has nothing to
// do and is no failure (it was an ERROR and a retry-exhausted WARN in the worker's log).
func TestTrainingOfAGoneProjectIsDone(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	tr := &Trainer{Store: env.Store, Logger: slog.New(slog.DiscardHandler)}
	task, err := queue.NewTrain(uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.ProcessTask(context.Background(), task); err != nil {
		t.Errorf("training of a project that does not exist: %v, want done (nil)", err)
	}
	if _, err := tr.Train(context.Background(), uuid.New()); err == nil {
		t.Errorf("Train of a project that does not exist succeeded, want ErrNotFound")
	}
}
