package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/classify"
	"personas/models"
)

// Reclassifier writes every visitor's persona under the newest model (queue.TypeReclassify).
type Reclassifier struct {
	Store  *models.Store
	Logger *slog.Logger
}

// ProcessTask classifies the project's visitors in batches.
func (rc *Reclassifier) ProcessTask(ctx context.Context, t *asynq.Task) error {
	pid, err := decodeProject(t)
	if err != nil {
		return err
	}
	version, err := rc.Store.CurrentModelVersion(ctx, pid)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	l, err := classify.LoadModel(ctx, rc.Store, pid, version)
	if errors.Is(err, classify.ErrUnreadable) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	} else if err != nil {
		return err
	}
	m, ids := l.Model, l.PersonaIDs
	now := rc.Store.Now()
	var hashes [][]byte
	var personas []*uuid.UUID
	var conf []float32
	flush := func() error {
		err := rc.Store.UpsertAssignments(ctx, pid, hashes, personas, conf, version)
		hashes, personas, conf = hashes[:0], personas[:0], conf[:0]
		return err
	}
	err = rc.Store.EachVisitorFeatures(ctx, pid, func(f *models.VisitorFeatures) error {
		a := m.Classify(classify.Aggregates(f), now)
		var p *uuid.UUID
		if id, ok := ids[a.Cluster]; ok && !a.Outlier {
			p = &id
		}
		hashes, personas, conf = append(hashes, f.VisitorHash), append(personas, p), append(conf, float32(a.Confidence))
		if len(hashes) >= 5000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
