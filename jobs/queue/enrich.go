package queue

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// TypeEnrich names and describes one persona.
const TypeEnrich = "persona:enrich"

// EnrichPayload names the persona; its traits and the business context are read from
// PostgreSQL when the task runs, so nothing to protect sits in Redis.
type EnrichPayload struct {
	Version   int       `json:"v"`
	ProjectID uuid.UUID `json:"project_id"`
	PersonaID uuid.UUID `json:"persona_id"`
	// KeepName describes the persona again from its current figures but keeps its name: after a
	// retrain that matched it, the persona is the same one, and only what its texts quote moved.
	KeepName bool `json:"keep_name,omitempty"`
}

// NewEnrich builds a persona's enrichment (one at a time per persona): default queue, a few
// minutes, one retry (the enricher falls back to the rules by itself).
func NewEnrich(projectID, personaID uuid.UUID) (*asynq.Task, error) {
	return newEnrich(EnrichPayload{Version: 1, ProjectID: projectID, PersonaID: personaID})
}

// NewRedescribe builds the task that writes a persona's texts again from its current figures,
// keeping its name (after a retrain matched it); it runs as an enrichment.
func NewRedescribe(projectID, personaID uuid.UUID) (*asynq.Task, error) {
	return newEnrich(EnrichPayload{Version: 1, ProjectID: projectID, PersonaID: personaID, KeepName: true})
}

func newEnrich(p EnrichPayload) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeEnrich, b, asynq.Queue(QueueDefault), asynq.Unique(10*time.Minute),
		asynq.Timeout(3*time.Minute), asynq.MaxRetry(1)), nil
}

// EnqueueEnrich asks for a persona's enrichment (one at a time per persona).
func (c *Client) EnqueueEnrich(ctx context.Context, projectID, personaID uuid.UUID) error {
	t, err := NewEnrich(projectID, personaID)
	return c.enqueue(ctx, t, err)
}

// EnqueueRedescribe asks for a persona's texts to be written again from its current figures,
// keeping its name (after a retrain matched it).
func (c *Client) EnqueueRedescribe(ctx context.Context, projectID, personaID uuid.UUID) error {
	t, err := NewRedescribe(projectID, personaID)
	return c.enqueue(ctx, t, err)
}
