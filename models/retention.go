package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Expiries of DESIGN.md that no project can change, in days.
const (
	KeepModelVersions        = 5   // persona_models: the last five versions of each project
	DefaultIngestStatsDays   = 400 // ingest_stats
	DefaultDeletionProofDays = 730 // deletion_requests: two years of proof
	LoginFailureHours        = 24  // login_failures: the back-off window
	InvitationKeepDays       = 30  // invitations: kept this long after they expire, to say "expired"
	ResetKeepHours           = 24  // password_resets: kept this long after they expire
)

// batchSize is the rows per DELETE of the sweep: short statements, short locks.
const batchSize = 5000

// expiring is a table whose rows expire by time, with the project's override: cond is the
// condition of expiry, with %[1]s standing for the cutoff's placeholder.
type expiring struct {
	table, cond string
	days        func(Retention) int // effective days for a project
}

var projectExpiries = []expiring{
	// last_day (indexed; the UTC day of last_seen) narrows the search, last_seen decides.
	{"visitor_features", "last_day <= (%[1]s::timestamptz AT TIME ZONE 'UTC')::date AND last_seen < %[1]s",
		func(r Retention) int { return r.VisitorFeaturesDays }},
	{"visitor_personas", "assigned_at < %[1]s", func(r Retention) int { return r.VisitorPersonasDays }},
	{"enrichment_log", "at < %[1]s", func(r Retention) int { return r.EnrichmentLogDays }},
	{"audit_log", "at < %[1]s", func(r Retention) int { return r.AuditLogDays }},
}

func daysBefore(now time.Time, days int) time.Time {
	return now.Add(-time.Duration(days) * 24 * time.Hour)
}

// SweepExpired removes what is past its expiry at now and returns the rows removed (or that
// would be, with dryRun) per table; "events_partitions" counts the day partitions dropped.
// Events go by whole day partitions past the longest window (60 days) and in batches for
// projects with a shorter one; every other table in batches of 5,000 rows.
func (s *Store) SweepExpired(ctx context.Context, now time.Time, dryRun bool) (map[string]int64, error) {
	now = now.UTC()
	counts := map[string]int64{}
	add := func(table string) func(int64, error) error {
		return func(n int64, err error) error {
			counts[table] += n
			return err
		}
	}
	overrides, err := s.retentionOverrides(ctx)
	if err != nil {
		return counts, err
	}

	// Events: whole partitions first, then the rows of projects with a shorter window, then the
	// rows older than the window in the partition that straddles it.
	cutoff := daysBefore(now, DefaultEventsDays)
	dropped, rows, err := s.dropEventPartitions(ctx, cutoff, dryRun)
	counts["events_partitions"] = dropped
	if err := add("events")(rows, err); err != nil {
		return counts, err
	}
	if err := add("events")(s.deleteEventsBefore(ctx, cutoff, cutoff, nil, dryRun)); err != nil {
		return counts, err
	}
	for pid, r := range overrides {
		if d := r.EventsDays; d < DefaultEventsDays {
			if err := add("events")(s.deleteEventsBefore(ctx, daysBefore(now, d), cutoff, &pid, dryRun)); err != nil {
				return counts, err
			}
		}
	}

	// Tables with a per-project override, project by project: each project's rows are one range
	// of the (project_id, time) index, as they would be on the shard that holds the project.
	// Every project id present is swept (the nil project of account-level audit entries too),
	// with the default window or its own shorter one.
	def := Retention{}.Effective()
	for _, e := range projectExpiries {
		pids, err := s.projectIDsIn(ctx, e.table)
		if err != nil {
			return counts, err
		}
		for _, pid := range pids {
			d := e.days(def)
			if r, ok := overrides[pid]; ok {
				d = min(d, e.days(r))
			}
			if err := add(e.table)(s.deleteBatched(ctx, e.table, "project_id = $1 AND "+fmt.Sprintf(e.cond, "$2"),
				[]any{pid, daysBefore(now, d)}, dryRun)); err != nil {
				return counts, err
			}
		}
	}

	// Persona models beyond the last five versions of each project, with what hangs off them.
	for _, t := range []string{"model_members", "persona_history"} {
		if err := add(t)(s.deleteBatched(ctx, t, `model_version <= (SELECT max(m.version) FROM persona_models m
			WHERE m.project_id = `+t+`.project_id) - $1`, []any{KeepModelVersions}, dryRun)); err != nil {
			return counts, err
		}
	}
	if err := add("persona_models")(s.deleteBatched(ctx, "persona_models", `version <= (SELECT max(m.version)
		FROM persona_models m WHERE m.project_id = persona_models.project_id) - $1`, []any{KeepModelVersions}, dryRun)); err != nil {
		return counts, err
	}

	// Tables without overrides.
	rules := []struct {
		table, where string
		arg          any
	}{
		{"sessions", "expires_at <= $1", now},
		{"login_failures", "at <= $1", now.Add(-LoginFailureHours * time.Hour)},
		{"invitations", "expires_at <= $1", daysBefore(now, InvitationKeepDays)},
		{"password_resets", "expires_at <= $1", now.Add(-ResetKeepHours * time.Hour)},
		{"ingest_stats", "day < $1::date", daysBefore(now, DefaultIngestStatsDays).Format("2006-01-02")},
		{"deletion_requests", "status IN ('done', 'failed') AND created_at < $1", daysBefore(now, DefaultDeletionProofDays)},
	}
	for _, r := range rules {
		if err := add(r.table)(s.deleteBatched(ctx, r.table, r.where, []any{r.arg}, dryRun)); err != nil {
			return counts, err
		}
	}
	return counts, nil
}

