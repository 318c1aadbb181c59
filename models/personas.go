package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Persona is a stable persona of a project, as marketing reads it.
type Persona struct {
	ID               uuid.UUID       `json:"id"`
	ModelVersion     int             `json:"model_version"`
	Cluster          int             `json:"-"`
	Name             string          `json:"name"`
	Type             string          `json:"type"`
	Tagline          string          `json:"tagline"`
	Summary          string          `json:"summary"`
	Goals            []string        `json:"goals"`
	Frustrations     []string        `json:"frustrations"`
	SuggestedActions []string        `json:"suggested_actions"`
	NamedBy          string          `json:"named_by"`
	Picture          string          `json:"-"`
	PictureURL       string          `json:"picture_url"`
	Share            float64         `json:"share"`
	Size             int64           `json:"size"`
	Stability        *float64        `json:"stability"`
	Drift            *float64        `json:"drift"`
	Traits           json.RawMessage `json:"traits"`
	EnrichedAt       *time.Time      `json:"enriched_at"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
}

const personaColumns = `id, model_version, cluster, name, type, tagline, summary, goals, frustrations, suggested_actions,
	named_by, picture, share, size, stability, drift, traits, enriched_at, created_at, updated_at`

func scanPersona(row pgx.Row) (Persona, error) {
	var p Persona
	err := row.Scan(&p.ID, &p.ModelVersion, &p.Cluster, &p.Name, &p.Type, &p.Tagline, &p.Summary, &p.Goals,
		&p.Frustrations, &p.SuggestedActions, &p.NamedBy, &p.Picture, &p.Share, &p.Size, &p.Stability, &p.Drift,
		&p.Traits, &p.EnrichedAt, &p.CreatedAt, &p.UpdatedAt)
	return p, translate(err)
}

// Personas lists the personas of the project's current model, largest first.
func (s *Store) Personas(ctx context.Context, projectID uuid.UUID) ([]Persona, int, error) {
	var version *int
	if err := s.pool.QueryRow(ctx, `/* Store.Personas */ SELECT model_version FROM projects WHERE id = $1`, projectID).Scan(&version); err != nil {
		return nil, 0, translate(err)
	}
	if version == nil {
		return []Persona{}, 0, nil
	}
	rows, err := s.pool.Query(ctx, `/* Store.Personas */ SELECT `+personaColumns+` FROM personas
		WHERE project_id = $1 AND model_version = $2 AND cluster >= 0 ORDER BY share DESC, id`, projectID, *version)
	if err != nil {
		return nil, 0, fmt.Errorf("list personas: %w", translate(err))
	}
	defer rows.Close()
	out := []Persona{}
	for rows.Next() {
		p, err := scanPersona(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, *version, translate(rows.Err())
}

// Persona returns one persona of a project.
func (s *Store) Persona(ctx context.Context, projectID, id uuid.UUID) (Persona, error) {
	return scanPersona(s.pool.QueryRow(ctx, `/* Store.Persona */ SELECT `+personaColumns+` FROM personas
		WHERE project_id = $1 AND id = $2`, projectID, id))
}

// lockNames takes the transaction-scoped advisory lock on a project's persona names: renames
// and enrichment results of one project are checked against the names taken and stored one at
// a time, so that two workers cannot both see a name free and both take it. The unique index
// personas_current_name backs it.
func lockNames(ctx context.Context, tx pgx.Tx, projectID uuid.UUID) error {
	_, err := tx.Exec(ctx, `/* Store.lockNames */ SELECT pg_advisory_xact_lock(hashtextextended('persona-names:' || $1::text, 0))`, projectID)
	return err
}

// NameTakenError says that a name is already used by another current persona of the project.
// It wraps ErrConflict.
type NameTakenError struct {
	Name  string
	Taken []string // the names of the project's other current personas, when known
}

func (e *NameTakenError) Error() string {
	return fmt.Sprintf("another persona of this project is already named %q; choose a different name", e.Name)
}

// Unwrap makes a NameTakenError an ErrConflict.
func (e *NameTakenError) Unwrap() error { return ErrConflict }

// NameTaken reports whether name is one of taken, ignoring case and surrounding space, as the
// unique index does (lower(name)).
func NameTaken(name string, taken []string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, t := range taken {
		if strings.ToLower(strings.TrimSpace(t)) == n {
			return true
		}
	}
	return false
}

// RenamePersona sets a person's name; it survives retrains and re-enrichment. A name another
// current persona of the project has (ignoring case) is refused with a *NameTakenError.
func (s *Store) RenamePersona(ctx context.Context, projectID, id uuid.UUID, name string) (Persona, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 40 {
		return Persona{}, Invalid("name", "required, at most 40 characters")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockNames(ctx, tx, projectID); err != nil {
			return err
		}
		taken, err := takenNames(ctx, tx, projectID, id)
		if err != nil {
			return err
		}
		if NameTaken(name, taken) {
			return &NameTakenError{Name: name}
		}
		tag, err := tx.Exec(ctx, `/* Store.RenamePersona */
			UPDATE personas SET name = $3, named_by = 'person', updated_at = now() WHERE project_id = $1 AND id = $2`,
			projectID, id, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		var nt *NameTakenError
		if err = nameConflict(translate(err), name); errors.As(err, &nt) {
			return Persona{}, nt // its message is the answer: "another persona … is already named …"
		}
		return Persona{}, fmt.Errorf("rename persona: %w", err)
	}
	return s.Persona(ctx, projectID, id)
}

// nameConflict turns a violation of the unique name index (a race the lock does not cover,
// such as a publication) into a NameTakenError.
func nameConflict(err error, name string) error {
	var nt *NameTakenError
	if errors.As(err, &nt) || !errors.Is(err, ErrConflict) {
		return err
	}
	return &NameTakenError{Name: name}
}

// Naming is what enrichment (the LLM or the rules) writes on a persona.
type Naming struct {
	Name, Type, Tagline, Summary          string
	Goals, Frustrations, SuggestedActions []string
	NamedBy                               string // llm or rules
}

// SetNaming stores an enrichment result whose name no other current persona of the project
// has. Under the project's name lock it reads the names taken; when n.Name is one of them,
// resolve (if not nil) is given those names and returns the naming to store instead, which must
// be free; without resolve, or when its naming is taken too, nothing is stored and the error is
// a *NameTakenError carrying the names taken. A person's name is kept (and never counts as a
// clash); a rule-based result never replaces an LLM one. It returns the naming stored.
func (s *Store) SetNaming(ctx context.Context, projectID, id uuid.UUID, n Naming, resolve func(taken []string) Naming) (Naming, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockNames(ctx, tx, projectID); err != nil {
			return err
		}
		var namedBy string
		if err := tx.QueryRow(ctx, `/* Store.SetNaming */ SELECT named_by FROM personas WHERE project_id = $1 AND id = $2`,
			projectID, id).Scan(&namedBy); err != nil {
			return err
		}
		if namedBy != "person" {
			taken, err := takenNames(ctx, tx, projectID, id)
			if err != nil {
				return err
			}
			if NameTaken(n.Name, taken) {
				if resolve == nil {
					return &NameTakenError{Name: n.Name, Taken: taken}
				}
				if n = resolve(taken); NameTaken(n.Name, taken) {
					return &NameTakenError{Name: n.Name, Taken: taken}
				}
			}
		}
		_, err := tx.Exec(ctx, `/* Store.SetNaming */
			UPDATE personas SET
				name = CASE WHEN named_by = 'person' THEN name ELSE $3 END,
				type = $4, tagline = $5, summary = $6, goals = $7, frustrations = $8, suggested_actions = $9,
				named_by = CASE WHEN named_by = 'person' THEN 'person' ELSE $10 END,
				enriched_at = now(), updated_at = now()
			WHERE project_id = $1 AND id = $2 AND NOT ($10 = 'rules' AND named_by = 'llm')`,
			projectID, id, n.Name, n.Type, n.Tagline, n.Summary, nz(n.Goals), nz(n.Frustrations), nz(n.SuggestedActions), n.NamedBy)
		return err
	})
	if err != nil {
		return Naming{}, fmt.Errorf("store persona naming: %w", nameConflict(translate(err), n.Name))
	}
	return n, nil
}

func nz(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const selectTakenNames = `/* Store.TakenNames */
	SELECT p.name FROM personas p JOIN projects pr ON pr.id = p.project_id
	WHERE p.project_id = $1 AND p.id <> $2 AND p.model_version = pr.model_version AND p.cluster >= 0
	ORDER BY lower(p.name)`

// TakenNames lists the names of the project's other current personas (all of them when except
// is uuid.Nil).
func (s *Store) TakenNames(ctx context.Context, projectID, except uuid.UUID) ([]string, error) {
	return takenNames(ctx, s.pool, projectID, except)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func takenNames(ctx context.Context, q querier, projectID, except uuid.UUID) ([]string, error) {
	rows, _ := q.Query(ctx, selectTakenNames, projectID, except)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list persona names: %w", translate(err))
	}
	return names, nil
}

// ModelInfo is a persona model version's metadata.
type ModelInfo struct {
	Version    int             `json:"version"`
	K          int             `json:"k"`
	NVisitors  int64           `json:"n_visitors"`
	Metrics    json.RawMessage `json:"metrics"`
	TrainedAt  time.Time       `json:"trained_at"`
	StaleSince *time.Time      `json:"stale_since"`
	ReplacedBy *int            `json:"replaced_by"`
	Current    bool            `json:"current"`
}

// Models lists a project's model versions, newest first.
func (s *Store) Models(ctx context.Context, projectID uuid.UUID) ([]ModelInfo, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.Models */
		SELECT m.version, m.k, m.n_visitors, m.metrics, m.trained_at, m.stale_since, m.replaced_by,
			coalesce(p.model_version = m.version, false)
		FROM persona_models m JOIN projects p ON p.id = m.project_id
		WHERE m.project_id = $1 ORDER BY m.version DESC`, projectID)
	ms, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ModelInfo])
	if err != nil {
		return nil, fmt.Errorf("list models: %w", translate(err))
	}
	if ms == nil {
		ms = []ModelInfo{}
	}
	return ms, nil
}

