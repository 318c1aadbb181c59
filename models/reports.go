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
// reason. A report: read on the standby when there is one (SetReadPool).
func (s *Store) IngestStats(ctx context.Context, projectID uuid.UUID, from, to time.Time) ([]IngestStat, error) {
	return report(s, func(q querier) ([]IngestStat, error) {
		rows, _ := q.Query(ctx, `/* Store.IngestStats */
			SELECT day, reason, events FROM ingest_stats
			WHERE project_id = $1 AND day BETWEEN $2::date AND $3::date ORDER BY day, reason`,
			projectID, from.Format(time.DateOnly), to.Format(time.DateOnly))
		stats, err := pgx.CollectRows(rows, pgx.RowToStructByPos[IngestStat])
		if err != nil {
			return nil, fmt.Errorf("read ingest stats: %w", translate(err))
		}
		return stats, nil
	})
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

// VisitorKey names one visitor of one project.
type VisitorKey struct {
	ProjectID   uuid.UUID
	VisitorHash []byte
}

// VisitorFeaturesMany reads the aggregates of many visitors in one indexed query (classify
// coalesces concurrent requests into it). Visitors without aggregates are absent from the
// result, which is keyed by VisitorKeyString.
func (s *Store) VisitorFeaturesMany(ctx context.Context, keys []VisitorKey) (map[string]*VisitorFeatures, error) {
	hashes := make([][]byte, len(keys))
	oneProject := true
	for i, k := range keys {
		hashes[i] = k.VisitorHash
		oneProject = oneProject && k.ProjectID == keys[0].ProjectID
	}
	// UUIDs go as [16]byte, pgx's binary path (uuid.UUID would take a text round trip).
	var rows pgx.Rows
	var err error
	if oneProject && len(keys) > 0 { // the usual batch: one site's visitors, one index range per key
		rows, err = s.pool.Query(ctx, `/* Store.VisitorFeaturesMany */
			SELECT project_id, visitor_hash, `+featureColumns+` FROM visitor_features
			WHERE project_id = $1 AND visitor_hash = ANY($2::bytea[])`, [16]byte(keys[0].ProjectID), hashes)
	} else {
		projects := make([][16]byte, len(keys))
		for i, k := range keys {
			projects[i] = k.ProjectID
		}
		rows, err = s.pool.Query(ctx, `/* Store.VisitorFeaturesMany */
			SELECT f.project_id, f.visitor_hash, `+prefixed("f", featureColumns)+` FROM visitor_features f
			JOIN unnest($1::uuid[], $2::bytea[]) AS k(project_id, visitor_hash)
				ON f.project_id = k.project_id AND f.visitor_hash = k.visitor_hash`, projects, hashes)
	}
	if err != nil {
		return nil, fmt.Errorf("read visitor features: %w", translate(err))
	}
	defer rows.Close()
	out := make(map[string]*VisitorFeatures, len(keys))
	var pid uuid.UUID
	for rows.Next() {
		f, err := scanFeatures(rows, &pid)
		if err != nil {
			return nil, fmt.Errorf("read visitor features: %w", err)
		}
		out[VisitorKeyString(pid, f.VisitorHash)] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read visitor features: %w", translate(err))
	}
	return out, nil
}

// VisitorKeyString is the map key of a visitor in VisitorFeaturesMany's result.
func VisitorKeyString(projectID uuid.UUID, visitorHash []byte) string {
	return string(projectID[:]) + string(visitorHash)
}

// Transition counts the visitors of one persona in one version who belong to a persona in a
// later version: where a persona's visitors went (merged, split) when it did not survive.
type Transition struct {
	From, To uuid.UUID
	Visitors int64
}

// PersonaTransitions counts, between two kept versions, where the visitors of some personas of
// the earlier version went: per persona of the later version, their visitors known in both.
// Only those personas' members are joined (by visitor, against the later version's primary
// key), so the cost follows the personas asked about, not the whole population. A pruned
// version has no members and answers nothing. A report: read on the standby when there is one.
func (s *Store) PersonaTransitions(ctx context.Context, projectID uuid.UUID, from, to int, personas []uuid.UUID) ([]Transition, error) {
	return report(s, func(q querier) ([]Transition, error) {
		rows, _ := q.Query(ctx, `/* Store.PersonaTransitions */
		WITH gone AS (
			SELECT cluster, persona_id FROM persona_history
			WHERE project_id = $1 AND model_version = $2 AND persona_id = ANY($4::uuid[])),
		t AS (
			SELECT a.cluster AS ca, b.cluster AS cb, count(*) AS n
			FROM model_members a JOIN model_members b
				ON b.project_id = a.project_id AND b.model_version = $3 AND b.visitor_hash = a.visitor_hash
			WHERE a.project_id = $1 AND a.model_version = $2 AND a.cluster IN (SELECT cluster FROM gone)
			GROUP BY 1, 2)
		SELECT g.persona_id, hb.persona_id, t.n FROM t
		JOIN gone g ON g.cluster = t.ca
		JOIN persona_history hb ON hb.project_id = $1 AND hb.model_version = $3 AND hb.cluster = t.cb
		ORDER BY 1, 3 DESC, 2`, projectID, from, to, personas)
		ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Transition])
		if err != nil {
			return nil, fmt.Errorf("read persona transitions v%d to v%d: %w", from, to, translate(err))
		}
		return ts, nil
	})
}
