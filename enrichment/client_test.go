package enrichment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/privacy"
)

// Markers that must never reach a log line: the business context, the answer and the prompt.
const (
	contextMarker = "CTX-MARKER-ae51"
	answerMarker  = "Quillfeather"
	pathMarker    = "/seed-kits-pathmarker"
	bodyMarker    = "BODY-MARKER-91c2"
	testPersonaID = "persona-id-0b9e4d"
)

func sampleInput() Input {
	return Input{
		PersonaID: testPersonaID,
		Size:      812,
		Share:     0.23,
		Traits: []Trait{
			// Means of the classifier's raw features: pages_per_visit and time_per_page are log1p.
			{Feature: "pages_per_visit", Value: math.Log1p(6.2), Population: math.Log1p(3.1), Z: 1.8},
			{Feature: "time_per_page", Value: math.Log1p(150), Population: math.Log1p(36), Z: 1.6},
			{Feature: "bounce_rate", Value: 0.12, Population: 0.41, Z: -1.4},
			{Feature: "goal_rate", Value: 0.4, Population: 0.1, Z: 2.2},
			{Feature: "path:/checkout", Value: 0.12, Population: 0.03, Z: 2.5},
		},
		TopPaths: []Share{{"/p/:id", 0.31}, {"/cart", 0.18}, {"/checkout", 0.12}, {pathMarker, 0.05}},
		Channels: []Share{{"search", 0.44}, {"direct", 0.31}},
		Devices:  []Share{{"desktop", 0.62}, {"mobile", 0.38}},
		Hours:    []Share{{"evening", 0.55}, {"afternoon", 0.3}, {"morning", 0.1}, {"night", 0.05}},
		Goals:    []Share{{"any", 0.74}, {"purchase", 0.7}, {"newsletter_signup", 0.3}},
		GoalLifts: []GoalLift{
			{Goal: "any", Visitors: 601, Rate: 0.74, PopulationRate: 0.3, Lift: 0.74 / 0.3, Low: 2.3, High: 2.6},
			{Goal: "purchase", Visitors: 568, Rate: 0.7, PopulationRate: 0.27, Lift: 0.7 / 0.27, Low: 2.4, High: 2.8},
			{Goal: "add_to_cart", Visitors: 0, Rate: 0, PopulationRate: 0.095, Lift: 0, Low: 0, High: 0.05},
		},
		Context: BusinessContext{
			Goals:    "Sell more garden tools " + contextMarker,
			Industry: "Garden retail",
			Audience: "Hobby gardeners",
			Notes:    "Seasonal peaks in spring",
		},
		Taken: []string{"Weekend Planters"},
	}
}

// answerFieldsMap is a valid answer, to be changed by each case.
func answerFieldsMap() map[string]any {
	return map[string]any{
		"name":              answerMarker + " Planners",
		"type":              "buyer",
		"tagline":           "They plan the season and buy the tools in one go.",
		"summary":           "Quillfeather planners know what they need and reach the checkout quickly.",
		"goals":             []string{"Find the right tool", "Check out fast"},
		"frustrations":      []string{"Delivery costs shown late"},
		"suggested_actions": []string{"Show delivery costs on product pages", "Offer express checkout"},
	}
}

