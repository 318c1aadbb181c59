package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Queue names. Deletions go to critical so that a flood of training never delays an erasure.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// NewRedis opens the go-redis client of the job queues: one server, a Redis Cluster
// (opts.IsClusterMode) or a master found through Sentinel (opts.MasterName), with the
// queues' timeouts. It does not wait for Redis. asynq hash-tags every key of a queue
// (asynq:{critical}:…), so each queue's multi-key scripts run on one cluster slot.
func NewRedis(opts *redis.UniversalOptions) redis.UniversalClient {
	o := *opts
	o.DialTimeout = 2 * time.Second
	o.ReadTimeout = 3 * time.Second
	o.WriteTimeout = 3 * time.Second
	// One retry rides out a dropped connection; a cluster or Sentinel failover takes seconds,
	// which asynq's own loops (and the safety net for deletions) wait out instead.
	o.MaxRetries = 1
	if o.IsClusterMode && o.MasterName == "" {
		c := o.Cluster()
		// go-redis re-reads the slot map on MOVED answers, which a killed master never
		// sends, and otherwise once a minute: a shorter interval finds the replica that took
		// over within seconds (one CLUSTER SLOTS per interval, and only while commands flow).
		c.ClusterStateReloadInterval = ClusterStateReloadInterval
		return redis.NewClusterClient(c)
	}
	return redis.NewUniversalClient(&o)
}

// ClusterStateReloadInterval is how often a cluster client re-reads the slot map while it
// sends commands.
const ClusterStateReloadInterval = 2 * time.Second

// Client enqueues tasks. It is safe for concurrent use.
type Client struct {
	c  *asynq.Client
	in *asynq.Inspector
}

// NewClient wraps an asynq client and inspector sharing rdb's connections.
func NewClient(rdb redis.UniversalClient) *Client {
	return &Client{c: asynq.NewClientFromRedisClient(rdb), in: asynq.NewInspectorFromRedisClient(rdb)}
}

// Enqueue sends t. A task whose id is already queued or running counts as enqueued: the caller
// derived the id from a committed row, so the existing task does the same work.
func (c *Client) Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (string, error) {
	info, err := c.c.EnqueueContext(ctx, t, opts...)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return info.ID, nil
}

// enqueue builds a task and enqueues it, for the Enqueue… methods.
func (c *Client) enqueue(ctx context.Context, t *asynq.Task, err error) error {
	if err != nil {
		return err
	}
	_, err = c.Enqueue(ctx, t)
	return err
}

// PeriodicTaskTypes are the task types the scheduler runs, in the order reports list them.
func PeriodicTaskTypes() []string { return []string{TypeSafetyNet, TypeRetentionSweep} }
