package queue

import (
	"encoding/json"
	"time"

	"github.com/hibiken/asynq"
)

// TypeRetentionSweep applies every table's expiry.
const TypeRetentionSweep = "retention:sweep"

// RetentionSweepPayload is the (empty) payload of a sweep.
type RetentionSweepPayload struct {
	Version int `json:"v"`
}

// NewRetentionSweep builds a sweep task: low priority, one at a time.
func NewRetentionSweep() (*asynq.Task, error) {
	b, err := json.Marshal(RetentionSweepPayload{Version: 1})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeRetentionSweep, b,
		asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(30*time.Minute),
		asynq.Unique(55*time.Minute), asynq.Retention(time.Hour)), nil
}
