// Package classify is live classification: which persona a visitor belongs to, answered from
// the visitor's stored aggregates (coalesced reads, a short-lived cache kept exact by this
// instance's ingest and erasures and by NOTIFY from the others) and the project's current model
// (a bounded cache evicted on NOTIFY, with a periodic version check as the safety net), and the
// answers written to visitor_personas off the request path. LoadModel, the one way to read a
// published model, is shared with the jobs.
//
// It imports only classifier and models: HTTP, the collect contract and the site gate stay in
// api.
package classify
