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

// NewRedis opens a go-redis client from a redis:// URL. It does not wait for the server.
func NewRedis(redisURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("parse Redis URL: %w", err)
	}
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 3 * time.Second
	opt.WriteTimeout = 3 * time.Second
	opt.MaxRetries = 1
	return redis.NewClient(opt), nil
}

// Client enqueues tasks. It is safe for concurrent use.
type Client struct {
	c *asynq.Client
}

// NewClient wraps an asynq client sharing rdb's connections.
func NewClient(rdb *redis.Client) *Client {
	return &Client{c: asynq.NewClientFromRedisClient(rdb)}
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
