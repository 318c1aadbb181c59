package api

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"personas/models"
	"personas/privacy"
)

// metrics are the server's own Prometheus series, on a registry of its own (no global state).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	dropped  *prometheus.CounterVec

	modelErrors     prometheus.Counter
	classifyReasons *prometheus.CounterVec
	assignmentDrops prometheus.Counter
	assignmentSkips prometheus.Counter
	notifications   *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "personas_http_requests_total", Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "personas_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "personas_collect_dropped_events_total", Help: "Collected events dropped, by reason.",
		}, []string{"reason"}),
	}
	m.modelErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "personas_model_load_errors_total", Help: "Persona models that could not be read or decoded."})
	m.classifyReasons = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "personas_classify_total", Help: "Classify answers by reason."}, []string{"reason"})
	m.assignmentDrops = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "personas_assignment_writes_dropped_total", Help: "Persona assignments not written (queue full or store error)."})
	m.assignmentSkips = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "personas_assignment_writes_unchanged_total", Help: "Persona assignments not written again because they had not changed."})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "personas_cache_notifications_total", Help: "Change notifications received, by kind."}, []string{"kind"})
	m.registry.MustRegister(m.requests, m.latency, m.dropped, m.modelErrors, m.classifyReasons, m.assignmentDrops, m.assignmentSkips, m.notifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerHashes exposes the sign-in hashing slots.
func (m *metrics) registerHashes(h *privacy.HashLimiter) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "personas_password_hash_slots",
			Help: "argon2id computations allowed at once."}, func() float64 { return float64(h.Slots()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "personas_password_hashes_running",
			Help: "argon2id computations running now."}, func() float64 { return float64(h.Running()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "personas_password_hash_refused_total",
			Help: "Sign-ins answered 503 because no hashing slot came free in time."}, func() float64 { return float64(h.Refused()) }))
}

// dependencyCollector pings the dependencies at scrape time (personas_dependency_up).
type dependencyCollector struct {
	s  *Server
	up *prometheus.Desc
}

func (d *dependencyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.up }

func (d *dependencyCollector) Collect(ch chan<- prometheus.Metric) {
	for name, err := range d.s.dependencies(context.Background(), time.Second) {
		v := 1.0
		if err != nil {
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, v, name)
	}
}

// periodicCollector exposes the periodic tasks' runs as recorded in PostgreSQL by whichever
// worker ran them (the worker may be another process): failures by task, the time of the last
// success and the failures since. A task that never ran reports no failures and no success.
// PostgreSQL unreachable yields no samples rather than a failed scrape.
type periodicCollector struct {
	list                     func(context.Context) ([]models.PeriodicTask, error)
	tasks                    []string
	failures, streak, lastOK *prometheus.Desc
}

func newPeriodicCollector(list func(context.Context) ([]models.PeriodicTask, error), tasks []string) *periodicCollector {
	return &periodicCollector{list: list, tasks: tasks,
		failures: prometheus.NewDesc("personas_periodic_task_failures_total",
			"Failed runs of a periodic task (safety net: automatic training; retention sweep), by task type.", []string{"task"}, nil),
		streak: prometheus.NewDesc("personas_periodic_task_failures_since_success",
			"Failed runs of a periodic task since its last success.", []string{"task"}, nil),
		lastOK: prometheus.NewDesc("personas_periodic_task_last_success_timestamp_seconds",
			"Unix time of a periodic task's last successful run (absent until it succeeds once).", []string{"task"}, nil),
	}
}

func (p *periodicCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.failures
	ch <- p.streak
	ch <- p.lastOK
}

func (p *periodicCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ts, err := p.list(ctx)
	if err != nil {
		return
	}
	byTask := map[string]models.PeriodicTask{}
	for _, t := range ts {
		byTask[t.Task] = t
	}
	names := slices.Clone(p.tasks)
	for _, t := range ts {
		if !slices.Contains(names, t.Task) {
			names = append(names, t.Task) // one of an older or newer version of the worker
		}
	}
	for _, name := range names {
		t := byTask[name]
		ch <- prometheus.MustNewConstMetric(p.failures, prometheus.CounterValue, float64(t.Failures), name)
		ch <- prometheus.MustNewConstMetric(p.streak, prometheus.GaugeValue, float64(t.FailingStreak), name)
		if t.LastSuccess != nil {
			ch <- prometheus.MustNewConstMetric(p.lastOK, prometheus.GaugeValue, float64(t.LastSuccess.UnixMilli())/1000, name)
		}
	}
}
