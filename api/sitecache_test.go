package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/models"
)

// TestSiteCacheBoundsAndLastKnown: the cache keyed by client-sent site keys never grows past
// its bound (invented keys go first, known projects stay), invalidation keeps the last known
// mapping as stale, and a deleted project's entries go at once.
func TestSiteCacheBoundsAndLastKnown(t *testing.T) {
	t.Parallel()
	sc := newSiteCache(time.Minute)
	sc.max = 100
	known := models.Project{ID: uuid.New(), SiteKey: "pk_known"}
	sc.m["pk_known"] = siteEntry{p: known, at: time.Now()}
	for i := range 1000 {
		sc.mu.Lock()
		if len(sc.m) >= sc.max {
			sc.shrink()
		}
		sc.m[fmt.Sprintf("pk_invented_%d", i)] = siteEntry{err: models.ErrNotFound, at: time.Now()}
		sc.mu.Unlock()
		if len(sc.m) > sc.max {
			t.Fatalf("after %d invented keys the cache holds %d entries, bound %d", i+1, len(sc.m), sc.max)
		}
	}
	if e, ok := sc.m["pk_known"]; !ok || e.p.ID != known.ID {
		t.Fatalf("a known project was pushed out by invented keys")
	}
	sc.invalidate()
	if e := sc.m["pk_known"]; !e.at.IsZero() || e.p.ID != known.ID {
		t.Errorf("invalidated entry: at %v, project %v; want stale and kept as the last known mapping", e.at, e.p.ID)
	}
	sc.forgetProject(known.ID)
	if _, ok := sc.m["pk_known"]; ok {
		t.Error("a deleted project's entry is still cached")
	}
}

// TestSiteCacheInvalidateAfterFailedRefresh: a refresh that failed a moment ago makes the cache
// serve the last known mapping without asking storage again, but a change notification (or a
// listener's resync) that comes after it is proof that storage answers and says the mapping
// changed: the next look-up reads it again. Before, the failure's back-off outlived the
// invalidation, and a model published within the TTL of the last failed read (after a
// PostgreSQL failover) was answered with the old version for up to the TTL (issue 21).
func TestSiteCacheInvalidateAfterFailedRefresh(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	u, _, err := env.Store.EnsureUser(ctx, "sitecache@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.Store.CreateProject(ctx, u.ID, "Before", []string{"https://shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{store: env.Store, sites: newSiteCache(time.Minute)}
	if got, err := s.projectBySiteKey(ctx, p.SiteKey); err != nil || got.Name != "Before" {
		t.Fatalf("first look-up: %q, %v; want Before", got.Name, err)
	}
	if _, err := env.Pool.Exec(ctx, `UPDATE projects SET name = 'After' WHERE id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	s.sites.invalidate()
	// The refresh fails (storage unavailable): the last known mapping answers, and keeps
	// answering without a read while the failure is recent.
	failing, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := s.projectBySiteKey(failing, p.SiteKey); err != nil || got.ID != p.ID || got.Name != "Before" {
		t.Fatalf("look-up while storage fails: %q %v, %v; want the last known mapping", got.Name, got.ID, err)
	}
	if got, err := s.projectBySiteKey(ctx, p.SiteKey); err != nil || got.Name != "Before" {
		t.Fatalf("look-up just after the failure: %q, %v; want the last known mapping, not a read", got.Name, err)
	}
	// A notification arrives: storage answers again, and the mapping changed.
	s.EvictProject("")
	if got, err := s.projectBySiteKey(ctx, p.SiteKey); err != nil || got.Name != "After" {
		t.Errorf("look-up after the invalidation: %q, %v; want After, read again", got.Name, err)
	}
	if got, err := s.projectBySiteKey(ctx, p.SiteKey); err != nil || got.Name != "After" {
		t.Errorf("cached look-up after the read: %q, %v; want After", got.Name, err)
	}
}
