package queue

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// TypeDeletion runs a deletion cascade.
const TypeDeletion = "deletion:run"

// DeletionPayload names the deletion request row; the row holds everything else.
type DeletionPayload struct {
	Version    int       `json:"v"`
	DeletionID uuid.UUID `json:"deletion_id"`
}

// NewDeletion builds the task of a committed deletion row: critical queue, a task id
// derived from the row (a second enqueue is a no-op), generous retries.
func NewDeletion(id uuid.UUID) (*asynq.Task, error) {
	b, err := json.Marshal(DeletionPayload{Version: 1, DeletionID: id})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeDeletion, b,
		asynq.Queue(QueueCritical), asynq.TaskID("deletion:"+id.String()), asynq.MaxRetry(25),
		asynq.Timeout(30*time.Minute), asynq.Retention(24*time.Hour)), nil
}

// EnqueueDeletion enqueues the cascade of a committed deletion row.
func (c *Client) EnqueueDeletion(ctx context.Context, id uuid.UUID) error {
	t, err := NewDeletion(id)
	return c.enqueue(ctx, t, err)
}
