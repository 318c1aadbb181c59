package models_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"personas/internal/testenv"
)

// crossProjectJoins are the statements (by their tag) allowed to join two tables with a
// project_id without equating it, each with why. None is needed today: the account-level
// queries over memberships (a user's projects, ProjectsOf with the platform admin's
// cross-project list, ProjectByName) join memberships to projects on the project id itself,
// and the group commit's multi-project reads join a table to unnest($1, $2) arrays, not to a
// second table. A new statement that needs an exception is listed here with its reason, and
// the test fails for an entry no statement uses.
var crossProjectJoins = map[string]string{}

// TestNoQueryJoinsTwoProjects reads every SQL statement of the package (each string literal
// or concatenation of them in the non-test Go files; statements carry their caller's tag,
// /* Store.Method */): every join between two tables that hold per-project rows (a project_id
// column, read from the migrated schema, and projects itself, whose id is the project id)
// equates their project ids, or filters both on the same $n, so that a distributed PostgreSQL
// sharded by project runs each statement on one shard.
func TestNoQueryJoinsTwoProjects(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	rows, _ := e.Pool.Query(context.Background(), `SELECT DISTINCT table_name::text FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name = 'project_id'`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 {
		t.Fatalf("only %d tables with a project_id column: %v", len(names), names)
	}
	tables := projectKeys(names)
	stmts := packageStatements(t, ".")
	joins, tagged := 0, 0
	used := map[string]bool{}
	for _, s := range stmts {
		if s.tag != "" {
			tagged++
		}
		if !reJoin.MatchString(s.sql) {
			continue
		}
		joins++
		problems := checkJoins(s.sql, tables)
		if len(problems) == 0 {
			continue
		}
		if _, ok := crossProjectJoins[s.tag]; ok && s.tag != "" {
			used[s.tag] = true
			continue
		}
		for _, p := range problems {
			t.Errorf("%s (%s): %s", s.tag, s.pos, p)
		}
	}
	for tag := range crossProjectJoins {
		if !used[tag] {
			t.Errorf("crossProjectJoins lists %s, which no statement needs any more: remove it", tag)
		}
	}
	if tagged < 100 || joins < 15 {
		t.Errorf("found %d tagged statements, %d with a join: the scan of the package's SQL missed them", tagged, joins)
	}
	t.Logf("%d statements (%d tagged), %d with joins, checked against %d per-project tables", len(stmts), tagged, joins, len(tables))
}

// TestJoinChecker is the checker's own table: statements it must accept and the ones it must
// refuse.
func TestJoinChecker(t *testing.T) {
	t.Parallel()
	tables := projectKeys([]string{"events", "visitor_features", "personas", "persona_models", "memberships", "model_members"})
	for _, c := range []struct {
		name string
		sql  string
		ok   bool
	}{
		{"equated ids", `SELECT p.name FROM personas p JOIN projects pr ON pr.id = p.project_id WHERE p.project_id = $1`, true},
		{"equated, reversed", `SELECT 1 FROM persona_models m JOIN projects p ON m.project_id = p.id`, true},
		{"self join", `SELECT 1 FROM model_members a JOIN model_members b ON b.project_id = a.project_id AND b.visitor_hash = a.visitor_hash`, true},
		{"same parameter", `SELECT 1 FROM events e JOIN visitor_features f ON f.visitor_hash = e.visitor_hash WHERE e.project_id = $1 AND f.project_id = $1`, true},
		{"same parameter in ON", `SELECT 1 FROM events e JOIN visitor_features f ON f.project_id = $2 AND f.visitor_hash = e.visitor_hash WHERE e.project_id = $2`, true},
		{"a table without project", `SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1`, true},
		{"unnest", `SELECT 1 FROM visitor_features f JOIN unnest($1::uuid[], $2::bytea[]) AS u(p, h) ON f.project_id = u.p AND f.visitor_hash = u.h`, true},
		{"USING project_id", `SELECT 1 FROM events JOIN visitor_features USING (project_id, visitor_hash)`, true},
		{"catalog", `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid`, true},
		{"no project equality", `SELECT 1 FROM events e JOIN visitor_features f ON f.visitor_hash = e.visitor_hash WHERE e.project_id = $1`, false},
		{"two parameters", `SELECT 1 FROM events e JOIN visitor_features f ON f.visitor_hash = e.visitor_hash WHERE e.project_id = $1 AND f.project_id = $2`, false},
		{"projects on another column", `SELECT 1 FROM memberships m JOIN projects p ON p.owner_id = m.user_id`, false},
		{"left join on a version only", `SELECT p.id FROM projects p LEFT JOIN persona_models m ON m.version = p.model_version`, false},
		{"cross join", `SELECT 1 FROM personas a CROSS JOIN personas b WHERE a.project_id = $1`, false},
		{"comma join", `SELECT 1 FROM personas a, personas b WHERE a.project_id = $1 AND b.id = a.id`, false},
		{"comma join on the ids", `SELECT 1 FROM personas a, personas b WHERE a.project_id = b.project_id`, true},
		{"USING without project_id", `SELECT 1 FROM events JOIN visitor_features USING (visitor_hash)`, false},
		{"unqualified ON", `SELECT 1 FROM events e JOIN visitor_features f ON visitor_hash = f.visitor_hash`, false},
		{"in a subquery", `SELECT 1 FROM projects p WHERE EXISTS (SELECT 1 FROM personas a JOIN model_members b ON b.cluster = a.cluster WHERE a.project_id = p.id)`, false},
	} {
		problems := checkJoins(c.sql, tables)
		if ok := len(problems) == 0; ok != c.ok {
			t.Errorf("%s: accepted %v (problems %v), want %v\n%s", c.name, ok, problems, c.ok, c.sql)
		}
	}
}

// statement is one SQL text of the package with its tag and where it is.
type statement struct {
	sql, tag, pos string
}

var (
	reJoin = regexp.MustCompile(`(?i)\bjoin\b`)
	reTag  = regexp.MustCompile(`/\*\s*([A-Za-z]+\.[A-Za-z]+)\s*\*/`)
	reVerb = regexp.MustCompile(`%(\[\d+\])?[sdv]`)
)

// packageStatements returns every string literal, or concatenation of literals (other operands
// read as a placeholder identifier), of the non-test Go files in dir that looks like SQL.
func packageStatements(t *testing.T, dir string) []statement {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []statement
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var text string
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op != token.ADD {
					return true
				}
				var ok bool
				if text, ok = concat(n); !ok {
					return true
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				text = s
			default:
				return true
			}
			if !regexp.MustCompile(`(?i)\b(select|insert|update|delete)\b`).MatchString(text) {
				return false
			}
			st := statement{sql: reVerb.ReplaceAllString(text, " x "), pos: fset.Position(n.Pos()).String()}
			if m := reTag.FindStringSubmatch(text); m != nil {
				st.tag = m[1]
			}
			out = append(out, st)
			return false
		})
	}
	return out
}

