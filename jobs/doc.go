// Package jobs holds the asynq task types of Personas, their payloads and handlers, the worker
// server and the periodic scheduler.
//
// Each task type lives in its own file: a TypeX constant, a payload struct with a Version, a
// NewXTask constructor that sets queue, uniqueness, timeout and retries, and a handler type with
// its dependencies. Payloads carry ids, never data that needs protecting. asynq cannot enqueue
// inside a PostgreSQL transaction, so work is committed as a row first and enqueued with a TaskID
// derived from it; handlers are idempotent and a periodic task re-enqueues rows whose task was lost.
package jobs
