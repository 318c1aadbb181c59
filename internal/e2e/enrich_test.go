package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"personas/enrichment"
	"personas/internal/demodata"
	"personas/internal/testenv"
	"personas/internal/testserver"
)

// The Azure double below speaks the wire format of enrichment/azure_test.go: the deployment
// path, the api-version query, the api-key header, and a chat completion whose content is the
// JSON answer.
const (
	azureDeployment = "personas-gpt-4o-mini"
	azureAPIVersion = "2024-10-21"
	azureKey        = "azure-key-never-logged-4d1e"
)

// azure is an httptest double of an Azure OpenAI deployment. It keeps every prompt it was sent,
// so a test can prove what the model saw.
type azure struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	prompts []string
	names   []string
}

func newAzure(t *testing.T) *azure {
	a := &azure{t: t}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *azure) config() enrichment.Config {
	return enrichment.Config{Endpoint: a.srv.URL, APIKey: azureKey, Deployment: azureDeployment, APIVersion: azureAPIVersion,
		Timeout: 10 * time.Second}
}

func (a *azure) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := a.t
	if want := "/openai/deployments/" + azureDeployment + "/chat/completions"; r.URL.Path != want {
		t.Errorf("request path = %q, want %q", r.URL.Path, want)
	}
	if got := r.URL.Query().Get("api-version"); got != azureAPIVersion {
		t.Errorf("api-version = %q, want %q", got, azureAPIVersion)
	}
	if got := r.Header.Get("api-key"); got != azureKey {
		t.Errorf("api-key header = %q, want the configured key", got)
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) != 2 || req.Model != azureDeployment {
		t.Errorf("request body %.200s: want a chat completion with a system and a user message", body)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.prompts = append(a.prompts, req.Messages[1].Content)
	name := fmt.Sprintf("Lantern Persona %c", 'A'+len(a.names))
	a.names = append(a.names, name)
	a.mu.Unlock()
	answer, _ := json.Marshal(map[string]any{
		"name": name, "type": "buyer", "tagline": "Knows what they want and buys it",
		"summary":           "Visitors who come back to compare and then buy within a few visits.",
		"goals":             []string{"Find the right product fast"},
		"frustrations":      []string{"Slow checkout"},
		"suggested_actions": []string{"Shorten the checkout"},
	})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": 1763884800, "model": "gpt-4o-mini-2024-07-18",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "logprobs": nil,
			"message": map[string]any{"role": "assistant", "content": string(answer), "refusal": nil}}},
		"usage": map[string]any{"prompt_tokens": 412, "completion_tokens": 187, "total_tokens": 599},
	})
}

func (a *azure) seen() (prompts, names []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.prompts), slices.Clone(a.names)
}

// importLines posts demo traffic as NDJSON, with extra lines.
func importLines(t *testing.T, srv *testserver.Server, token string, projectID uuid.UUID, vs []demodata.Visitor) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, v := range vs {
		for _, l := range v.Lines {
			_ = enc.Encode(l)
		}
	}
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + projectID.String() + "/import", Token: token,
		Body: body.Bytes(), Header: map[string]string{"Content-Type": "application/x-ndjson"}})
	if r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
}

// redisDump reads every key of the Redis database with its value, by type: strings, hashes,
// lists, sets, sorted sets and streams (asynq keeps tasks in hashes, queues in lists and sorted
// sets).
func redisDump(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 500).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", k, err)
		}
		fmt.Fprintf(&b, "%s (%s):", k, typ)
		switch typ {
		case "string":
			v, _ := rdb.Get(ctx, k).Result()
			b.WriteString(v)
		case "hash":
			m, _ := rdb.HGetAll(ctx, k).Result()
			for f, v := range m {
				fmt.Fprintf(&b, " %s=%s", f, v)
			}
		case "list":
			vs, _ := rdb.LRange(ctx, k, 0, -1).Result()
			b.WriteString(strings.Join(vs, " "))
		case "set":
			vs, _ := rdb.SMembers(ctx, k).Result()
			b.WriteString(strings.Join(vs, " "))
		case "zset":
			vs, _ := rdb.ZRange(ctx, k, 0, -1).Result()
			b.WriteString(strings.Join(vs, " "))
		case "stream":
			xs, _ := rdb.XRange(ctx, k, "-", "+").Result()
			for _, x := range xs {
				fmt.Fprintf(&b, " %v", x.Values)
			}
		default:
			t.Fatalf("key %s of unexpected type %s", k, typ)
		}
		b.WriteString("\n")
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// tablesContaining names the tables whose COPY blocks in a pg_dump contain s.
func tablesContaining(dump, s string) []string {
	var out []string
	table := ""
	for _, line := range strings.Split(dump, "\n") {
		if strings.HasPrefix(line, "COPY ") {
			table = strings.Fields(line)[1]
			if i := strings.LastIndexByte(table, '_'); i > 0 && len(table)-i == 9 && strings.Trim(table[i+1:], "0123456789") == "" { // a day partition
				table = table[:i]
			}
			continue
		}
		if line == `\.` {
			table = ""
		}
		if strings.Contains(line, s) && !slices.Contains(out, table) {
			out = append(out, table)
		}
	}
	return out
}

