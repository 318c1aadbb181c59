package enrichment

import (
	"sync"
	"time"
)

// Defaults of the circuit breaker.
const (
	defaultBreakerThreshold = 5
	defaultBreakerCooldown  = 60 * time.Second
)

// outcome is what one attempt tells the breaker about the endpoint's health.
type outcome int

const (
	// outcomeSuccess: the endpoint answered (even if the answer was refused or invalid).
	outcomeSuccess outcome = iota
	// outcomeFailure: the endpoint failed (5xx, 429, timeout, transport error, 4xx of configuration).
	outcomeFailure
	// outcomeNeutral: the attempt says nothing about the endpoint (the caller gave up).
	outcomeNeutral
)

type breakerState int

const (
	stateClosed breakerState = iota
	stateOpen
	stateHalfOpen
)

// breaker is a circuit breaker for one endpoint and deployment. Closed, it counts consecutive
// failures; at the threshold it opens and refuses calls for the cool-down; then it lets a single
// probe through (half-open), which closes it on success and reopens it on failure.
type breaker struct {
	clock     clock
	threshold int
	cooldown  time.Duration

	mu       sync.Mutex
	state    breakerState
	failures int
	openedAt time.Time
	probing  bool // a half-open probe is in flight
}

func newBreaker(c clock, threshold int, cooldown time.Duration) *breaker {
	return &breaker{clock: c, threshold: threshold, cooldown: cooldown}
}

// allow reports whether a call may go out now. A true answer must be followed by one record.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateOpen:
		if b.clock.Now().Sub(b.openedAt) < b.cooldown {
			return false
		}
		b.state = stateHalfOpen
		b.probing = true
		return true
	case stateHalfOpen:
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
	return true
}

// record reports the outcome of a call that allow let through.
func (b *breaker) record(o outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == stateHalfOpen {
		b.probing = false
		switch o {
		case outcomeSuccess:
			b.state, b.failures = stateClosed, 0
		case outcomeFailure:
			b.state, b.openedAt = stateOpen, b.clock.Now()
		}
		return
	}
	switch o {
	case outcomeSuccess:
		b.failures = 0
	case outcomeFailure:
		b.failures++
		if b.state == stateClosed && b.failures >= b.threshold {
			b.state, b.openedAt = stateOpen, b.clock.Now()
		}
	}
}
