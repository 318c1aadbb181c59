// Package jobs runs the asynq tasks of Personas: their handlers, the worker server and the
// periodic scheduler. What a task is (its type name, payload and options) and how it is
// enqueued is package jobs/queue, which the API imports instead of this package.
//
// One file per task type: train.go (Trainer), reclassify.go (Reclassifier), enrich.go
// (Enricher), deletion.go (Deleter), retention.go (RetentionSweeper), safetynet.go (SafetyNet);
// worker.go has the worker and scheduler, register.go wires the handlers and periodic tasks.
// Handlers are idempotent: asynq cannot enqueue inside a PostgreSQL transaction, so work is
// committed as a row first and enqueued with a TaskID derived from it, and a periodic task
// re-enqueues rows whose task was lost.
package jobs
