package queue

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Collector exposes asynq queue sizes (personas_queue_tasks) by state. A Redis outage yields no samples rather
// than a failed scrape.
type queueCollector struct {
	inspector *asynq.Inspector
	size      *prometheus.Desc
}

func Collector(rdb redis.UniversalClient) prometheus.Collector {
	in := asynq.NewInspectorFromRedisClient(rdb)
	return &queueCollector{inspector: in, size: prometheus.NewDesc("personas_queue_tasks",
		"asynq tasks by queue and state.", []string{"queue", "state"}, nil)}
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- q.size }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, name := range []string{QueueCritical, QueueDefault, QueueLow} {
			info, err := q.inspector.GetQueueInfo(name)
			if err != nil {
				continue // unknown until the first task, or Redis down
			}
			for state, n := range map[string]int{"pending": info.Pending, "active": info.Active,
				"scheduled": info.Scheduled, "retry": info.Retry, "archived": info.Archived, "completed": info.Completed} {
				ch <- prometheus.MustNewConstMetric(q.size, prometheus.GaugeValue, float64(n), name, state)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		<-done // the inspector's own timeouts bound this
	}
}