// ModelInfo returns one version's metadata.
func (s *Store) ModelInfo(ctx context.Context, projectID uuid.UUID, version int) (ModelInfo, error) {
	ms, err := s.Models(ctx, projectID)
	if err != nil {
		return ModelInfo{}, err
	}
	for _, m := range ms {
		if m.Version == version {
			return m, nil
		}
	}
	return ModelInfo{}, ErrNotFound
}

// ModelBlob returns the decrypted serialised model of a version.
func (s *Store) ModelBlob(ctx context.Context, projectID uuid.UUID, version int) ([]byte, error) {
	var enc []byte
	if err := s.pool.QueryRow(ctx, `/* Store.ModelBlob */
		SELECT model_enc FROM persona_models WHERE project_id = $1 AND version = $2`, projectID, version).Scan(&enc); err != nil {
		return nil, translate(err)
	}
	return s.OpenProject(ctx, projectID, "persona_models", "model", enc)
}

// CurrentModelVersion returns the published version, or ErrNotFound when none is.
func (s *Store) CurrentModelVersion(ctx context.Context, projectID uuid.UUID) (int, error) {
	var v *int
	if err := s.pool.QueryRow(ctx, `/* Store.CurrentModelVersion */ SELECT model_version FROM projects WHERE id = $1`, projectID).Scan(&v); err != nil {
		return 0, translate(err)
	}
	if v == nil {
		return 0, ErrNotFound
	}
	return *v, nil
}

