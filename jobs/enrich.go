package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/classifier"
	"personas/enrichment"
	"personas/models"
)

// TypeEnrich names and describes one persona.
const TypeEnrich = "persona:enrich"

// EnrichPayload names the persona; its traits and the business context are read from
// PostgreSQL when the task runs, so nothing to protect sits in Redis.
type EnrichPayload struct {
	Version   int       `json:"v"`
	ProjectID uuid.UUID `json:"project_id"`
	PersonaID uuid.UUID `json:"persona_id"`
}

// EnqueueEnrich asks for a persona's enrichment (one at a time per persona).
func (c *Client) EnqueueEnrich(ctx context.Context, projectID, personaID uuid.UUID) error {
	b, _ := json.Marshal(EnrichPayload{Version: 1, ProjectID: projectID, PersonaID: personaID})
	_, err := c.Enqueue(ctx, asynq.NewTask(TypeEnrich, b), asynq.Queue(QueueDefault), asynq.Unique(10*time.Minute),
		asynq.Timeout(3*time.Minute), asynq.MaxRetry(1))
	return err
}

// Enricher runs persona enrichment: the LLM when configured, the rule-based namer otherwise.
type Enricher struct {
	Store    *models.Store
	Enricher *enrichment.Enricher
	Logger   *slog.Logger
}

// ProcessTask enriches one persona. LLM faults never fail the task: the enricher falls back.
func (e *Enricher) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p EnrichPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode enrich payload: %w", asynq.SkipRetry)
	}
	return e.Enrich(ctx, p.ProjectID, p.PersonaID)
}

// Enrich names one persona now.
func (e *Enricher) Enrich(ctx context.Context, projectID, personaID uuid.UUID) error {
	persona, err := e.Store.Persona(ctx, projectID, personaID)
	if errors.Is(err, models.ErrNotFound) {
		return nil // deleted since
	} else if err != nil {
		return err
	}
	var st classifier.PersonaStats
	if err := json.Unmarshal(persona.Traits, &st); err != nil {
		return fmt.Errorf("decode traits of persona %s: %v: %w", personaID, err, asynq.SkipRetry)
	}
	bc, err := e.Store.GetBusinessContext(ctx, projectID)
	if err != nil {
		return err
	}
	in := EnrichmentInput(personaID, st, enrichment.BusinessContext{Goals: bc.Goals, Industry: bc.Industry,
		Audience: bc.Audience, Notes: bc.Notes})
	if in.Taken, err = e.Store.TakenNames(ctx, projectID, personaID); err != nil {
		return err
	}
	res, calls := e.Enricher.Enrich(ctx, in)
	if len(calls) > 0 {
		entries := make([]models.EnrichmentLogEntry, len(calls))
		for i, c := range calls {
			entries[i] = models.EnrichmentLogEntry{PersonaID: personaID, Deployment: c.Deployment, Status: c.Status,
				HTTPStatus: c.HTTPStatus, LatencyMS: int(c.Latency.Milliseconds()), PromptTokens: c.PromptTokens,
				CompletionTokens: c.CompletionTokens}
		}
		if err := e.Store.LogEnrichment(ctx, projectID, entries); err != nil {
			return err
		}
	}
	if err := e.Store.SetNaming(ctx, projectID, personaID, namingOf(res)); err != nil {
		return err
	}
	e.Logger.Info("persona enriched", "project_id", projectID, "persona_id", personaID, "named_by", res.NamedBy, "calls", len(calls))
	return nil
}
