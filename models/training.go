package models

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// FeatureSnapshot is a project's visitor aggregates as of one instant, for a training that reads
// them several times instead of holding them: every pass sees the same visitors, however many
// events arrive meanwhile. Passes read the table in whatever order PostgreSQL finds cheapest (for
// a large project, a sequential scan in physical order): ordering a million rows by hash walked
// the heap at random through the primary key, and took most of a training's time.
type FeatureSnapshot struct {
	tx        pgx.Tx
	projectID uuid.UUID
}

// ReadFeatureSnapshot runs fn on a snapshot of the project's visitors (with at least one visit):
// one read-only, repeatable-read transaction, held while fn runs.
func (s *Store) ReadFeatureSnapshot(ctx context.Context, projectID uuid.UUID, fn func(*FeatureSnapshot) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			// A sequential scan starts where another scan of the table is (another project's
			// training); from the first page, every pass gives the rows in the same order, which
			// lets a reader find each row's position without searching.
			if _, err := tx.Exec(ctx, `SET LOCAL synchronize_seqscans = off`); err != nil {
				return fmt.Errorf("read visitor features: %w", translate(err))
			}
			return fn(&FeatureSnapshot{tx: tx, projectID: projectID})
		})
}

// EachHash streams the snapshot's visitor hashes, in no particular order. The slice is fn's only
// during the call.
func (fs *FeatureSnapshot) EachHash(ctx context.Context, fn func(hash []byte) error) error {
	rows, err := fs.tx.Query(ctx, `/* FeatureSnapshot.EachHash */
		SELECT visitor_hash FROM visitor_features WHERE project_id = $1 AND visits > 0`, fs.projectID)
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

// Each streams the snapshot's visitors' aggregates, in no particular order (each pass may give
// another). The aggregates, their hash and their maps are fn's only during the call: one value
// and its maps are reused for every visitor (with keys interned), so that a pass over a million
// visitors makes next to no garbage.
func (fs *FeatureSnapshot) Each(ctx context.Context, fn func(*VisitorFeatures) error) error {
	rows, err := fs.tx.Query(ctx, `/* FeatureSnapshot.Each */
		SELECT visitor_hash, visits, pageviews, clicks, goals, bounces, time_ms, scroll_sum, scroll_count, active_days,
			first_seen, last_seen, last_day, cur_pageviews, cur_clicks, hours, weekdays,
			paths, elements, channels, devices, goal_names
		FROM visitor_features WHERE project_id = $1 AND visits > 0`, fs.projectID)
	if err != nil {
		return fmt.Errorf("read visitor features: %w", translate(err))
	}
	defer rows.Close()
	const firstMap = 17 // the jsonb columns, read from the row's own bytes
	var (
		f               VisitorFeatures
		hash            pgtype.DriverBytes
		hours, weekdays []int64
		intern          = map[string]string{}
	)
	maps := []*map[string]int64{&f.Paths, &f.Elements, &f.Channels, &f.Devices, &f.GoalNames}
	for rows.Next() {
		err := rows.Scan(&hash, &f.Visits, &f.PageViews, &f.Clicks, &f.Goals, &f.Bounces, &f.TimeMS, &f.ScrollSum,
			&f.ScrollCount, &f.ActiveDays, &f.FirstSeen, &f.LastSeen, &f.LastDay, &f.CurPageViews, &f.CurClicks,
			nil, nil, nil, nil, nil, nil, nil)
		if err != nil {
			return fmt.Errorf("read visitor features: %w", err)
		}
		f.VisitorHash = hash
		raw, fds := rows.RawValues(), rows.FieldDescriptions()
		// The arrays' binary form is read directly (pgx's array decoding was a fifth of a pass).
		if fds[firstMap-2].Format != pgtype.BinaryFormatCode || fds[firstMap-1].Format != pgtype.BinaryFormatCode || !decodeInt8Array(raw[firstMap-2], f.Hours[:]) ||
			!decodeInt8Array(raw[firstMap-1], f.Weekdays[:]) {
			if err := rows.Scan(nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
				&hours, &weekdays, nil, nil, nil, nil, nil); err != nil {
				return fmt.Errorf("read visitor features: %w", err)
			}
			f.Hours, f.Weekdays = [24]int64{}, [7]int64{}
			copy(f.Hours[:], hours)
			copy(f.Weekdays[:], weekdays)
		}
		for k, m := range maps {
			b := raw[firstMap+k]
			if fds[firstMap+k].Format == pgtype.BinaryFormatCode && len(b) > 0 {
				b = b[1:] // jsonb's binary form is a version byte and the text
			}
			if err := decodeCountsInto(b, m, intern); err != nil {
				return fmt.Errorf("read visitor features: decode aggregates: %w", err)
			}
		}
		if err := fn(&f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read visitor features: %w", translate(err))
	}
	return nil
}

// decodeInt8Array reads the binary form of a one-dimensional int8[] without nulls into dst (the
// first len(dst) elements, the rest zero, as copy from a decoded slice gives), or reports false
// for anything else (null, empty, several dimensions, nulls, another element type).
func decodeInt8Array(b []byte, dst []int64) bool {
	const int8OID = 20
	if len(b) < 20 || binary.BigEndian.Uint32(b) != 1 || binary.BigEndian.Uint32(b[4:]) != 0 ||
		binary.BigEndian.Uint32(b[8:]) != int8OID {
		return false
	}
	n := int(int32(binary.BigEndian.Uint32(b[12:])))
	b = b[20:]
	if n < 0 || len(b) != n*12 {
		return false
	}
	clear(dst)
	for i := range n {
		e := b[i*12:]
		if binary.BigEndian.Uint32(e) != 8 {
			return false
		}
		if i < len(dst) {
			dst[i] = int64(binary.BigEndian.Uint64(e[4:]))
		}
	}
	return true
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

// decodeCountsInto is decodeCounts into a reused map: *m is cleared (made when nil) and filled,
// its keys taken from intern (and added to it) so that known keys cost no allocation. The result
// equals decodeCounts's (null gives a nil map).
func decodeCountsInto(b []byte, m *map[string]int64, intern map[string]string) error {
	if *m == nil {
		*m = make(map[string]int64)
	}
	clear(*m)
	if scanCountsInto(b, *m, intern) {
		return nil
	}
	clear(*m)
	return json.Unmarshal(b, m)
}

// scanCounts reads {"key": integer, ...}, or reports false for anything it does not handle.
func scanCounts(b []byte) (map[string]int64, bool) {
	out := make(map[string]int64)
	if !scanCountsInto(b, out, nil) {
		return nil, false
	}
	return out, true
}

// scanCountsInto is scanCounts into out (which it may have partly filled when it reports false),
// with keys from intern when intern is not nil.
func scanCountsInto(b []byte, out map[string]int64, intern map[string]string) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		start := i + 1
		i = start
		for i < len(b) && b[i] != '"' {
			if c := b[i]; c == '\\' || c < 0x20 || c >= 0x80 {
				return false
			}
			i++
		}
		if i >= len(b) {
			return false
		}
		var key string
		if intern == nil {
			key = string(b[start:i])
		} else if k, ok := intern[string(b[start:i])]; ok {
			key = k
		} else {
			key = string(b[start:i])
			if len(intern) < 1<<16 { // a bound on a vocabulary of unusual size
				intern[key] = key
			}
		}
		i = skipSpace(b, i+1)
		if i >= len(b) || b[i] != ':' {
			return false
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
				return false // near overflow: let encoding/json say what it says
			}
			v = v*10 + int64(b[i]-'0')
			i++
		}
		if i == digits || (b[digits] == '0' && i-digits > 1) {
			return false
		}
		if neg {
			v = -v
		}
		out[key] = v
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
