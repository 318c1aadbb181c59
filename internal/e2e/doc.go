// Package e2e holds end-to-end tests of the whole in-process service (internal/testserver).
// Most drive it from a real browser: a customer's page with the collector snippet, served from
// its own origin, against a trained project; those need chromium (Debian's package) and fail
// without it when the CI variable is set. The others drive the background work through the
// API (a project filled by collect and import, trained, classified, then deleted or enriched)
// and prove what only the whole path shows: deletion_test.go (every deletion scope against the
// residue scanner, crypto-shredding of backups, erasure reaching the model, BenchmarkDeletion),
// enrich_test.go (enrichment keeps none of its inputs) and autotrain_test.go (training runs by
// itself). firstparty_test.go puts Debian's nginx and Caddy, run privately with the files of
// docs/deploy, between such a page and the service (first-party serving); it needs both
// (make proxies) as it needs chromium. It has no exported code.
package e2e
