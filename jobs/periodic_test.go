package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/internal/testenv"
	"personas/jobs/queue"
	"personas/models"
)

// TestEveryPeriodicTaskRuns starts a worker with every periodic task due each second and waits
// until each has run against the real PostgreSQL and done its work: the safety net queued the
// training of a project with enough visitors, the retention sweep removed an expired visitor,
// and both runs are recorded as successes for /metrics and the health page.
func TestEveryPeriodicTaskRuns(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	rdb, _ := testenv.Redis(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	u, _, err := env.Store.EnsureUser(ctx, "periodic@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.Store.CreateProject(ctx, u.ID, "Periodic", []string{"https://shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	insertVisitors := func(n int, seen time.Time, tag string) {
		t.Helper()
		if _, err := env.Pool.Exec(ctx, `INSERT INTO visitor_features (project_id, visitor_hash, visits, pageviews, first_seen, last_seen, last_day, cur_session)
			SELECT $1::uuid, sha256(convert_to($1::uuid::text || $3::text || g::text, 'UTF8')), 1, 1, $2, $2, ($2::timestamptz)::date, '\x00'
			FROM generate_series(1, $4::int) AS g`, p.ID, seen, tag, n); err != nil {
			t.Fatal(err)
		}
	}
	insertVisitors(models.FirstModelVisitors+20, now.Add(-time.Hour), "recent")
	insertVisitors(1, now.AddDate(0, 0, -400), "expired")

	w := NewWorker(rdb, WorkerConfig{PollInterval: 10 * time.Millisecond, ShutdownTimeout: 5 * time.Second}, logger)
	if err := Register(w, Deps{Store: env.Store, Client: queue.NewClient(rdb), Redis: rdb, Logger: logger,
		SafetyNetInterval: time.Second, RetentionInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()

	deadline := time.Now().Add(30 * time.Second)
	var tasks map[string]models.PeriodicTask
	for {
		ts, err := env.Store.PeriodicTasks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tasks = map[string]models.PeriodicTask{}
		done := true
		for _, pt := range ts {
			tasks[pt.Task] = pt
		}
		for _, typ := range queue.PeriodicTaskTypes() {
			done = done && tasks[typ].Successes > 0
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 30 s, not every periodic task succeeded once: %+v", tasks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, typ := range queue.PeriodicTaskTypes() {
		pt := tasks[typ]
		if pt.Failures != 0 || pt.FailingStreak != 0 || pt.FailingSince != nil || pt.LastSuccess == nil ||
			pt.LastSuccess.Before(pt.LastStarted) {
			t.Errorf("%s: %+v, want successes only, the last success after its start", typ, pt)
		}
	}
	runs, err := env.Store.TrainingRuns(ctx, p.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 {
		t.Errorf("the safety net queued no training for a project of %d visitors", models.FirstModelVisitors+20)
	}
	var left int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM visitor_features WHERE project_id = $1 AND last_seen < now() - interval '300 days'`,
		p.ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("the retention sweep left %d visitor(s) last seen 400 days ago", left)
	}
}

// TestPeriodicRunsRecorded checks what a periodic task's failures and successes leave in
// PostgreSQL: failures counted in total and since the last success, with when the streak
// began, and a success that ends the streak but keeps the total.
func TestPeriodicRunsRecorded(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	clock := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	env.Store.SetClock(func() time.Time { return clock })
	fail := true
	r := recorded{store: env.Store, logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		h: asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
			clock = clock.Add(2 * time.Second) // the run takes two seconds
			if fail {
				return errors.New("PostgreSQL went away")
			}
			return nil
		})}
	task := asynq.NewTask(queue.TypeSafetyNet, nil)
	run := func() error {
		err := r.ProcessTask(ctx, task)
		clock = clock.Add(time.Minute - 2*time.Second)
		return err
	}
	get := func() models.PeriodicTask {
		t.Helper()
		ts, err := env.Store.PeriodicTasks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 1 || ts[0].Task != queue.TypeSafetyNet {
			t.Fatalf("periodic tasks %+v, want the safety net alone", ts)
		}
		return ts[0]
	}
	first := clock
	for i := 0; i < 3; i++ {
		if err := run(); err == nil {
			t.Fatal("the wrapper swallowed the task's error")
		}
	}
	pt := get()
	wantSince := first.Add(2 * time.Second)
	if pt.Failures != 3 || pt.FailingStreak != 3 || pt.Successes != 0 || pt.LastSuccess != nil ||
		pt.FailingSince == nil || !pt.FailingSince.Equal(wantSince) || !pt.LastStarted.Equal(first.Add(2*time.Minute)) {
		t.Fatalf("after three failures: %+v, want 3 failures since %s, none succeeded", pt, wantSince)
	}
	fail = false
	if err := run(); err != nil {
		t.Fatal(err)
	}
	pt = get()
	if pt.Failures != 3 || pt.FailingStreak != 0 || pt.FailingSince != nil || pt.Successes != 1 || pt.LastSuccess == nil ||
		!pt.LastSuccess.Equal(first.Add(3*time.Minute+2*time.Second)) {
		t.Fatalf("after a success: %+v, want the streak over, 3 failures in total and the success's time", pt)
	}
	fail = true
	_ = run()
	if pt = get(); pt.FailingStreak != 1 || pt.Failures != 4 || pt.LastFailure == nil || !pt.FailingSince.Equal(*pt.LastFailure) {
		t.Fatalf("after a new failure: %+v, want a streak of one that began with it", pt)
	}
}

// TestSafetyNetQueuesRetrains runs the safety net on a clock of its own: a model eight days old
// and one whose project grew by a quarter are retrained (a run recorded and a training queued
// for each), a model of yesterday without growth is not, and a second run right after queues
// nothing more.
func TestSafetyNetQueuesRetrains(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	rdb, _ := testenv.Redis(t)
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	env.Store.SetClock(func() time.Time { return now })
	u, _, err := env.Store.EnsureUser(ctx, "net@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	project := func(name string, modelAge time.Duration, newVisitors int) uuid.UUID {
		t.Helper()
		p, err := env.Store.CreateProject(ctx, u.ID, name, []string{"https://shop.example"})
		if err != nil {
			t.Fatal(err)
		}
		trained := now.Add(-modelAge)
		for _, q := range []struct {
			n    int
			seen time.Time
			tag  string
		}{{200, trained.Add(-time.Hour), "old"}, {newVisitors, trained.Add(time.Minute), "new"}} {
			if _, err := env.Pool.Exec(ctx, `INSERT INTO visitor_features (project_id, visitor_hash, visits, pageviews, first_seen, last_seen, last_day, cur_session)
				SELECT $1::uuid, sha256(convert_to($1::uuid::text || $3::text || g::text, 'UTF8')), 1, 1, $2, $2, ($2::timestamptz)::date, '\x00'
				FROM generate_series(1, $4::int) AS g`, p.ID, q.seen, q.tag, q.n); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := env.Pool.Exec(ctx, `INSERT INTO persona_models (project_id, version, k, n_visitors, model_enc, trained_at)
			VALUES ($1, 1, 2, 200, '\x00', $2)`, p.ID, trained); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Pool.Exec(ctx, `UPDATE projects SET model_version = 1 WHERE id = $1`, p.ID); err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	weekly := project("weekly", 8*24*time.Hour, 0)
	grown := project("grown", 24*time.Hour, 50)
	steady := project("steady", 24*time.Hour, 10)

	net := &SafetyNet{Store: env.Store, Client: queue.NewClient(rdb), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for i := 0; i < 2; i++ {
		if err := net.ProcessTask(ctx, asynq.NewTask(queue.TypeSafetyNet, nil)); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	for pid, want := range map[uuid.UUID]int{weekly: 1, grown: 1, steady: 0} {
		runs, err := env.Store.TrainingRuns(ctx, pid, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != want || (want == 1 && runs[0].Status != "queued") {
			t.Errorf("project %s: training runs %+v, want %d queued", pid, runs, want)
		}
	}
	pending, err := asynq.NewInspectorFromRedisClient(rdb).ListPendingTasks(queue.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	queued := map[uuid.UUID]bool{}
	for _, task := range pending {
		var p queue.ProjectPayload
		if task.Type != queue.TypeTrainModel || json.Unmarshal(task.Payload, &p) != nil {
			t.Errorf("pending task %s %s, want trainings only", task.Type, task.Payload)
			continue
		}
		queued[p.ProjectID] = true
	}
	if len(pending) != 2 || !queued[weekly] || !queued[grown] {
		t.Errorf("pending trainings %v (%d tasks), want the weekly and the grown project's", queued, len(pending))
	}
}
