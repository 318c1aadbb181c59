package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"personas/internal/residue"
	"personas/internal/testenv"
	"personas/jobs"
	"personas/jobs/queue"
	"personas/models"
	"personas/privacy"
	"personas/receipt"
)

// The cascade's end-to-end tests (every scope against the residue scanner, crypto-shredding of
// backups, erasure reaching the model, the 1M-event benchmark) populate projects through the
// API: they are in internal/e2e/deletion_test.go. The tests here run the handler on the Store.

// newProject creates a user and a project it owns.
func newProject(t *testing.T, st *models.Store, email string) (userID, projectID uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	u, _, err := st.EnsureUser(ctx, email, "correct horse battery staple", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreateProject(ctx, u.ID, "Project of "+email, []string{"https://shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID, p.ID
}

func scanProject(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) residue.Counts {
	t.Helper()
	c, err := residue.Project(context.Background(), pool, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func equalCounts(t *testing.T, what string, got, want residue.Counts) {
	t.Helper()
	for _, k := range append(got.Names(), want.Names()...) {
		if got[k] != want[k] {
			t.Errorf("%s: %s = %d, want %d\n got: %v\nwant: %v", what, k, got[k], want[k], got, want)
			return
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeletionResumesAfterWorkerDies kills the worker in the middle of a project's deletion
// (50,000 events, small batches), starts a new worker, and checks the task finishes with
// counts that add up exactly and nothing of the project left.
func TestDeletionResumesAfterWorkerDies(t *testing.T) {
	t.Parallel()
	const events = 50000
	env := testenv.New(t)
	rdb, _ := testenv.Redis(t)
	signer, err := privacy.NewSigner(env.Secrets.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	client := queue.NewClient(rdb)
	logger := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	owner, a := newProject(t, env.Store, "crash@example.com")
	_, b := newProject(t, env.Store, "bystander@example.com")
	start := time.Now().Add(-3 * 24 * time.Hour).UTC()
	if err := env.Store.EnsurePartitions(ctx, start, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		id uuid.UUID
		n  int
	}{{a, events}, {b, 1000}} {
		if _, err := env.Pool.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"project_id", "ts", "visitor_hash", "session_hash", "type", "path"},
			pgx.CopyFromSlice(p.n, func(i int) ([]any, error) {
				h := []byte(fmt.Sprintf("v%05d", i%700))
				return []any{p.id, start.Add(time.Duration(i) * 4 * time.Second), h, h, "pageview", "/p/:id"}, nil
			})); err != nil {
			t.Fatal(err)
		}
	}
	beforeB := scanProject(t, env.Pool, b)
	// What POST /v1/projects/{id}/deletions does: the row, committed, then its task.
	del, err := env.Store.CreateDeletion(ctx, a, models.ScopeAll, nil, &owner, "api")
	if err != nil {
		t.Fatal(err)
	}
	if err := client.EnqueueDeletion(ctx, del.ID); err != nil {
		t.Fatal(err)
	}
	auditRows := scanProject(t, env.Pool, a)["audit_log"]

	startWorker := func(batch int) *jobs.Worker {
		w := jobs.NewWorker(rdb, jobs.WorkerConfig{PollInterval: 10 * time.Millisecond, ShutdownTimeout: time.Millisecond}, logger)
		w.Handle(queue.TypeDeletion, &jobs.Deleter{Store: env.Store, Redis: rdb, Client: client, Signer: signer,
			Logger: logger, BatchSize: batch})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w1 := startWorker(100)
	eventually(t, 60*time.Second, "the first worker deleted some events", func() bool {
		d, _ := env.Store.Deletion(ctx, del.ID)
		return d.Counts["events"] >= 2000
	})
	w1.Shutdown() // the running cascade's context is cancelled mid-batch loop
	mid, err := env.Store.Deletion(ctx, del.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Status == models.DeletionDone || mid.Counts["events"] >= events {
		t.Fatalf("the worker finished before it was killed (%s, %d events): the test proves nothing", mid.Status, mid.Counts["events"])
	}
	var left int64
	_ = env.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE project_id = $1`, a).Scan(&left)
	if left+mid.Counts["events"] != events {
		t.Fatalf("mid-way: %d events left + %d counted = %d, want %d", left, mid.Counts["events"], left+mid.Counts["events"], events)
	}
	t.Logf("killed with %d of %d events deleted", mid.Counts["events"], events)

	w2 := startWorker(5000)
	defer w2.Shutdown()
	var d models.Deletion
	eventually(t, 120*time.Second, "the new worker finished the deletion", func() bool {
		d, _ = env.Store.Deletion(ctx, del.ID)
		return d.Status == models.DeletionDone
	})
	if d.Counts["events"] != events {
		t.Errorf("events counted %d, want exactly %d", d.Counts["events"], events)
	}
	if d.Counts["audit_log"] != auditRows || d.Counts["projects"] != 1 || d.Counts["memberships"] != 1 {
		t.Errorf("counts %v, want audit_log %d, projects 1, memberships 1", d.Counts, auditRows)
	}
	if left := scanProject(t, env.Pool, a).Left(); len(left) > 0 {
		t.Errorf("rows of the deleted project left: %v", left)
	}
	equalCounts(t, "the other project", scanProject(t, env.Pool, b), beforeB)
	doc, err := json.Marshal(receipt.Document(d, signer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := receipt.Verify(doc, signer.PublicKey()); err != nil {
		t.Errorf("receipt after resume: %v", err)
	}
}