// concat flattens a + chain with at least one string literal; other operands become " x ".
func concat(e ast.Expr) (string, bool) {
	var b strings.Builder
	lit := false
	var walk func(ast.Expr)
	walk = func(e ast.Expr) {
		switch e := e.(type) {
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				walk(e.X)
				walk(e.Y)
				return
			}
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				if s, err := strconv.Unquote(e.Value); err == nil {
					b.WriteString(s)
					lit = true
					return
				}
			}
		case *ast.ParenExpr:
			walk(e.X)
			return
		}
		b.WriteString(" x ")
	}
	walk(e)
	return b.String(), lit
}

// projectKeys maps each per-project table to its project key column: project_id, and id for
// projects.
func projectKeys(withProjectID []string) map[string]string {
	m := map[string]string{"projects": "id"}
	for _, n := range withProjectID {
		m[n] = "project_id"
	}
	return m
}

var (
	reToken = regexp.MustCompile(`\$\d+|[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?|'(?:[^']|'')*'|::|<>|<=|>=|\S`)
	// notAlias are the words that may follow a table name and are no alias.
	notAlias = map[string]bool{}
	// endOfOn are the words that end a join condition at its depth.
	endOfOn = map[string]bool{}
)

func init() {
	for _, w := range strings.Fields(`on using where join left right inner outer full cross natural group order limit offset
		as set values select union except intersect returning for having window lateral with and or not into default do
		tablesample`) {
		notAlias[w] = true
	}
	for _, w := range strings.Fields(`join left right inner full cross natural where group order limit offset union except
		intersect returning for having window on`) {
		endOfOn[w] = true
	}
}

type tok struct {
	s     string
	depth int
}

type decl struct {
	table, alias string
	at, depth    int
}

