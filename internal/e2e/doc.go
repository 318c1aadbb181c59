// Package e2e holds end-to-end tests that drive the whole service from a real browser: a
// customer's page with the collector snippet, served from its own origin, against a trained
// project of the in-process service (internal/testserver). It has no exported code; its tests
// need chromium (Debian's package) and fail without it when the CI variable is set.
package e2e
