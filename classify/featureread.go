package classify

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"personas/models"
)

// featureReader reads visitors' aggregates for classify, coalescing concurrent requests: up to
// max reads run at once; requests arriving while every slot is busy join one pending batch,
// read with a single query when a slot frees. At low load a request reads alone, at once; under
// load PostgreSQL sees a few round trips of many visitors instead of one per request.
type featureReader struct {
	store *models.Store
	max   int

	mu       sync.Mutex
	inflight int
	pending  *featureBatch
}

// featureBatch is the pending batch: its keys, and its outcome once done is closed.
type featureBatch struct {
	keys  []models.VisitorKey
	start chan struct{} // closed when the batch owns a slot
	done  chan struct{}
	rows  map[string]*models.VisitorFeatures
	err   error
}

// maxBatch bounds a batch; later requests start the next one.
const maxBatch = 256

func newFeatureReader(store *models.Store, slots int) *featureReader {
	return &featureReader{store: store, max: slots}
}

// read returns one visitor's aggregates, or models.ErrNotFound.
func (r *featureReader) read(ctx context.Context, projectID uuid.UUID, hash []byte) (*models.VisitorFeatures, error) {
	r.mu.Lock()
	if r.inflight < r.max {
		r.inflight++
		r.mu.Unlock()
		f, err := r.store.VisitorFeatures(ctx, projectID, hash)
		r.release()
		return f, err
	}
	b, lead := r.pending, false
	if b == nil || len(b.keys) >= maxBatch {
		if b != nil { // full: it keeps its place; this request waits for a slot on its own
			r.mu.Unlock()
			return r.readAlone(ctx, projectID, hash)
		}
		b = &featureBatch{start: make(chan struct{}), done: make(chan struct{})}
		r.pending, lead = b, true
	}
	b.keys = append(b.keys, models.VisitorKey{ProjectID: projectID, VisitorHash: hash})
	r.mu.Unlock()
	if lead {
		<-b.start // release hands a slot over; the batch runs even if this request gives up
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		b.rows, b.err = r.store.VisitorFeaturesMany(rctx, b.keys)
		cancel()
		close(b.done)
		r.release()
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if b.err != nil {
		return nil, b.err
	}
	if f, ok := b.rows[models.VisitorKeyString(projectID, hash)]; ok {
		return f, nil
	}
	return nil, models.ErrNotFound
}

// readAlone is the rare path when the pending batch is full: a plain read.
func (r *featureReader) readAlone(ctx context.Context, projectID uuid.UUID, hash []byte) (*models.VisitorFeatures, error) {
	return r.store.VisitorFeatures(ctx, projectID, hash)
}

// release frees a slot, or hands it to the pending batch.
func (r *featureReader) release() {
	r.mu.Lock()
	b := r.pending
	if b == nil {
		r.inflight--
		r.mu.Unlock()
		return
	}
	r.pending = nil
	r.mu.Unlock()
	close(b.start)
}