// ModelMembers maps the visitors a version was trained on to their cluster.
func (s *Store) ModelMembers(ctx context.Context, projectID uuid.UUID, version int) (map[string]int, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.ModelMembers */
		SELECT visitor_hash, cluster FROM model_members WHERE project_id = $1 AND model_version = $2`, projectID, version)
	out := map[string]int{}
	var h []byte
	var c int16
	_, err := pgx.ForEachRow(rows, []any{&h, &c}, func() error {
		out[string(h)] = int(c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read model members: %w", translate(err))
	}
	return out, nil
}

// PersonaIDsByCluster maps a version's clusters to persona ids.
func (s *Store) PersonaIDsByCluster(ctx context.Context, projectID uuid.UUID, version int) (map[int]uuid.UUID, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.PersonaIDsByCluster */
		SELECT cluster, persona_id FROM persona_history WHERE project_id = $1 AND model_version = $2`, projectID, version)
	out := map[int]uuid.UUID{}
	var c int
	var id uuid.UUID
	_, err := pgx.ForEachRow(rows, []any{&c, &id}, func() error {
		out[c] = id
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read personas of version %d: %w", version, translate(err))
	}
	return out, nil
}

// PublishedPersona is one persona of a new version.
type PublishedPersona struct {
	ID        uuid.UUID
	New       bool // first seen in this version: named here by the rules
	Cluster   int
	Share     float64
	Size      int64
	Stability *float64
	Drift     *float64
	Traits    []byte // JSON of the aggregates (never visitor data)
	Naming    Naming // used when New
	Picture   string // used when New
}

