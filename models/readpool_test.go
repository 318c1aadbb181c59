package models_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/models"
)

// TestReportsReadTheReadPool: with a read pool, IngestStats and PersonaTransitions read it (a
// second database stands in for the standby, holding other counters than the primary), the
// rest reads the primary, and a read pool that cannot be reached falls back to the primary.
func TestReportsReadTheReadPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary := testenv.New(t)
	standbyURL, _ := testenv.Databases(t)
	standby := testenv.Pool(t, standbyURL)
	project := uuid.New()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for _, db := range []struct {
		exec   func(context.Context, string, ...any) error
		events int
	}{
		{func(ctx context.Context, q string, a ...any) error {
			_, err := primary.Pool.Exec(ctx, q, a...)
			return err
		}, 7},
		{func(ctx context.Context, q string, a ...any) error { _, err := standby.Exec(ctx, q, a...); return err }, 5},
	} {
		if err := db.exec(ctx, `INSERT INTO ingest_stats (project_id, day, reason, events) VALUES ($1, $2, 'stored', $3)`, project, day, db.events); err != nil {
			t.Fatal(err)
		}
	}
	events := func(s *models.Store) int64 {
		t.Helper()
		st, err := s.IngestStats(ctx, project, day, day)
		if err != nil || len(st) != 1 {
			t.Fatalf("IngestStats: %+v (%v), want one row", st, err)
		}
		return st[0].Events
	}
	if got := events(primary.Store); got != 7 {
		t.Errorf("without a read pool: %d events, want the primary's 7", got)
	}

	withRead := models.NewStore(primary.Pool, primary.Keys, primary.Keyring, primary.Index)
	withRead.SetReadPool(standby)
	if got := events(withRead); got != 5 {
		t.Errorf("with a read pool: %d events, want the standby's 5", got)
	}
	if withRead.ReadPool() != standby || withRead.Pool() != primary.Pool {
		t.Error("ReadPool/Pool do not name the standby and the primary")
	}
	if ts, err := withRead.PersonaTransitions(ctx, project, 1, 2, []uuid.UUID{uuid.New()}); err != nil || len(ts) != 0 {
		t.Errorf("PersonaTransitions on the read pool: %v (%v), want none", ts, err)
	}
	// Writes and everything but the two reports stay on the primary: a project created through
	// the read-pool store exists in the primary only.
	u, _, err := withRead.EnsureUser(ctx, "owner@example.com", "correct horse battery staple", false)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := standby.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the standby stand-in got %d users (%v), want none", n, err)
	}
	if err := primary.Pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE id = $1`, u.ID).Scan(&n); err != nil || n != 1 {
		t.Errorf("the primary has %d of the user (%v), want 1", n, err)
	}

	// A standby that is down: the report answers from the primary.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	down := models.NewStore(primary.Pool, primary.Keys, primary.Keyring, primary.Index)
	down.SetReadPool(testenv.Pool(t, "postgres://postgres@"+closed+"/personas?sslmode=disable&connect_timeout=2"))
	if got := events(down); got != 7 {
		t.Errorf("with the read pool down: %d events, want the primary's 7", got)
	}
}
