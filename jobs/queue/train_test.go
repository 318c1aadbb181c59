package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/internal/testenv"
	"personas/jobs/queue"
)

// TestTrainNowRunsTheScheduledRetrain: a visitor erasure schedules the project's retrain hours
// ahead, and a training asked for meanwhile shares its uniqueness; the training asked for
// must run at once (the scheduled retrain is moved to pending), not be swallowed until then.
func TestTrainNowRunsTheScheduledRetrain(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.Redis(t)
	ctx := context.Background()
	c := queue.NewClient(rdb)
	in := asynq.NewInspectorFromRedisClient(rdb)
	project, other := uuid.New(), uuid.New()

	if err := c.EnqueueRetrain(ctx, project, 6*time.Hour); err != nil {
		t.Fatal(err)
	}
	state := func() asynq.TaskState {
		t.Helper()
		info, err := in.GetTaskInfo(queue.QueueDefault, queue.RetrainTaskID(project))
		if err != nil {
			t.Fatalf("the retrain: %v", err)
		}
		return info.State
	}
	if s := state(); s != asynq.TaskStateScheduled {
		t.Fatalf("the retrain after an erasure is %v, want scheduled", s)
	}
	// A second erasure finds it scheduled.
	if err := c.EnqueueRetrain(ctx, project, 6*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.EnqueueTrain(ctx, project); err != nil {
		t.Fatalf("train now with the retrain scheduled: %v", err)
	}
	if s := state(); s != asynq.TaskStatePending {
		t.Errorf("after train now the retrain is %v, want pending (run at once)", s)
	}
	// Asked again while it is pending: nothing more is queued.
	if err := c.EnqueueTrain(ctx, project); err != nil {
		t.Fatalf("train now with the training pending: %v", err)
	}
	if err := c.EnqueueTrain(ctx, other); err != nil {
		t.Fatal(err)
	}
	pending, err := in.ListPendingTasks(queue.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 {
		t.Errorf("%d pending trainings, want 2 (one per project)", len(pending))
	}
	if sched, _ := in.ListScheduledTasks(queue.QueueDefault); len(sched) != 0 {
		t.Errorf("%d trainings still scheduled, want 0", len(sched))
	}
}