// TestEnrichmentDiscardsItsInputs runs training and enrichment against the Azure double with a
// unique marker in the business context and another in a path group (so in the traits), and
// proves that after enrichment the prompt and the answer are gone: the context marker is nowhere
// in PostgreSQL, Redis or the logs, the path marker only in the collected data it came from,
// while the names the double returned are stored.
func TestEnrichmentDiscardsItsInputs(t *testing.T) {
	az := newAzure(t)
	llmLogs := &testserver.SyncBuffer{}
	llmLogger := slog.New(slog.NewJSONHandler(llmLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	enricher := enrichment.NewEnricher(enrichment.NewClient(az.config(), llmLogger), llmLogger)
	srv := testserver.New(t, testserver.Options{Enricher: enricher})
	acct := srv.NewAccount(t, "owner@shop.example", false)
	base := "/v1/projects/" + acct.ProjectID.String()

	contextMarker := "ctxmark" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	// Letters only: a path segment with digits would be normalised to :id.
	pathMarker := "pathmark" + strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'g' + (r - '0')
		}
		return r
	}, strings.ReplaceAll(uuid.NewString(), "-", "")[:10])

	r := srv.Do(t, testserver.Request{Method: "PUT", Path: base + "/context", Token: acct.Token,
		Body: map[string]string{"goals": "Grow repeat orders " + contextMarker, "industry": "outdoor retail",
			"audience": "hikers", "notes": "internal code " + contextMarker}})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT context: %d %s", r.Status, r.Body)
	}
	vs := demodata.Generate(demodata.Config{Visitors: 300, Days: 14, End: time.Now().Add(-time.Hour),
		Site: testserver.Origin, Seed: 7})
	// The buyers also read a page whose path group carries the marker.
	for i := range vs {
		if vs[i].Behaviour != "buyers" {
			continue
		}
		var extra []demodata.Line
		for _, l := range vs[i].Lines {
			if l.Type == "pageview" {
				m := l
				m.URL = testserver.Origin + "/" + pathMarker + "/guide"
				m.TS++
				extra = append(extra, m)
			}
		}
		vs[i].Lines = append(vs[i].Lines, extra...)
	}
	importLines(t, srv, acct.Token, acct.ProjectID, vs)

	r = srv.Do(t, testserver.Request{Method: "POST", Path: base + "/models", Token: acct.Token})
	if r.Status != http.StatusAccepted {
		t.Fatalf("train: %d %s", r.Status, r.Body)
	}
	var personas struct {
		Personas []struct {
			ID      uuid.UUID       `json:"id"`
			Name    string          `json:"name"`
			NamedBy string          `json:"named_by"`
			Traits  json.RawMessage `json:"traits"`
		} `json:"personas"`
	}
	testserver.Eventually(t, 60*time.Second, "every persona named by the LLM", func() bool {
		r := srv.Do(t, testserver.Request{Method: "GET", Path: base + "/personas", Token: acct.Token})
		r.JSON(t, &personas)
		if len(personas.Personas) == 0 {
			return false
		}
		for _, p := range personas.Personas {
			if p.NamedBy != "llm" {
				return false
			}
		}
		return true
	})
	prompts, names := az.seen()
	if len(prompts) < len(personas.Personas) {
		t.Fatalf("the double saw %d prompts for %d personas", len(prompts), len(personas.Personas))
	}
	// The markers reached the model: the context in every prompt, the path in a trait.
	pathSeen := false
	for _, p := range prompts {
		if !strings.Contains(p, contextMarker) {
			t.Fatalf("a prompt lacks the business context marker: the test would prove nothing")
		}
		pathSeen = pathSeen || strings.Contains(p, pathMarker)
	}
	if !pathSeen {
		t.Fatalf("no prompt carried the path-group marker: the test would prove nothing")
	}
	for _, p := range personas.Personas {
		if !slices.Contains(names, p.Name) {
			t.Errorf("persona %s is named %q, want a name the double returned (%v)", p.ID, p.Name, names)
		}
	}

	// Wait for the workers to settle (reclassify and enrichment tasks done) before dumping.
	testserver.Eventually(t, 30*time.Second, "queues drained", func() bool {
		n := 0
		for _, q := range []string{"default", "low", "critical"} {
			for _, s := range []string{"pending", "active", "scheduled", "retry"} {
				k := "asynq:{" + q + "}:" + s
				if typ, _ := srv.Redis.Type(context.Background(), k).Result(); typ == "list" {
					n += int(srv.Redis.LLen(context.Background(), k).Val())
				} else if typ == "zset" {
					n += int(srv.Redis.ZCard(context.Background(), k).Val())
				}
			}
		}
		return n == 0
	})

	dump := testenv.PGDump(t, srv.DataURL, "--data-only", "--no-owner")
	if !strings.Contains(dump, names[0]) {
		t.Fatalf("pg_dump lacks the stored LLM name %q: the dump proves nothing", names[0])
	}
	if tables := tablesContaining(dump, contextMarker); len(tables) > 0 {
		t.Errorf("business context marker found in PostgreSQL tables %v", tables)
	}
	keysDump := testenv.PGDump(t, srv.KeysURL, "--data-only", "--no-owner")
	if strings.Contains(keysDump, contextMarker) || strings.Contains(keysDump, pathMarker) {
		t.Errorf("a marker is in the key store")
	}
	// The path is collected data: it may stay where collection keeps it, never in what
	// enrichment writes (enrichment_log, names and texts).
	collected := []string{"public.events", "public.visitor_features", "public.personas", "public.persona_models"}
	pathTables := tablesContaining(dump, pathMarker)
	t.Logf("path marker (collected data) is in %v", pathTables)
	for _, table := range pathTables {
		if !slices.Contains(collected, table) {
			t.Errorf("path marker found in table %s, want it only in collected data %v", table, collected)
		}
	}
	var texts string
	if err := srv.Pool.QueryRow(context.Background(), `SELECT string_agg(name || tagline || summary || goals::text ||
		frustrations::text || suggested_actions::text, ' ') FROM personas WHERE project_id = $1`, acct.ProjectID).Scan(&texts); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(texts, pathMarker) || strings.Contains(texts, contextMarker) {
		t.Errorf("persona texts carry a marker")
	}
	var logged int
	if err := srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM enrichment_log WHERE project_id = $1 AND status = 'ok'
		AND prompt_tokens = 412 AND completion_tokens = 187`, acct.ProjectID).Scan(&logged); err != nil || logged < len(personas.Personas) {
		t.Errorf("enrichment_log has %d ok calls with token counts (%v), want %d", logged, err, len(personas.Personas))
	}

	rd := redisDump(t, srv.Redis)
	if !strings.Contains(rd, "asynq") {
		t.Fatalf("the Redis dump holds no asynq key: it proves nothing:\n%.500s", rd)
	}
	for _, m := range []string{contextMarker, pathMarker} {
		if strings.Contains(rd, m) {
			t.Errorf("marker %s found in Redis", m)
		}
		for name, logs := range map[string]string{"service": srv.Logs.String(), "enrichment": llmLogs.String()} {
			if strings.Contains(logs, m) {
				t.Errorf("marker %s found in the %s logs", m, name)
			}
		}
	}
	for _, secret := range []string{azureKey, names[0]} {
		if strings.Contains(srv.Logs.String()+llmLogs.String(), secret) {
			t.Errorf("the logs contain %q (the API key or the answer)", secret)
		}
	}
}
