package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// modulePath is the module's path, the prefix of its packages' import paths.
const modulePath = "personas"

// TestImportRules checks every production import of the module against the tables of
// docs/architecture.md.
func TestImportRules(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRules(string(doc))
	if err != nil {
		t.Fatalf("docs/architecture.md: %v", err)
	}
	g := loadGraph(t, root)
	for _, v := range r.check(g) {
		t.Error(v)
	}
}

// TestRulesCatchWrongImports runs the checker on made-up import graphs: each wrong import must
// be reported with its chain, and a correct graph must pass.
func TestRulesCatchWrongImports(t *testing.T) {
	t.Parallel()
	doc := `
| package | owns | may import | outside the module |
| --- | --- | --- | --- |
| ` + "`cmd/personas`" + ` | main | everything | any |
| ` + "`api`" + ` | http | ` + "`models`, `privacy`" + ` | any |
| ` + "`models`" + ` | sql | ` + "`privacy`" + ` | any |
| ` + "`privacy`" + ` | crypto | — | ` + "`golang.org/x/crypto`" + ` |
| ` + "`classifier`" + ` | maths | — | ` + "`gonum.org/v1/gonum`" + ` |
| ` + "`scripts/*`" + ` | programs | everything, test support | any |

| test support | owns |
| --- | --- |
| ` + "`internal/testenv`" + ` | databases |

| third-party module | only in |
| --- | --- |
| ` + "`github.com/jackc/pgx/v5`" + ` | ` + "`models`" + `, test support |

| pure package | never depends on |
| --- | --- |
| ` + "`classifier`" + ` | ` + "`net/http`" + ` |

| package | imports | until |
| --- | --- | --- |
| ` + "`api`" + ` | ` + "`github.com/jackc/pgx/v5`" + ` | later |
`
	r, err := parseRules(doc)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(name string, imports ...string) *pkg {
		return &pkg{ImportPath: modulePath + "/" + name, Module: &module{Path: modulePath, Main: true}, Imports: imports}
	}
	std := func(path string, imports ...string) *pkg {
		return &pkg{ImportPath: path, Standard: true, Imports: imports}
	}
	ext := func(modPath, path string) *pkg { return &pkg{ImportPath: path, Module: &module{Path: modPath}} }
	base := func() graph {
		g := graph{}
		for _, p := range []*pkg{
			mod("cmd/personas", "personas/api", "personas/models"),
			mod("api", "personas/models", "github.com/jackc/pgx/v5"),
			mod("models", "personas/privacy", "github.com/jackc/pgx/v5/pgxpool"),
			mod("privacy", "golang.org/x/crypto/argon2", "net/url"),
			mod("classifier", "gonum.org/v1/gonum/stat", "math"),
			mod("scripts/load", "personas/internal/testenv", "personas/api"),
			mod("internal/testenv", "personas/models", "github.com/jackc/pgx/v5/pgxpool"),
			ext("github.com/jackc/pgx/v5", "github.com/jackc/pgx/v5"),
			ext("github.com/jackc/pgx/v5", "github.com/jackc/pgx/v5/pgxpool"),
			ext("golang.org/x/crypto", "golang.org/x/crypto/argon2"),
			ext("gonum.org/v1/gonum", "gonum.org/v1/gonum/stat"),
			std("math"), std("net/url"), std("net"), std("net/http", "net"), std("mime", "net/http"),
		} {
			g[p.ImportPath] = p
		}
		return g
	}
	if v := r.check(base()); len(v) != 0 {
		t.Fatalf("a graph within the rules was refused:\n%s", strings.Join(v, "\n"))
	}
	tests := []struct {
		name   string
		change func(graph)
		want   []string
	}{
		{"privacy imports models", func(g graph) {
			g["personas/privacy"].Imports = append(g["personas/privacy"].Imports, "personas/models")
		},
			[]string{"personas/privacy → personas/models: privacy may not import models (docs/architecture.md)"}},
		{"classifier uses HTTP through another package", func(g graph) { g["personas/classifier"].Imports = append(g["personas/classifier"].Imports, "mime") },
			[]string{"personas/classifier → mime → net/http: classifier is pure and may not depend on net/http (docs/architecture.md)"}},
		{"production imports test support", func(g graph) {
			g["personas/api"].Imports = append(g["personas/api"].Imports, "personas/internal/testenv")
		},
			[]string{"personas/api → personas/internal/testenv: api may not import internal/testenv (docs/architecture.md)"}},
		{"a package not in the table", func(g graph) { g["personas/mystery"] = mod("mystery") },
			[]string{"personas/mystery is not in the package table: add it to docs/architecture.md and the table"}},
		{"pgx outside its packages", func(g graph) {
			g["personas/cmd/personas"].Imports = append(g["personas/cmd/personas"].Imports, "github.com/jackc/pgx/v5/pgxpool")
		}, []string{"personas/cmd/personas → github.com/jackc/pgx/v5/pgxpool: only models, test support may import github.com/jackc/pgx/v5 (docs/architecture.md)"}},
		{"classifier imports a module not its own", func(g graph) {
			g["personas/classifier"].Imports = append(g["personas/classifier"].Imports, "golang.org/x/crypto/argon2")
		}, []string{"personas/classifier → golang.org/x/crypto/argon2: classifier may not import golang.org/x/crypto (outside the module: gonum.org/v1/gonum) (docs/architecture.md)"}},
		{"an exception no longer needed", func(g graph) {
			g["personas/api"].Imports = slices.DeleteFunc(g["personas/api"].Imports, func(s string) bool { return strings.HasPrefix(s, "github.com/jackc") })
		}, []string{"api no longer imports github.com/jackc/pgx/v5: delete its row from \"Imports still to be removed\" in docs/architecture.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := base()
			tt.change(g)
			if diff := cmp.Diff(tt.want, r.check(g)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestArchitectureTables checks that the real tables hold what DESIGN.md says, so that a table
// emptied or misparsed cannot let everything through.
func TestArchitectureTables(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join(moduleRoot(t), "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRules(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to string }{
		{"privacy", "models"}, {"classifier", "models"}, {"ingest", "api"}, {"ingest", "jobs"},
		{"classify", "api"}, {"classify", "jobs"}, {"receipt", "api"}, {"receipt", "jobs"},
		{"models", "api"}, {"jobs", "api"}, {"config", "models"}, {"api", "internal/testenv"},
		{"api", "config"}, {"api", "internal/demodata"}, {"models", "internal/testenv"},
	} {
		if r.allowedModule(c.from, c.to) {
			t.Errorf("docs/architecture.md lets %s import %s", c.from, c.to)
		}
	}
	for _, c := range []struct{ from, to string }{
		{"api", "jobs/queue"}, {"api", "ingest"}, {"api", "classify"}, {"jobs", "classify"},
		{"cmd/personas", "config"}, {"cmd/personas", "internal/demodata"}, {"internal/testserver", "internal/wiring"},
		{"scripts/quality", "internal/testenv"},
	} {
		if !r.allowedModule(c.from, c.to) {
			t.Errorf("docs/architecture.md does not let %s import %s", c.from, c.to)
		}
	}
	if got := r.rows["classifier"].outside; !slices.Equal(got, []string{"gonum.org/v1/gonum"}) {
		t.Errorf("classifier may import %v outside the module, want only gonum", got)
	}
	if len(r.pure["classifier"]) == 0 || len(r.pure["privacy"]) == 0 {
		t.Errorf("classifier and privacy must be pure packages, got %v", r.pure)
	}
	if len(r.exclusive) < 3 {
		t.Errorf("want the pgx, asynq and gin rules, got %d third-party rules", len(r.exclusive))
	}
}

// rules are the tables of docs/architecture.md.
type rules struct {
	rows        map[string]row // package or pattern ("scripts/*") → its row
	testSupport map[string]bool
	exclusive   []exclusive
	pure        map[string][]string
	pending     []pending
}

type row struct {
	imports     []string // module packages, relative to the module
	everything  bool
	testSupport bool
	outsideAny  bool
	outside     []string // module paths outside this module
}

type exclusive struct {
	module      string
	only        []string
	testSupport bool
}

type pending struct{ pkg, imports string }

// parseRules reads the tables of docs/architecture.md, each found by its header.
func parseRules(doc string) (*rules, error) {
	r := &rules{rows: map[string]row{}, testSupport: map[string]bool{}, pure: map[string][]string{}}
	found := map[string]bool{}
	for _, tb := range tables(doc) {
		switch h := strings.Join(tb.header, "|"); h {
		case "package|owns|may import|outside the module":
			for _, c := range tb.rows {
				name, err := onePath(c[0])
				if err != nil {
					return nil, err
				}
				rw := row{}
				for _, w := range words(c[2]) {
					switch {
					case w == "everything":
						rw.everything = true
					case w == "test support":
						rw.testSupport = true
					case w == "—" || w == "-":
					case isCode(w):
						rw.imports = append(rw.imports, strings.Trim(w, "`"))
					default:
						return nil, fmt.Errorf("package %s: unknown word %q in \"may import\"", name, w)
					}
				}
				for _, w := range words(c[3]) {
					switch {
					case w == "any":
						rw.outsideAny = true
					case w == "none":
					case isCode(w):
						rw.outside = append(rw.outside, strings.Trim(w, "`"))
					default:
						return nil, fmt.Errorf("package %s: unknown word %q in \"outside the module\"", name, w)
					}
				}
				r.rows[name] = rw
			}
		case "test support|owns":
			for _, c := range tb.rows {
				name, err := onePath(c[0])
				if err != nil {
					return nil, err
				}
				r.testSupport[name] = true
			}
		case "third-party module|only in":
			for _, c := range tb.rows {
				m, err := onePath(c[0])
				if err != nil {
					return nil, err
				}
				e := exclusive{module: m}
				for _, w := range words(c[1]) {
					switch {
					case w == "test support":
						e.testSupport = true
					case isCode(w):
						e.only = append(e.only, strings.Trim(w, "`"))
					default:
						return nil, fmt.Errorf("module %s: unknown word %q in \"only in\"", m, w)
					}
				}
				r.exclusive = append(r.exclusive, e)
			}
		case "pure package|never depends on":
			for _, c := range tb.rows {
				name, err := onePath(c[0])
				if err != nil {
					return nil, err
				}
				for _, w := range words(c[1]) {
					r.pure[name] = append(r.pure[name], strings.Trim(w, "`"))
				}
			}
		case "package|imports|until":
			for _, c := range tb.rows {
				p, err := onePath(c[0])
				if err != nil {
					return nil, err
				}
				i, err := onePath(c[1])
				if err != nil {
					return nil, err
				}
				r.pending = append(r.pending, pending{p, i})
			}
		default:
			continue
		}
		found[strings.Join(tb.header, "|")] = true
	}
	if !found["package|owns|may import|outside the module"] {
		return nil, errors.New(`no package table (header "| package | owns | may import | outside the module |")`)
	}
	return r, nil
}

type table struct {
	header []string
	rows   [][]string
}

// tables finds the Markdown tables of doc: a header line, a --- line, and rows.
func tables(doc string) []table {
	var out []table
	lines := strings.Split(doc, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "|") || !strings.HasPrefix(lines[i+1], "| ---") {
			continue
		}
		tb := table{header: cells(lines[i])}
		for i += 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
			c := cells(lines[i])
			for len(c) < len(tb.header) {
				c = append(c, "")
			}
			tb.rows = append(tb.rows, c)
		}
		out = append(out, tb)
	}
	return out
}

func cells(line string) []string {
	parts := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// words splits a cell on commas and semicolons.
func words(cell string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(cell, func(r rune) bool { return r == ',' || r == ';' }) {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

func isCode(w string) bool {
	return len(w) > 2 && strings.HasPrefix(w, "`") && strings.HasSuffix(w, "`")
}

func onePath(cell string) (string, error) {
	if !isCode(cell) {
		return "", fmt.Errorf("want a `path` in the first column, got %q", cell)
	}
	return strings.Trim(cell, "`"), nil
}

// matches reports whether a package (relative to the module) matches a table entry, which is
// a package or a pattern ending in /*.
func matches(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(name, p+"/")
	}
	return pattern == name
}

// row returns the package table's row of a production package.
func (r *rules) row(name string) (row, bool) {
	if rw, ok := r.rows[name]; ok {
		return rw, true
	}
	for p, rw := range r.rows {
		if matches(p, name) {
			return rw, true
		}
	}
	return row{}, false
}

func (r *rules) isTestSupport(name string) bool { return r.testSupport[name] }

// allowedModule reports whether module package from may import module package to.
func (r *rules) allowedModule(from, to string) bool {
	if r.isTestSupport(from) {
		return true
	}
	rw, ok := r.row(from)
	if !ok {
		return false
	}
	if r.isTestSupport(to) {
		return rw.testSupport
	}
	return rw.everything || slices.ContainsFunc(rw.imports, func(p string) bool { return matches(p, to) })
}

func within(modPath, prefix string) bool {
	return modPath == prefix || strings.HasPrefix(modPath, prefix+"/")
}

// check returns one message per import of g that the rules do not allow.
func (r *rules) check(g graph) []string {
	var out []string
	used := make([]bool, len(r.pending))
	isPending := func(from, to string) bool {
		for i, p := range r.pending {
			if p.pkg == from && (p.imports == to || within(to, p.imports)) {
				used[i] = true
				return true
			}
		}
		return false
	}
	for _, path := range g.modulePackages() {
		p := g[path]
		name := rel(path)
		rw, inTable := r.row(name)
		if !inTable && !r.isTestSupport(name) {
			out = append(out, fmt.Sprintf("%s is not in the package table: add it to docs/architecture.md and the table", path))
			continue
		}
		for _, imp := range p.Imports {
			q := g[imp]
			switch {
			case q == nil || q.Standard:
			case q.Module != nil && q.Module.Main:
				if !r.allowedModule(name, rel(imp)) && !isPending(name, rel(imp)) {
					out = append(out, fmt.Sprintf("%s%s → %s: %s may not import %s (docs/architecture.md)", p.where(imp), path, imp, name, rel(imp)))
				}
			default:
				mp := imp
				if q.Module != nil {
					mp = q.Module.Path
				}
				if !r.isTestSupport(name) && !rw.outsideAny && !slices.ContainsFunc(rw.outside, func(o string) bool { return within(mp, o) }) &&
					!isPending(name, mp) {
					allowed := "none"
					if len(rw.outside) > 0 {
						allowed = strings.Join(rw.outside, ", ")
					}
					out = append(out, fmt.Sprintf("%s%s → %s: %s may not import %s (outside the module: %s) (docs/architecture.md)",
						p.where(imp), path, imp, name, mp, allowed))
					continue
				}
				for _, e := range r.exclusive {
					if !within(mp, e.module) {
						continue
					}
					ok := (e.testSupport && r.isTestSupport(name)) || slices.ContainsFunc(e.only, func(o string) bool { return matches(o, name) })
					if !ok && !isPending(name, e.module) {
						only := slices.Clone(e.only)
						if e.testSupport {
							only = append(only, "test support")
						}
						out = append(out, fmt.Sprintf("%s%s → %s: only %s may import %s (docs/architecture.md)",
							p.where(imp), path, imp, strings.Join(only, ", "), e.module))
					}
				}
			}
		}
		for _, forbidden := range r.pure[name] {
			if chain := g.chain(path, forbidden); chain != nil {
				out = append(out, fmt.Sprintf("%s: %s is pure and may not depend on %s (docs/architecture.md)", strings.Join(chain, " → "), name, forbidden))
			}
		}
	}
	for i, p := range r.pending {
		if !used[i] {
			out = append(out, fmt.Sprintf("%s no longer imports %s: delete its row from \"Imports still to be removed\" in docs/architecture.md", p.pkg, p.imports))
		}
	}
	return out
}

func rel(path string) string { return strings.TrimPrefix(path, modulePath+"/") }

// pkg is what go list -json reports of a package, as far as the rules need it.
type pkg struct {
	ImportPath string
	Dir        string
	Standard   bool
	Module     *module
	GoFiles    []string
	Imports    []string
}

type module struct {
	Path string
	Main bool
}

// where names the file and line of p that imports imp ("" when not found, as in made-up graphs).
func (p *pkg) where(imp string) string {
	for _, f := range p.GoFiles {
		fset := token.NewFileSet()
		af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.ImportsOnly)
		if err != nil {
			continue
		}
		for _, s := range af.Imports {
			if v, _ := strconv.Unquote(s.Path.Value); v == imp {
				return fmt.Sprintf("%s:%d: ", filepath.Join(rel(p.ImportPath), f), fset.Position(s.Pos()).Line)
			}
		}
	}
	return ""
}

// graph is the import graph: import path → package.
type graph map[string]*pkg

func (g graph) modulePackages() []string {
	var out []string
	for path, p := range g {
		if p.Module != nil && p.Module.Main {
			out = append(out, path)
		}
	}
	slices.Sort(out)
	return out
}

// chain returns the shortest import chain from one package to another, or nil.
func (g graph) chain(from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var c []string
			for ; cur != ""; cur = prev[cur] {
				c = append(c, cur)
			}
			slices.Reverse(c)
			return c
		}
		if p := g[cur]; p != nil {
			for _, imp := range p.Imports {
				if _, seen := prev[imp]; !seen {
					prev[imp] = cur
					queue = append(queue, imp)
				}
			}
		}
	}
	return nil
}

// loadGraph runs go list on the whole module with the build tags of make test.
func loadGraph(t *testing.T, root string) graph {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "nomsgpack", "-deps", "-json=ImportPath,Dir,Standard,Module,GoFiles,Imports", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		g[p.ImportPath] = &p
	}
	if len(g.modulePackages()) < 10 {
		t.Fatalf("go list found only %d packages of the module", len(g.modulePackages()))
	}
	return g
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
