package models_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"personas/internal/testserver"
	"personas/models"
)

// TestVisitorFeaturesMany reads aggregates in one query, for one project (classify's usual
// batch) and across projects, and agrees with the one-visitor read; unknown visitors are
// absent.
func TestVisitorFeaturesMany(t *testing.T) {
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "a@shop.example", false)
	b := srv.NewAccount(t, "b@shop.example", false)
	now := time.Now().Add(-time.Minute).UnixMilli()
	events := func(n int) []map[string]any {
		var evs []map[string]any
		for i := range n {
			evs = append(evs, map[string]any{"type": "pageview", "ts": now + int64(i), "url": fmt.Sprintf("%s/p/%d", testserver.Origin, i)})
		}
		return evs
	}
	srv.Collect(t, a.SiteKey, "v1", "s1", events(1))
	srv.Collect(t, a.SiteKey, "v2", "s2", events(2))
	srv.Collect(t, b.SiteKey, "v1", "s3", events(3)) // the same visitor id in another project
	ctx := context.Background()
	key := func(acct testserver.Account, visitor string) models.VisitorKey {
		return models.VisitorKey{ProjectID: acct.ProjectID, VisitorHash: srv.Store.VisitorHash(acct.ProjectID, visitor)}
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
			rows, err := srv.Store.VisitorFeaturesMany(ctx, c.keys)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(c.views) {
				t.Errorf("%d rows, want %d", len(rows), len(c.views))
			}
			for i, k := range c.keys {
				got, found := rows[models.VisitorKeyString(k.ProjectID, k.VisitorHash)]
				want, known := c.views[i]
				one, err := srv.Store.VisitorFeatures(ctx, k.ProjectID, k.VisitorHash)
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
