package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Deletion scopes.
const (
	ScopeVisitor  = "visitor"
	ScopePersonas = "personas"
	ScopeAll      = "all"
)

// Deletion statuses.
const (
	DeletionQueued  = "queued"
	DeletionRunning = "running"
	DeletionDone    = "done"
	DeletionFailed  = "failed"
)

// Deletion is a deletion request: the proof that a deletion ran. It holds no personal data; a
// visitor appears only as its blinded hash.
type Deletion struct {
	ID             uuid.UUID        `json:"id"`
	ProjectID      uuid.UUID        `json:"project_id"`
	Scope          string           `json:"scope"`
	VisitorHash    []byte           `json:"visitor_hash,omitempty"`
	RequestedBy    *uuid.UUID       `json:"requested_by"`
	Origin         string           `json:"origin"`
	Status         string           `json:"status"`
	Step           string           `json:"step"`
	Counts         map[string]int64 `json:"counts"`
	Error          string           `json:"error,omitempty"`
	KeyDestroyedAt *time.Time       `json:"key_destroyed_at"`
	RetrainVersion *int             `json:"retrain_version"`
	Receipt        json.RawMessage  `json:"-"`
	Signature      []byte           `json:"-"`
	CreatedAt      time.Time        `json:"created_at"`
	StartedAt      *time.Time       `json:"started_at"`
	FinishedAt     *time.Time       `json:"finished_at"`
}

const deletionColumns = `id, project_id, scope, visitor_hash, requested_by, origin, status, step, counts, error,
	key_destroyed_at, retrain_version, receipt, signature, created_at, started_at, finished_at`

func scanDeletion(row pgx.Row) (Deletion, error) {
	var d Deletion
	var counts []byte
	err := row.Scan(&d.ID, &d.ProjectID, &d.Scope, &d.VisitorHash, &d.RequestedBy, &d.Origin, &d.Status, &d.Step,
		&counts, &d.Error, &d.KeyDestroyedAt, &d.RetrainVersion, &d.Receipt, &d.Signature, &d.CreatedAt,
		&d.StartedAt, &d.FinishedAt)
	if err != nil {
		return Deletion{}, translate(err)
	}
	d.Counts = map[string]int64{}
	_ = json.Unmarshal(counts, &d.Counts)
	return d, nil
}

// CreateDeletion records a deletion request. Work that must stop at once happens here, before
// the task runs: a visitor's aggregates and persona assignment go (so classification stops),
// and a project being deleted loses its site key (so collection and classification stop).
func (s *Store) CreateDeletion(ctx context.Context, projectID uuid.UUID, scope string, visitorHash []byte, by *uuid.UUID, origin string) (Deletion, error) {
	switch scope {
	case ScopeVisitor:
		if len(visitorHash) == 0 {
			return Deletion{}, Invalid("visitor_id", "required for scope visitor")
		}
	case ScopePersonas, ScopeAll:
		visitorHash = nil
	default:
		return Deletion{}, Invalid("scope", "must be visitor, personas or all")
	}
	id := uuid.New()
	var siteKey string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `/* Store.CreateDeletion */
			INSERT INTO deletion_requests (id, project_id, scope, visitor_hash, requested_by, origin, status, counts)
			VALUES ($1, $2, $3, $4, $5, $6, 'queued', '{}')`, id, projectID, scope, visitorHash, by, origin); err != nil {
			return err
		}
		switch scope {
		case ScopeVisitor:
			for _, t := range []string{"visitor_features", "visitor_personas"} {
				if err := countedDelete(ctx, tx, id, t, fmt.Sprintf(`DELETE FROM %s WHERE project_id = $1 AND visitor_hash = $2`, t),
					projectID, visitorHash); err != nil {
					return err
				}
			}
		case ScopePersonas:
			// The project starts over from its events: classification stops using the model now.
			if _, err := tx.Exec(ctx, `/* Store.CreateDeletion */
				UPDATE projects SET model_version = NULL, updated_at = now() WHERE id = $1`, projectID); err != nil {
				return err
			}
		case ScopeAll:
			if err := tx.QueryRow(ctx, `/* Store.CreateDeletion */
				UPDATE projects SET site_key = 'deleted_' || id::text, updated_at = now() WHERE id = $1
				RETURNING (SELECT site_key FROM projects WHERE id = $1)`, projectID).Scan(&siteKey); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Deletion{}, fmt.Errorf("create deletion: %w", translate(err))
	}
	kind := map[string]string{ScopeVisitor: ChangeVisitorDeleted, ScopePersonas: ChangePersonasDeleted, ScopeAll: ChangeProjectDeleted}[scope]
	_ = s.Notify(ctx, Change{Kind: kind, ProjectID: projectID, SiteKey: siteKey})
	return s.Deletion(ctx, id)
}

