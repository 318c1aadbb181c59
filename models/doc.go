// Package models holds the domain types of Personas and their PostgreSQL repositories (pgx/v5).
//
// SQL lives beside the method that runs it, each statement tagged with its caller
// (/* Store.Method */) so that a slow one names itself in pg_stat_statements. Every tenant query
// carries project_id in its WHERE clause; a repository method takes the project id as an argument.
// Driver errors are translated here: pgx.ErrNoRows becomes ErrNotFound, unique violations
// ErrConflict.
package models
