package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/models"
)

// TestProjectsDueForTraining builds one project per case on a fixed clock and checks which the
// safety net would train: first models from 100 visitors, weekly retrains, retrains after 20 %
// growth, and the projects it must leave alone.
func TestProjectsDueForTraining(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	st := env.Store
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return now })
	u, _, err := st.EnsureUser(ctx, "due@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		status string
		age    time.Duration
	}
	tests := []struct {
		name string
		// visitors seen before the model (or at all, without one), and after it
		visitors, newVisitors int
		idle                  int            // visitors with no visit (their rows hold only a goal or a click)
		model                 *time.Duration // age of the current model, nil: none
		runs                  []run
		deleted               bool
		want                  bool
	}{
		{name: "new project, 99 visitors", visitors: models.FirstModelVisitors - 1, want: false},
		{name: "new project, 100 visitors", visitors: models.FirstModelVisitors, want: true},
		{name: "new project, 250 visitors", visitors: 250, want: true},
		{name: "new project, 99 visitors and 5 without a visit", visitors: 99, idle: 5, want: false},
		{name: "model 6 days old", visitors: 200, model: ptr(6 * 24 * time.Hour), want: false},
		{name: "model 8 days old", visitors: 200, model: ptr(8 * 24 * time.Hour), want: true},
		{name: "19 % growth", visitors: 200, newVisitors: 38, model: ptr(24 * time.Hour), want: false},
		{name: "21 % growth", visitors: 200, newVisitors: 42, model: ptr(24 * time.Hour), want: true},
		{name: "21 % growth, training queued", visitors: 200, newVisitors: 42, model: ptr(24 * time.Hour),
			runs: []run{{"queued", 3 * time.Minute}}, want: false},
		{name: "first model, training queued", visitors: 150, runs: []run{{"queued", 10 * time.Minute}}, want: false},
		{name: "first model, training running", visitors: 150, runs: []run{{"running", 70 * time.Minute}}, want: false},
		{name: "first model, training queued 3 hours ago (lost)", visitors: 150, runs: []run{{"queued", 3 * time.Hour}}, want: true},
		{name: "first model, skipped 20 minutes ago", visitors: 150, runs: []run{{"skipped", 20 * time.Minute}}, want: false},
		{name: "first model, failed 2 hours ago", visitors: 150, runs: []run{{"failed", 2 * time.Hour}}, want: true},
		{name: "21 % growth within the hour after a training", visitors: 200, newVisitors: 42, model: ptr(30 * time.Minute),
			runs: []run{{"published", 30 * time.Minute}}, want: false},
		{name: "deleted project", visitors: 300, deleted: true, want: false},
		{name: "deleted project with an old model", visitors: 300, model: ptr(30 * 24 * time.Hour), deleted: true, want: false},
	}
	var want []uuid.UUID
	names := map[uuid.UUID]string{}
	for i, tt := range tests {
		p, err := st.CreateProject(ctx, u.ID, fmt.Sprintf("P%d", i), []string{"https://shop.example"})
		if err != nil {
			t.Fatal(err)
		}
		names[p.ID] = tt.name
		if tt.want {
			want = append(want, p.ID)
		}
		trained := now.Add(-365 * 24 * time.Hour)
		if tt.model != nil {
			trained = now.Add(-*tt.model)
		}
		addVisitors(t, env, p.ID, tt.visitors, 1, trained.Add(-time.Hour), "old")
		addVisitors(t, env, p.ID, tt.newVisitors, 1, trained.Add(time.Minute), "new")
		addVisitors(t, env, p.ID, tt.idle, 0, trained.Add(-time.Hour), "idle")
		if tt.model != nil {
			sqlExec(t, env, `INSERT INTO persona_models (project_id, version, k, n_visitors, model_enc, trained_at)
				VALUES ($1, 1, 3, $2, '\x00', $3)`, p.ID, tt.visitors, trained)
			sqlExec(t, env, `UPDATE projects SET model_version = 1 WHERE id = $1`, p.ID)
		}
		for _, r := range tt.runs {
			sqlExec(t, env, `INSERT INTO training_runs (project_id, id, status, created_at) VALUES ($1, $2, $3, $4)`,
				p.ID, uuid.New(), r.status, now.Add(-r.age))
		}
		if tt.deleted {
			sqlExec(t, env, `UPDATE projects SET site_key = 'deleted_' || id::text WHERE id = $1`, p.ID)
		}
	}
	got, err := st.ProjectsDueForTraining(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	label := func(ids []uuid.UUID) map[string]bool {
		out := map[string]bool{}
		for _, id := range ids {
			out[names[id]] = true
		}
		return out
	}
	if diff := cmp.Diff(label(want), label(got)); diff != "" {
		t.Errorf("projects due for training at %s (-want +got):\n%s", now.Format(time.RFC3339), diff)
	}
	// Eight days later: the clock is the argument, not the database's.
	later, err := st.ProjectsDueForTraining(ctx, now.Add(8*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"model 6 days old", "19 % growth", "first model, skipped 20 minutes ago"} {
		if !label(later)[name] {
			t.Errorf("8 days later, %q is not due", name)
		}
	}
	for _, name := range []string{"new project, 99 visitors", "deleted project"} {
		if label(later)[name] {
			t.Errorf("8 days later, %q is due", name)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// addVisitors inserts n visitors with the given visits, first seen at seen.
func addVisitors(t *testing.T, env *testenv.Env, projectID uuid.UUID, n, visits int, seen time.Time, tag string) {
	t.Helper()
	if n == 0 {
		return
	}
	sqlExec(t, env, `INSERT INTO visitor_features (project_id, visitor_hash, visits, pageviews, first_seen, last_seen, last_day, cur_session)
		SELECT $1::uuid, sha256(convert_to($1::uuid::text || $4::text || g::text, 'UTF8')), $3, $3, $2, $2, ($2::timestamptz)::date, '\x00'
		FROM generate_series(1, $5::int) AS g`, projectID, seen, visits, tag, n)
}

func sqlExec(t *testing.T, env *testenv.Env, sql string, args ...any) {
	t.Helper()
	if _, err := env.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// BenchmarkProjectsDueForTraining measures the safety net's query on its worst case: one project
// of 200,000 visitors whose model is a day old with 10 % new visitors since, so that the growth
// count reads every row of the project without reaching its limit.
func BenchmarkProjectsDueForTraining(b *testing.B) {
	env := testenv.New(b)
	ctx := context.Background()
	st := env.Store
	u, _, err := st.EnsureUser(ctx, "bench@example.com", "", false)
	if err != nil {
		b.Fatal(err)
	}
	p, err := st.CreateProject(ctx, u.ID, "Big", []string{"https://shop.example"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	trained := now.Add(-24 * time.Hour)
	const visitors = 200000
	for _, q := range []struct {
		n    int
		seen time.Time
		tag  string
	}{{visitors * 10 / 11, trained.Add(-time.Hour), "old"}, {visitors / 11, trained.Add(time.Minute), "new"}} {
		if _, err := env.Pool.Exec(ctx, `INSERT INTO visitor_features (project_id, visitor_hash, visits, pageviews, first_seen, last_seen, last_day, cur_session, paths)
			SELECT $1::uuid, sha256(convert_to($1::uuid::text || $3::text || g::text, 'UTF8')), 1, 3, $2, $2, ($2::timestamptz)::date, '\x00',
				'{"/p": 2, "/blog": 1}'::jsonb
			FROM generate_series(1, $4::int) AS g`, p.ID, q.seen, q.tag, q.n); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := env.Pool.Exec(ctx, `INSERT INTO persona_models (project_id, version, k, n_visitors, model_enc, trained_at)
		VALUES ($1, 1, 3, $2, '\x00', $3)`, p.ID, visitors*10/11, trained); err != nil {
		b.Fatal(err)
	}
	if _, err := env.Pool.Exec(ctx, `UPDATE projects SET model_version = 1 WHERE id = $1`, p.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := env.Pool.Exec(ctx, `ANALYZE visitor_features`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		due, err := st.ProjectsDueForTraining(ctx, now)
		if err != nil || len(due) != 0 {
			b.Fatalf("due %v, %v: want none (11 %% growth)", due, err)
		}
	}
}
