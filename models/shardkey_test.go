package models_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"personas/internal/testenv"
)

// shardKeyExceptions are the indexes of tables with a project_id column that do not lead with
// it, each with the reason it may not, and how the table maps onto a distributed PostgreSQL
// (docs/deploy.md, "Beyond one machine"). A new index that breaks the rule fails the test until
// it leads with project_id or is listed here with its reason.
var shardKeyExceptions = map[string]string{
	// deletion_requests is the proof that a deletion ran: it outlives the project (two years),
	// so it cannot live on the project's shard, which the deletion empties. It stays a local
	// table of the coordinator, looked up by request id (the receipt and job payloads carry
	// only that) and swept by status.
	"deletion_requests.deletion_requests_pkey": "the proof outlives the project: a local table, looked up by request id",
	"deletion_requests.deletion_requests_open": "the worker's sweep of unfinished deletions of every project (local table)",
	// memberships and invitations join the user side (users, sessions, tokens: no project) to
	// projects: a reference table each, on every node, small and rarely written.
	"memberships.memberships_user":           "a user's projects: the account side of tenancy (reference table)",
	"invitations.invitations_token_hash_key": "an invitation link carries only its secret, not its project: a global unique lookup (reference table)",
	"invitations.invitations_email":          "a signing-in user's invitations in every project, by blind index (reference table)",
	"invitations.invitations_expires":        "the sweep of expired invitations of every project (reference table)",
}

// shardKeyNoPrimaryKey are the tables with a project_id column that have no primary key, with why.
var shardKeyNoPrimaryKey = map[string]string{
	"events": "append-only, partitioned by day and never addressed row by row; its indexes lead with project_id",
}

// TestIndexesLeadWithProjectID reads the catalog of a migrated data database: for every table
// with a project_id column, the first key column of its primary key and of each of its indexes
// is project_id, unless listed above with its reason. It also checks that the exceptions all
// still exist, so the list only holds what the schema needs.
func TestIndexesLeadWithProjectID(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	ctx := context.Background()
	rows, err := e.Pool.Query(ctx, `
		SELECT c.relname, i.relname, x.indisprimary,
		       coalesce(CASE WHEN x.indkey[0] = 0 THEN '(expression)' ELSE a.attname::text END, ''),
		       pg_get_indexdef(x.indexrelid)
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
		JOIN pg_index x ON x.indrelid = c.oid
		JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND EXISTS (SELECT 1 FROM pg_attribute p WHERE p.attrelid = c.oid AND p.attname = 'project_id' AND NOT p.attisdropped)
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{}
	withPK := map[string]bool{}
	seen := map[string]bool{}
	for rows.Next() {
		var table, index, first, def string
		var primary bool
		if err := rows.Scan(&table, &index, &primary, &first, &def); err != nil {
			t.Fatal(err)
		}
		tables[table] = true
		if primary {
			withPK[table] = true
		}
		key := table + "." + index
		seen[key] = true
		if first == "project_id" {
			if _, listed := shardKeyExceptions[key]; listed {
				t.Errorf("%s leads with project_id now: remove it from the exceptions", key)
			}
			continue
		}
		if _, listed := shardKeyExceptions[key]; !listed {
			t.Errorf("%s leads with %s, not project_id: %s", key, first, def)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 15 {
		t.Fatalf("only %d tables with a project_id column found: %v", len(tables), tables)
	}
	for key := range shardKeyExceptions {
		if !seen[key] {
			t.Errorf("exception %s names no index of the schema: remove it", key)
		}
	}
	var noPK []string
	for table := range tables {
		if !withPK[table] {
			noPK = append(noPK, table)
			if _, listed := shardKeyNoPrimaryKey[table]; !listed {
				t.Errorf("table %s has a project_id column and no primary key", table)
			}
		}
	}
	sort.Strings(noPK)
	t.Logf("%d tables with project_id; without a primary key: %s", len(tables), strings.Join(noPK, ", "))

	// The tables without project_id are the account side and the service's own bookkeeping:
	// listed so that a new per-project table without the column is noticed.
	rows, err = e.Pool.Query(ctx, `
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND NOT EXISTS (SELECT 1 FROM pg_attribute p WHERE p.attrelid = c.oid AND p.attname = 'project_id' AND NOT p.attisdropped)
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var others []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		others = append(others, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	noProject := map[string]string{
		"projects":         "the tenants themselves, keyed by id (= project_id): distributed by id, or a reference table",
		"users":            "accounts span projects (reference table)",
		"api_tokens":       "a user's tokens (reference table)",
		"sessions":         "a user's sign-ins (reference table)",
		"login_failures":   "back-off per account and client (local)",
		"password_resets":  "a user's reset links (reference table)",
		"user_totp":        "a user's second factor (reference table)",
		"recovery_codes":   "a user's recovery codes (reference table)",
		"periodic_tasks":   "the scheduler's own state (local)",
		"goose_db_version": "the migration runner's state (local)",
	}
	for _, name := range others {
		if _, ok := noProject[name]; !ok {
			t.Errorf("table %s has no project_id column: if it holds a project's data it needs one, leading its keys; otherwise list it here with its place", name)
		}
	}
}
