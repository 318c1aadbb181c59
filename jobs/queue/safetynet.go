package queue

import (
	"encoding/json"
	"time"

	"github.com/hibiken/asynq"
)

// TypeSafetyNet re-enqueues work whose task was lost (deletions), retrains stale models, and
// trains the projects due (models.Store.ProjectsDueForTraining): a first model at 100 visitors,
// a weekly retrain and one after 20 % growth. It is what makes training run by itself.
const TypeSafetyNet = "maintenance:safety-net"

// SafetyNetPayload is the (empty) payload of a safety-net run.
type SafetyNetPayload struct {
	Version int `json:"v"`
}

// NewSafetyNet builds a safety-net run: low priority, bounded, never retried (the next run
// comes within the scheduler's interval). The scheduler adds its uniqueness, which depends on
// the interval.
func NewSafetyNet() (*asynq.Task, error) {
	b, err := json.Marshal(SafetyNetPayload{Version: 1})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeSafetyNet, b, asynq.Queue(QueueLow), asynq.Timeout(5*time.Minute), asynq.MaxRetry(0)), nil
}
