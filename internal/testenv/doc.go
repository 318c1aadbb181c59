// Package testenv gives tests their own real PostgreSQL databases (data and key store, cloned
// from migrated templates by pgtestdb) and their own Redis database, and builds a Store on
// them. Everything is removed in t.Cleanup; pgtestdb keeps a failed test's databases for a look.
//
// It is also the one home of the tests' other helpers: the headless browser (Browser, Tab,
// Eval, Do, WaitFor, WaitAcross), PGDump, FreePort, Buffer and Script, and of private Redis
// deployments a test can break: RedisCluster (masters with replicas) and RedisSentinel (a
// master, a replica, three sentinels), redis-server processes on addresses given as
// parameters (loopback by default), which a test may kill hard (RedisNode.Kill).
package testenv
