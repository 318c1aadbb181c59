package models

import (
	"context"
	"fmt"
	"time"
)

// SweepExpired removes what is past its expiry at now and returns the rows removed (or that
// would be, with dryRun) per table.
func (s *Store) SweepExpired(ctx context.Context, now time.Time, dryRun bool) (map[string]int64, error) {
	counts := map[string]int64{}
	type rule struct {
		table, where string
		args         []any
	}
	rules := []rule{
		{"sessions", "expires_at <= $1", []any{now}},
		{"login_failures", "at <= $1", []any{now.Add(-24 * time.Hour)}},
	}
	for _, r := range rules {
		n, err := s.deleteBatched(ctx, r.table, r.where, r.args, dryRun)
		if err != nil {
			return counts, err
		}
		counts[r.table] += n
	}
	return counts, nil
}

// deleteBatched deletes rows matching where in batches of 5,000 so no statement holds locks
// for long, or counts them with dryRun.
func (s *Store) deleteBatched(ctx context.Context, table, where string, args []any, dryRun bool) (int64, error) {
	if dryRun {
		var n int64
		err := s.pool.QueryRow(ctx, fmt.Sprintf(`/* Store.SweepExpired */ SELECT count(*) FROM %s WHERE %s`, table, where), args...).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("count expired %s: %w", table, translate(err))
		}
		return n, nil
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, fmt.Sprintf(`/* Store.SweepExpired */
			DELETE FROM %s WHERE ctid IN (SELECT ctid FROM %s WHERE %s LIMIT 5000)`, table, table, where), args...)
		if err != nil {
			return total, fmt.Errorf("expire %s: %w", table, translate(err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}
