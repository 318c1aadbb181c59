package queue

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// Task types of the modelling pipeline.
const (
	TypeTrainModel = "model:train"
	TypeReclassify = "visitors:reclassify"
)

// ProjectPayload names a project; the training task carries nothing else, so asynq's
// uniqueness makes training one-at-a-time per project.
type ProjectPayload struct {
	Version   int       `json:"v"`
	ProjectID uuid.UUID `json:"project_id"`
}

func projectPayload(id uuid.UUID) ([]byte, error) {
	return json.Marshal(ProjectPayload{Version: 1, ProjectID: id})
}

// NewTrain builds a training task: default queue, unique per project while queued or running,
// bounded time, few retries (a failed training is retried by the next request or the
// scheduler, not hammered).
func NewTrain(projectID uuid.UUID) (*asynq.Task, error) {
	b, err := projectPayload(projectID)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeTrainModel, b,
		asynq.Queue(QueueDefault), asynq.Unique(30*time.Minute), asynq.Timeout(20*time.Minute), asynq.MaxRetry(2)), nil
}

// NewRetrain builds the debounced retrain after visitor erasures: the same task type and
// payload as NewTrain, processed after delay and unique until it ran, so the first erasure
// schedules it and later ones find it scheduled.
func NewRetrain(projectID uuid.UUID, delay time.Duration) (*asynq.Task, error) {
	b, err := projectPayload(projectID)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeTrainModel, b,
		asynq.Queue(QueueDefault), asynq.ProcessIn(delay), asynq.Unique(delay+30*time.Minute),
		asynq.Timeout(20*time.Minute), asynq.MaxRetry(5)), nil
}

// NewReclassify builds the task that writes every visitor's persona under the newest model:
// low queue, one at a time per project.
func NewReclassify(projectID uuid.UUID) (*asynq.Task, error) {
	b, err := projectPayload(projectID)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeReclassify, b,
		asynq.Queue(QueueLow), asynq.Unique(30*time.Minute), asynq.Timeout(30*time.Minute)), nil
}

// EnqueueTrain asks for a training of the project now.
func (c *Client) EnqueueTrain(ctx context.Context, projectID uuid.UUID) error {
	t, err := NewTrain(projectID)
	return c.enqueue(ctx, t, err)
}

// EnqueueRetrain schedules the debounced retrain after visitor erasures (NewRetrain).
func (c *Client) EnqueueRetrain(ctx context.Context, projectID uuid.UUID, delay time.Duration) error {
	t, err := NewRetrain(projectID, delay)
	return c.enqueue(ctx, t, err)
}

// EnqueueReclassify asks for the project's visitors to be classified under its newest model.
func (c *Client) EnqueueReclassify(ctx context.Context, projectID uuid.UUID) error {
	t, err := NewReclassify(projectID)
	return c.enqueue(ctx, t, err)
}
