package models

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
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
