package api

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"golang.org/x/time/rate"
)

// maxLimiterKeys bounds each limiter map: its keys come from clients (addresses, site keys).
// Past the bound an arbitrary entry makes room, which at worst hands one key a fresh bucket.
const maxLimiterKeys = 50000

// Failed bearer token checks per client (Config.TokenFailures): a burst of 20, then one a second. A client past it
// is refused before the token is even looked up, so guessing tokens costs the guesser time and
// the database nothing.
const (
	tokenFailuresPerSecond = 1
	tokenFailureBurst      = 20 // seconds' worth
)

// entry is key's bucket, made if needed; idle buckets are swept once a minute. l.mu is held.
func (l *limiters) entry(key string, now time.Time) *limiterEntry {
	if now.Sub(l.swept) > time.Minute {
		for k, e := range l.m {
			if now.Sub(e.seen) > time.Minute {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	e, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxLimiterKeys {
			for k := range l.m {
				delete(l.m, k)
				break
			}
		}
		e = &limiterEntry{l: rate.NewLimiter(l.rate, l.burst)}
		l.m[key] = e
	}
	e.seen = now
	return e
}

// exhausted reports whether key has used up its bucket, without taking from it, and how long
// until it may try again.
func (l *limiters) exhausted(key string) (bool, time.Duration) {
	if l.rate <= 0 {
		return false, 0
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[key]
	if !ok || e.l.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - e.l.TokensAt(now)) / float64(l.rate) * float64(time.Second))
}

// take counts one event (a failure) against key's bucket.
func (l *limiters) take(key string) {
	if l.rate <= 0 {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entry(key, now).l.AllowN(now, 1)
}

// size is how many keys the limiter tracks.
func (l *limiters) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// retryAfter formats a wait as the Retry-After header's whole seconds (at least 1).
func retryAfter(d time.Duration) string { return strconv.Itoa(int(d/time.Second) + 1) }

var errTokenGuessing = errStatus(http.StatusTooManyRequests, "rate_limited", "too many failed token checks from this address; wait before trying again")

// clientKey is the key of the client's per-client limits: its address (ClientIP, which honours
// PERSONAS_TRUSTED_PROXIES), or for IPv6 the /64 it belongs to, since one subscriber commonly
// holds a whole /64 and could otherwise take a fresh bucket per address.
func clientKey(c *gin.Context) string {
	ip := c.ClientIP()
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
