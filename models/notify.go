package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// NotifyChannel is the PostgreSQL channel on which instances tell each other to drop caches.
const NotifyChannel = "personas_changes"

// Change kinds sent on NotifyChannel.
const (
	ChangeModelPublished  = "model_published"
	ChangeProjectChanged  = "project_changed"
	ChangeProjectDeleted  = "project_deleted"
	ChangePersonasDeleted = "personas_deleted"
	ChangeVisitorDeleted  = "visitor_deleted"
	// ChangeKeysRotated tells instances to reload a project's data keys: a new generation seals
	// from now on, and older ones are about to be destroyed.
	ChangeKeysRotated = "keys_rotated"
)

// Change is one notification. It carries ids only.
type Change struct {
	Kind      string    `json:"kind"`
	ProjectID uuid.UUID `json:"project_id"`
	SiteKey   string    `json:"site_key,omitempty"`
	Version   int       `json:"version,omitempty"`
}

// Notify sends a change to every instance listening (including this one).
func (s *Store) Notify(ctx context.Context, c Change) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `/* Store.Notify */ SELECT pg_notify($1, $2)`, NotifyChannel, string(b)); err != nil {
		return fmt.Errorf("notify %s: %w", c.Kind, translate(err))
	}
	return nil
}

// DefaultListenHeartbeat is how long Listen waits for a notification before it checks, with a
// query, that its server still answers: a primary whose machine died sends no FIN, and TCP
// keep-alive alone would notice only minutes later. A failover then costs the listener at most
// this plus listenPingTimeout before it reconnects to the new primary.
const DefaultListenHeartbeat = 10 * time.Second

// SetListenHeartbeat changes how often an idle Listen checks its connection (tests).
func (s *Store) SetListenHeartbeat(d time.Duration) {
	s.mu.Lock()
	s.listenHeartbeat = d
	s.mu.Unlock()
}

func (s *Store) heartbeat() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listenHeartbeat <= 0 {
		return DefaultListenHeartbeat
	}
	return s.listenHeartbeat
}

const listenPingTimeout = 3 * time.Second

// Listen LISTENs on channel on a connection of its own (taken from the pool) and calls fn with
// each notification's payload, in order, until ctx ends or the connection fails. It returns
// once the connection is lost (the error says why) or ctx is done (ctx's error); onListening,
// when not nil, is called once LISTEN took effect, before the first payload, so that a caller
// can drop what it may have missed. A connection that failed is closed, never reused. After
// every heartbeat (DefaultListenHeartbeat) without a notification the connection is pinged, so
// that a server that went away silently is noticed (a notification that arrives during the
// ping is kept by pgx for the next wait). A pool on a multi-host URL with
// target_session_attrs=read-write gives the next call a connection to the new primary after a
// failover.
func (s *Store) Listen(ctx context.Context, channel string, onListening func(), fn func(payload string)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen %s: %w", channel, translate(err))
	}
	defer conn.Release()
	fail := func(err error) error {
		conn.Hijack().Close(context.Background()) // the connection's state is unknown: do not reuse it
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fail(fmt.Errorf("listen %s: %w", channel, translate(err)))
	}
	if onListening != nil {
		onListening()
	}
	beat := s.heartbeat()
	for {
		wctx, cancel := context.WithTimeout(ctx, beat)
		n, err := conn.Conn().WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !conn.Conn().IsClosed() {
			pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err = conn.Conn().Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
			err = fmt.Errorf("listen %s: heartbeat: %w", channel, translate(err))
		}
		if err != nil {
			return fail(err)
		}
		fn(n.Payload)
	}
}
