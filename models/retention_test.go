package models_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"personas/internal/testenv"
	"personas/models"
)

const day = 24 * time.Hour

// expiringRow is one row the sweep must remove exactly when its time comes.
type expiringRow struct {
	table   string
	project string // "A" (defaults) or "B" (shorter overrides); "" for tables without a project
	insert  string // SQL with $1 = project id, $2 = row time, $3 = unique bytes
	at      time.Time
	expires time.Time
	// count counts the row (same arguments as insert).
	count string
}

// TestSweepExpiresOnTheRightDay inserts one row per table and project at a fixed time, then
// moves the store's clock to just before and just after each expiry: every row is there
// before its expiry and gone after it, the other project's rows keep their own expiry, and
// event partitions past the 60-day window are dropped whole.
func TestSweepExpiresOnTheRightDay(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	st := env.Store
	u, _, err := st.EnsureUser(ctx, "retention@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.CreateProject(ctx, u.ID, "A", []string{"https://a.example"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateProject(ctx, u.ID, "B", []string{"https://b.example"})
	if err != nil {
		t.Fatal(err)
	}
	short := models.Retention{EventsDays: 7, VisitorFeaturesDays: 30, VisitorPersonasDays: 10, EnrichmentLogDays: 5, AuditLogDays: 20}
	if _, err := st.UpdateSettings(ctx, b.ID, models.Settings{Retention: &short}); err != nil {
		t.Fatal(err)
	}
	projects := map[string]uuid.UUID{"A": a.ID, "B": b.ID}

	t0 := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	d0 := t0.Truncate(day)
	if err := st.EnsurePartitions(ctx, d0, d0); err != nil {
		t.Fatal(err)
	}
	perProject := []struct {
		table, insert, count string
		days                 func(models.Retention) int
	}{
		{"events", `INSERT INTO events (project_id, ts, visitor_hash, session_hash, type) VALUES ($1, $2, $3, $3, 'pageview')`,
			`SELECT count(*) FROM events WHERE project_id = $1 AND visitor_hash = $3 AND $2::timestamptz IS NOT NULL`,
			func(r models.Retention) int { return r.EventsDays }},
		{"visitor_features", `INSERT INTO visitor_features (project_id, visitor_hash, first_seen, last_seen, last_day, cur_session)
			VALUES ($1, $3, $2, $2, ($2::timestamptz)::date, $3)`,
			`SELECT count(*) FROM visitor_features WHERE project_id = $1 AND visitor_hash = $3 AND $2::timestamptz IS NOT NULL`,
			func(r models.Retention) int { return r.VisitorFeaturesDays }},
		{"visitor_personas", `INSERT INTO visitor_personas (project_id, visitor_hash, confidence, model_version, assigned_at)
			VALUES ($1, $3, 0.9, 1, $2)`,
			`SELECT count(*) FROM visitor_personas WHERE project_id = $1 AND visitor_hash = $3 AND $2::timestamptz IS NOT NULL`,
			func(r models.Retention) int { return r.VisitorPersonasDays }},
		{"enrichment_log", `INSERT INTO enrichment_log (project_id, status, at, deployment) VALUES ($1, 'ok', $2, encode($3, 'hex'))`,
			`SELECT count(*) FROM enrichment_log WHERE project_id = $1 AND deployment = encode($3, 'hex') AND $2::timestamptz IS NOT NULL`,
			func(r models.Retention) int { return r.EnrichmentLogDays }},
		{"audit_log", `INSERT INTO audit_log (project_id, action, at, target) VALUES ($1, 'test', $2, encode($3, 'hex'))`,
			`SELECT count(*) FROM audit_log WHERE project_id = $1 AND target = encode($3, 'hex') AND $2::timestamptz IS NOT NULL`,
			func(r models.Retention) int { return r.AuditLogDays }},
	}
	var rows []expiringRow
	for _, name := range []string{"A", "B"} {
		ret := models.Retention{}
		if name == "B" {
			ret = short
		}
		for _, p := range perProject {
			rows = append(rows, expiringRow{table: p.table, project: name, insert: p.insert, count: p.count, at: t0,
				expires: t0.Add(time.Duration(p.days(ret.Effective())) * day)})
		}
	}
	rows = append(rows,
		expiringRow{table: "ingest_stats", project: "A", at: t0, expires: d0.Add(401 * day),
			insert: `INSERT INTO ingest_stats (project_id, day, reason, events) VALUES ($1, ($2::timestamptz)::date, encode($3, 'hex'), 1)`,
			count:  `SELECT count(*) FROM ingest_stats WHERE project_id = $1 AND reason = encode($3, 'hex') AND $2::timestamptz IS NOT NULL`},
		expiringRow{table: "deletion_requests", project: "A", at: t0, expires: t0.Add(730 * day),
			insert: `INSERT INTO deletion_requests (id, project_id, scope, status, created_at, visitor_hash) VALUES (gen_random_uuid(), $1, 'visitor', 'done', $2, $3)`,
			count:  `SELECT count(*) FROM deletion_requests WHERE project_id = $1 AND visitor_hash = $3 AND $2::timestamptz IS NOT NULL`},
		expiringRow{table: "sessions", at: t0.Add(12 * time.Hour), expires: t0.Add(12 * time.Hour),
			insert: `INSERT INTO sessions (hash, user_id, csrf_token, expires_at) VALUES ($3, $1, 'x', $2)`,
			count:  `SELECT count(*) FROM sessions WHERE hash = $3 AND user_id = $1 AND $2::timestamptz IS NOT NULL`},
		expiringRow{table: "login_failures", at: t0, expires: t0.Add(24 * time.Hour),
			insert: `INSERT INTO login_failures (subject, at) SELECT $3, $2 WHERE $1::uuid IS NOT NULL`,
			count:  `SELECT count(*) FROM login_failures WHERE subject = $3 AND $2::timestamptz IS NOT NULL AND $1::uuid IS NOT NULL`},
		expiringRow{table: "invitations", project: "A", at: t0, expires: t0.Add(30 * day),
			insert: `INSERT INTO invitations (project_id, id, role, email_enc, email_index, token_hash, created_at, expires_at)
				VALUES ($1, gen_random_uuid(), 'viewer', '\x00', $3, $3, $2, $2)`,
			count: `SELECT count(*) FROM invitations WHERE project_id = $1 AND token_hash = $3 AND $2::timestamptz IS NOT NULL`},
		expiringRow{table: "password_resets", at: t0.Add(time.Hour), expires: t0.Add(25 * time.Hour),
			insert: `INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($3, $1, $2::timestamptz - interval '1 hour', $2)`,
			count:  `SELECT count(*) FROM password_resets WHERE token_hash = $3 AND user_id = $1 AND $2::timestamptz IS NOT NULL`},
	)
	args := func(i int, r expiringRow) []any {
		owner := u.ID
		if r.project != "" {
			owner = projects[r.project]
		}
		return []any{owner, r.at, []byte(fmt.Sprintf("row-%03d", i))}
	}
	for i, r := range rows {
		if _, err := env.Pool.Exec(ctx, r.insert, args(i, r)...); err != nil {
			t.Fatalf("insert %s/%s: %v", r.table, r.project, err)
		}
	}

	// Step the clock over every expiry, in order.
	var moments []time.Time
	for _, r := range rows {
		moments = append(moments, r.expires.Add(-time.Minute), r.expires.Add(time.Minute))
	}
	sort.Slice(moments, func(i, j int) bool { return moments[i].Before(moments[j]) })
	var clock time.Time
	st.SetClock(func() time.Time { return clock })
	partitionDropped := false
	for _, now := range moments {
		clock = now
		if _, err := st.SweepExpired(ctx, st.Now(), false); err != nil {
			t.Fatalf("sweep at %s: %v", now, err)
		}
		for i, r := range rows {
			var n int
			if err := env.Pool.QueryRow(ctx, r.count, args(i, r)...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			want := 0
			if now.Before(r.expires) {
				want = 1
			}
			if n != want {
				t.Errorf("at t0+%s: %s of project %q: %d rows, want %d (expires t0+%s)", now.Sub(t0), r.table, r.project, n, want, r.expires.Sub(t0))
			}
		}
		exists := partitionExists(t, env.Pool, "events_20260110")
		// The partition ends at d0+1 day and goes once that end is 60 days old.
		wantExists := now.Before(d0.Add(61 * day))
		if exists != wantExists {
			t.Errorf("at t0+%s: partition events_20260110 exists = %v, want %v", now.Sub(t0), exists, wantExists)
		}
		partitionDropped = partitionDropped || !exists
	}
	if !partitionDropped {
		t.Error("the events partition was never dropped")
	}
}

func partitionExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestSweepDryRunAndPartitions checks that a dry run reports what would go without removing
// it, that a real run then drops the old partition whole and reports the same counts, and
// that models beyond the last five versions go with their members and history.
func TestSweepDryRunAndPartitions(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	st := env.Store
	u, _, err := st.EnsureUser(ctx, "dry@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreateProject(ctx, u.ID, "P", []string{"https://p.example"})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	recent := old.Add(50 * day)
	if err := st.EnsurePartitions(ctx, old, old); err != nil {
		t.Fatal(err)
	}
	if err := st.EnsurePartitions(ctx, recent, recent); err != nil {
		t.Fatal(err)
	}
	for i, ts := range []time.Time{old, old.Add(time.Hour), old.Add(2 * time.Hour), recent} {
		if _, err := env.Pool.Exec(ctx, `INSERT INTO events (project_id, ts, visitor_hash, session_hash, type)
			VALUES ($1, $2, $3, $3, 'click')`, p.ID, ts, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for v := 1; v <= 7; v++ {
		if _, err := env.Pool.Exec(ctx, `INSERT INTO persona_models (project_id, version, k, n_visitors, model_enc) VALUES ($1, $2, 2, 1, '\x00')`, p.ID, v); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Pool.Exec(ctx, `INSERT INTO model_members (project_id, model_version, visitor_hash, cluster) VALUES ($1, $2, '\x01', 0)`, p.ID, v); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Pool.Exec(ctx, `INSERT INTO persona_history (project_id, model_version, persona_id, cluster, share, size) VALUES ($1, $2, gen_random_uuid(), 0, 1, 1)`, p.ID, v); err != nil {
			t.Fatal(err)
		}
	}
	now := old.Add(61 * day)
	want := map[string]int64{"events": 3, "events_partitions": 1, "persona_models": 2, "model_members": 2, "persona_history": 2}
	check := func(label string, got map[string]int64) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %d, want %d (all: %v)", label, k, got[k], v, got)
			}
		}
	}
	dry, err := st.SweepExpired(ctx, now, true)
	if err != nil {
		t.Fatal(err)
	}
	check("dry run", dry)
	if !partitionExists(t, env.Pool, "events_20260301") {
		t.Fatal("a dry run dropped a partition")
	}
	var n int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM persona_models WHERE project_id = $1`, p.ID).Scan(&n); err != nil || n != 7 {
		t.Fatalf("after the dry run %d models (%v), want all 7", n, err)
	}
	got, err := st.SweepExpired(ctx, now, false)
	if err != nil {
		t.Fatal(err)
	}
	check("sweep", got)
	if partitionExists(t, env.Pool, "events_20260301") {
		t.Error("the old partition is still there")
	}
	if !partitionExists(t, env.Pool, "events_20260420") {
		t.Error("the recent partition was dropped")
	}
	var versions []int
	rows, _ := env.Pool.Query(ctx, `SELECT version FROM persona_models WHERE project_id = $1 ORDER BY version`, p.ID)
	for rows.Next() {
		var v int
		_ = rows.Scan(&v)
		versions = append(versions, v)
	}
	if fmt.Sprint(versions) != "[3 4 5 6 7]" {
		t.Errorf("versions kept %v, want the last five [3 4 5 6 7]", versions)
	}
	again, err := st.SweepExpired(ctx, now, false)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range again {
		if v != 0 {
			t.Errorf("second sweep removed %d from %s, want nothing left to remove", v, k)
		}
	}
}
