package queue_test

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"

	"personas/internal/testenv"
	"personas/jobs/queue"
)

func TestEnqueueDuplicateIsNotAnError(t *testing.T) {
	rdb, _ := testenv.Redis(t)
	c := queue.NewClient(rdb)
	task := asynq.NewTask("test:dup", []byte(`{}`))
	for i := 0; i < 2; i++ {
		if _, err := c.Enqueue(context.Background(), task, asynq.TaskID("same"), asynq.Queue(queue.QueueLow)); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
	n, err := asynq.NewInspectorFromRedisClient(rdb).GetQueueInfo(queue.QueueLow)
	if err != nil {
		t.Fatal(err)
	}
	if n.Pending != 1 {
		t.Errorf("pending = %d, want 1 (the second enqueue is the same task)", n.Pending)
	}
}