func answer(change func(m map[string]any)) string {
	m := answerFieldsMap()
	if change != nil {
		change(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func wantLLMResult() Result {
	return Result{
		Name:             answerMarker + " Planners",
		Type:             TypeBuyer,
		Tagline:          "They plan the season and buy the tools in one go.",
		Summary:          "Quillfeather planners know what they need and reach the checkout quickly.",
		Goals:            []string{"Find the right tool", "Check out fast"},
		Frustrations:     []string{"Delivery costs shown late"},
		SuggestedActions: []string{"Show delivery costs on product pages", "Offer express checkout"},
		NamedBy:          NamedByLLM,
	}
}

// rateLimitedUntil answers 429 with a Retry-After HTTP date d from now.
func rateLimitedUntil(d time.Duration) responder {
	return func(t *testing.T, n int, w http.ResponseWriter, r *http.Request) {
		at := time.Now().Add(d).UTC().Format(http.TimeFormat)
		apiError(http.StatusTooManyRequests, "429", "Rate limit is exceeded. "+bodyMarker, "Retry-After", at)(t, n, w, r)
	}
}

// mode is one behaviour of the Azure double and what the enricher must make of it.
type mode struct {
	name        string
	respond     []responder
	timeout     time.Duration // Config.Timeout; the default when zero
	maxAttempts int
	backoffBase time.Duration // the client's default when zero

	wantNamedBy  string
	wantStatuses []string
	wantCodes    []int
	wantCalls    int             // HTTP calls the double saw
	wantSleeps   []time.Duration // waits asked of the clock
	ceilSleeps   bool            // compare sleeps rounded up to the second (HTTP dates)
	check        func(t *testing.T, r Result)
}

func modes() []mode {
	ok := completion(answer(nil), "stop")
	limited := func(headers ...string) responder {
		return apiError(http.StatusTooManyRequests, "429", "Requests have exceeded the token rate limit. "+bodyMarker, headers...)
	}
	isLLM := func(t *testing.T, r Result) {
		t.Helper()
		if diff := cmp.Diff(wantLLMResult(), r); diff != "" {
			t.Errorf("result mismatch (-want +got):\n%s", diff)
		}
	}
	isRules := func(t *testing.T, r Result) {
		t.Helper()
		if diff := cmp.Diff(RuleName(sampleInput()), r); diff != "" {
			t.Errorf("want the rule-based result (-want +got):\n%s", diff)
		}
	}
	invalid := func(name, content string) mode {
		return mode{
			name: name, respond: []responder{completion(content, "stop")},
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusInvalid}, wantCodes: []int{200},
			wantCalls: 1, wantSleeps: []time.Duration{}, check: isRules,
		}
	}
	// An answer with a field over its limit or a name already taken is asked for once more,
	// at once, and falls back to the rules when the second answer is no better.
	corrected := func(name, content string) mode {
		return mode{
			name: name, respond: []responder{completion(content, "stop")},
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusInvalid, StatusInvalid}, wantCodes: []int{200, 200},
			wantCalls: 2, wantSleeps: []time.Duration{}, check: isRules,
		}
	}
	return []mode{
		{
			name: "valid answer", respond: []responder{ok},
			wantNamedBy: NamedByLLM, wantStatuses: []string{StatusOK}, wantCodes: []int{200},
			wantCalls: 1, wantSleeps: []time.Duration{}, check: isLLM,
		},
		{
			name: "429 with Retry-After in seconds, then success", respond: []responder{limited("Retry-After", "7"), ok},
			wantNamedBy: NamedByLLM, wantStatuses: []string{StatusRateLimited, StatusOK}, wantCodes: []int{429, 200},
			wantCalls: 2, wantSleeps: []time.Duration{7 * time.Second}, check: isLLM,
		},
		{
			name: "429 with Retry-After as an HTTP date, then success", respond: []responder{rateLimitedUntil(12 * time.Second), ok},
			wantNamedBy: NamedByLLM, wantStatuses: []string{StatusRateLimited, StatusOK}, wantCodes: []int{429, 200},
			wantCalls: 2, wantSleeps: []time.Duration{12 * time.Second}, ceilSleeps: true, check: isLLM,
		},
		{
			name:        "429 with Azure retry-after-ms, then success",
			respond:     []responder{limited("retry-after-ms", "1500", "Retry-After", "2"), ok},
			wantNamedBy: NamedByLLM, wantStatuses: []string{StatusRateLimited, StatusOK}, wantCodes: []int{429, 200},
			wantCalls: 2, wantSleeps: []time.Duration{1500 * time.Millisecond}, check: isLLM,
		},
		{
			name: "429 without Retry-After backs off", respond: []responder{limited(), ok},
			wantNamedBy: NamedByLLM, wantStatuses: []string{StatusRateLimited, StatusOK}, wantCodes: []int{429, 200},
			wantCalls: 2, wantSleeps: []time.Duration{375 * time.Millisecond}, check: isLLM,
		},
		{
			name: "429 asking to wait past the deadline gives up at once", respond: []responder{limited("Retry-After", "120"), ok},
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusRateLimited}, wantCodes: []int{429},
			wantCalls: 1, wantSleeps: []time.Duration{}, check: isRules,
		},
		{
			name: "500 then success", respond: []responder{apiError(500, "InternalServerError", "The server had an error. "+bodyMarker), ok},
			wantNamedBy: NamedByLLM, wantStatuses: []string{StatusServerError, StatusOK}, wantCodes: []int{500, 200},
			wantCalls: 2, wantSleeps: []time.Duration{375 * time.Millisecond}, check: isLLM,
		},
		{
			name: "503 until the attempts run out", respond: []responder{raw(503, `{"error":{"code":"ServiceUnavailable","message":"`+bodyMarker+`"}}`)},
			maxAttempts: 3,
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusServerError, StatusServerError, StatusServerError}, wantCodes: []int{503, 503, 503},
			wantCalls: 3, wantSleeps: []time.Duration{375 * time.Millisecond, 750 * time.Millisecond}, check: isRules,
		},
		{
			name: "server stalls beyond the deadline", respond: []responder{stall()},
			timeout: 300 * time.Millisecond, maxAttempts: 2, backoffBase: time.Millisecond,
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusTimeout, StatusTimeout}, wantCodes: []int{0, 0},
			wantCalls: 2, wantSleeps: []time.Duration{750 * time.Microsecond}, check: isRules,
		},
		{
			name: "content filter refuses the prompt", respond: []responder{contentFilterError(), ok},
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusContentFilter}, wantCodes: []int{400},
			wantCalls: 1, wantSleeps: []time.Duration{}, check: isRules,
		},
		{
			name: "content filter stops the answer", respond: []responder{completion("", "content_filter"), ok},
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusContentFilter}, wantCodes: []int{200},
			wantCalls: 1, wantSleeps: []time.Duration{}, check: isRules,
		},
		{
			name: "unauthorised key is not retried", respond: []responder{apiError(401, "401", "Access denied due to invalid subscription key. "+bodyMarker)},
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusError}, wantCodes: []int{401},
			wantCalls: 1, wantSleeps: []time.Duration{}, check: isRules,
		},
		{
			name: "unreadable completion body", respond: []responder{raw(200, "<html>"+bodyMarker+"</html>")},
			wantNamedBy: NamedByRules, wantStatuses: []string{StatusInvalid}, wantCodes: []int{200},
			wantCalls: 1, wantSleeps: []time.Duration{}, check: isRules,
		},
		invalid("malformed JSON content", `{"name": "`+answerMarker+` Planners", "type": `),
		invalid("JSON in a markdown fence", "```json\n"+answer(nil)+"\n```"),
		invalid("name of the wrong type", answer(func(m map[string]any) { m["name"] = 42 })),
		invalid("goals of the wrong type", answer(func(m map[string]any) { m["goals"] = []int{1, 2} })),
		invalid("null summary", answer(func(m map[string]any) { m["summary"] = nil })),
		invalid("extra field", answer(func(m map[string]any) { m["mood"] = "sunny " + answerMarker })),
		invalid("missing field", answer(func(m map[string]any) { delete(m, "frustrations") })),
		corrected("too long name", answer(func(m map[string]any) { m["name"] = answerMarker + " Planners Who Buy Everything In Spring" })),
		invalid("unknown type", answer(func(m map[string]any) { m["type"] = "gardener" })),
		corrected("six goals", answer(func(m map[string]any) { m["goals"] = []string{"a", "b", "c", "d", "e", "f"} })),
		invalid("personal data in the name", answer(func(m map[string]any) { m["name"] = "ana.quill@example.com Fans" })),
		corrected("name taken by another persona", answer(func(m map[string]any) { m["name"] = "weekend planters" })),
		corrected("summary over 600 characters", answer(func(m map[string]any) { m["summary"] = strings.Repeat("Planners plan. ", 45) })),
		{
			name: "taken name, then a free one",
			respond: []responder{completion(answer(func(m map[string]any) { m["name"] = "Weekend Planters" }), "stop"),
				completion(answer(nil), "stop")},
			wantNamedBy: NamedByLLM, wantStatuses: []string{StatusInvalid, StatusOK}, wantCodes: []int{200, 200},
			wantCalls: 2, wantSleeps: []time.Duration{}, check: isLLM,
		},
		{
			name: "personal data in free text is scrubbed",
			respond: []responder{completion(answer(func(m map[string]any) {
				m["summary"] = "Quillfeather planners write to jane.quill@example.com before buying."
			}), "stop")},
			wantNamedBy: NamedByLLM, wantStatuses: []string{StatusOK}, wantCodes: []int{200},
			wantCalls: 1, wantSleeps: []time.Duration{},
			check: func(t *testing.T, r Result) {
				want := privacy.Scrub("Quillfeather planners write to jane.quill@example.com before buying.")
				if r.Summary != want || strings.Contains(r.Summary, "jane.quill") {
					t.Errorf("summary = %q, want the scrubbed %q", r.Summary, want)
				}
			},
		},
	}
}

