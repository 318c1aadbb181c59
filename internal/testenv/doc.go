// Package testenv gives tests their own real PostgreSQL databases (data and key store, cloned
// from migrated templates by pgtestdb) and their own Redis database, and builds a Store on
// them. Everything is removed in t.Cleanup; pgtestdb keeps a failed test's databases for a look.
//
// It is also the one home of the tests' other helpers: the headless browser (Browser, Tab,
// Eval, Do, WaitFor, WaitAcross), PGDump, FreePort, Buffer and Script.
package testenv
