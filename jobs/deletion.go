package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"personas/jobs/queue"
	"personas/models"
	"personas/receipt"
)

// Deleter runs deletion cascades.
type Deleter struct {
	Store  *models.Store
	Redis  redis.UniversalClient
	Client *queue.Client
	Signer *receipt.Signer
	Logger *slog.Logger
	// BatchSize is the number of rows per delete statement (short locks).
	BatchSize int
	// RetrainDelay debounces the retrain after visitor erasures.
	RetrainDelay time.Duration
}

// ProcessTask runs (or resumes) a cascade. Every step is idempotent: counts are added in the
// transaction of each batch, and a resumed run continues where the rows are.
func (d *Deleter) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p queue.DeletionPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode deletion payload: %v: %w", err, asynq.SkipRetry)
	}
	err := d.Run(ctx, p.DeletionID)
	if err != nil && !errors.Is(err, asynq.SkipRetry) {
		_ = d.Store.FailDeletion(context.WithoutCancel(ctx), p.DeletionID, err.Error(), false)
	}
	return err
}

// Run executes the cascade of deletion id.
func (d *Deleter) Run(ctx context.Context, id uuid.UUID) error {
	del, err := d.Store.StartDeletion(ctx, id)
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return fmt.Errorf("deletion %s: %w", id, asynq.SkipRetry)
		}
		return err
	}
	if del.Status == models.DeletionDone {
		return nil
	}
	size := d.BatchSize
	if size <= 0 {
		size = 5000
	}
	if del.Scope == models.ScopeAll && del.KeyDestroyedAt == nil {
		// Crypto-shredding first: from here on every copy of the project's ciphertext is unreadable.
		at, err := d.Store.DestroyProjectKey(ctx, del.ProjectID)
		if err != nil {
			return err
		}
		if err := d.Store.SetKeyDestroyed(ctx, id, at); err != nil {
			return err
		}
		del.KeyDestroyedAt = &at
	}
	if del.Scope == models.ScopeVisitor {
		if err := d.Store.MarkModelsStale(ctx, del.ProjectID, del.VisitorHash); err != nil {
			return err
		}
	}
	for _, table := range models.CascadeTables(del.Scope) {
		if err := d.Store.SetDeletionStep(ctx, id, table); err != nil {
			return err
		}
		if _, err := d.Store.DeleteStep(ctx, del, table, size); err != nil {
			return err
		}
	}
	if err := d.Store.SetDeletionStep(ctx, id, "redis"); err != nil {
		return err
	}
	extra, err := d.cleanRedis(ctx, del)
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		if err := d.Store.AddDeletionCounts(ctx, id, extra); err != nil {
			return err
		}
	}
	if del.Scope != models.ScopeVisitor {
		_ = d.Store.Notify(ctx, models.Change{Kind: models.ChangeProjectChanged, ProjectID: del.ProjectID})
	}
	var retrainAt *time.Time
	if del.Scope == models.ScopeVisitor {
		at, err := d.scheduleRetrain(ctx, del.ProjectID)
		if err != nil {
			return err
		}
		retrainAt = at
	}
	final, err := d.Store.Deletion(ctx, id)
	if err != nil {
		return err
	}
	now := d.Store.Now().UTC()
	r := receipt.Build(final, now, retrainAt, d.Signer)
	body, sig, err := receipt.Sign(r, d.Signer)
	if err != nil {
		return err
	}
	if err := d.Store.FinishDeletion(ctx, id, body, sig, now); err != nil {
		return err
	}
	d.Logger.Info("deletion done", "deletion_id", id, "scope", del.Scope, "counts", final.Counts)
	return nil
}

// cleanRedis removes the project's queued work from asynq (training and enrichment of a
// deleted project must not run) and counts it.
func (d *Deleter) cleanRedis(ctx context.Context, del models.Deletion) (map[string]int64, error) {
	if del.Scope == models.ScopeVisitor || d.Redis == nil {
		return nil, nil
	}
	in := asynq.NewInspectorFromRedisClient(d.Redis)
	removed := int64(0)
	for _, q := range []string{queue.QueueCritical, queue.QueueDefault, queue.QueueLow} {
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
			in.ListPendingTasks, in.ListScheduledTasks, in.ListRetryTasks, in.ListArchivedTasks, in.ListCompletedTasks,
		} {
			for page := 1; ; page++ {
				tasks, err := list(q, asynq.Page(page), asynq.PageSize(500))
				if err != nil {
					if errors.Is(err, asynq.ErrQueueNotFound) {
						break
					}
					return nil, fmt.Errorf("list tasks of queue %s: %w", q, err)
				}
				for _, ti := range tasks {
					if ti.Type == queue.TypeDeletion || !payloadNamesProject(ti.Payload, del.ProjectID) {
						continue
					}
					if del.Scope == models.ScopePersonas && ti.Type != queue.TypeTrainModel && ti.Type != queue.TypeEnrich {
						continue
					}
					if err := in.DeleteTask(q, ti.ID); err == nil {
						removed++
					}
				}
				if len(tasks) < 500 {
					break
				}
			}
		}
	}
	return map[string]int64{"redis:asynq_tasks": removed}, nil
}

func payloadNamesProject(payload []byte, id uuid.UUID) bool {
	var p struct {
		ProjectID uuid.UUID `json:"project_id"`
	}
	return json.Unmarshal(payload, &p) == nil && p.ProjectID == id
}

// scheduleRetrain debounces one retrain per project after visitor erasures: the first erasure
// schedules it, later ones within the window find it queued.
func (d *Deleter) scheduleRetrain(ctx context.Context, projectID uuid.UUID) (*time.Time, error) {
	delay := d.RetrainDelay
	if delay <= 0 {
		delay = 6 * time.Hour
	}
	at := d.Store.Now().UTC().Add(delay)
	if err := d.Client.EnqueueRetrain(ctx, projectID, delay); err != nil {
		return nil, err
	}
	return &at, nil
}
