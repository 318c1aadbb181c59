// Package queue is the enqueue side of the Personas task queue: the task type names, their
// payloads, one constructor per task type (New…, which sets queue, uniqueness, timeout and
// retries) and the Client that enqueues them. The API and the command line import it to ask for
// work; package jobs, which runs the work, imports it for the same names and payloads.
//
// Task type strings, queue names and payload JSON are a contract with the tasks already in
// Redis: a task queued by an older binary must still decode and run, so none of them changes.
// Payloads carry ids, never data that needs protecting.
package queue
