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

// AuditGroup is a run of consecutive audit entries of the log (newest first, no other entry
// between them) by the same actor with the same action, target and non-numeric details, each
// within AuditRunGap of the next: an import sent in 32 batches is one group of 32. Numeric
// details (an import's accepted and rejected lines) are summed over the run.
type AuditGroup struct {
	AuditEntry           // the newest entry; Details with the numeric values summed
	Count      int       // entries in the run
	First      time.Time // when the oldest entry of the run was written
}

// AuditRunGap is the longest pause between two entries of one group.
const AuditRunGap = time.Hour

// auditScanLimit bounds the entries one page reads to fill its groups: a run longer than that
// continues as a new group on the next page, and a filter for a rare action may answer a page
// with fewer groups and a cursor to read on.
const auditScanLimit = 5000

// AuditGroups lists up to limit groups of audit entries, newest first, after the cursor (an
// entry id from a previous page); only groups of one action when action is not empty. Runs are
// found in the whole log, so that a filter does not join runs that other actions separate. It
// returns the cursor of the next page, empty at the end.
func (s *Store) AuditGroups(ctx context.Context, projectID uuid.UUID, action, cursor string, limit int) ([]AuditGroup, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	before := int64(1<<63 - 1)
	if cursor != "" {
		c, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || c <= 0 {
			return nil, "", Invalid("cursor", "not a cursor returned by this page")
		}
		before = c
	}
	const chunk = 200
	var (
		out     []AuditGroup
		cur     *AuditGroup
		curKey  string
		scanned int
		more    bool // entries remain after the last one read
	)
	finish := func() {
		if cur != nil && (action == "" || cur.Action == action) {
			out = append(out, *cur)
		}
		cur = nil
	}
read:
	for scanned < auditScanLimit {
		rows, _ := s.pool.Query(ctx, `/* Store.AuditGroups */
			SELECT id, actor_id, action, target, details, at FROM audit_log
			WHERE project_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, projectID, before, chunk)
		entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
		if err != nil {
			return nil, "", fmt.Errorf("read audit log: %w", translate(err))
		}
		for _, e := range entries {
			k := auditRunKey(e)
			if cur != nil && k == curKey && cur.First.Sub(e.At) <= AuditRunGap {
				cur.Count++
				cur.First = e.At
				addNumeric(cur.Details, e.Details)
			} else {
				finish()
				if len(out) == limit {
					more = true
					break read
				}
				d := make(map[string]any, len(e.Details))
				for k, v := range e.Details {
					if _, ok := v.(float64); !ok {
						d[k] = v
					}
				}
				addNumeric(d, e.Details)
				e.Details = d
				cur, curKey = &AuditGroup{AuditEntry: e, Count: 1, First: e.At}, k
			}
			before = e.ID
			scanned++
		}
		if len(entries) < chunk {
			break
		}
	}
	if !more {
		more = scanned >= auditScanLimit
		finish()
	}
	if out == nil {
		out = []AuditGroup{}
	}
	next := ""
	if more {
		next = strconv.FormatInt(before, 10)
	}
	return out, next, nil
}

// auditRunKey is what entries of one group share: actor, action, target and the details that
// are not counts.
func auditRunKey(e AuditEntry) string {
	rest := map[string]any{}
	for k, v := range e.Details {
		if _, ok := v.(float64); !ok {
			rest[k] = v
		}
	}
	b, _ := json.Marshal(rest) // map keys are sorted
	actor := ""
	if e.ActorID != nil {
		actor = e.ActorID.String()
	}
	return actor + "\x00" + e.Action + "\x00" + e.Target + "\x00" + string(b)
}

// addNumeric adds the numeric values of src to dst.
func addNumeric(dst, src map[string]any) {
	for k, v := range src {
		if f, ok := v.(float64); ok {
			old, _ := dst[k].(float64)
			dst[k] = old + f
		}
	}
}

// AuditActions lists the actions recorded in a project's audit log, for the log's filter.
func (s *Store) AuditActions(ctx context.Context, projectID uuid.UUID) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.AuditActions */
		SELECT DISTINCT action FROM audit_log WHERE project_id = $1 ORDER BY action`, projectID)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list audit actions: %w", translate(err))
	}
	return actions, nil
}

// AuditCounted records an event that can repeat often (a failed sign-in) as one entry per
// window: the first occurrence writes an entry with details {"count": 1}, later ones within
// window of it add to its count. details must hold no secrets or personal data and no
// "count" key; entries are matched on actor, action, target and these details.
func (s *Store) AuditCounted(ctx context.Context, projectID, actor uuid.UUID, action, target string, details map[string]any, window time.Duration) error {
	d := map[string]any{}
	for k, v := range details {
		d[k] = v
	}
	delete(d, "count")
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode audit details: %w", err)
	}
	var a *uuid.UUID
	if actor != uuid.Nil {
		a = &actor
	}
	now := s.now().UTC()
	tag, err := s.pool.Exec(ctx, `/* Store.AuditCounted */
		UPDATE audit_log SET details = jsonb_set(details, '{count}', to_jsonb(coalesce((details->>'count')::bigint, 1) + 1))
		WHERE project_id = $1 AND id = (
			SELECT id FROM audit_log WHERE project_id = $1 AND action = $2 AND target = $3
			AND actor_id IS NOT DISTINCT FROM $4 AND details - 'count' = $5::jsonb AND at > $6
			ORDER BY id DESC LIMIT 1)`, projectID, action, target, a, b, now.Add(-window))
	if err != nil {
		return fmt.Errorf("count audit entry: %w", translate(err))
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	d["count"] = 1
	return s.Audit(ctx, projectID, actor, action, target, d)
}
