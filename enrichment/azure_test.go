package enrichment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Values the Azure double checks and the privacy test looks for in the logs.
const (
	testDeployment = "personas-gpt-4o-mini"
	testAPIVersion = "2024-10-21"
	testAPIKey     = "test-key-5ecr3t-never-logged"
)

// fakeClock is real time shifted by whatever it was asked to sleep: waits are recorded and
// return at once, while HTTP attempts still take their real (short) time.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.offset += d
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// responder answers the n-th call (from 1) made to the double.
type responder func(t *testing.T, n int, w http.ResponseWriter, r *http.Request)

// azureDouble is an httptest server that speaks Azure OpenAI's chat completions wire format and
// checks every request the way Azure would read it.
type azureDouble struct {
	t          *testing.T
	deployment string
	apiVersion string
	wantSchema bool // json_schema with strict, else json_object
	respond    []responder
	srv        *httptest.Server

	mu     sync.Mutex
	calls  int
	bodies []chatRequest
}

// chatRequest is the part of a chat completion request the double reads.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream         bool `json:"stream"`
	ResponseFormat *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Strict bool            `json:"strict"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

func newAzureDouble(t *testing.T, respond ...responder) *azureDouble {
	t.Helper()
	d := &azureDouble{t: t, deployment: testDeployment, apiVersion: testAPIVersion, wantSchema: true, respond: respond}
	d.srv = httptest.NewServer(d)
	t.Cleanup(d.srv.Close)
	return d
}

func (d *azureDouble) config() Config {
	return Config{Endpoint: d.srv.URL, APIKey: testAPIKey, Deployment: d.deployment, APIVersion: d.apiVersion}
}

func (d *azureDouble) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func (d *azureDouble) requests() []chatRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.bodies)
}

func (d *azureDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := d.t
	if want := "/openai/deployments/" + d.deployment + "/chat/completions"; r.URL.Path != want {
		t.Errorf("request path = %q, want %q", r.URL.Path, want)
	}
	if got := r.URL.Query().Get("api-version"); got != d.apiVersion {
		t.Errorf("api-version = %q, want %q", got, d.apiVersion)
	}
	if r.Method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.Method)
	}
	if got := r.Header.Get("api-key"); got != testAPIKey {
		t.Errorf("api-key header = %q, want the configured key", got)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization header = %q, want none on Azure", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read request body: %v", err)
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Errorf("request body is not JSON: %v", err)
	}
	d.checkRequest(req)

	d.mu.Lock()
	d.calls++
	n := d.calls
	d.bodies = append(d.bodies, req)
	d.mu.Unlock()

	if len(d.respond) == 0 {
		t.Errorf("unexpected call %d", n)
		http.Error(w, "no responder", http.StatusTeapot)
		return
	}
	// The last responder answers every call past the list.
	d.respond[min(n, len(d.respond))-1](t, n, w, r)
}

func (d *azureDouble) checkRequest(req chatRequest) {
	t := d.t
	if req.Model != d.deployment {
		t.Errorf("model = %q, want the deployment %q", req.Model, d.deployment)
	}
	if req.Stream {
		t.Errorf("stream = true, want false")
	}
	if len(req.Messages) != 2 || req.Messages[0].Role != "system" || req.Messages[1].Role != "user" {
		t.Errorf("messages = %d, want a system then a user message", len(req.Messages))
	} else if req.Messages[0].Content == "" || req.Messages[1].Content == "" {
		t.Errorf("a message is empty")
	}
	rf := req.ResponseFormat
	switch {
	case rf == nil:
		t.Errorf("response_format missing")
	case d.wantSchema:
		if rf.Type != "json_schema" || rf.JSONSchema == nil {
			t.Errorf("response_format type = %q, want json_schema with a schema", rf.Type)
			return
		}
		// Not strict: strict mode refuses maxLength, and the schema carries the limits.
		if rf.JSONSchema.Strict || rf.JSONSchema.Name == "" {
			t.Errorf("json_schema strict = %v, name = %q; want named and not strict", rf.JSONSchema.Strict, rf.JSONSchema.Name)
		}
		var schema struct {
			Type                 string                     `json:"type"`
			Required             []string                   `json:"required"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
			Properties           map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(rf.JSONSchema.Schema, &schema); err != nil {
			t.Errorf("schema is not an object: %v", err)
		}
		want := answerFields()
		got := slices.Sorted(func(yield func(string) bool) {
			for k := range schema.Properties {
				if !yield(k) {
					return
				}
			}
		})
		if schema.Type != "object" || schema.AdditionalProperties == nil || *schema.AdditionalProperties ||
			!slices.Equal(schema.Required, want) || !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("schema = %s; want a closed object requiring exactly %v", rf.JSONSchema.Schema, want)
		}
	default:
		if rf.Type != "json_object" || rf.JSONSchema != nil {
			t.Errorf("response_format type = %q, want json_object without a schema", rf.Type)
		}
	}
}

// completion answers 200 with a chat completion as Azure writes it.
func completion(content, finishReason string) responder {
	return func(t *testing.T, n int, w http.ResponseWriter, _ *http.Request) {
		filter := map[string]any{
			"hate":      map[string]any{"filtered": false, "severity": "safe"},
			"self_harm": map[string]any{"filtered": false, "severity": "safe"},
			"sexual":    map[string]any{"filtered": false, "severity": "safe"},
			"violence":  map[string]any{"filtered": false, "severity": "safe"},
		}
		msg := map[string]any{"role": "assistant", "content": content, "refusal": nil}
		if finishReason == "content_filter" {
			msg["content"] = nil
			filter["violence"] = map[string]any{"filtered": true, "severity": "medium"}
		}
		body := map[string]any{
			"id":      fmt.Sprintf("chatcmpl-test%d", n),
			"object":  "chat.completion",
			"created": 1763884800,
			"model":   "gpt-4o-mini-2024-07-18",
			"choices": []any{map[string]any{
				"index": 0, "message": msg, "finish_reason": finishReason, "logprobs": nil,
				"content_filter_results": filter,
			}},
			"usage":              map[string]any{"prompt_tokens": 412, "completion_tokens": 187, "total_tokens": 599},
			"system_fingerprint": "fp_test",
			"prompt_filter_results": []any{map[string]any{"prompt_index": 0, "content_filter_results": map[string]any{
				"hate": map[string]any{"filtered": false, "severity": "safe"},
			}}},
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("apim-request-id", "00000000-0000-0000-0000-000000000000")
		if err := json.NewEncoder(w).Encode(body); err != nil {
			t.Errorf("write completion: %v", err)
		}
	}
}

// apiError answers with Azure's error body and extra headers.
func apiError(status int, code, message string, headers ...string) responder {
	return func(t *testing.T, _ int, w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, message)
	}
}

// contentFilterError answers with the 400 Azure gives when the prompt trips its content filter.
func contentFilterError() responder {
	return func(t *testing.T, _ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":"content_filter","message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. BODY-MARKER-91c2","param":"prompt","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}}`)
	}
}

// stall answers only when the client gives up.
func stall() responder {
	return func(_ *testing.T, _ int, _ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}
}

// raw answers with a fixed status and body.
func raw(status int, body string) responder {
	return func(_ *testing.T, _ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}
