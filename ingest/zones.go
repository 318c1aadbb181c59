package ingest

import (
	"strings"
	"sync"
	"time"
)

// zones caches the time zones the browsers and imports named. Only real zones are cached, so
// its size is bounded by the zone database (about 600 names) and, to be sure, by maxZones; a
// name that is not a zone costs one failed lookup and is never stored. The zone database does
// not change while the process runs, so one cache serves every project.
var zones = &zoneCache{m: map[string]*time.Location{}}

const maxZones = 1024

type zoneCache struct {
	mu sync.RWMutex
	m  map[string]*time.Location
}

// loadTZ is the zone a browser named in context.tz, UTC when it is empty or not a zone.
func loadTZ(name string) *time.Location {
	if name == "" || name == "Local" || !zoneName(name) {
		return time.UTC
	}
	zones.mu.RLock()
	l, ok := zones.m[name]
	zones.mu.RUnlock()
	if ok {
		return l
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	zones.mu.Lock()
	if len(zones.m) < maxZones {
		zones.m[name] = l
	}
	zones.mu.Unlock()
	return l
}

// zoneName reports whether s looks like an IANA zone name ("Europe/Paris", "UTC",
// "America/Argentina/Buenos_Aires", "Etc/GMT+5"): short, of letters, digits and _+-, in
// slash-separated parts, never a path outside the zone database.
func zoneName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" || part[0] == '-' || part[0] == '+' {
			return false
		}
		for _, r := range part {
			if !(r == '_' || r == '-' || r == '+' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
				return false
			}
		}
	}
	return true
}

// zoneCount is how many zones are cached.
func zoneCount() int {
	zones.mu.RLock()
	defer zones.mu.RUnlock()
	return len(zones.m)
}
