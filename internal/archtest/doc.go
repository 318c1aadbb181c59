// Package archtest holds the test of the project's import rules: the tables of
// docs/architecture.md, checked against the import graph that go list reports.
package archtest
