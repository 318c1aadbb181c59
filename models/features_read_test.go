package models_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/models"
)

// TestVisitorFeaturesMany reads aggregates in one query, for one project (classify's usual
// batch) and across projects, and agrees with the one-visitor read; unknown visitors are
// absent.
func TestVisitorFeaturesMany(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	ctx := context.Background()
	u, _, err := e.Store.EnsureUser(ctx, "owner@shop.example", "", false)
	if err != nil {
		t.Fatal(err)
	}
	project := func(name string) uuid.UUID {
		p, err := e.Store.CreateProject(ctx, u.ID, name, []string{"https://shop.example"})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	a, b := project("A"), project("B")
	in := models.NewIngester(e.Store, models.IngesterConfig{}, testLogger())
	ictx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); in.Run(ictx) }()
	t.Cleanup(func() { stop(); <-done })
	// pageViews stores n page views of one session of a visitor through the group commit.
	pageViews := func(projectID uuid.UUID, visitor, session string, n int) {
		t.Helper()
		now := e.Store.Now().UTC().Add(-time.Minute)
		batch := &models.Batch{ProjectID: projectID, Day: now, Dropped: map[string]int64{}}
		for i := range n {
			batch.Events = append(batch.Events, models.Event{ProjectID: projectID, TS: now.Add(time.Duration(i) * time.Millisecond),
				VisitorHash: e.Store.VisitorHash(projectID, visitor), SessionHash: e.Store.VisitorHash(projectID, session),
				Type: "pageview", Path: fmt.Sprintf("/p/%d", i), PathGroup: "/p", Channel: "direct", Device: "desktop"})
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := in.Submit(sctx, batch); err != nil {
			t.Fatalf("ingest: %v", err)
		}
	}
	pageViews(a, "v1", "s1", 1)
	pageViews(a, "v2", "s2", 2)
	pageViews(b, "v1", "s3", 3) // the same visitor id in another project
	key := func(projectID uuid.UUID, visitor string) models.VisitorKey {
		return models.VisitorKey{ProjectID: projectID, VisitorHash: e.Store.VisitorHash(projectID, visitor)}
	}
	cases := []struct {
		name  string
		keys  []models.VisitorKey
		views map[int]int64 // index of a key -> page views; keys not listed are unknown
	}{
		{"one project", []models.VisitorKey{key(a, "v1"), key(a, "v2"), key(a, "nobody")}, map[int]int64{0: 1, 1: 2}},
		{"two projects", []models.VisitorKey{key(a, "v1"), key(b, "v1"), key(b, "v2")}, map[int]int64{0: 1, 1: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := e.Store.VisitorFeaturesMany(ctx, c.keys)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(c.views) {
				t.Errorf("%d rows, want %d", len(rows), len(c.views))
			}
			for i, k := range c.keys {
				got, found := rows[models.VisitorKeyString(k.ProjectID, k.VisitorHash)]
				want, known := c.views[i]
				one, err := e.Store.VisitorFeatures(ctx, k.ProjectID, k.VisitorHash)
				switch {
				case !known:
					if found || !errors.Is(err, models.ErrNotFound) {
						t.Errorf("key %d: found %v (one-visitor read: %v), want unknown", i, found, err)
					}
				case !found || err != nil:
					t.Errorf("key %d: found %v, one-visitor read %v; want both", i, found, err)
				case got.PageViews != want || one.PageViews != want || got.Paths["/p"] != want || got.Visits != 1 || !got.LastSeen.Equal(one.LastSeen):
					t.Errorf("key %d: %d page views, %v paths, %d visits (one-visitor read: %d, %v), want %d", i,
						got.PageViews, got.Paths, got.Visits, one.PageViews, one.LastSeen, want)
				}
			}
		})
	}
}
