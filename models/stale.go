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

// ProjectsDueForTraining lists projects to retrain: never trained but with enough visitors
// (100), a model older than a week, or 20 % more visitors seen since the model was trained.
// Projects with a training queued or running are left alone.
func (s *Store) ProjectsDueForTraining(ctx context.Context, now time.Time) ([]uuid.UUID, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.ProjectsDueForTraining */
		SELECT p.id FROM projects p
		LEFT JOIN persona_models m ON m.project_id = p.id AND m.version = p.model_version
		WHERE p.site_key NOT LIKE 'deleted\_%'
		AND NOT EXISTS (SELECT 1 FROM training_runs r WHERE r.project_id = p.id AND (r.status IN ('queued', 'running')
			OR r.created_at > $1 - interval '1 hour'))
		AND (
			(m.version IS NULL AND (SELECT count(*) FROM visitor_features f WHERE f.project_id = p.id AND f.visits > 0) >= 100)
			OR m.trained_at < $1 - interval '7 days'
			OR (m.version IS NOT NULL AND (SELECT count(*) FROM visitor_features f WHERE f.project_id = p.id AND f.visits > 0
				AND f.first_seen > m.trained_at) > m.n_visitors / 5)
		)`, now)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list projects due for training: %w", translate(err))
	}
	return ids, nil
}
