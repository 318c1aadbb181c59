package models_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/models"
	"personas/privacy"
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ingestClick stores one click with element text and attributes for a visitor through the
// real group commit, so its columns are sealed as in production.
func ingestClick(t *testing.T, st *models.Store, projectID uuid.UUID, visitorID, text string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := models.NewIngester(st, models.IngesterConfig{}, testLogger())
	done := make(chan struct{})
	go func() { defer close(done); in.Run(ctx) }()
	defer func() { cancel(); <-done }()
	now := st.Now().UTC()
	b := &models.Batch{ProjectID: projectID, Day: now, Dropped: map[string]int64{}, Events: []models.Event{{
		ProjectID: projectID, TS: now, VisitorHash: st.VisitorHash(projectID, visitorID),
		SessionHash: st.VisitorHash(projectID, "session-"+visitorID), Type: "click", Path: "/p/:id", PathGroup: "/p/:id",
		Channel: "direct", Device: "desktop", ElTag: "button", ElCategory: "cta", ElText: text,
		ElAttrs: map[string]string{"aria-label": text},
	}}}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := in.Submit(sctx, b); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

func elementText(t *testing.T, st *models.Store, projectID uuid.UUID, visitorID string) (string, error) {
	t.Helper()
	exp, err := st.ExportVisitor(context.Background(), projectID, st.VisitorHash(projectID, visitorID))
	if err != nil {
		return "", err
	}
	if len(exp.Events) != 1 {
		t.Fatalf("export of %s: %d events, want 1", visitorID, len(exp.Events))
	}
	return exp.Events[0].ElText, nil
}

// TestEmailCiphertextBoundToItsRow: a user's sealed email moved to another user's row does not
// open, and the stored bytes hold neither the email nor anything that reveals it.
func TestEmailCiphertextBoundToItsRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := testenv.New(t)
	a, _, err := e.Store.EnsureUser(ctx, "alice@swap.example", "", false)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := e.Store.EnsureUser(ctx, "bob@swap.example", "", false)
	if err != nil {
		t.Fatal(err)
	}
	var encA []byte
	if err := e.Pool.QueryRow(ctx, `SELECT email_enc FROM users WHERE id = $1`, a.ID).Scan(&encA); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(encA, []byte("alice")) {
		t.Fatal("email_enc holds the email in the clear")
	}
	if _, err := e.Pool.Exec(ctx, `
		UPDATE users u SET email_enc = o.email_enc FROM users o
		WHERE (u.id, o.id) IN (($1::uuid, $2::uuid), ($2::uuid, $1::uuid))`, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uuid.UUID{a.ID, b.ID} {
		u, err := e.Store.User(ctx, id)
		if !errors.Is(err, privacy.ErrDecrypt) {
			t.Errorf("user %s after swapping emails: %+v, %v; want privacy.ErrDecrypt", id, u, err)
		}
	}
	if u, err := e.Store.UserByEmail(ctx, "alice@swap.example"); !errors.Is(err, privacy.ErrDecrypt) {
		t.Errorf("look-up by email after the swap: %+v, %v; want privacy.ErrDecrypt", u, err)
	}
	// Swapped back, both open again: the rows were bound, not damaged.
	if _, err := e.Pool.Exec(ctx, `
		UPDATE users u SET email_enc = o.email_enc FROM users o
		WHERE (u.id, o.id) IN (($1::uuid, $2::uuid), ($2::uuid, $1::uuid))`, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if u, err := e.Store.User(ctx, a.ID); err != nil || u.Email != "alice@swap.example" {
		t.Errorf("after swapping back: %+v, %v", u, err)
	}
}

// TestProjectCiphertextBoundToItsProject: a project's business context or event text moved to
// another project, or to another column of the same project, does not open.
func TestProjectCiphertextBoundToItsProject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := testenv.New(t)
	owner, _, err := e.Store.EnsureUser(ctx, "owner@swap.example", "", false)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := e.Store.CreateProject(ctx, owner.ID, "A", []string{"https://a.example"})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := e.Store.CreateProject(ctx, owner.ID, "B", []string{"https://b.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []models.Project{pa, pb} {
		if err := e.Store.SetBusinessContext(ctx, p.ID, owner.ID, models.BusinessContext{Goals: "goals of " + p.Name}); err != nil {
			t.Fatal(err)
		}
		ingestClick(t, e.Store, p.ID, "visitor-"+p.Name, "Buy "+p.Name)
	}
	if got, err := elementText(t, e.Store, pa.ID, "visitor-A"); err != nil || got != "Buy A" {
		t.Fatalf("element text before the swap: %q, %v", got, err)
	}

	swap := func(table, column string) {
		t.Helper()
		if _, err := e.Pool.Exec(ctx, `UPDATE `+table+` x SET `+column+` = o.`+column+` FROM `+table+` o
			WHERE (x.project_id, o.project_id) IN (($1::uuid, $2::uuid), ($2::uuid, $1::uuid))`, pa.ID, pb.ID); err != nil {
			t.Fatalf("swap %s.%s: %v", table, column, err)
		}
	}
	swap("business_context", "context_enc")
	for _, p := range []models.Project{pa, pb} {
		if bc, err := e.Store.GetBusinessContext(ctx, p.ID); !errors.Is(err, privacy.ErrDecrypt) {
			t.Errorf("business context of %s after the swap: %+v, %v; want privacy.ErrDecrypt", p.Name, bc, err)
		}
	}
	swap("events", "el_text_enc")
	for _, p := range []models.Project{pa, pb} {
		if got, err := elementText(t, e.Store, p.ID, "visitor-"+p.Name); !errors.Is(err, privacy.ErrDecrypt) {
			t.Errorf("element text of %s after the swap: %q, %v; want privacy.ErrDecrypt", p.Name, got, err)
		}
	}
	swap("events", "el_text_enc") // back
	if got, err := elementText(t, e.Store, pa.ID, "visitor-A"); err != nil || got != "Buy A" {
		t.Fatalf("element text after swapping back: %q, %v", got, err)
	}
	// Same project, another column: the column is part of the associated data.
	if _, err := e.Pool.Exec(ctx, `UPDATE events SET el_text_enc = el_attrs_enc WHERE project_id = $1`, pa.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := elementText(t, e.Store, pa.ID, "visitor-A"); !errors.Is(err, privacy.ErrDecrypt) {
		t.Errorf("attributes ciphertext read as text: %q, %v; want privacy.ErrDecrypt", got, err)
	}
}