// Publication is a trained model ready to become the project's current version.
type Publication struct {
	ProjectID   uuid.UUID
	RunID       uuid.UUID
	Blob        []byte // serialised model, sealed here with the project data key
	K           int
	Metrics     []byte
	Members     [][]byte // visitor hashes the model was trained on
	Labels      []int    // their clusters
	Personas    []PublishedPersona
	KeepVersion int // versions kept (older ones pruned); default 5
}

// PublishModel makes a new version current in one transaction: the model, its members, the
// personas (matched ones keep id, name and picture), their history, the project's pointer and
// the training run. It returns the new version. Nothing is half-published.
func (s *Store) PublishModel(ctx context.Context, p Publication) (int, error) {
	if len(p.Members) != len(p.Labels) {
		return 0, errors.New("publish: members and labels differ in length")
	}
	sealed, err := s.SealProject(ctx, p.ProjectID, "persona_models", "model", p.Blob)
	if err != nil {
		return 0, err
	}
	keep := p.KeepVersion
	if keep <= 0 {
		keep = 5
	}
	var version int
	err = s.tx(ctx, func(tx pgx.Tx) error {
		// Lock the project: publications of one project are serial.
		if err := tx.QueryRow(ctx, `/* Store.PublishModel */
			SELECT coalesce((SELECT max(version) FROM persona_models WHERE project_id = $1), 0) + 1
			FROM projects WHERE id = $1 FOR UPDATE`, p.ProjectID).Scan(&version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `/* Store.PublishModel */
			INSERT INTO persona_models (project_id, version, k, n_visitors, metrics, model_enc) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ProjectID, version, p.K, len(p.Members), p.Metrics, sealed); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"model_members"}, []string{"project_id", "model_version", "visitor_hash", "cluster"},
			pgx.CopyFromSlice(len(p.Members), func(i int) ([]any, error) {
				// pgtype.UUID: a uuid.UUID goes through its driver.Valuer, a string per row.
				return []any{pgtype.UUID{Bytes: p.ProjectID, Valid: true}, version, p.Members[i], int16(p.Labels[i])}, nil
			})); err != nil {
			return err
		}
		for _, pp := range p.Personas {
			if pp.New {
				_, err = tx.Exec(ctx, `/* Store.PublishModel */
					INSERT INTO personas (project_id, id, model_version, cluster, name, type, tagline, summary, goals,
						frustrations, suggested_actions, named_by, picture, share, size, stability, drift, traits)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
					p.ProjectID, pp.ID, version, pp.Cluster, pp.Naming.Name, pp.Naming.Type, pp.Naming.Tagline, pp.Naming.Summary,
					nz(pp.Naming.Goals), nz(pp.Naming.Frustrations), nz(pp.Naming.SuggestedActions), pp.Naming.NamedBy,
					pp.Picture, pp.Share, pp.Size, pp.Stability, pp.Drift, pp.Traits)
			} else {
				_, err = tx.Exec(ctx, `/* Store.PublishModel */
					UPDATE personas SET model_version = $3, cluster = $4, share = $5, size = $6, stability = $7, drift = $8,
						traits = $9, updated_at = now() WHERE project_id = $1 AND id = $2`,
					p.ProjectID, pp.ID, version, pp.Cluster, pp.Share, pp.Size, pp.Stability, pp.Drift, pp.Traits)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `/* Store.PublishModel */
				INSERT INTO persona_history (project_id, model_version, persona_id, cluster, share, size, stability)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, p.ProjectID, version, pp.ID, pp.Cluster, pp.Share, pp.Size, pp.Stability); err != nil {
				return err
			}
		}
		// Personas without a cluster in this version are retired (kept for history and their names).
		if _, err := tx.Exec(ctx, `/* Store.PublishModel */
			UPDATE personas SET cluster = -1, updated_at = now() WHERE project_id = $1 AND model_version < $2 AND cluster >= 0`,
			p.ProjectID, version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `/* Store.PublishModel */
			UPDATE persona_models SET replaced_by = $2 WHERE project_id = $1 AND version < $2 AND replaced_by IS NULL`,
			p.ProjectID, version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `/* Store.PublishModel */ UPDATE projects SET model_version = $2, updated_at = now() WHERE id = $1`,
			p.ProjectID, version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `/* Store.PublishModel */
			UPDATE training_runs SET status = 'published', model_version = $3, finished_at = now()
			WHERE project_id = $1 AND (id = $2 OR status IN ('queued', 'running'))`, p.ProjectID, p.RunID, version); err != nil {
			return err
		}
		// A training that read its visitors before an erasure holds the erased visitor: this
		// version cannot be the erasure's retrain. Its membership goes and it is stale at once,
		// so the safety net retrains again. (A visitor who came back after the erasure is new.)
		if _, err := tx.Exec(ctx, `/* Store.PublishModel */
			WITH leaked AS (
				DELETE FROM model_members m USING deletion_requests d
				WHERE m.project_id = $1 AND m.model_version = $2 AND d.project_id = $1 AND d.scope = 'visitor'
				AND d.retrain_version IS NULL AND m.visitor_hash = d.visitor_hash
				AND NOT EXISTS (SELECT 1 FROM visitor_features f WHERE f.project_id = $1 AND f.visitor_hash = d.visitor_hash
					AND f.first_seen >= d.created_at)
				RETURNING m.visitor_hash)
			UPDATE persona_models SET stale_since = now() WHERE project_id = $1 AND version = $2 AND EXISTS (SELECT 1 FROM leaked)`,
			p.ProjectID, version); err != nil {
			return err
		}
		// Receipts of erasures whose retrain this is.
		if _, err := tx.Exec(ctx, `/* Store.PublishModel */
			UPDATE deletion_requests SET retrain_version = $2
			WHERE project_id = $1 AND scope = 'visitor' AND status = 'done' AND retrain_version IS NULL
			AND NOT EXISTS (SELECT 1 FROM persona_models m WHERE m.project_id = $1 AND m.version = $2 AND m.stale_since IS NOT NULL)`,
			p.ProjectID, version); err != nil {
			return err
		}
		for _, t := range []string{"model_members", "persona_history"} {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`/* Store.PublishModel */ DELETE FROM %s WHERE project_id = $1 AND model_version <= $2`, t),
				p.ProjectID, version-keep); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `/* Store.PublishModel */ DELETE FROM persona_models WHERE project_id = $1 AND version <= $2`,
			p.ProjectID, version-keep)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("publish model of project %s: %w", p.ProjectID, translate(err))
	}
	_ = s.Notify(ctx, Change{Kind: ChangeModelPublished, ProjectID: p.ProjectID, Version: version})
	return version, nil
}

// TrainingRun is a request to train.
type TrainingRun struct {
	ID           uuid.UUID  `json:"id"`
	Status       string     `json:"status"`
	Reason       string     `json:"reason,omitempty"`
	ModelVersion *int       `json:"model_version"`
	CreatedAt    time.Time  `json:"created_at"`
	FinishedAt   *time.Time `json:"finished_at"`
}

// CreateTrainingRun records a queued training request.
func (s *Store) CreateTrainingRun(ctx context.Context, projectID uuid.UUID, by *uuid.UUID) (TrainingRun, error) {
	r := TrainingRun{ID: uuid.New(), Status: "queued", CreatedAt: s.now().UTC()}
	_, err := s.pool.Exec(ctx, `/* Store.CreateTrainingRun */
		INSERT INTO training_runs (project_id, id, status, requested_by, created_at) VALUES ($1, $2, 'queued', $3, $4)`,
		projectID, r.ID, by, r.CreatedAt)
	if err != nil {
		return TrainingRun{}, fmt.Errorf("create training run: %w", translate(err))
	}
	return r, nil
}

// FinishTrainingRuns marks the project's open runs (and run id) skipped or failed, with why.
func (s *Store) FinishTrainingRuns(ctx context.Context, projectID, runID uuid.UUID, status, reason string) error {
	_, err := s.pool.Exec(ctx, `/* Store.FinishTrainingRuns */
		UPDATE training_runs SET status = $3, reason = $4, finished_at = now()
		WHERE project_id = $1 AND (id = $2 OR status IN ('queued', 'running'))`, projectID, runID, status, truncate(reason, 300))
	return translate(err)
}

// TrainingRuns lists recent runs, newest first.
func (s *Store) TrainingRuns(ctx context.Context, projectID uuid.UUID, limit int) ([]TrainingRun, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.TrainingRuns */
		SELECT id, status, reason, model_version, created_at, finished_at FROM training_runs
		WHERE project_id = $1 ORDER BY created_at DESC LIMIT $2`, projectID, limit)
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[TrainingRun])
	if err != nil {
		return nil, fmt.Errorf("list training runs: %w", translate(err))
	}
	if runs == nil {
		runs = []TrainingRun{}
	}
	return runs, nil
}