// runMode runs one mode through an Enricher and checks its outcome.
func runMode(t *testing.T, m mode, logger *slog.Logger) {
	t.Helper()
	d := newAzureDouble(t, m.respond...)
	cfg := d.config()
	cfg.Timeout, cfg.MaxAttempts = m.timeout, m.maxAttempts
	clk := &fakeClock{}
	c := newClient(cfg, logger, clk)
	c.jitter = func() float64 { return 0.5 }
	if m.backoffBase > 0 {
		c.backoffBase = m.backoffBase
	}
	r, calls := NewEnricher(c, logger).Enrich(context.Background(), sampleInput())

	if r.NamedBy != m.wantNamedBy {
		t.Errorf("NamedBy = %q, want %q", r.NamedBy, m.wantNamedBy)
	}
	var statuses []string
	var codes []int
	for i, ci := range calls {
		statuses = append(statuses, ci.Status)
		codes = append(codes, ci.HTTPStatus)
		if ci.Attempt != i+1 || ci.Deployment != testDeployment {
			t.Errorf("call %d: attempt %d, deployment %q; want %d, %q", i, ci.Attempt, ci.Deployment, i+1, testDeployment)
		}
		if ci.Status == StatusOK && (ci.PromptTokens != 412 || ci.CompletionTokens != 187) {
			t.Errorf("call %d: tokens %d/%d, want 412/187 from the usage", i, ci.PromptTokens, ci.CompletionTokens)
		}
	}
	if diff := cmp.Diff(m.wantStatuses, statuses); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(m.wantCodes, codes); diff != "" {
		t.Errorf("HTTP statuses mismatch (-want +got):\n%s", diff)
	}
	if got := d.callCount(); got != m.wantCalls {
		t.Errorf("HTTP calls = %d, want %d", got, m.wantCalls)
	}
	sleeps := clk.slept()
	if m.ceilSleeps {
		for i, s := range sleeps {
			sleeps[i] = time.Duration(math.Ceil(s.Seconds())) * time.Second
		}
	}
	if m.wantSleeps != nil {
		if diff := cmp.Diff(m.wantSleeps, append([]time.Duration{}, sleeps...)); diff != "" {
			t.Errorf("waits mismatch (-want +got):\n%s", diff)
		}
	}
	if m.check != nil {
		m.check(t, r)
	}
}

