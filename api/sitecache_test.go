package api

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

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