// TrainingRun returns one run.
func (s *Store) TrainingRun(ctx context.Context, projectID, id uuid.UUID) (TrainingRun, error) {
	var r TrainingRun
	err := s.pool.QueryRow(ctx, `/* Store.TrainingRun */
		SELECT id, status, reason, model_version, created_at, finished_at FROM training_runs WHERE project_id = $1 AND id = $2`,
		projectID, id).Scan(&r.ID, &r.Status, &r.Reason, &r.ModelVersion, &r.CreatedAt, &r.FinishedAt)
	return r, translate(err)
}

// ReceiptsAwaitingResign lists finished visitor deletions whose receipt does not yet name the
// retrain that replaced their models.
func (s *Store) ReceiptsAwaitingResign(ctx context.Context, projectID uuid.UUID) ([]uuid.UUID, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.ReceiptsAwaitingResign */
		SELECT id FROM deletion_requests WHERE project_id = $1 AND scope = 'visitor' AND status = 'done'
		AND retrain_version IS NOT NULL AND NOT (receipt::jsonb ? 'retrain_version')`, projectID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list receipts to re-sign: %w", translate(err))
	}
	return ids, nil
}

// UpdateReceipt replaces a finished deletion's receipt (when a retrain completes it).
func (s *Store) UpdateReceipt(ctx context.Context, id uuid.UUID, receipt, signature []byte) error {
	_, err := s.pool.Exec(ctx, `/* Store.UpdateReceipt */ UPDATE deletion_requests SET receipt = $2, signature = $3 WHERE id = $1`,
		id, receipt, signature)
	return translate(err)
}

// UpsertAssignments writes visitors' personas in one statement.
func (s *Store) UpsertAssignments(ctx context.Context, projectID uuid.UUID, hashes [][]byte, personas []*uuid.UUID, conf []float32, version int) error {
	if len(hashes) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `/* Store.UpsertAssignments */
		INSERT INTO visitor_personas (project_id, visitor_hash, persona_id, confidence, model_version, assigned_at)
		SELECT $1, h, p, c, $5, now() FROM unnest($2::bytea[], $3::uuid[], $4::real[]) AS u(h, p, c)
		-- Only visitors still stored: an assignment queued before an erasure must not bring one back.
		WHERE EXISTS (SELECT 1 FROM visitor_features f WHERE f.project_id = $1 AND f.visitor_hash = u.h)
		ON CONFLICT (project_id, visitor_hash) DO UPDATE SET persona_id = excluded.persona_id,
			confidence = excluded.confidence, model_version = excluded.model_version, assigned_at = excluded.assigned_at`,
		projectID, hashes, personas, conf, version)
	if err != nil {
		return fmt.Errorf("write persona assignments: %w", translate(err))
	}
	return nil
}

// BusinessContext is the project's own description for enrichment, stored sealed.
type BusinessContext struct {
	Goals    string `json:"goals"`
	Industry string `json:"industry"`
	Audience string `json:"audience"`
	Notes    string `json:"notes"`
}

// Validate bounds the context's size.
func (b BusinessContext) Validate() error {
	var errs []error
	for field, v := range map[string]string{"goals": b.Goals, "industry": b.Industry, "audience": b.Audience, "notes": b.Notes} {
		limit := 1000
		if field == "industry" {
			limit = 100
		}
		if len([]rune(v)) > limit {
			errs = append(errs, Invalid(field, "at most %d characters", limit))
		}
	}
	return errors.Join(errs...)
}

// SetBusinessContext stores the context sealed with the project data key.
func (s *Store) SetBusinessContext(ctx context.Context, projectID uuid.UUID, by uuid.UUID, bc BusinessContext) error {
	if err := bc.Validate(); err != nil {
		return err
	}
	b, _ := json.Marshal(bc)
	enc, err := s.SealProject(ctx, projectID, "business_context", "context", b)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `/* Store.SetBusinessContext */
		INSERT INTO business_context (project_id, context_enc, updated_by, updated_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (project_id) DO UPDATE SET context_enc = excluded.context_enc, updated_by = excluded.updated_by, updated_at = now()`,
		projectID, enc, by)
	return translate(err)
}

// GetBusinessContext returns the decrypted context (empty when none was written).
func (s *Store) GetBusinessContext(ctx context.Context, projectID uuid.UUID) (BusinessContext, error) {
	var enc []byte
	err := s.pool.QueryRow(ctx, `/* Store.GetBusinessContext */ SELECT context_enc FROM business_context WHERE project_id = $1`, projectID).Scan(&enc)
	if errors.Is(translate(err), ErrNotFound) {
		return BusinessContext{}, nil
	}
	if err != nil {
		return BusinessContext{}, translate(err)
	}
	b, err := s.OpenProject(ctx, projectID, "business_context", "context", enc)
	if err != nil {
		return BusinessContext{}, err
	}
	var bc BusinessContext
	if err := json.Unmarshal(b, &bc); err != nil {
		return BusinessContext{}, fmt.Errorf("decode business context: %w", err)
	}
	return bc, nil
}

// EnrichmentLogEntry is the metadata of one LLM call. Never text.
type EnrichmentLogEntry struct {
	PersonaID                      uuid.UUID
	Deployment, Status             string
	HTTPStatus, LatencyMS          int
	PromptTokens, CompletionTokens int
}

// LogEnrichment records LLM calls' metadata.
func (s *Store) LogEnrichment(ctx context.Context, projectID uuid.UUID, entries []EnrichmentLogEntry) error {
	for _, e := range entries {
		if _, err := s.pool.Exec(ctx, `/* Store.LogEnrichment */
			INSERT INTO enrichment_log (project_id, persona_id, deployment, status, http_status, latency_ms, prompt_tokens, completion_tokens)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, projectID, e.PersonaID, e.Deployment, e.Status, e.HTTPStatus, e.LatencyMS,
			e.PromptTokens, e.CompletionTokens); err != nil {
			return fmt.Errorf("write enrichment log: %w", translate(err))
		}
	}
	return nil
}

// DriftPoint is one persona's share in one version.
type DriftPoint struct {
	ModelVersion int       `json:"model_version"`
	PersonaID    uuid.UUID `json:"persona_id"`
	Share        float64   `json:"share"`
	Size         int64     `json:"size"`
	Stability    *float64  `json:"stability"`
}

// PersonaHistory lists shares of personas across the kept versions.
func (s *Store) PersonaHistory(ctx context.Context, projectID uuid.UUID) ([]DriftPoint, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.PersonaHistory */
		SELECT model_version, persona_id, share, size, stability FROM persona_history
		WHERE project_id = $1 ORDER BY model_version, share DESC`, projectID)
	pts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DriftPoint])
	if err != nil {
		return nil, fmt.Errorf("read persona history: %w", translate(err))
	}
	if pts == nil {
		pts = []DriftPoint{}
	}
	return pts, nil
}
