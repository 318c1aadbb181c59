package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"personas/models"
)

// listen keeps this instance's caches fresh: it LISTENs for changes published by any instance
// (reconnecting with back-off; every cache is dropped after a reconnect, since notifications
// may have been missed) and checks the cached model versions every interval as a safety net.
func (s *Server) listen(ctx context.Context, interval time.Duration) {
	go s.versionCheck(ctx, interval)
	delay := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, first)
		first = false
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("change listener lost its connection; reconnecting", "retry_in", delay.String(), "err", errString(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *Server) listenOnce(ctx context.Context, first bool) error {
	conn, err := s.store.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{models.NotifyChannel}.Sanitize()); err != nil {
		return err
	}
	if !first {
		s.dropCaches()
	}
	s.listening.Store(true)
	defer s.listening.Store(false)
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			conn.Hijack().Close(context.Background()) // the connection's state is unknown: do not reuse it
			return err
		}
		var ch models.Change
		if err := json.Unmarshal([]byte(n.Payload), &ch); err != nil {
			continue
		}
		s.apply(ch)
	}
}

func (s *Server) apply(ch models.Change) {
	if ch.Kind != models.ChangeKeysRotated {
		s.assignments.forget(ch.ProjectID, nil) // a new model, deleted personas or a deleted project
	}
	switch ch.Kind {
	case models.ChangeModelPublished, models.ChangePersonasDeleted:
		s.models.evict(ch.ProjectID)
		s.EvictProject("")
	case models.ChangeProjectDeleted:
		s.models.evict(ch.ProjectID)
		s.sites.forgetProject(ch.ProjectID)
		s.store.EvictDataKey(ch.ProjectID)
	case models.ChangeProjectChanged:
		s.models.evict(ch.ProjectID)
		s.EvictProject("")
	case models.ChangeKeysRotated:
		s.store.EvictDataKey(ch.ProjectID)
	}
	s.metrics.notifications.WithLabelValues(ch.Kind).Inc()
}

func (s *Server) dropCaches() {
	s.models.evictAll()
	s.assignments.forget(uuid.Nil, nil)
	s.EvictProject("")
	s.store.EvictAllDataKeys() // a rotation or destruction may have been missed
}

// versionCheck compares cached model versions with the database: the safety net for a missed
// notification.
func (s *Server) versionCheck(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cached := s.models.versions()
		s.EvictProject("")
		s.store.EvictAllDataKeys() // reloaded on next use: bounds how long a missed rotation matters
		for id, v := range cached {
			cur, err := s.store.CurrentModelVersion(ctx, id)
			if err != nil || cur != v {
				s.models.evict(id)
			}
		}
	}
}
