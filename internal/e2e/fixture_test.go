package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/demodata"
	"personas/internal/testserver"
)

// persona is a persona as the management API lists it.
type persona struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// answer is the classify answer, as POST /v1/classify and window.personas.persona() give it.
type answer struct {
	Persona       *persona `json:"persona"`
	Confidence    float64  `json:"confidence"`
	Probabilities []struct {
		PersonaID string  `json:"persona_id"`
		P         float64 `json:"p"`
	} `json:"probabilities"`
	ModelVersion *int   `json:"model_version"`
	Reason       string `json:"reason"`
}

// page is a page of the customer's site: head HTML (after the charset) and body HTML.
type page struct{ Head, Body string }

// shop is a trained project of a running service and a customer site on another origin
// that installs the project's real snippet.
type shop struct {
	Srv      *testserver.Server
	Acct     testserver.Account
	Site     string // origin of the customer's site
	Snippet  string // as GET /v1/projects/{id}/snippet returns it
	Personas []persona
	Version  int
	// Visitors are imported visitors (32 hex digits, as the script makes them) whose
	// stored history the model classifies as a persona ("ok").
	Visitors []string

	mu    sync.Mutex
	pages map[string]page
}

// newShop starts the service, imports the demo shop's traffic, trains a model through the
// API and starts the customer's site. It takes several seconds.
func newShop(t testing.TB) *shop {
	t.Helper()
	return newShopWith(t, testserver.Options{})
}

// newShopWith is newShop on a service with these options.
func newShopWith(t testing.TB, opts testserver.Options) *shop {
	t.Helper()
	srv := testserver.New(t, opts)
	s := &shop{Srv: srv, Acct: srv.NewAccount(t, "owner@shop.example", false), pages: map[string]page{}}
	site := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(site.Close)
	s.Site = site.URL
	base := "/v1/projects/" + s.Acct.ProjectID.String()

	r := srv.Do(t, testserver.Request{Method: "PATCH", Path: base, Token: s.Acct.Token,
		Body: map[string]any{"allowed_origins": []string{testserver.Origin, s.Site}}})
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH allowed_origins: status %d: %s", r.Status, r.Body)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: base + "/snippet", Token: s.Acct.Token})
	var sn struct {
		Snippet string `json:"snippet"`
	}
	r.JSON(t, &sn)
	if r.Status != http.StatusOK || !strings.Contains(sn.Snippet, "<style>") || !strings.Contains(sn.Snippet, `integrity="sha384-`) ||
		!strings.Contains(sn.Snippet, `data-endpoint="`+srv.URL+`"`) {
		t.Fatalf("GET snippet: status %d: %s; want the style and a pinned script tag for %s", r.Status, r.Body, srv.URL)
	}
	s.Snippet = sn.Snippet

	vs := demodata.Generate(demodata.Config{Visitors: 300, Days: 14, End: time.Now().Add(-time.Hour),
		Site: testserver.Origin, Seed: 12})
	s.importVisitors(t, vs)
	s.Version = s.train(t)

	r = srv.Do(t, testserver.Request{Method: "GET", Path: base + "/personas", Token: s.Acct.Token})
	var l struct {
		Personas []persona `json:"personas"`
	}
	r.JSON(t, &l)
	if r.Status != http.StatusOK || len(l.Personas) < 2 {
		t.Fatalf("GET personas: status %d: %s; want at least two", r.Status, r.Body)
	}
	s.Personas = l.Personas

	// Visitors with a stable answer: classified "ok" by the API before any page runs.
	for _, v := range vs {
		if a := s.Classify(t, v.ID); a.Reason == "ok" && a.Persona != nil {
			s.Visitors = append(s.Visitors, v.ID)
			if len(s.Visitors) == 5 {
				break
			}
		}
	}
	if len(s.Visitors) < 3 {
		t.Fatalf("only %d imported visitors are classified ok", len(s.Visitors))
	}
	return s
}

func (s *shop) importVisitors(t testing.TB, vs []demodata.Visitor) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, v := range vs {
		for _, l := range v.Lines {
			if err := enc.Encode(l); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := s.Srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + s.Acct.ProjectID.String() + "/import",
		Token: s.Acct.Token, Body: body.Bytes(), Header: map[string]string{"Content-Type": "application/x-ndjson"}})
	if r.Status != http.StatusOK {
		t.Fatalf("import: status %d: %s", r.Status, r.Body)
	}
}

// train asks for a training through the API, waits for its run and returns the published version.
func (s *shop) train(t testing.TB) int {
	t.Helper()
	base := "/v1/projects/" + s.Acct.ProjectID.String()
	r := s.Srv.Do(t, testserver.Request{Method: "POST", Path: base + "/models", Token: s.Acct.Token})
	var acc struct {
		ID uuid.UUID `json:"id"`
	}
	r.JSON(t, &acc)
	if r.Status != http.StatusAccepted || acc.ID == uuid.Nil {
		t.Fatalf("POST models: status %d: %s", r.Status, r.Body)
	}
	var run struct {
		Status       string `json:"status"`
		Reason       string `json:"reason"`
		ModelVersion *int   `json:"model_version"`
	}
	testserver.Eventually(t, 120*time.Second, "training run finished", func() bool {
		r := s.Srv.Do(t, testserver.Request{Method: "GET", Path: base + "/training-runs/" + acc.ID.String(), Token: s.Acct.Token})
		r.JSON(t, &run)
		return run.Status != "queued" && run.Status != "running"
	})
	if run.Status != "published" || run.ModelVersion == nil {
		t.Fatalf("training run = %+v, want published", run)
	}
	return *run.ModelVersion
}

// Classify asks POST /v1/classify about a visitor, from the site's origin, without events.
func (s *shop) Classify(t testing.TB, visitorID string) answer {
	t.Helper()
	r := s.Srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/classify",
		Header: map[string]string{"Origin": s.Site, "Content-Type": "text/plain"},
		Body:   map[string]any{"site_key": s.Acct.SiteKey, "visitor_id": visitorID, "events": []any{}}})
	var a answer
	r.JSON(t, &a)
	if r.Status != http.StatusOK {
		t.Fatalf("classify %s: status %d: %s", visitorID, r.Status, r.Body)
	}
	return a
}

// Page sets what the site serves at path.
func (s *shop) Page(path string, p page) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages[path] = p
}

func (s *shop) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.pages[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title>%s</head><body>%s</body></html>",
		html.EscapeString(r.URL.Path), p.Head, p.Body)
}