func TestEnrichModes(t *testing.T) {
	t.Parallel()
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			runMode(t, m, nil)
		})
	}
}

// TestLogsHoldNoContent runs every mode with one JSON logger and checks that no prompt, business
// context, answer, server error body or API key reached it.
func TestLogsHoldNoContent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			runMode(t, m, logger)
		})
	}
	_, user := BuildPrompt(sampleInput())
	logs := buf.String()
	if !strings.Contains(logs, `"status":"rate_limited"`) || !strings.Contains(logs, `"status":"ok"`) {
		t.Fatalf("logs lack the call statuses, the test would prove nothing:\n%s", logs)
	}
	forbidden := []string{
		contextMarker, "Garden retail", "Hobby gardeners", answerMarker, "jane.quill", "ana.quill",
		pathMarker, bodyMarker, testAPIKey, "You name and describe a persona", "Cohort statistics",
		user,
	}
	for _, f := range forbidden {
		if strings.Contains(logs, f) {
			t.Errorf("logs contain %q", f)
		}
	}
}

// TestCompleteErrorsHoldNoContent checks that the errors returned to callers (who may log them)
// do not carry the answer, the server's body or the key either.
func TestCompleteErrorsHoldNoContent(t *testing.T) {
	t.Parallel()
	for _, m := range modes() {
		if m.wantNamedBy != NamedByRules {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			d := newAzureDouble(t, m.respond...)
			cfg := d.config()
			cfg.Timeout, cfg.MaxAttempts = m.timeout, m.maxAttempts
			c := newClient(cfg, nil, &fakeClock{})
			if m.backoffBase > 0 {
				c.backoffBase = m.backoffBase
			}
			_, _, err := c.Complete(context.Background(), sampleInput())
			if err == nil {
				t.Fatal("Complete succeeded, want an error")
			}
			for _, f := range []string{answerMarker, bodyMarker, testAPIKey, contextMarker, "ana.quill", "sunny"} {
				if strings.Contains(err.Error(), f) {
					t.Errorf("error %q contains %q", err, f)
				}
			}
		})
	}
}

func TestCompleteErrorKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		respond responder
		want    error
	}{
		{"content filter", contentFilterError(), ErrContentFilter},
		{"invalid answer", completion(`{}`, "stop"), ErrInvalidAnswer},
		{"rate limited", apiError(429, "429", "slow down", "Retry-After", "3600"), ErrRateLimited},
		{"server error", raw(502, `bad gateway`), ErrServer},
		{"unauthorised", apiError(401, "401", "denied"), ErrRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newAzureDouble(t, tt.respond)
			cfg := d.config()
			cfg.MaxAttempts = 1
			_, calls, err := newClient(cfg, nil, &fakeClock{}).Complete(context.Background(), sampleInput())
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want one wrapping %v", err, tt.want)
			}
			if len(calls) != 1 {
				t.Errorf("%d calls recorded, want 1", len(calls))
			}
		})
	}
}

func TestCompleteCallerCancels(t *testing.T) {
	t.Parallel()
	d := newAzureDouble(t, stall())
	ctx, cancel := context.WithCancel(context.Background())
	clk := &fakeClock{}
	c := newClient(d.config(), nil, clk)
	done := make(chan struct{})
	var err error
	var calls []CallInfo
	go func() {
		defer close(done)
		_, calls, err = c.Complete(ctx, sampleInput())
	}()
	// Cancel once the request is at the server.
	for d.callCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if len(calls) != 1 || calls[0].Status != StatusError || len(clk.slept()) != 0 {
		t.Errorf("calls = %+v, waits %v; want one error and no retry", calls, clk.slept())
	}
}

func TestJSONModeBeforeStructuredOutputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, version string
		wantSchema    bool
	}{
		{"2024-06-01 has JSON mode only", "2024-06-01", false},
		{"2024-07-01-preview has JSON mode only", "2024-07-01-preview", false},
		{"2024-08-01-preview has structured outputs", "2024-08-01-preview", true},
		{"2025-04-01-preview has structured outputs", "2025-04-01-preview", true},
		{"undated preview has structured outputs", "preview", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newAzureDouble(t, completion(answer(nil), "stop"))
			d.apiVersion, d.wantSchema = tt.version, tt.wantSchema
			// A deployment whose name go-openai's default mapper would rewrite.
			d.deployment = "gpt-3.5.turbo:naming"
			r, calls, err := newClient(d.config(), nil, &fakeClock{}).Complete(context.Background(), sampleInput())
			if err != nil || r.NamedBy != NamedByLLM || len(calls) != 1 {
				t.Fatalf("Complete = %+v, %v, %v; want an LLM answer in one call", r, calls, err)
			}
			reqs := d.requests()
			if len(reqs) != 1 || !strings.Contains(reqs[0].Messages[0].Content, "JSON") {
				t.Errorf("the system message must say JSON (JSON mode requires it)")
			}
		})
	}
}

func TestEnricherWithoutLLM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client *Client
	}{
		{"no client", nil},
		{"disabled configuration", NewClient(Config{}, nil)},
		{"no key", NewClient(Config{Endpoint: "https://x.openai.azure.com", Deployment: "d"}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, calls := NewEnricher(tt.client, nil).Enrich(context.Background(), sampleInput())
			if diff := cmp.Diff(RuleName(sampleInput()), r); diff != "" {
				t.Errorf("want the rule-based result (-want +got):\n%s", diff)
			}
			if len(calls) != 0 {
				t.Errorf("calls = %+v, want none", calls)
			}
		})
	}
	if _, _, err := NewClient(Config{}, nil).Complete(context.Background(), sampleInput()); !errors.Is(err, ErrDisabled) {
		t.Errorf("Complete on a disabled client = %v, want ErrDisabled", err)
	}
}

