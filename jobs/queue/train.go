package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		asynq.TaskID(RetrainTaskID(projectID)), asynq.Timeout(20*time.Minute), asynq.MaxRetry(5)), nil
}

// RetrainTaskID is the id of a project's debounced retrain, so that a training asked for
// meanwhile can find it and run it at once.
func RetrainTaskID(projectID uuid.UUID) string { return "retrain:" + projectID.String() }

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

// EnqueueTrain asks for a training of the project now. A training of the project already
// queued or running does it; when that is the debounced retrain after an erasure, waiting for
// its delay (hours in production), it is run at once: the training asked for shares its
// uniqueness (one training of a project at a time), and would otherwise wait as long.
func (c *Client) EnqueueTrain(ctx context.Context, projectID uuid.UUID) error {
	t, err := NewTrain(projectID)
	if err != nil {
		return err
	}
	_, err = c.c.EnqueueContext(ctx, t)
	switch {
	case errors.Is(err, asynq.ErrDuplicateTask):
		info, err := c.in.GetTaskInfo(QueueDefault, RetrainTaskID(projectID))
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			return nil // the training in the way is not the retrain: it is pending or running
		}
		if err != nil {
			return fmt.Errorf("look up the scheduled retrain: %w", err)
		}
		if info.State != asynq.TaskStateScheduled && info.State != asynq.TaskStateRetry {
			return nil // the retrain is pending or running already
		}
		if err := c.in.RunTask(QueueDefault, info.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return fmt.Errorf("run the scheduled retrain now: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
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
