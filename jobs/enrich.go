package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/classifier"
	"personas/enrichment"
	"personas/jobs/queue"
	"personas/models"
)

// Enricher runs persona enrichment: the LLM when configured, the rule-based namer otherwise.
type Enricher struct {
	Store    *models.Store
	Enricher *enrichment.Enricher
	Logger   *slog.Logger
}

// ProcessTask enriches one persona. LLM faults never fail the task: the enricher falls back.
func (e *Enricher) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p queue.EnrichPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode enrich payload: %w", asynq.SkipRetry)
	}
	if p.KeepName {
		return e.Redescribe(ctx, p.ProjectID, p.PersonaID)
	}
	return e.Enrich(ctx, p.ProjectID, p.PersonaID)
}

// Redescribe writes a persona's type and texts again from its current figures and keeps its
// name, so that what a summary quotes is what the dashboard shows after every retrain, while a
// persona that survived the retrain keeps the name people know it by.
func (e *Enricher) Redescribe(ctx context.Context, projectID, personaID uuid.UUID) error {
	return e.describe(ctx, projectID, personaID, true)
}

// Enrich names one persona now.
//
// Names are unique among a project's current personas, and several workers may enrich personas
// of one project at once. The LLM call is not serialised (it takes seconds, and holding a lock
// or a connection through it would stall the project's other personas and the pool); storing
// is: Store.SetNaming checks the name against the names taken and stores it under the
// project's advisory name lock. When another worker took the name meanwhile, the persona is
// named again once with the names now taken (the LLM, told them, or the rules), and if that
// name is gone too by the time it is stored, a free variant is chosen under the lock: the
// rules' own next name, or the LLM's name with a number. The unique index on the names backs
// all of it.
func (e *Enricher) Enrich(ctx context.Context, projectID, personaID uuid.UUID) error {
	return e.describe(ctx, projectID, personaID, false)
}

func (e *Enricher) describe(ctx context.Context, projectID, personaID uuid.UUID, keepName bool) error {
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
	if in.PageLabels, err = e.Store.PageLabels(ctx, projectID); err != nil {
		return err
	}
	if in.Taken, err = e.Store.TakenNames(ctx, projectID, personaID); err != nil {
		return err
	}
	var calls []enrichment.CallInfo
	var res enrichment.Result
	for round := 1; ; round++ {
		r, cs := e.Enricher.Enrich(ctx, in)
		calls = append(calls, cs...)
		if keepName {
			r.Name = persona.Name // its own name: never taken by another current persona
		}
		res = r
		final := round == 2
		var resolve func(taken []string) models.Naming
		if final {
			resolve = func(taken []string) models.Naming {
				if r.NamedBy == enrichment.NamedByRules {
					again := in
					again.Taken = taken
					return namingOf(enrichment.RuleName(again))
				}
				n := namingOf(r)
				n.Name = enrichment.UniqueName(r.Name, taken)
				return n
			}
		}
		stored, err := e.Store.SetNaming(ctx, projectID, personaID, namingOf(r), resolve)
		var nt *models.NameTakenError
		if errors.As(err, &nt) && !final {
			if len(nt.Taken) > 0 { // empty when the unique index, not the check, refused it
				in.Taken = nt.Taken
			}
			continue
		}
		if err != nil {
			_ = e.logCalls(ctx, projectID, personaID, calls) // the naming error is the one to report
			return err
		}
		res.Name, res.NamedBy = stored.Name, stored.NamedBy
		break
	}
	if err := e.logCalls(ctx, projectID, personaID, calls); err != nil {
		return err
	}
	e.Logger.Info("persona enriched", "project_id", projectID, "persona_id", personaID, "named_by", res.NamedBy, "calls", len(calls))
	return nil
}

// logCalls records the metadata of the LLM calls made for one persona.
func (e *Enricher) logCalls(ctx context.Context, projectID, personaID uuid.UUID, calls []enrichment.CallInfo) error {
	if len(calls) == 0 {
		return nil
	}
	entries := make([]models.EnrichmentLogEntry, len(calls))
	for i, c := range calls {
		entries[i] = models.EnrichmentLogEntry{PersonaID: personaID, Deployment: c.Deployment, Status: c.Status,
			HTTPStatus: c.HTTPStatus, LatencyMS: int(c.Latency.Milliseconds()), PromptTokens: c.PromptTokens,
			CompletionTokens: c.CompletionTokens}
	}
	return e.Store.LogEnrichment(ctx, projectID, entries)
}
