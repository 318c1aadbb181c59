package models_test

import (
	"context"
	"slices"
	"testing"

	"personas/internal/testenv"
	"personas/models"
)

// TestCascadeTables checks the cascade's table lists against the schema: every table of every
// scope exists and is scoped by project (and, for a visitor, by visitor hash); scope all reaches
// every table with a project_id but the deletion log itself, and removes the project row last;
// and the order works against the foreign keys: a project with members and an audit entry is
// deleted table by table without a violation.
func TestCascadeTables(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	columns := map[string]map[string]bool{} // table → its columns, for the base and partitioned tables
	rows, err := env.Pool.Query(ctx, `SELECT c.table_name, c.column_name FROM information_schema.columns c
		JOIN pg_class r ON r.relname = c.table_name AND r.relnamespace = 'public'::regnamespace
		WHERE c.table_schema = 'public' AND NOT r.relispartition`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		if columns[table] == nil {
			columns[table] = map[string]bool{}
		}
		columns[table][column] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{models.ScopeVisitor, models.ScopePersonas, models.ScopeAll} {
		for _, table := range models.CascadeTables(scope) {
			cols, ok := columns[table]
			switch {
			case !ok:
				t.Errorf("scope %s: table %s is not in the schema", scope, table)
			case table == "projects":
				if scope != models.ScopeAll {
					t.Errorf("scope %s removes the project row", scope)
				}
			case !cols["project_id"]:
				t.Errorf("scope %s: table %s has no project_id column", scope, table)
			case scope == models.ScopeVisitor && !cols["visitor_hash"]:
				t.Errorf("scope visitor: table %s has no visitor_hash column", table)
			}
		}
	}
	all := models.CascadeTables(models.ScopeAll)
	if all[len(all)-1] != "projects" {
		t.Errorf("scope all ends with %s, want the project row last", all[len(all)-1])
	}
	for table, cols := range columns {
		if cols["project_id"] && table != "deletion_requests" && !slices.Contains(all, table) {
			t.Errorf("table %s has a project_id column, but a project's deletion leaves it alone", table)
		}
	}
	all[0] = "changed"
	if models.CascadeTables(models.ScopeAll)[0] != "events" {
		t.Error("a caller's change to the list changed the cascade")
	}

	u, _, err := env.Store.EnsureUser(ctx, "cascade@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.Store.CreateProject(ctx, u.ID, "Cascade", []string{"https://shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := env.Store.CreateDeletion(ctx, p.ID, models.ScopeAll, nil, &u.ID, "api")
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range models.CascadeTables(models.ScopeAll) {
		if _, err := env.Store.DeleteStep(ctx, d, table, 100); err != nil {
			t.Fatalf("delete step %s: %v", table, err)
		}
	}
	got, err := env.Store.Deletion(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts["projects"] != 1 || got.Counts["memberships"] != 1 {
		t.Errorf("counts %v, want the project row and its one membership", got.Counts)
	}
	if _, err := env.Store.Project(ctx, p.ID); err == nil {
		t.Error("the project is still there after its cascade")
	}
}
