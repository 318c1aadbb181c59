package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MarkModelsStale marks every model version a visitor was trained on as stale: a retrain
// without the visitor must replace it.
func (s *Store) MarkModelsStale(ctx context.Context, projectID uuid.UUID, visitorHash []byte) error {
	_, err := s.pool.Exec(ctx, `/* Store.MarkModelsStale */
		UPDATE persona_models SET stale_since = coalesce(stale_since, $3)
		WHERE project_id = $1 AND replaced_by IS NULL AND version IN (
			SELECT model_version FROM model_members WHERE project_id = $1 AND visitor_hash = $2)`,
		projectID, visitorHash, s.now().UTC())
	if err != nil {
		return fmt.Errorf("mark models stale: %w", translate(err))
	}
	return nil
}

// StaleProjects lists projects whose current model is stale, for the safety-net retrain.
func (s *Store) StaleProjects(ctx context.Context) ([]uuid.UUID, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.StaleProjects */
		SELECT DISTINCT m.project_id FROM persona_models m JOIN projects p ON p.id = m.project_id AND p.model_version = m.version
		WHERE m.stale_since IS NOT NULL AND m.replaced_by IS NULL`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list stale projects: %w", translate(err))
	}
	return ids, nil
}

// Thresholds of automatic training (DESIGN.md, the persona pipeline, step 3).
const (
	// FirstModelVisitors is how many visitors (with a visit) a project needs for its first model.
	FirstModelVisitors = 100
	// RetrainAge is the age after which a model is retrained whatever happened since.
	RetrainAge = 7 * 24 * time.Hour
	// RetrainGrowth is the share of new visitors (first seen after the model was trained), against
	// those it was trained on, that makes a retrain due.
	RetrainGrowth = 0.2
	// TrainingCooldown is how long after any training request the safety net leaves a project
	// alone: a training the data did not allow (skipped) or that failed is retried hourly, not
	// every minute.
	TrainingCooldown = time.Hour
	// TrainingLost is the age after which a run still queued counts as lost (its task timed out
	// and exhausted its retries, or Redis lost it): it no longer holds the project back.
	TrainingLost = 2 * time.Hour
)

// ProjectsDueForTraining lists the projects to train at now: never trained but with
// FirstModelVisitors visitors, a model older than RetrainAge, or RetrainGrowth (a share) new
// visitors since the model was trained. A deleted project, one with a training queued (unless
// lost) and one asked to train within TrainingCooldown are left alone. The counts are bounded
// (LIMIT): a large project is never counted whole every minute.
func (s *Store) ProjectsDueForTraining(ctx context.Context, now time.Time) ([]uuid.UUID, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.ProjectsDueForTraining */
		SELECT p.id FROM projects p
		LEFT JOIN persona_models m ON m.project_id = p.id AND m.version = p.model_version
		WHERE p.site_key NOT LIKE 'deleted\_%'
		AND NOT EXISTS (SELECT 1 FROM training_runs r WHERE r.project_id = p.id AND (
			(r.status IN ('queued', 'running') AND r.created_at > $1::timestamptz - make_interval(secs => $4))
			OR r.created_at > $1::timestamptz - make_interval(secs => $3)))
		AND CASE
			WHEN m.version IS NULL THEN (SELECT count(*) FROM (SELECT FROM visitor_features f
				WHERE f.project_id = p.id AND f.visits > 0 LIMIT $2) AS enough) >= $2
			WHEN m.trained_at < $1::timestamptz - make_interval(secs => $5) THEN true
			ELSE (SELECT count(*) FROM (SELECT FROM visitor_features f
				WHERE f.project_id = p.id AND f.visits > 0 AND f.first_seen > m.trained_at
				LIMIT ceil(m.n_visitors * $6::float8)::bigint) AS grown) >= m.n_visitors * $6::float8
		END
		ORDER BY p.id`, now, FirstModelVisitors, TrainingCooldown.Seconds(), TrainingLost.Seconds(), RetrainAge.Seconds(), RetrainGrowth)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list projects due for training: %w", translate(err))
	}
	return ids, nil
}