// errUnknownVisitor rolls back a visitor's own erasure request that found nothing of the visitor.
var errUnknownVisitor = errors.New("unknown visitor")

// ForgetVisitor is a visitor's own erasure request from the site (POST /v1/forget). For a visitor
// the project holds anything of (events, aggregates, an assignment, a model membership) it is
// CreateDeletion with scope visitor: a queued deletion with its receipt to come, and the second
// result is true. For a visitor never seen (or already erased) it records nothing, so forged
// requests cannot grow the two-year deletion log: it runs the same statements, rolls them back,
// and returns a deletion id that was never stored, so the caller answers exactly as for a
// known visitor.
func (s *Store) ForgetVisitor(ctx context.Context, projectID uuid.UUID, visitorHash []byte) (Deletion, bool, error) {
	if len(visitorHash) == 0 {
		return Deletion{}, false, Invalid("visitor_id", "required")
	}
	id := uuid.New()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `/* Store.ForgetVisitor */
			INSERT INTO deletion_requests (id, project_id, scope, visitor_hash, requested_by, origin, status, counts)
			VALUES ($1, $2, 'visitor', $3, NULL, 'site', 'queued', '{}')`, id, projectID, visitorHash); err != nil {
			return err
		}
		var removed int64
		for _, t := range []string{"visitor_features", "visitor_personas"} {
			tag, err := tx.Exec(ctx, fmt.Sprintf(`/* Store.ForgetVisitor */ DELETE FROM %s WHERE project_id = $1 AND visitor_hash = $2`, t),
				projectID, visitorHash)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", t, err)
			}
			if err := addCountTx(ctx, tx, id, t, tag.RowsAffected()); err != nil {
				return err
			}
			removed += tag.RowsAffected()
		}
		var rest bool
		if err := tx.QueryRow(ctx, `/* Store.ForgetVisitor */
			SELECT EXISTS (SELECT 1 FROM events WHERE project_id = $1 AND visitor_hash = $2)
			    OR EXISTS (SELECT 1 FROM model_members WHERE project_id = $1 AND visitor_hash = $2)`,
			projectID, visitorHash).Scan(&rest); err != nil {
			return fmt.Errorf("look for the visitor's data: %w", err)
		}
		if removed == 0 && !rest {
			return errUnknownVisitor
		}
		return nil
	})
	if errors.Is(err, errUnknownVisitor) {
		return Deletion{ID: id, ProjectID: projectID, Scope: ScopeVisitor, Status: DeletionQueued}, false, nil
	}
	if err != nil {
		return Deletion{}, false, fmt.Errorf("create deletion: %w", translate(err))
	}
	_ = s.Notify(ctx, Change{Kind: ChangeVisitorDeleted, ProjectID: projectID})
	d, err := s.Deletion(ctx, id)
	return d, true, err
}

// countedDelete runs a DELETE and adds the rows it removed to the deletion's counts in the same
// transaction, so counts and rows always agree, whatever crashes.
func countedDelete(ctx context.Context, tx pgx.Tx, deletionID uuid.UUID, counter, deleteSQL string, args ...any) error {
	tag, err := tx.Exec(ctx, deleteSQL, args...)
	if err != nil {
		return fmt.Errorf("delete from %s: %w", counter, err)
	}
	return addCountTx(ctx, tx, deletionID, counter, tag.RowsAffected())
}

