package models

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exposes pgxpool statistics.
type poolCollector struct {
	pool                                     *pgxpool.Pool
	total, idle, acquired, max, acquireCount *prometheus.Desc
	acquireWait                              *prometheus.Desc
}

// PoolCollector exposes the data pool's statistics to Prometheus (personas_db_pool_*).
func (s *Store) PoolCollector() prometheus.Collector {
	pool := s.pool
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("personas_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{pool: pool,
		total:        d("connections", "Open connections in the pool."),
		idle:         d("idle_connections", "Idle connections."),
		acquired:     d("acquired_connections", "Connections in use."),
		max:          d("max_connections", "Pool size limit."),
		acquireCount: d("acquires_total", "Connections acquired since start."),
		acquireWait:  d("acquire_wait_seconds_total", "Time spent waiting for a connection."),
	}
}

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.total, p.idle, p.acquired, p.max, p.acquireCount, p.acquireWait} {
		ch <- d
	}
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.pool.Stat()
	ch <- prometheus.MustNewConstMetric(p.total, prometheus.GaugeValue, float64(st.TotalConns()))
	ch <- prometheus.MustNewConstMetric(p.idle, prometheus.GaugeValue, float64(st.IdleConns()))
	ch <- prometheus.MustNewConstMetric(p.acquired, prometheus.GaugeValue, float64(st.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(p.max, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(p.acquireCount, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(p.acquireWait, prometheus.CounterValue, st.AcquireDuration().Seconds())
}
