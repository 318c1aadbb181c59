package models

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// FeatureSnapshot is a project's visitor aggregates as of one instant, for a training that reads
// them several times instead of holding them: every pass sees the same visitors, in the order of
// their hashes (bytewise), however many events arrive meanwhile.
type FeatureSnapshot struct {
	tx        pgx.Tx
	projectID uuid.UUID
}

// ReadFeatureSnapshot runs fn on a snapshot of the project's visitors (with at least one visit):
// one read-only, repeatable-read transaction, held while fn runs.
func (s *Store) ReadFeatureSnapshot(ctx context.Context, projectID uuid.UUID, fn func(*FeatureSnapshot) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return fn(&FeatureSnapshot{tx: tx, projectID: projectID}) })
}

// EachHash streams the snapshot's visitor hashes in order. The slice is fn's only during the call.
func (fs *FeatureSnapshot) EachHash(ctx context.Context, fn func(hash []byte) error) error {
	rows, err := fs.tx.Query(ctx, `/* FeatureSnapshot.EachHash */
		SELECT visitor_hash FROM visitor_features WHERE project_id = $1 AND visits > 0 ORDER BY visitor_hash`, fs.projectID)
	if err != nil {
		return fmt.Errorf("read visitor hashes: %w", translate(err))
	}
	defer rows.Close()
	var h pgtype.DriverBytes
	for rows.Next() {
		if err := rows.Scan(&h); err != nil {
			return fmt.Errorf("read visitor hashes: %w", err)
		}
		if err := fn(h); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read visitor hashes: %w", translate(err))
	}
	return nil
}

// Each streams the snapshot's visitors' aggregates in the order of EachHash.
func (fs *FeatureSnapshot) Each(ctx context.Context, fn func(*VisitorFeatures) error) error {
	rows, err := fs.tx.Query(ctx, `/* FeatureSnapshot.Each */
		SELECT project_id, visitor_hash, `+featureColumns+` FROM visitor_features
		WHERE project_id = $1 AND visits > 0 ORDER BY visitor_hash`, fs.projectID)
	if err != nil {
		return fmt.Errorf("read visitor features: %w", translate(err))
	}
	defer rows.Close()
	var pid uuid.UUID
	for rows.Next() {
		f, err := scanFeatures(rows, &pid)
		if err != nil {
			return fmt.Errorf("read visitor features: %w", err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read visitor features: %w", translate(err))
	}
	return nil
}

// EachModelMember streams the visitors a version was trained on with their cluster, without
// holding them: a million members would be a map of a hundred megabytes. The hash is fn's only
// during the call.
func (s *Store) EachModelMember(ctx context.Context, projectID uuid.UUID, version int, fn func(hash []byte, cluster int) error) error {
	rows, err := s.pool.Query(ctx, `/* Store.EachModelMember */
		SELECT visitor_hash, cluster FROM model_members WHERE project_id = $1 AND model_version = $2`, projectID, version)
	if err != nil {
		return fmt.Errorf("read model members: %w", translate(err))
	}
	defer rows.Close()
	var c int16
	for rows.Next() {
		var h pgtype.DriverBytes
		if err := rows.Scan(&h, &c); err != nil {
			return fmt.Errorf("read model members: %w", err)
		}
		if err := fn(h, int(c)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read model members: %w", translate(err))
	}
	return nil
}

// decodeCounts decodes a JSON object of integer counts (the jsonb maps of visitor_features) into
// *m. PostgreSQL writes jsonb in one canonical layout, which a direct scan reads several times
// faster than encoding/json (the decoding dominated reading a million visitors); anything else
// (escapes, non-ASCII keys, non-integer values, null) goes to encoding/json, so the result is
// always json.Unmarshal's into a fresh map.
func decodeCounts(b []byte, m *map[string]int64) error {
	if out, ok := scanCounts(b); ok {
		*m = out
		return nil
	}
	*m = nil
	return json.Unmarshal(b, m)
}

// scanCounts reads {"key": integer, ...}, or reports false for anything it does not handle.
func scanCounts(b []byte) (map[string]int64, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	out := make(map[string]int64)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		start := i + 1
		i = start
		for i < len(b) && b[i] != '"' {
			if c := b[i]; c == '\\' || c < 0x20 || c >= 0x80 {
				return nil, false
			}
			i++
		}
		if i >= len(b) {
			return nil, false
		}
		key := string(b[start:i])
		i = skipSpace(b, i+1)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		neg := i < len(b) && b[i] == '-'
		if neg {
			i++
		}
		digits := i
		var v int64
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if v > (1<<63-1-9)/10 {
				return nil, false // near overflow: let encoding/json say what it says
			}
			v = v*10 + int64(b[i]-'0')
			i++
		}
		if i == digits || (b[digits] == '0' && i-digits > 1) {
			return nil, false
		}
		if neg {
			v = -v
		}
		out[key] = v
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return out, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