// Deletion returns a deletion request.
func (s *Store) Deletion(ctx context.Context, id uuid.UUID) (Deletion, error) {
	return scanDeletion(s.pool.QueryRow(ctx, `/* Store.Deletion */ SELECT `+deletionColumns+` FROM deletion_requests WHERE id = $1`, id))
}

// Deletions lists a project's deletion requests, newest first.
func (s *Store) Deletions(ctx context.Context, projectID uuid.UUID, limit int) ([]Deletion, error) {
	rows, err := s.pool.Query(ctx, `/* Store.Deletions */ SELECT `+deletionColumns+` FROM deletion_requests
		WHERE project_id = $1 ORDER BY created_at DESC LIMIT $2`, projectID, limit)
	if err != nil {
		return nil, fmt.Errorf("list deletions: %w", translate(err))
	}
	defer rows.Close()
	out := []Deletion{}
	for rows.Next() {
		d, err := scanDeletion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

// OpenDeletions lists deletions not finished, created before the given time: the safety net
// re-enqueues them when their task was lost.
func (s *Store) OpenDeletions(ctx context.Context, before time.Time) ([]uuid.UUID, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.OpenDeletions */
		SELECT id FROM deletion_requests WHERE status IN ('queued', 'running') AND created_at < $1 ORDER BY created_at`, before)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list open deletions: %w", translate(err))
	}
	return ids, nil
}

// StartDeletion marks a deletion running (idempotent) and returns it.
func (s *Store) StartDeletion(ctx context.Context, id uuid.UUID) (Deletion, error) {
	_, err := s.pool.Exec(ctx, `/* Store.StartDeletion */
		UPDATE deletion_requests SET status = 'running', started_at = coalesce(started_at, $2)
		WHERE id = $1 AND status IN ('queued', 'running', 'failed')`, id, s.now().UTC())
	if err != nil {
		return Deletion{}, fmt.Errorf("start deletion: %w", translate(err))
	}
	return s.Deletion(ctx, id)
}

// SetDeletionStep records where the cascade is, so a resumed run skips finished steps.
func (s *Store) SetDeletionStep(ctx context.Context, id uuid.UUID, step string) error {
	_, err := s.pool.Exec(ctx, `/* Store.SetDeletionStep */ UPDATE deletion_requests SET step = $2 WHERE id = $1`, id, step)
	return translate(err)
}

// SetKeyDestroyed records when the project's data key was destroyed.
func (s *Store) SetKeyDestroyed(ctx context.Context, id uuid.UUID, at time.Time) error {
	_, err := s.pool.Exec(ctx, `/* Store.SetKeyDestroyed */
		UPDATE deletion_requests SET key_destroyed_at = coalesce(key_destroyed_at, $2) WHERE id = $1`, id, at)
	return translate(err)
}

// AddDeletionCounts adds counts from stores outside PostgreSQL (Redis keys, tasks, caches).
func (s *Store) AddDeletionCounts(ctx context.Context, id uuid.UUID, counts map[string]int64) error {
	return translate(s.tx(ctx, func(tx pgx.Tx) error {
		for k, n := range counts {
			if err := addCountTx(ctx, tx, id, k, n); err != nil {
				return err
			}
		}
		return nil
	}))
}

func addCountTx(ctx context.Context, tx pgx.Tx, deletionID uuid.UUID, counter string, n int64) error {
	_, err := tx.Exec(ctx, `/* Store.addCount */
		UPDATE deletion_requests SET counts = jsonb_set(counts, ARRAY[$2::text],
			to_jsonb(coalesce((counts->>$2)::bigint, 0) + $3)) WHERE id = $1`, deletionID, counter, n)
	return err
}

// FinishDeletion stores the signed receipt and marks the deletion done.
func (s *Store) FinishDeletion(ctx context.Context, id uuid.UUID, receipt []byte, signature []byte, at time.Time) error {
	_, err := s.pool.Exec(ctx, `/* Store.FinishDeletion */
		UPDATE deletion_requests SET status = 'done', step = 'done', receipt = $2, signature = $3, finished_at = $4, error = ''
		WHERE id = $1`, id, receipt, signature, at)
	return translate(err)
}

// FailDeletion records a failure the task will retry.
func (s *Store) FailDeletion(ctx context.Context, id uuid.UUID, msg string, final bool) error {
	status := DeletionRunning
	if final {
		status = DeletionFailed
	}
	_, err := s.pool.Exec(ctx, `/* Store.FailDeletion */
		UPDATE deletion_requests SET status = $3, error = $2 WHERE id = $1 AND status <> 'done'`, id, truncate(msg, 500), status)
	return translate(err)
}

// CascadeTables returns the tables a deletion of scope removes rows from, in the order the
// cascade runs DeleteStep on them: children before parents, the project row last.
func CascadeTables(scope string) []string {
	switch scope {
	case ScopeVisitor:
		return []string{"events", "visitor_features", "visitor_personas", "model_members"}
	case ScopePersonas:
		return []string{"visitor_personas", "model_members", "persona_history", "personas", "persona_models",
			"training_runs", "enrichment_log"}
	}
	return []string{"events", "visitor_features", "visitor_personas", "model_members", "persona_history",
		"personas", "persona_models", "training_runs", "enrichment_log", "page_labels", "business_context", "ingest_stats",
		"audit_log", "invitations", "memberships", "projects"}
}

// DeleteStep removes, in batches of size, the rows of table matching the scope of deletion d,
// adding each batch's count in the batch's own transaction. It returns the rows removed.
func (s *Store) DeleteStep(ctx context.Context, d Deletion, table string, size int) (int64, error) {
	// The statement takes args[1:]: its placeholders count from the project id.
	where, args := "project_id = $1", []any{d.ID, d.ProjectID}
	if d.Scope == ScopeVisitor {
		where, args = "project_id = $1 AND visitor_hash = $2", append(args, d.VisitorHash)
	}
	if table == "projects" {
		where = "id = $1"
	}
	// A ctid names a row only within one physical table: on a partitioned table (events) the
	// same ctid exists in every partition, so the outer DELETE repeats the scope (a row with a
	// colliding ctid elsewhere is deleted only if it is in scope too). A project's many rows go
	// partition by partition; a visitor's few in one statement over all of them (fast).
	leaves := []string{table}
	if d.Scope != ScopeVisitor {
		var err error
		if leaves, err = s.leafTables(ctx, table); err != nil {
			return 0, fmt.Errorf("delete %s of deletion %s: %w", table, d.ID, err)
		}
	}
	var total int64
	for _, leaf := range leaves {
		for {
			var n int64
			err := s.tx(ctx, func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, fmt.Sprintf(`/* Store.DeleteStep */
				DELETE FROM %[1]s WHERE %[2]s AND ctid IN (SELECT ctid FROM %[1]s WHERE %[2]s LIMIT %[3]d)`,
					pgx.Identifier{leaf}.Sanitize(), where, size), args[1:]...)
				if err != nil {
					return err
				}
				n = tag.RowsAffected()
				if n == 0 {
					return nil
				}
				return addCountTx(ctx, tx, d.ID, table, n)
			})
			if err != nil {
				return total, fmt.Errorf("delete %s of deletion %s: %w", table, d.ID, translate(err))
			}
			total += n
			if n < int64(size) {
				break
			}
		}
	}
	return total, nil
}

// leafTables returns the partitions of a partitioned table (oldest first), or the table itself.
func (s *Store) leafTables(ctx context.Context, table string) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.leafTables */
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass($1) ORDER BY c.relname`, table)
	leaves, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, translate(err))
	}
	if len(leaves) == 0 {
		return []string{table}, nil
	}
	return leaves, nil
}