// projectIDsIn lists the project ids present in table, one probe of its project_id-led index
// per project (a loose index scan: PostgreSQL 15 has no skip scan, and DISTINCT would read
// every row).
func (s *Store) projectIDsIn(ctx context.Context, table string) ([]uuid.UUID, error) {
	name := pgx.Identifier{table}.Sanitize()
	rows, _ := s.pool.Query(ctx, fmt.Sprintf(`/* Store.projectIDsIn */
		WITH RECURSIVE p AS (
			(SELECT project_id FROM %[1]s ORDER BY project_id LIMIT 1)
			UNION ALL
			SELECT (SELECT t.project_id FROM %[1]s t WHERE t.project_id > p.project_id ORDER BY t.project_id LIMIT 1)
			FROM p WHERE p.project_id IS NOT NULL)
		SELECT project_id FROM p WHERE project_id IS NOT NULL`, name))
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list the projects of %s: %w", table, translate(err))
	}
	return ids, nil
}

// retentionOverrides returns the projects that shorten some expiry, with their effective values.
func (s *Store) retentionOverrides(ctx context.Context) (map[uuid.UUID]Retention, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.retentionOverrides */ SELECT id, retention FROM projects WHERE retention <> '{}'`)
	out := map[uuid.UUID]Retention{}
	var id uuid.UUID
	var raw []byte
	_, err := pgx.ForEachRow(rows, []any{&id, &raw}, func() error {
		var r Retention
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("decode retention of project %s: %w", id, err)
		}
		out[id] = r.Effective()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list retention overrides: %w", translate(err))
	}
	return out, nil
}

// eventPartition is one day partition of events; day is zero when its name is not a day.
type eventPartition struct {
	name string
	day  time.Time
}

func (s *Store) eventPartitions(ctx context.Context) ([]eventPartition, error) {
	leaves, err := s.leafTables(ctx, "events")
	if err != nil {
		return nil, err
	}
	out := make([]eventPartition, 0, len(leaves))
	for _, l := range leaves {
		if l == "events" {
			continue // no partition at all
		}
		p := eventPartition{name: l}
		if d, err := time.Parse("20060102", strings.TrimPrefix(l, "events_")); err == nil {
			p.day = d
		}
		out = append(out, p)
	}
	return out, nil
}

// dropEventPartitions drops the day partitions that end at or before cutoff, and returns how
// many and the rows they held.
func (s *Store) dropEventPartitions(ctx context.Context, cutoff time.Time, dryRun bool) (int64, int64, error) {
	parts, err := s.eventPartitions(ctx)
	if err != nil {
		return 0, 0, err
	}
	var dropped, rows int64
	for _, p := range parts {
		if p.day.IsZero() || p.day.Add(24*time.Hour).After(cutoff) {
			continue
		}
		var n int64
		err := s.tx(ctx, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `/* Store.dropEventPartitions */ SELECT count(*) FROM `+pgx.Identifier{p.name}.Sanitize()).Scan(&n); err != nil {
				return err
			}
			if dryRun {
				return nil
			}
			_, err := tx.Exec(ctx, `/* Store.dropEventPartitions */ DROP TABLE `+pgx.Identifier{p.name}.Sanitize())
			return err
		})
		if err != nil {
			return dropped, rows, fmt.Errorf("drop events partition %s: %w", p.name, translate(err))
		}
		dropped++
		rows += n
	}
	return dropped, rows, nil
}

// deleteEventsBefore deletes, in batches, the events before cutoff (of one project when
// projectID is set) in the partitions that start before cutoff; others cannot hold any. A dry
// run skips the partitions that end by dropCutoff: a real run has dropped them already.
func (s *Store) deleteEventsBefore(ctx context.Context, cutoff, dropCutoff time.Time, projectID *uuid.UUID, dryRun bool) (int64, error) {
	parts, err := s.eventPartitions(ctx)
	if err != nil {
		return 0, err
	}
	where, args := "ts < $1", []any{cutoff}
	if projectID != nil {
		where, args = "project_id = $2 AND ts < $1", append(args, *projectID)
	}
	var total int64
	for _, p := range parts {
		if !p.day.IsZero() && !p.day.Before(cutoff) {
			continue
		}
		if dryRun && !p.day.IsZero() && !p.day.Add(24*time.Hour).After(dropCutoff) {
			continue // counted with the partitions a real run drops first
		}
		n, err := s.deleteBatched(ctx, p.name, where, args, dryRun)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// deleteBatched deletes rows of a plain table (or one partition) matching where, in batches of
// 5,000 so no statement holds locks for long, or counts them with dryRun.
func (s *Store) deleteBatched(ctx context.Context, table, where string, args []any, dryRun bool) (int64, error) {
	name := pgx.Identifier{table}.Sanitize()
	if dryRun {
		var n int64
		err := s.pool.QueryRow(ctx, fmt.Sprintf(`/* Store.SweepExpired */ SELECT count(*) FROM %s WHERE %s`, name, where), args...).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("count expired %s: %w", table, translate(err))
		}
		return n, nil
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, fmt.Sprintf(`/* Store.SweepExpired */
			DELETE FROM %[1]s WHERE ctid IN (SELECT ctid FROM %[1]s WHERE %[2]s LIMIT %[3]d)`, name, where, batchSize), args...)
		if err != nil {
			return total, fmt.Errorf("expire %s: %w", table, translate(err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < batchSize {
			return total, nil
		}
	}
}