func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	d := newAzureDouble(t, func(t *testing.T, n int, w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			raw(500, `{"error":{"code":"InternalServerError","message":"boom"}}`)(t, n, w, r)
			return
		}
		completion(answer(nil), "stop")(t, n, w, r)
	})
	cfg := d.config()
	cfg.MaxAttempts = 1
	clk := &fakeClock{}
	c := newClient(cfg, nil, clk)
	e := NewEnricher(c, nil)
	enrich := func() (Result, []CallInfo) { return e.Enrich(context.Background(), sampleInput()) }

	for i := range defaultBreakerThreshold {
		if _, calls := enrich(); len(calls) != 1 || calls[0].Status != StatusServerError {
			t.Fatalf("failure %d: calls = %+v, want one server_error", i+1, calls)
		}
	}
	if got := d.callCount(); got != defaultBreakerThreshold {
		t.Fatalf("HTTP calls = %d, want %d", got, defaultBreakerThreshold)
	}

	steps := []struct {
		name       string
		advance    time.Duration
		failing    bool
		wantStatus string
		wantCalls  int // total HTTP calls after the step
		wantBy     string
	}{
		{"open: no HTTP call", 0, false, StatusCircuitOpen, 5, NamedByRules},
		{"still open before the cool-down ends", defaultBreakerCooldown - time.Second, false, StatusCircuitOpen, 5, NamedByRules},
		{"half-open probe fails and reopens", time.Second, true, StatusServerError, 6, NamedByRules},
		{"open again after the failed probe", 0, false, StatusCircuitOpen, 6, NamedByRules},
		{"half-open probe succeeds", defaultBreakerCooldown, false, StatusOK, 7, NamedByLLM},
		{"closed again", 0, false, StatusOK, 8, NamedByLLM},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.advance(s.advance)
			failing.Store(s.failing)
			r, calls := enrich()
			if len(calls) != 1 || calls[0].Status != s.wantStatus {
				t.Errorf("calls = %+v, want one %s", calls, s.wantStatus)
			}
			if got := d.callCount(); got != s.wantCalls {
				t.Errorf("HTTP calls = %d, want %d", got, s.wantCalls)
			}
			if r.NamedBy != s.wantBy {
				t.Errorf("NamedBy = %q, want %q", r.NamedBy, s.wantBy)
			}
		})
	}
}

func TestBreakerHalfOpenAllowsOneProbe(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	b := newBreaker(clk, 2, time.Minute)
	b.allow()
	b.record(outcomeFailure)
	b.allow()
	b.record(outcomeFailure)
	if b.allow() {
		t.Fatal("allow after 2 failures = true, want the breaker open")
	}
	clk.advance(time.Minute)
	if !b.allow() {
		t.Fatal("allow after the cool-down = false, want a probe")
	}
	if b.allow() {
		t.Error("a second call was allowed while the probe is in flight")
	}
	b.record(outcomeNeutral) // the caller gave up: the next call may probe
	if !b.allow() {
		t.Error("allow after a neutral probe = false, want another probe")
	}
	b.record(outcomeSuccess)
	first := b.allow()
	second := b.allow() // closed: every call is allowed, not only one probe
	if !first || !second {
		t.Error("allow after a successful probe = false, want the breaker closed")
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
		wantOK bool
	}{
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{"zero seconds", http.Header{"Retry-After": {"0"}}, 0, true},
		{"HTTP date", http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second, true},
		{"HTTP date in the past", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{"milliseconds win", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"1"}}, 250 * time.Millisecond, true},
		{"negative seconds", http.Header{"Retry-After": {"-3"}}, 0, false},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"absent", http.Header{}, 0, false},
		{"nil", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := retryAfter(tt.header, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("retryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{"first, no jitter", 1, 0, 250 * time.Millisecond},
		{"first, full jitter", 1, 0.999999, 500 * time.Millisecond},
		{"second doubles", 2, 0, 500 * time.Millisecond},
		{"capped", 10, 0, 5 * time.Second},
		{"huge attempt stays capped", 80, 0, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(Config{}, nil, &fakeClock{})
			c.jitter = func() float64 { return tt.jitter }
			if got := c.backoff(tt.attempt).Round(time.Millisecond); got != tt.want {
				t.Errorf("backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestConfigHidesKey(t *testing.T) {
	t.Parallel()
	cfg := Config{Endpoint: "https://x.openai.azure.com", APIKey: testAPIKey, Deployment: "d"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg)
	for _, s := range []string{cfg.String(), buf.String(), fmtAll(cfg)} {
		if strings.Contains(s, testAPIKey) {
			t.Errorf("%q shows the API key", s)
		}
	}
}

func fmtAll(cfg Config) string {
	var b strings.Builder
	for _, f := range []string{"%v", "%+v", "%s", "%#v"} {
		b.WriteString(fmt.Sprintf(f, cfg))
	}
	return b.String()
}
