package models

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PeriodicTask is what is known of one periodic task's runs, whichever worker ran them: what
// /metrics and the health page report.
type PeriodicTask struct {
	Task          string
	LastStarted   time.Time
	LastSuccess   *time.Time
	LastFailure   *time.Time
	FailingSince  *time.Time // the first failure since the last success; nil while it succeeds
	FailingStreak int        // failures since the last success
	Successes     int64
	Failures      int64
}

// RecordPeriodicRun records one run of a periodic task that started at started and ended now
// with err (nil: success). Only the fact and the times are kept, never the error's text.
func (s *Store) RecordPeriodicRun(ctx context.Context, task string, started time.Time, err error) error {
	ok := err == nil
	_, qerr := s.pool.Exec(ctx, `/* Store.RecordPeriodicRun */
		INSERT INTO periodic_tasks AS t (task, last_started_at, last_success_at, last_failure_at, failing_since,
			failures_since_success, successes_total, failures_total)
		VALUES ($1, $2, CASE WHEN $4 THEN $3::timestamptz END, CASE WHEN NOT $4 THEN $3::timestamptz END,
			CASE WHEN NOT $4 THEN $3::timestamptz END, CASE WHEN $4 THEN 0 ELSE 1 END,
			CASE WHEN $4 THEN 1 ELSE 0 END, CASE WHEN $4 THEN 0 ELSE 1 END)
		ON CONFLICT (task) DO UPDATE SET
			last_started_at = greatest(t.last_started_at, excluded.last_started_at),
			last_success_at = coalesce(excluded.last_success_at, t.last_success_at),
			last_failure_at = coalesce(excluded.last_failure_at, t.last_failure_at),
			failing_since = CASE WHEN $4 THEN NULL ELSE coalesce(t.failing_since, excluded.failing_since) END,
			failures_since_success = CASE WHEN $4 THEN 0 ELSE t.failures_since_success + 1 END,
			successes_total = t.successes_total + excluded.successes_total,
			failures_total = t.failures_total + excluded.failures_total`,
		task, started.UTC(), s.now().UTC(), ok)
	if qerr != nil {
		return fmt.Errorf("record run of periodic task %s: %w", task, translate(qerr))
	}
	return nil
}

// PeriodicTasks lists what is known of every periodic task that ran at least once, by name.
func (s *Store) PeriodicTasks(ctx context.Context) ([]PeriodicTask, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.PeriodicTasks */
		SELECT task, last_started_at, last_success_at, last_failure_at, failing_since, failures_since_success,
			successes_total, failures_total
		FROM periodic_tasks ORDER BY task`)
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PeriodicTask])
	if err != nil {
		return nil, fmt.Errorf("list periodic tasks: %w", translate(err))
	}
	if ts == nil {
		ts = []PeriodicTask{}
	}
	return ts, nil
}
