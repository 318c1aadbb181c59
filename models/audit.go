package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AccountScope is the project id under which account-level actions (tokens) are audited.
var AccountScope = uuid.Nil

// AuditEntry is one line of the audit log. It names the actor by id and never holds secrets or
// personal data.
type AuditEntry struct {
	ID      int64          `json:"id"`
	ActorID *uuid.UUID     `json:"actor_id"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	Details map[string]any `json:"details"`
	At      time.Time      `json:"at"`
}

// Audit records a management write. details must hold no secrets or personal data.
func (s *Store) Audit(ctx context.Context, projectID uuid.UUID, actor uuid.UUID, action, target string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("encode audit details: %w", err)
	}
	var a *uuid.UUID
	if actor != uuid.Nil {
		a = &actor
	}
	if _, err := s.pool.Exec(ctx, `/* Store.Audit */
		INSERT INTO audit_log (project_id, actor_id, action, target, details, at) VALUES ($1, $2, $3, $4, $5, $6)`,
		projectID, a, action, target, b, s.now().UTC()); err != nil {
		return fmt.Errorf("write audit entry: %w", translate(err))
	}
	return nil
}

// AuditPage lists audit entries newest first, after the cursor (an entry id) when given.
func (s *Store) AuditPage(ctx context.Context, projectID uuid.UUID, cursor string, limit int) ([]AuditEntry, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	before := int64(1<<63 - 1)
	if cursor != "" {
		c, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || c <= 0 {
			return nil, "", Invalid("cursor", "not a cursor returned by this endpoint")
		}
		before = c
	}
	rows, _ := s.pool.Query(ctx, `/* Store.AuditPage */
		SELECT id, actor_id, action, target, details, at FROM audit_log
		WHERE project_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, projectID, before, limit+1)
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
	if err != nil {
		return nil, "", fmt.Errorf("read audit log: %w", translate(err))
	}
	next := ""
	if len(entries) > limit {
		entries = entries[:limit]
		next = strconv.FormatInt(entries[limit-1].ID, 10)
	}
	if entries == nil {
		entries = []AuditEntry{}
	}
	return entries, next, nil
}
