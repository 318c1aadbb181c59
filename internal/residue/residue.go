// Package residue proves deletions: it walks information_schema for every table with a
// project_id or visitor_hash column and counts the rows a project or a visitor still has in
// each, so a table added later is covered without anyone remembering to add it here.
package residue

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ProofTables keep their rows after a deletion by design: the deletion request is the proof
// that the deletion ran (it holds no personal data; a visitor only as its blinded hash).
var ProofTables = []string{"deletion_requests"}

// Table is a table that holds tenant or visitor rows.
type Table struct {
	Name           string
	HasProjectID   bool
	HasVisitorHash bool
}

// Counts are rows per table.
type Counts map[string]int64

// Tables lists the tables of the public schema with a project_id or visitor_hash column;
// partitions are counted through their parent. The projects table is included: its id is
// the project id.
func Tables(ctx context.Context, pool *pgxpool.Pool) ([]Table, error) {
	rows, _ := pool.Query(ctx, `/* residue.Tables */
		SELECT c.table_name, bool_or(c.column_name = 'project_id'), bool_or(c.column_name = 'visitor_hash')
		FROM information_schema.columns c
		JOIN pg_class r ON r.relname = c.table_name
		JOIN pg_namespace n ON n.oid = r.relnamespace AND n.nspname = c.table_schema
		WHERE c.table_schema = 'public' AND c.column_name IN ('project_id', 'visitor_hash')
		AND NOT r.relispartition AND r.relkind IN ('r', 'p')
		GROUP BY c.table_name ORDER BY c.table_name`)
	var out []Table
	var t Table
	_, err := pgx.ForEachRow(rows, []any{&t.Name, &t.HasProjectID, &t.HasVisitorHash}, func() error {
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tables with project_id or visitor_hash: %w", err)
	}
	return append(out, Table{Name: "projects"}), nil
}

// Project counts the rows of the project in every table (the projects row under "projects").
func Project(ctx context.Context, pool *pgxpool.Pool, projectID uuid.UUID) (Counts, error) {
	tables, err := Tables(ctx, pool)
	if err != nil {
		return nil, err
	}
	out := Counts{}
	for _, t := range tables {
		var where string
		switch {
		case t.Name == "projects":
			where = "id = $1"
		case t.HasProjectID:
			where = "project_id = $1"
		default:
			// A table with a visitor hash but no project: the hash is keyed by project, so such
			// rows could still be the project's; the scan refuses to guess and counts them all.
			where = "visitor_hash IS NOT NULL AND $1::uuid IS NOT NULL"
		}
		if out[t.Name], err = count(ctx, pool, t.Name, where, projectID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Visitor counts the rows of one visitor (its blinded hash) of a project in every table with
// a visitor_hash column.
func Visitor(ctx context.Context, pool *pgxpool.Pool, projectID uuid.UUID, visitorHash []byte) (Counts, error) {
	tables, err := Tables(ctx, pool)
	if err != nil {
		return nil, err
	}
	out := Counts{}
	for _, t := range tables {
		if !t.HasVisitorHash {
			continue
		}
		where, args := "visitor_hash = $1", []any{visitorHash}
		if t.HasProjectID {
			where, args = "project_id = $2 AND visitor_hash = $1", append(args, projectID)
		}
		if out[t.Name], err = count(ctx, pool, t.Name, where, args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func count(ctx context.Context, pool *pgxpool.Pool, table, where string, args ...any) (int64, error) {
	var n int64
	q := fmt.Sprintf(`/* residue.count */ SELECT count(*) FROM %s WHERE %s`, pgx.Identifier{table}.Sanitize(), where)
	if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", table, err)
	}
	return n, nil
}

// Left returns the tables, proof tables aside, that still hold rows.
func (c Counts) Left() Counts {
	out := Counts{}
	for t, n := range c {
		if n > 0 && !slices.Contains(ProofTables, t) {
			out[t] = n
		}
	}
	return out
}

// Removed returns, per table, how many rows fewer after holds than c (tables with none
// removed are left out).
func (c Counts) Removed(after Counts) Counts {
	out := Counts{}
	for t, n := range c {
		if d := n - after[t]; d != 0 {
			out[t] = d
		}
	}
	return out
}

// Total sums the counts.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// Names lists the tables in order.
func (c Counts) Names() []string { return slices.Sorted(maps.Keys(c)) }
