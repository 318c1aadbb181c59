package api

import (
	"personas/models"
)

// The change listener runs in the classify service (classify.Service.Run); these are the
// server's own caches it keeps fresh: the site keys' projects and the project data keys.

// applyChange applies a change notification to the server's caches, after the classify
// service applied it to its own.
func (s *Server) applyChange(ch models.Change) {
	switch ch.Kind {
	case models.ChangeModelPublished, models.ChangePersonasDeleted, models.ChangeProjectChanged:
		s.EvictProject("")
	case models.ChangeProjectDeleted:
		s.sites.forgetProject(ch.ProjectID)
		s.store.EvictDataKey(ch.ProjectID)
	case models.ChangeKeysRotated:
		s.store.EvictDataKey(ch.ProjectID)
	}
}

// dropCaches drops every cache after notifications may have been missed (a reconnected
// listener).
func (s *Server) dropCaches() {
	s.EvictProject("")
	s.store.EvictAllDataKeys() // a rotation or destruction may have been missed
}

// refreshCaches runs at every model version check: the site cache and the data keys are read
// again on next use, which bounds how long a missed notification matters.
func (s *Server) refreshCaches() {
	s.EvictProject("")
	s.store.EvictAllDataKeys()
}

// committed tells the classify service which visitors' aggregates an ingest transaction
// changed, before the request is answered.
func (s *Server) committed(b *models.Batch) {
	var last []byte
	for i := range b.Events {
		if h := b.Events[i].VisitorHash; string(h) != string(last) {
			s.classifySvc.Changed(b.ProjectID, h)
			last = h
		}
	}
}
