package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// IngestStat is one day's count of events stored or dropped for one reason.
type IngestStat struct {
	Day    time.Time
	Reason string // ReasonStored or a drop reason
	Events int64
}

// IngestStats lists a project's delivery counters between two days (inclusive), by day and
// reason.
func (s *Store) IngestStats(ctx context.Context, projectID uuid.UUID, from, to time.Time) ([]IngestStat, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.IngestStats */
		SELECT day, reason, events FROM ingest_stats
		WHERE project_id = $1 AND day BETWEEN $2::date AND $3::date ORDER BY day, reason`,
		projectID, from.Format(time.DateOnly), to.Format(time.DateOnly))
	stats, err := pgx.CollectRows(rows, pgx.RowToStructByPos[IngestStat])
	if err != nil {
		return nil, fmt.Errorf("read ingest stats: %w", translate(err))
	}
	return stats, nil
}

// PersonaNames maps every persona of a project, current or retired, to its name (for the drift
// history, whose versions name personas that may since have been retired).
func (s *Store) PersonaNames(ctx context.Context, projectID uuid.UUID) (map[uuid.UUID]string, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.PersonaNames */ SELECT id, name FROM personas WHERE project_id = $1`, projectID)
	out := map[uuid.UUID]string{}
	var id uuid.UUID
	var name string
	_, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error {
		out[id] = name
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read persona names: %w", translate(err))
	}
	return out, nil
}
