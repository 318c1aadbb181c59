package api_test

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"

	"personas/api"
	"personas/collector"
	"personas/internal/openapitest"
)

// documented says whether the OpenAPI document must describe a route. The rule: every route
// the router registers (the API, the operational endpoints, the collector script and its HEAD,
// and the dashboard's pages and forms).
func documented(string) bool { return true }

// collectorTemplate is the collector script's route as the document writes it: the router
// registers the current version's path.
const collectorTemplate = "/collector/{version}.js"

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openAPITemplate converts a gin route to the document's form: :param and *param → {param}.
func openAPITemplate(path string) string {
	if path == collector.Path() {
		return collectorTemplate
	}
	return ginParam.ReplaceAllString(path, "{$1}")
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true,
	"head": true, "patch": true, "trace": true}

func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Fatalf("docs/openapi.yaml: openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
	var inDoc []string
	for path, item := range doc.Paths {
		for m := range item {
			if httpMethods[m] {
				inDoc = append(inDoc, strings.ToUpper(m)+" "+path)
			}
		}
	}

	srv := api.NewServer(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var inRouter []string
	for _, r := range srv.Routes() {
		p := openAPITemplate(r.Path)
		if documented(r.Method) {
			inRouter = append(inRouter, r.Method+" "+p)
		}
	}
	sort.Strings(inDoc)
	sort.Strings(inRouter)
	if diff := cmp.Diff(inRouter, inDoc); diff != "" {
		t.Errorf("router (-) and docs/openapi.yaml (+) disagree; document every route the router registers:\n%s", diff)
	}
	if len(inRouter) < 40 {
		t.Errorf("only %d documented routes in the router: the rule above lost some", len(inRouter))
	}
}

// TestOpenAPIDocumentIsServed holds GET /v1/openapi.yaml to docs/openapi.yaml byte for byte,
// public and as YAML, and the reference page to the document: every operation's method, path
// and summary, and every schema, are on it.
func TestOpenAPIDocumentIsServed(t *testing.T) {
	file, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := openapitest.Handler(t, srv.Handler())
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	w := get("/v1/openapi.yaml")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /v1/openapi.yaml: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if !bytes.Equal(w.Body.Bytes(), file) {
		t.Errorf("the served document (%d bytes) is not docs/openapi.yaml (%d bytes)", w.Body.Len(), len(file))
	}

	w = get("/docs/api")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs/api: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	page := w.Body.String()
	var doc struct {
		Paths      map[string]map[string]any `yaml:"paths"`
		Components struct {
			Schemas map[string]any `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(file, &doc); err != nil {
		t.Fatal(err)
	}
	ops := 0
	for path, item := range doc.Paths {
		for m, raw := range item {
			if !httpMethods[m] {
				continue
			}
			ops++
			fields, _ := raw.(map[string]any)
			op := struct{ OperationID, Summary string }{fmt.Sprint(fields["operationId"]), fmt.Sprint(fields["summary"])}
			id := `id="op-` + op.OperationID + `"`
			i := strings.Index(page, id)
			if i < 0 {
				t.Errorf("%s %s (%s) is not on the reference page", strings.ToUpper(m), path, op.OperationID)
				continue
			}
			card := html.UnescapeString(page[i:min(len(page), i+3000)])
			for _, want := range []string{">" + strings.ToUpper(m) + "<", path, op.Summary} {
				if !strings.Contains(card, want) {
					t.Errorf("the reference page's %s lacks %q", op.OperationID, want)
				}
			}
		}
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("schema %s is not on the reference page", name)
		}
	}
	if ops < 100 || !strings.Contains(page, `href="#schema-Project"`) || strings.Contains(page, "<script src=\"http") {
		t.Errorf("reference page: %d operations, links to schemas %v, external scripts %v", ops,
			strings.Contains(page, `href="#schema-Project"`), strings.Contains(page, "<script src=\"http"))
	}
}
