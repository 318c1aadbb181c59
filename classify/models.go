package classify

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/models"
)

// PersonaRef is a persona in an answer. Its id is formatted once, when the model is loaded, not
// on every answer.
type PersonaRef struct {
	ID     uuid.UUID
	IDText string
	Name   string
	Type   string
}

// cachedModel is a project's current model, ready to classify.
type cachedModel struct {
	projectID uuid.UUID
	version   int
	model     *classifier.Model
	personas  []PersonaRef // by cluster
	broken    bool         // unreadable: answer no_model until a new version
	loadedAt  time.Time
}

// modelCache is a bounded LRU of models by project, kept fresh by LISTEN/NOTIFY (and a periodic
// version check as the safety net).
type modelCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[uuid.UUID]*list.Element
	// loading de-duplicates concurrent loads of one project.
	loading map[uuid.UUID]*loadCall
}

type loadCall struct {
	done chan struct{}
	m    *cachedModel
	err  error
}

func newModelCache(max int) *modelCache {
	return &modelCache{max: max, ll: list.New(), items: map[uuid.UUID]*list.Element{}, loading: map[uuid.UUID]*loadCall{}}
}

func (c *modelCache) get(id uuid.UUID) *cachedModel {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cachedModel)
	}
	return nil
}

func (c *modelCache) put(m *cachedModel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[m.projectID]; ok {
		e.Value = m
		c.ll.MoveToFront(e)
		return
	}
	c.items[m.projectID] = c.ll.PushFront(m)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cachedModel).projectID)
	}
}

func (c *modelCache) evict(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.ll.Remove(e)
		delete(c.items, id)
	}
}

func (c *modelCache) evictAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	c.items = map[uuid.UUID]*list.Element{}
}

func (c *modelCache) versions() map[uuid.UUID]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uuid.UUID]int, len(c.items))
	for id, e := range c.items {
		out[id] = e.Value.(*cachedModel).version
	}
	return out
}

// model returns the project's model of the given version, loading it once.
func (s *Service) model(ctx context.Context, projectID uuid.UUID, version int) (*cachedModel, error) {
	c := s.models
	if m := c.get(projectID); m != nil && m.version == version {
		return m, nil
	}
	c.mu.Lock()
	if call, ok := c.loading[projectID]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.m, call.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	call := &loadCall{done: make(chan struct{})}
	c.loading[projectID] = call
	c.mu.Unlock()
	call.m, call.err = s.loadModel(context.WithoutCancel(ctx), projectID, version)
	c.mu.Lock()
	delete(c.loading, projectID)
	c.mu.Unlock()
	close(call.done)
	if call.err == nil {
		c.put(call.m)
	}
	return call.m, call.err
}

// loadModel reads a model for the cache: an unreadable one is cached as broken (answered
// no_model until a new version), counted and logged; an unavailable store is an error.
func (s *Service) loadModel(ctx context.Context, projectID uuid.UUID, version int) (*cachedModel, error) {
	cm := &cachedModel{projectID: projectID, version: version, loadedAt: time.Now()}
	l, err := LoadModel(ctx, s.store, projectID, version)
	if errors.Is(err, ErrUnreadable) {
		s.logger.Error("model unreadable", "project_id", projectID, "version", version, "err", err.Error())
		s.metrics.ModelErrors.Inc()
		cm.broken = true
		return cm, nil
	}
	if err != nil {
		return nil, err
	}
	ps, _, err := s.store.Personas(ctx, projectID)
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]models.Persona{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	cm.personas = make([]PersonaRef, l.Model.K)
	for k := 0; k < l.Model.K; k++ {
		id := l.PersonaIDs[k]
		cm.personas[k] = PersonaRef{ID: id, IDText: id.String(), Name: byID[id].Name, Type: byID[id].Type}
	}
	cm.model = l.Model
	return cm, nil
}
