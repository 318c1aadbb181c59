package classify

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"personas/models"
)

// listen keeps the caches fresh: it LISTENs for changes published by any instance (reconnecting
// with back-off; every cache is dropped after a reconnect, since notifications may have been
// missed) and checks the cached model versions every interval as a safety net.
func (s *Service) listen(ctx context.Context) {
	go s.versionCheck(ctx, s.cfg.VersionCheck)
	delay := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		resync := !first
		err := s.store.Listen(ctx, models.NotifyChannel, func() {
			delay = 100 * time.Millisecond // connected again: the next loss starts the back-off anew
			if resync {
				s.dropCaches()
				s.logger.Info("change listener listening again; caches dropped, since notifications may have been missed")
			}
		}, s.applyPayload)
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

func (s *Service) applyPayload(payload string) {
	var ch models.Change
	if err := json.Unmarshal([]byte(payload), &ch); err != nil {
		return
	}
	s.Apply(ch)
}

// Apply applies one change to the service's caches, then hands it to Config.OnChange.
func (s *Service) Apply(ch models.Change) {
	if ch.Kind != models.ChangeKeysRotated {
		s.assignments.forget(ch.ProjectID, nil) // a new model, deleted personas or a deleted project
	}
	switch ch.Kind {
	case models.ChangeModelPublished, models.ChangePersonasDeleted, models.ChangeProjectChanged:
		s.models.evict(ch.ProjectID)
	case models.ChangeProjectDeleted:
		s.models.evict(ch.ProjectID)
		s.dropVisitors(ch.ProjectID)
	case models.ChangeVisitorDeleted: // the notification does not say which visitor
		s.dropVisitors(ch.ProjectID)
	}
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(ch)
	}
	s.metrics.Notifications.WithLabelValues(ch.Kind).Inc()
}

func (s *Service) dropVisitors(projectID uuid.UUID) {
	if s.visitors != nil {
		s.visitors.invalidateProject(projectID)
	}
}

func (s *Service) dropCaches() {
	s.models.evictAll()
	s.assignments.forget(uuid.Nil, nil)
	s.dropVisitors(uuid.Nil)
	if s.cfg.OnResync != nil {
		s.cfg.OnResync()
	}
}

// versionCheck compares cached model versions with the database: the safety net for a missed
// notification.
func (s *Service) versionCheck(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cached := s.models.versions()
		if s.cfg.OnVersionCheck != nil {
			s.cfg.OnVersionCheck()
		}
		for id, v := range cached {
			cur, err := s.store.CurrentModelVersion(ctx, id)
			if err != nil || cur != v {
				s.models.evict(id)
			}
		}
	}
}
