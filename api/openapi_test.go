package api_test

import (
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"

	"personas/api"
	"personas/collector"
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
