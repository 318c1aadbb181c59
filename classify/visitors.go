package classify

import (
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"personas/models"
)

// visitorCache keeps visitors' aggregates for a short while, so that a visitor classified
// again (another page element asking, a reload) costs no PostgreSQL read. It is keyed by client
// input (the visitor id's hash), so it is bounded: a shard that fills up is cleared.
//
// It is never staler than the store for what this instance changed: ingest and erasures
// invalidate their visitors before they are acknowledged (Service.Changed, Service.Forget), and
// a read that raced with an invalidation of its shard is not cached (the shard's generation
// moved). Changes made elsewhere (another instance's ingest) are seen after at most ttl (the
// freshness every instance keeps for publications and deletions, and the collector asks again
// at most once a minute, with its unsent events inline); a
// visitor erasure, a deleted project or a reconnected listener drops whole projects or
// everything at once.
type visitorCache struct {
	ttl    time.Duration
	max    int // per shard
	shards [visitorShards]visitorShard
}

const visitorShards = 64

type visitorShard struct {
	mu  sync.Mutex
	gen uint64 // moves at every invalidation
	m   map[visitorKey]visitorEntry
}

// visitorKey is a project id and a visitor hash (HMAC-SHA-256); other hash sizes are not cached.
type visitorKey [16 + 32]byte

type visitorEntry struct {
	f       *models.VisitorFeatures
	expires time.Time
}

func newVisitorCache(size int, ttl time.Duration) *visitorCache {
	c := &visitorCache{ttl: ttl, max: max(1, size/visitorShards)}
	for i := range c.shards {
		c.shards[i].m = map[visitorKey]visitorEntry{}
	}
	return c
}

func makeVisitorKey(projectID uuid.UUID, hash []byte) (k visitorKey, ok bool) {
	if len(hash) != 32 {
		return k, false
	}
	copy(k[:16], projectID[:])
	copy(k[16:], hash)
	return k, true
}

func (c *visitorCache) shard(k *visitorKey) *visitorShard {
	return &c.shards[int(k[16])%visitorShards] // the hash's first byte: uniform
}

// get returns the visitor's cached aggregates, or the shard's generation to put a fresh read
// under.
func (c *visitorCache) get(projectID uuid.UUID, hash []byte) (f *models.VisitorFeatures, gen uint64, ok bool) {
	k, ok := makeVisitorKey(projectID, hash)
	if !ok {
		return nil, 0, false
	}
	sh := c.shard(&k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, found := sh.m[k]; found && time.Now().Before(e.expires) {
		return e.f, 0, true
	}
	return nil, sh.gen, false
}

// put caches a read that started when the shard was at generation gen, unless the shard was
// invalidated since.
func (c *visitorCache) put(projectID uuid.UUID, hash []byte, f *models.VisitorFeatures, gen uint64) {
	k, ok := makeVisitorKey(projectID, hash)
	if !ok {
		return
	}
	sh := c.shard(&k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	if len(sh.m) >= c.max {
		clear(sh.m)
	}
	// Each entry lives between 3/4 of the TTL and the TTL: visitors cached together (a burst, a
	// reconnect) do not all expire, and wait for PostgreSQL, at the same moment.
	life := c.ttl - time.Duration(rand.Int64N(int64(c.ttl)/4+1))
	sh.m[k] = visitorEntry{f: f, expires: time.Now().Add(life)}
}

// invalidate drops one visitor.
func (c *visitorCache) invalidate(projectID uuid.UUID, hash []byte) {
	k, ok := makeVisitorKey(projectID, hash)
	if !ok {
		return
	}
	sh := c.shard(&k)
	sh.mu.Lock()
	delete(sh.m, k)
	sh.gen++
	sh.mu.Unlock()
}

// invalidateProject drops a project's visitors, or every project's with uuid.Nil.
func (c *visitorCache) invalidateProject(projectID uuid.UUID) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		if projectID == uuid.Nil {
			clear(sh.m)
		} else {
			for k := range sh.m {
				if uuid.UUID(k[:16]) == projectID {
					delete(sh.m, k)
				}
			}
		}
		sh.gen++
		sh.mu.Unlock()
	}
}

// cloneFeatures copies aggregates deeply enough to apply events to the copy.
func cloneFeatures(f *models.VisitorFeatures) *models.VisitorFeatures {
	c := *f
	c.VisitorHash = slices.Clone(f.VisitorHash)
	c.CurSession = slices.Clone(f.CurSession)
	c.Paths, c.Elements, c.Channels = maps.Clone(f.Paths), maps.Clone(f.Elements), maps.Clone(f.Channels)
	c.Devices, c.GoalNames = maps.Clone(f.Devices), maps.Clone(f.GoalNames)
	return &c
}
