package classify

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/models"
)

func hashOf(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// TestVisitorCache: a cached visitor is served until its TTL, an invalidation drops it, a read
// that raced with an invalidation of its shard is not cached, whole projects are dropped at once,
// and the cache never holds more than its bound.
func TestVisitorCache(t *testing.T) {
	p, q := uuid.New(), uuid.New()
	f := &models.VisitorFeatures{Visits: 3}
	c := newVisitorCache(64*4, time.Hour)

	_, gen, ok := c.get(p, hashOf(1))
	if ok {
		t.Fatal("an empty cache served a visitor")
	}
	c.put(p, hashOf(1), f, gen)
	if got, _, ok := c.get(p, hashOf(1)); !ok || got != f {
		t.Fatalf("after put: %v %v", got, ok)
	}
	if _, _, ok := c.get(q, hashOf(1)); ok {
		t.Error("the same hash in another project was served")
	}

	c.invalidate(p, hashOf(1))
	if _, _, ok := c.get(p, hashOf(1)); ok {
		t.Error("served after invalidate")
	}

	// A read started before an invalidation of its shard (the ingest of another visitor hashed
	// to the same shard, or of this one) is not cached: it may predate the change.
	_, gen, _ = c.get(p, hashOf(1))
	c.invalidate(p, hashOf(1))
	c.put(p, hashOf(1), f, gen)
	if _, _, ok := c.get(p, hashOf(1)); ok {
		t.Error("a read that raced with an invalidation was cached")
	}

	// Whole projects.
	for _, pr := range []uuid.UUID{p, q} {
		_, gen, _ := c.get(pr, hashOf(2))
		c.put(pr, hashOf(2), f, gen)
	}
	c.invalidateProject(p)
	if _, _, ok := c.get(p, hashOf(2)); ok {
		t.Error("project p's visitor served after invalidateProject(p)")
	}
	if _, _, ok := c.get(q, hashOf(2)); !ok {
		t.Error("project q's visitor dropped by invalidateProject(p)")
	}
	c.invalidateProject(uuid.Nil)
	if _, _, ok := c.get(q, hashOf(2)); ok {
		t.Error("served after invalidateProject(uuid.Nil)")
	}

	// The bound: 4 per shard; hashes of one first byte share a shard.
	for i := range 10 {
		h := hashOf(5)
		h[31] = byte(i)
		_, gen, _ := c.get(p, h)
		c.put(p, h, f, gen)
		if n := len(c.shards[5].m); n > 4 {
			t.Fatalf("%d visitors in a shard bounded at 4", n)
		}
	}

	// The TTL, and hashes of another size are never cached.
	short := newVisitorCache(64, 10*time.Millisecond)
	_, gen, _ = short.get(p, hashOf(3))
	short.put(p, hashOf(3), f, gen)
	time.Sleep(20 * time.Millisecond) // the TTL under test
	if _, _, ok := short.get(p, hashOf(3)); ok {
		t.Error("served past its TTL")
	}
	short.put(p, []byte("short"), f, 0)
	if _, _, ok := short.get(p, []byte("short")); ok {
		t.Error("a hash of 5 bytes was cached")
	}
}

// TestCloneFeatures: events applied to a clone leave the original (shared, cached) untouched.
func TestCloneFeatures(t *testing.T) {
	f := &models.VisitorFeatures{Visits: 1, PageViews: 1, Paths: map[string]int64{"/": 1}, Channels: map[string]int64{"direct": 1}}
	c := cloneFeatures(f)
	c.Apply(&models.Event{TS: time.Now(), Type: "pageview", Path: "/cart", PathGroup: "/cart", SessionHash: []byte("s2"), Channel: "search", Device: "mobile"})
	if f.PageViews != 1 || len(f.Paths) != 1 || len(f.Channels) != 1 || f.Devices != nil {
		t.Errorf("original changed: %+v", f)
	}
	if c.PageViews != 2 || c.Paths["/cart"] != 1 {
		t.Errorf("clone: %+v, want the page view applied", c)
	}
}
