package models

import (
	"context"
	"encoding/json"
	"fmt"

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

// Listen LISTENs on channel on a connection of its own (taken from the pool) and calls fn with
// each notification's payload, in order, until ctx ends or the connection fails. It returns
// once the connection is lost (the error says why) or ctx is done (ctx's error); onListening,
// when not nil, is called once LISTEN took effect, before the first payload, so that a caller
// can drop what it may have missed. A connection that failed is closed, never reused.
func (s *Store) Listen(ctx context.Context, channel string, onListening func(), fn func(payload string)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen %s: %w", channel, translate(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen %s: %w", channel, translate(err))
	}
	if onListening != nil {
		onListening()
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			conn.Hijack().Close(context.Background()) // the connection's state is unknown: do not reuse it
			return err
		}
		fn(n.Payload)
	}
}