// checkJoins returns why each join of sql between two per-project tables (tables: table →
// project key column) does not keep to one project, or nothing.
func checkJoins(sql string, tables map[string]string) []string {
	sql = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(sql, " ")
	sql = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(sql, " ")
	var toks []tok
	depth := 0
	for _, s := range reToken.FindAllString(sql, -1) {
		s = strings.ToLower(s)
		if s == ")" {
			depth--
		}
		toks = append(toks, tok{s, depth})
		if s == "(" {
			depth++
		}
	}
	word := func(i int) string {
		if i < len(toks) {
			return toks[i].s
		}
		return ""
	}
	ident := func(s string) bool {
		return s != "" && (s[0] == '_' || s[0] >= 'a' && s[0] <= 'z') && !strings.Contains(s, ".")
	}
	// declare reads a table (and its alias) at i; it returns the declaration and the next index.
	declare := func(i int) (decl, int, bool) {
		for word(i) == "lateral" || word(i) == "only" {
			i++
		}
		name := word(i)
		if !ident(name) || notAlias[name] || word(i+1) == "(" {
			return decl{}, i, false
		}
		d := decl{table: name, alias: name, at: i, depth: toks[i].depth}
		i++
		if word(i) == "as" {
			i++
		}
		if a := word(i); ident(a) && !notAlias[a] {
			d.alias = a
			i++
		}
		return d, i, true
	}
	type join struct {
		right decl
		on    []int // token indexes of the condition (nil: none)
		using []string
	}
	var decls []decl
	var joins []join
	for i := 0; i < len(toks); i++ {
		switch toks[i].s {
		case "from", "update":
			d, next, ok := declare(i + 1)
			if !ok {
				continue
			}
			decls = append(decls, d)
			for word(next) == "," && toks[next].depth == d.depth {
				d2, n2, ok := declare(next + 1)
				if !ok {
					break
				}
				decls = append(decls, d2)
				joins = append(joins, join{right: d2})
				next = n2
			}
		case "join":
			d, next, ok := declare(i + 1)
			if !ok {
				continue
			}
			decls = append(decls, d)
			j := join{right: d}
			switch word(next) {
			case "on":
				for k := next + 1; k < len(toks) && toks[k].depth >= d.depth; k++ {
					if toks[k].depth == d.depth && (endOfOn[toks[k].s] || toks[k].s == ")") {
						break
					}
					j.on = append(j.on, k)
				}
			case "using":
				for k := next + 2; k < len(toks) && toks[k].s != ")"; k++ {
					j.using = append(j.using, toks[k].s)
				}
			}
			joins = append(joins, j)
		}
	}
	// Equalities anywhere in the statement: column = column, column = $n.
	pairs := map[[2]string]bool{}
	params := map[string]map[string]bool{}
	for i := 1; i+1 < len(toks); i++ {
		if toks[i].s != "=" {
			continue
		}
		a, b := toks[i-1].s, toks[i+1].s
		switch {
		case strings.Contains(a, ".") && strings.Contains(b, "."):
			pairs[[2]string{a, b}], pairs[[2]string{b, a}] = true, true
		case strings.Contains(a, ".") && strings.HasPrefix(b, "$"), strings.HasPrefix(a, "$") && strings.Contains(b, "."):
			col, p := a, b
			if strings.HasPrefix(a, "$") {
				col, p = b, a
			}
			if params[col] == nil {
				params[col] = map[string]bool{}
			}
			params[col][p] = true
		}
	}
	// resolve finds the table an alias names at token i: the latest declaration before it.
	resolve := func(alias string, i int) (decl, bool) {
		var found decl
		ok := false
		for _, d := range decls {
			if d.alias == alias && d.at < i {
				found, ok = d, true
			}
		}
		return found, ok
	}
	sameProject := func(r, l decl) bool {
		rk, lk := r.alias+"."+tables[r.table], l.alias+"."+tables[l.table]
		if pairs[[2]string{rk, lk}] {
			return true
		}
		for p := range params[rk] {
			if params[lk][p] {
				return true
			}
		}
		return false
	}
	var problems []string
	for _, j := range joins {
		r := j.right
		if _, ok := tables[r.table]; !ok {
			continue
		}
		var lefts []decl
		if j.using != nil {
			for _, d := range decls {
				if _, ok := tables[d.table]; ok && d.at < r.at && d.depth == r.depth {
					lefts = append(lefts, d)
				}
			}
			hasKey := false
			for _, c := range j.using {
				hasKey = hasKey || c == "project_id"
			}
			if !hasKey && len(lefts) > 0 {
				problems = append(problems, fmt.Sprintf("%s joins %s USING (%s), without project_id", r.table, lefts[len(lefts)-1].table, strings.Join(j.using, ", ")))
			}
			continue
		}
		referenced := false
		for _, k := range j.on {
			s := toks[k].s
			if !strings.Contains(s, ".") {
				if ident(s) && !notAlias[s] && !isSQLWord(s) && (word(k+1) == "=" || word(k-1) == "=") {
					problems = append(problems, fmt.Sprintf("the condition of the join of %s compares the unqualified column %q", r.table, s))
				}
				continue
			}
			alias := strings.SplitN(s, ".", 2)[0]
			if alias == r.alias {
				continue
			}
			referenced = true
			if d, ok := resolve(alias, k); ok {
				if _, per := tables[d.table]; per {
					lefts = append(lefts, d)
				}
			}
		}
		if !referenced { // CROSS JOIN, a comma, or a condition on the joined table alone
			for _, d := range decls {
				if _, ok := tables[d.table]; ok && d.at < r.at && d.depth == r.depth {
					lefts = append(lefts, d)
				}
			}
		}
		for _, l := range lefts {
			if !sameProject(r, l) {
				problems = append(problems, fmt.Sprintf("%s %s is joined to %s %s without %s.%s = %s.%s or both on the same $n",
					r.table, r.alias, l.table, l.alias, r.alias, tables[r.table], l.alias, tables[l.table]))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// isSQLWord reports the words of a condition that are no column: literals and operators' words.
func isSQLWord(s string) bool {
	switch s {
	case "true", "false", "null", "is", "in", "any", "all", "exists", "between", "like", "ilike", "coalesce", "now", "x":
		return true
	}
	return false
}
