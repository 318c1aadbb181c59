package enrichment

import (
	"context"
	"log/slog"
)

// Enricher names personas: with the LLM when a deployment is configured, and with RuleName when
// there is none or the LLM fails, refuses, answers badly or is behind an open circuit breaker.
type Enricher struct {
	client *Client
	logger *slog.Logger
}

// NewEnricher builds an Enricher. client may be nil (or disabled): every persona is then named
// by the rules. A nil logger discards.
func NewEnricher(client *Client, logger *slog.Logger) *Enricher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Enricher{client: client, logger: logger}
}

// Enrich names and describes one persona. It never fails for an LLM fault: the rule-based result
// takes the answer's place, and the returned CallInfo records what happened on the wire (none
// when the LLM was not called).
func (e *Enricher) Enrich(ctx context.Context, in Input) (Result, []CallInfo) {
	if e.client == nil || !e.client.cfg.Enabled() {
		return RuleName(in), nil
	}
	r, calls, err := e.client.Complete(ctx, in)
	if err == nil {
		return r, calls
	}
	status := StatusError
	if len(calls) > 0 {
		status = calls[len(calls)-1].Status
	}
	// err is built by this package from statuses and codes only: it holds no prompt or answer.
	e.logger.LogAttrs(ctx, slog.LevelWarn, "persona named by rules after LLM failure",
		slog.String("deployment", e.client.cfg.Deployment),
		slog.String("status", status),
		slog.Int("attempts", len(calls)),
		slog.String("error", err.Error()),
	)
	return RuleName(in), calls
}
