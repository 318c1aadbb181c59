package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/enrichment"
	"personas/internal/testenv"
	"personas/jobs"
	"personas/models"
)

// The Azure double below speaks the wire format of enrichment/azure_test.go: the deployment
// path, the api-version query, the api-key header, and a chat completion whose content is the
// JSON answer.
const (
	azureDeployment = "personas-gpt-4o-mini"
	azureAPIVersion = "2024-10-21"
	azureKey        = "azure-key-never-logged-4d1e"
)

// sameNameAzure is an Azure OpenAI double (the wire format of enrichment/azure_test.go) that
// answers every request with the same persona, named name: an LLM that has one idea. It counts
// the requests and remembers whether a prompt told it the name was taken.
type sameNameAzure struct {
	name     string
	calls    atomic.Int64
	toldOnce atomic.Int64 // prompts that listed the name as taken
	srv      *httptest.Server
}

func newSameNameAzure(t *testing.T, name string) *sameNameAzure {
	a := &sameNameAzure{name: name}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		var req struct {
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) != 2 ||
			r.URL.Path != "/openai/deployments/"+azureDeployment+"/chat/completions" || r.Header.Get("api-key") != azureKey {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if strings.Contains(req.Messages[1].Content, "choose a different one): ") &&
			strings.Contains(req.Messages[1].Content, name) {
			a.toldOnce.Add(1)
		}
		answer, _ := json.Marshal(map[string]any{
			"name": name, "type": "deal_seeker", "tagline": "Always after a bargain",
			"summary": "Visitors who arrive from offers and compare prices.", "goals": []string{"Pay less"},
			"frustrations": []string{"Hidden costs"}, "suggested_actions": []string{"Show the saving"},
		})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-same", "object": "chat.completion", "created": 1763884800, "model": "gpt-4o-mini",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": string(answer)}}},
			"usage": map[string]any{"prompt_tokens": 300, "completion_tokens": 80, "total_tokens": 380},
		})
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// eightPersonas publishes a model of eight personas, named by the rules, for a new project.
func eightPersonas(t *testing.T, env *testenv.Env) (uuid.UUID, []uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	st := env.Store
	u, _, err := st.EnsureUser(ctx, "owner@names.example", "correct horse battery staple", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreateProject(ctx, u.ID, "Names", []string{"https://names.example"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.CreateTrainingRun(ctx, p.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := json.Marshal(classifier.PersonaStats{Size: 100, Share: 0.125,
		Traits:   []classifier.Trait{{Feature: "path:/deals", Value: 0.4, Population: 0.1, Z: 2}},
		TopPaths: []classifier.Share{{Key: "/deals", Share: 0.4}, {Key: "/p", Share: 0.3}},
		Channels: []classifier.Share{{Key: "campaign", Share: 0.6}}})
	pub := models.Publication{ProjectID: p.ID, RunID: run.ID, Blob: []byte("model"), K: 8, Metrics: []byte(`{}`)}
	var ids []uuid.UUID
	for c := range 8 {
		id := uuid.New()
		ids = append(ids, id)
		pub.Personas = append(pub.Personas, models.PublishedPersona{ID: id, New: true, Cluster: c, Share: 0.125, Size: 100,
			Traits: stats, Naming: models.Naming{Name: fmt.Sprintf("Persona %d", c+1), Type: "other", NamedBy: "rules"}})
	}
	if _, err := st.PublishModel(ctx, pub); err != nil {
		t.Fatal(err)
	}
	return p.ID, ids
}

// TestConcurrentEnrichmentNamesDistinct: eight enrichments of one project's eight personas run
// at once against an LLM that answers the same name every time, and end with eight distinct
// names in PostgreSQL (the name lock, the retry told the taken names, the fallbacks).
func TestConcurrentEnrichmentNamesDistinct(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	projectID, ids := eightPersonas(t, env)
	az := newSameNameAzure(t, "Bargain Hunters")
	cfg := enrichment.Config{Endpoint: az.srv.URL, APIKey: azureKey, Deployment: azureDeployment, APIVersion: azureAPIVersion,
		Timeout: 20 * time.Second}
	e := &jobs.Enricher{Store: env.Store, Enricher: enrichment.NewEnricher(enrichment.NewClient(cfg, nil), nil), Logger: slog.New(slog.DiscardHandler)}

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = e.Enrich(context.Background(), projectID, id)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("enrich persona %d: %v", i, err)
		}
	}

	rows, err := env.Pool.Query(context.Background(), `SELECT name, named_by FROM personas WHERE project_id = $1 ORDER BY name`, projectID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	byLLM := 0
	var names []string
	for rows.Next() {
		var name, by string
		if err := rows.Scan(&name, &by); err != nil {
			t.Fatal(err)
		}
		names = append(names, name+" ("+by+")")
		if seen[strings.ToLower(name)] {
			t.Errorf("name %q given twice", name)
		}
		seen[strings.ToLower(name)] = true
		if by == "llm" {
			byLLM++
		}
	}
	t.Logf("names: %v; %d LLM calls, %d prompts told the name was taken", names, az.calls.Load(), az.toldOnce.Load())
	if len(seen) != 8 {
		t.Errorf("%d distinct names, want 8: %v", len(seen), names)
	}
	if !seen["bargain hunters"] || byLLM < 1 {
		t.Errorf("the LLM's name is not among the names (%d named by the LLM): %v", byLLM, names)
	}
	if az.toldOnce.Load() == 0 {
		t.Errorf("no retry told the LLM the name was taken")
	}
}

// TestNamesUniqueInDatabase: the database refuses a second current persona of the same name in
// a project, ignoring case, and a rename to a taken name is a NameTakenError (the API's 409);
// another project, or a retired persona, may have the name.
func TestNamesUniqueInDatabase(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	projectID, ids := eightPersonas(t, env)
	if _, err := env.Pool.Exec(ctx, `UPDATE personas SET name = 'PERSONA 2' WHERE project_id = $1 AND id = $2`, projectID, ids[0]); err == nil {
		t.Error("the database took a second current persona named like another, ignoring case")
	}
	_, err := env.Store.RenamePersona(ctx, projectID, ids[0], "  persona 3 ")
	var nt *models.NameTakenError
	if !errors.As(err, &nt) || !errors.Is(err, models.ErrConflict) || !strings.Contains(err.Error(), "already named") {
		t.Errorf("rename to a taken name: %v, want a NameTakenError (conflict) saying so", err)
	}
	if p, err := env.Store.RenamePersona(ctx, projectID, ids[0], "Persona 1"); err != nil || p.Name != "Persona 1" {
		t.Errorf("renaming a persona to its own name: %v, %q", err, p.Name)
	}
	// A retired persona's name is free.
	if _, err := env.Pool.Exec(ctx, `UPDATE personas SET cluster = -1 WHERE project_id = $1 AND id = $2`, projectID, ids[7]); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.RenamePersona(ctx, projectID, ids[0], "Persona 8"); err != nil {
		t.Errorf("rename to a retired persona's name: %v", err)
	}
	// A rule-based result whose name is taken is stored under a free variant when resolved.
	n, err := env.Store.SetNaming(ctx, projectID, ids[1], models.Naming{Name: "Persona 3", Type: "other", NamedBy: "rules"},
		func(taken []string) models.Naming {
			return models.Naming{Name: enrichment.UniqueName("Persona 3", taken), Type: "other", NamedBy: "rules"}
		})
	if err != nil || n.Name != "Persona 3 2" {
		t.Errorf("SetNaming with a taken name = %q, %v; want the variant %q", n.Name, err, "Persona 3 2")
	}
	if _, err := env.Store.SetNaming(ctx, projectID, ids[1], models.Naming{Name: "persona 4", Type: "other", NamedBy: "rules"}, nil); !errors.As(err, &nt) || len(nt.Taken) != 6 {
		t.Errorf("SetNaming of a taken name without resolve: %v, want a NameTakenError with the 6 other current names", err)
	}
}

// TestRedescribeKeepsTheNameAndQuotesTheNewFigures: after a retrain that matched a persona, its
// texts are written again from the new figures (no summary quotes the older version) while its
// name stays the one people know it by, even when an LLM proposes another.
func TestRedescribeKeepsTheNameAndQuotesTheNewFigures(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	projectID, ids := eightPersonas(t, env)
	rules := &jobs.Enricher{Store: env.Store, Enricher: enrichment.NewEnricher(nil, nil), Logger: slog.New(slog.DiscardHandler)}
	if err := rules.Enrich(ctx, projectID, ids[0]); err != nil {
		t.Fatal(err)
	}
	before, err := env.Store.Persona(ctx, projectID, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	oldShare, newShare := models.FormatPercent(0.125), models.FormatPercent(0.31)
	if !strings.Contains(before.Summary, oldShare) {
		t.Fatalf("summary %q does not quote the persona's share of %s", before.Summary, oldShare)
	}
	// The retrain's figures: a larger persona.
	stats, _ := json.Marshal(classifier.PersonaStats{Size: 310, Share: 0.31,
		Traits:   []classifier.Trait{{Feature: "path:/deals", Value: 0.4, Population: 0.1, Z: 2}},
		TopPaths: []classifier.Share{{Key: "/deals", Share: 0.4}, {Key: "/p", Share: 0.3}},
		Channels: []classifier.Share{{Key: "campaign", Share: 0.6}}})
	if _, err := env.Pool.Exec(ctx, `UPDATE personas SET traits = $3, share = 0.31, size = 310 WHERE project_id = $1 AND id = $2`,
		projectID, ids[0], stats); err != nil {
		t.Fatal(err)
	}
	az := newSameNameAzure(t, "Bargain Hunters")
	cfg := enrichment.Config{Endpoint: az.srv.URL, APIKey: azureKey, Deployment: azureDeployment, APIVersion: azureAPIVersion,
		Timeout: 20 * time.Second}
	llm := &jobs.Enricher{Store: env.Store, Enricher: enrichment.NewEnricher(enrichment.NewClient(cfg, nil), nil), Logger: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name string
		e    *jobs.Enricher
	}{{"rules", rules}, {"llm", llm}} {
		if err := tc.e.Redescribe(ctx, projectID, ids[0]); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		after, err := env.Store.Persona(ctx, projectID, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if after.Name != before.Name {
			t.Errorf("%s: redescribed persona renamed %q → %q", tc.name, before.Name, after.Name)
		}
		switch tc.name {
		case "rules":
			if strings.Contains(after.Summary, oldShare) || !strings.Contains(after.Summary, newShare) {
				t.Errorf("rules: summary %q quotes the old share %s or not the new %s", after.Summary, oldShare, newShare)
			}
		case "llm":
			if after.NamedBy != "llm" || after.Summary != "Visitors who arrive from offers and compare prices." {
				t.Errorf("llm: named by %s with summary %q, want the LLM's texts under the old name", after.NamedBy, after.Summary)
			}
		}
	}
}
