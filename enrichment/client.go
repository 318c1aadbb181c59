package enrichment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"
)

// Defaults of Config.
const (
	DefaultTimeout     = 60 * time.Second
	DefaultMaxAttempts = 3
	// DefaultAPIVersion is the Azure OpenAI API version used when none is configured: a GA
	// version with structured outputs (go-openai's own default, 2023-05-15, has none).
	DefaultAPIVersion = "2024-10-21"
	// structuredOutputsSince is the first API version that accepts a json_schema response format.
	structuredOutputsSince = "2024-08-01"
)

// Back-off between retries of 5xx answers, timeouts and transport errors.
const (
	defaultBackoffBase = 500 * time.Millisecond
	defaultBackoffMax  = 10 * time.Second
)

// Config says which Azure OpenAI deployment names personas. Its zero value is disabled.
type Config struct {
	// Endpoint is the resource's URL, such as https://my-resource.openai.azure.com.
	Endpoint string
	// APIKey is sent in the api-key header and nowhere else.
	APIKey string
	// Deployment is the name of the chat model deployment.
	Deployment string
	// APIVersion is the api-version query parameter; DefaultAPIVersion when empty.
	APIVersion string
	// Timeout is the overall deadline of one Complete, retries and waits included;
	// DefaultTimeout when zero.
	Timeout time.Duration
	// MaxAttempts bounds the HTTP attempts of one Complete; DefaultMaxAttempts when zero.
	MaxAttempts int
	// HTTPClient sends the requests; a new client when nil. Its own Timeout, if any, applies to
	// each attempt on top of the deadline.
	HTTPClient *http.Client
}

// Enabled reports whether the configuration names a deployment to call.
func (c Config) Enabled() bool {
	return strings.TrimSpace(c.Endpoint) != "" && c.APIKey != "" && strings.TrimSpace(c.Deployment) != ""
}

// String describes the configuration without its API key, so that printing it leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("enrichment.Config{Endpoint: %q, Deployment: %q, APIVersion: %q, APIKey: %s}",
		c.Endpoint, c.Deployment, c.APIVersion, redacted(c.APIKey))
}

// GoString is String, so that %#v leaks nothing either.
func (c Config) GoString() string { return c.String() }

// LogValue describes the configuration to slog without its API key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("deployment", c.Deployment),
		slog.String("api_version", c.APIVersion),
		slog.String("api_key", redacted(c.APIKey)),
	)
}

func redacted(key string) string {
	if key == "" {
		return "unset"
	}
	return "[redacted]"
}

func (c Config) withDefaults() Config {
	c.Endpoint = strings.TrimSpace(c.Endpoint)
	c.Deployment = strings.TrimSpace(c.Deployment)
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return c
}

// structuredOutputs reports whether the API version accepts a json_schema response format.
// Dated versions before 2024-08-01 do not; undated ones ("preview", "latest") are newer.
func (c Config) structuredOutputs() bool {
	v := c.APIVersion
	if len(v) >= 10 {
		if _, err := time.Parse(time.DateOnly, v[:10]); err == nil {
			return v[:10] >= structuredOutputsSince
		}
	}
	return true
}

// Statuses of one call, as recorded in CallInfo.Status and the enrichment log.
const (
	StatusOK            = "ok"
	StatusRateLimited   = "rate_limited"
	StatusServerError   = "server_error"
	StatusTimeout       = "timeout"
	StatusContentFilter = "content_filter"
	StatusInvalid       = "invalid"
	StatusCircuitOpen   = "circuit_open"
	StatusError         = "error"
)

// CallInfo is the metadata of one HTTP attempt, the only trace of a call that is kept: never
// the prompt or the answer.
type CallInfo struct {
	Deployment string
	// Status is one of the Status constants.
	Status string
	// HTTPStatus is the answer's status code, 0 when there was none.
	HTTPStatus       int
	Latency          time.Duration
	PromptTokens     int
	CompletionTokens int
	// Attempt counts from 1 within one Complete.
	Attempt int
}

// Errors of Complete, wrapped with what was being done. They never quote the prompt, the
// answer or the server's error body.
var (
	ErrDisabled      = errors.New("no Azure OpenAI deployment configured")
	ErrCircuitOpen   = errors.New("circuit breaker open")
	ErrContentFilter = errors.New("refused by the content filter")
	ErrRateLimited   = errors.New("rate limited")
	ErrServer        = errors.New("server error")
	ErrTimeout       = errors.New("timed out")
	ErrRequest       = errors.New("request failed")
	// ErrNameTaken means the answer's name is one the project's other personas already have.
	ErrNameTaken = errors.New("name already taken by another persona")
)

// Client calls one Azure OpenAI deployment. It is safe for concurrent use and holds the circuit
// breaker of its endpoint and deployment, so build one per configuration and share it.
type Client struct {
	cfg     Config
	api     *openai.Client
	logger  *slog.Logger
	clock   clock
	breaker *breaker

	backoffBase, backoffMax time.Duration
	jitter                  func() float64 // in [0, 1)
}

// NewClient builds a client for cfg. A nil logger discards. A disabled configuration gives a
// client whose Complete returns ErrDisabled.
func NewClient(cfg Config, logger *slog.Logger) *Client {
	return newClient(cfg, logger, realClock{})
}

func newClient(cfg Config, logger *slog.Logger, clk clock) *Client {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	oc := openai.DefaultAzureConfig(cfg.APIKey, cfg.Endpoint)
	oc.APIVersion = cfg.APIVersion
	// The default mapper rewrites some deployment names ("gpt-3.5" loses its dot); a deployment
	// is named by its owner and must be sent as written.
	oc.AzureModelMapperFunc = func(model string) string { return model }
	oc.HTTPClient = recordingDoer{client: cfg.HTTPClient}
	return &Client{
		cfg:         cfg,
		api:         openai.NewClientWithConfig(oc),
		logger:      logger,
		clock:       clk,
		breaker:     newBreaker(clk, defaultBreakerThreshold, defaultBreakerCooldown),
		backoffBase: defaultBackoffBase,
		backoffMax:  defaultBackoffMax,
		jitter:      rand.Float64,
	}
}

// Complete asks the deployment to name and describe the persona, and returns the validated
// answer and one CallInfo per attempt. It retries 429 answers after their Retry-After, and 5xx
// answers, timeouts and transport errors after a jittered exponential back-off, all within
// Config.Timeout. An answer whose name is already taken or whose field breaks a length limit is
// asked for once more, at once, with what was wrong added to the prompt; other invalid answers
// (ErrInvalidAnswer), content-filter refusals (ErrContentFilter) and other 4xx answers are not
// retried. While the circuit breaker is open it makes no HTTP call and returns ErrCircuitOpen.
func (c *Client) Complete(ctx context.Context, in Input) (Result, []CallInfo, error) {
	if !c.cfg.Enabled() {
		return Result{}, nil, ErrDisabled
	}
	deadline := c.clock.Now().Add(c.cfg.Timeout)
	system, user := BuildPrompt(in)
	req := c.request(system, user)
	var calls []CallInfo
	corrected := false
	fail := func(n int, err error) (Result, []CallInfo, error) {
		return Result{}, calls, fmt.Errorf("name persona with deployment %s, attempt %d: %w", c.cfg.Deployment, n, err)
	}
	for n := 1; ; n++ {
		if n > 1 && !c.clock.Now().Before(deadline) {
			return fail(n-1, fmt.Errorf("%w: no time left for another try", ErrTimeout))
		}
		if !c.breaker.allow() {
			info := CallInfo{Deployment: c.cfg.Deployment, Status: StatusCircuitOpen, Attempt: n}
			calls = append(calls, info)
			c.logCall(ctx, info)
			return fail(n, ErrCircuitOpen)
		}
		a := c.attempt(ctx, req, deadline, n, in.Taken)
		c.breaker.record(a.outcome)
		calls = append(calls, a.info)
		c.logCall(ctx, a.info)
		if a.err == nil {
			return a.result, calls, nil
		}
		if a.correction != "" && !corrected && ctx.Err() == nil && c.clock.Now().Before(deadline) {
			// One corrected retry: the same prompt and what was wrong with the answer. The note
			// stays in memory, like the prompt.
			corrected = true
			req = c.request(system, user+"\n\n"+a.correction)
			continue
		}
		if !a.retry || n >= c.cfg.MaxAttempts || ctx.Err() != nil {
			return fail(n, a.err)
		}
		wait, ok := a.retryAfter, a.hasRetryAfter
		if !ok {
			wait = c.backoff(n)
		}
		if !c.clock.Now().Add(wait).Before(deadline) {
			return fail(n, fmt.Errorf("%w; the next try in %s would pass the deadline", a.err, wait.Round(time.Millisecond)))
		}
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return fail(n, fmt.Errorf("%w; waiting to retry: %w", a.err, err))
		}
	}
}

// request builds the chat completion request: structured output with the answer's schema where
// the API version has it, JSON mode otherwise. Temperature and token limits are left to the
// deployment: go-openai refuses them for reasoning models before sending.
func (c *Client) request(system, user string) openai.ChatCompletionRequest {
	format := &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	if c.cfg.structuredOutputs() {
		format = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			// Not strict: strict mode refuses maxLength, and the limits matter more to this
			// answer than the guarantee of its shape, which ParseAnswer checks anyway.
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name:        "persona",
				Description: "Name and description of a website visitor persona.",
				Schema:      answerSchema(),
				Strict:      false,
			},
		}
	}
	return openai.ChatCompletionRequest{
		Model: c.cfg.Deployment,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: system},
			{Role: openai.ChatMessageRoleUser, Content: user},
		},
		ResponseFormat: format,
	}
}

// attemptResult is what one HTTP attempt came to.
type attemptResult struct {
	info          CallInfo
	result        Result
	err           error
	retry         bool
	retryAfter    time.Duration
	hasRetryAfter bool
	outcome       outcome
	// correction, when set, says what to fix in an answer worth one corrected retry.
	correction string
}

// attempt makes one HTTP call. Its timeout is what is left of the deadline, but at most half the
// overall timeout when a retry is possible, so that a stalled server leaves time for another try.
func (c *Client) attempt(ctx context.Context, req openai.ChatCompletionRequest, deadline time.Time, n int, takenNames []string) attemptResult {
	a := attemptResult{info: CallInfo{Deployment: c.cfg.Deployment, Attempt: n}, outcome: outcomeFailure}
	limit := deadline.Sub(c.clock.Now())
	if n < c.cfg.MaxAttempts {
		limit = min(limit, c.cfg.Timeout/2)
	}
	rec := &responseRecord{}
	actx, cancel := context.WithTimeout(context.WithValue(ctx, responseRecordKey{}, rec), limit)
	defer cancel()

	start := c.clock.Now()
	resp, err := c.api.CreateChatCompletion(actx, req)
	a.info.Latency = c.clock.Now().Sub(start)
	a.info.HTTPStatus = rec.status
	if err != nil {
		c.classifyError(ctx, actx, err, rec, &a)
		return a
	}
	a.info.PromptTokens, a.info.CompletionTokens = resp.Usage.PromptTokens, resp.Usage.CompletionTokens
	// The endpoint answered: whatever the answer is worth, it is healthy.
	a.outcome = outcomeSuccess
	if len(resp.Choices) == 0 {
		a.info.Status, a.err = StatusInvalid, fmt.Errorf("%w: no choices", ErrInvalidAnswer)
		return a
	}
	choice := resp.Choices[0]
	if choice.FinishReason == openai.FinishReasonContentFilter || choice.Message.Refusal != "" {
		a.info.Status, a.err = StatusContentFilter, fmt.Errorf("%w: finish reason %s", ErrContentFilter, safeToken(string(choice.FinishReason)))
		return a
	}
	r, err := ParseAnswer(choice.Message.Content)
	if err != nil {
		a.info.Status, a.err = StatusInvalid, err
		if errors.Is(err, errTooLong) {
			// err names the field and the limit, never what the answer held.
			a.correction = "Your previous answer was refused (" + err.Error() + "). Answer again with the JSON object only, keeping every field within its limit."
		}
		return a
	}
	if taken(r.Name, takenNames) {
		a.info.Status, a.err = StatusInvalid, fmt.Errorf("%w: %w", ErrInvalidAnswer, ErrNameTaken)
		a.correction = fmt.Sprintf("Your previous answer was refused: the name %q is already taken by another persona of this project. Answer again with the JSON object only, with a different name.", r.Name)
		return a
	}
	a.info.Status, a.result = StatusOK, r
	return a
}

// classifyError sorts a failed call into a status, a retry decision and a breaker outcome. It
// wraps only this package's errors and status codes: go-openai's errors may quote the body.
func (c *Client) classifyError(ctx, actx context.Context, err error, rec *responseRecord, a *attemptResult) {
	code := rec.status
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		code = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		code = reqErr.HTTPStatusCode
	}
	a.info.HTTPStatus = code
	switch {
	case ctx.Err() != nil:
		// The caller gave up or its own deadline passed: nothing to learn about the endpoint.
		a.info.Status, a.outcome = StatusError, outcomeNeutral
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			a.info.Status = StatusTimeout
		}
		a.err = fmt.Errorf("%w: %w", ErrRequest, ctx.Err())
	case code == http.StatusBadRequest && apiErr != nil && isContentFilter(apiErr):
		a.info.Status, a.outcome = StatusContentFilter, outcomeSuccess
		a.err = fmt.Errorf("%w: prompt refused (HTTP %d)", ErrContentFilter, code)
	case code == http.StatusTooManyRequests:
		a.info.Status, a.retry = StatusRateLimited, true
		a.retryAfter, a.hasRetryAfter = retryAfter(rec.header, c.clock.Now())
		a.err = fmt.Errorf("%w (HTTP %d)", ErrRateLimited, code)
	case code >= 500:
		a.info.Status, a.retry = StatusServerError, true
		a.err = fmt.Errorf("%w (HTTP %d)", ErrServer, code)
	case code == http.StatusRequestTimeout:
		a.info.Status, a.retry = StatusTimeout, true
		a.err = fmt.Errorf("%w (HTTP %d)", ErrTimeout, code)
	case code >= 200 && code < 300:
		// The answer came but its body was not a chat completion.
		a.info.Status, a.outcome = StatusInvalid, outcomeSuccess
		a.err = fmt.Errorf("%w: unreadable completion (HTTP %d)", ErrInvalidAnswer, code)
	case code != 0:
		// 401, 403, 404, a 400 other than the content filter: configuration, not luck. Retrying
		// will not help; the breaker stops the calls if it persists.
		a.info.Status = StatusError
		a.err = fmt.Errorf("%w (HTTP %d)", ErrRequest, code)
	case actx.Err() != nil || isTimeout(err):
		a.info.Status, a.retry = StatusTimeout, true
		a.err = ErrTimeout
	case isTransport(err):
		a.info.Status, a.retry = StatusError, true
		a.err = fmt.Errorf("%w: transport error", ErrRequest)
	default:
		// Refused by go-openai before sending (a model it thinks unsupported, say).
		a.info.Status, a.outcome = StatusError, outcomeNeutral
		a.err = fmt.Errorf("%w: not sent", ErrRequest)
	}
}

// isContentFilter recognises Azure's refusal of a prompt: error code "content_filter", or an
// inner error of the Responsible AI policy.
func isContentFilter(e *openai.APIError) bool {
	if code, ok := e.Code.(string); ok && code == "content_filter" {
		return true
	}
	return e.InnerError != nil && e.InnerError.Code == "ResponsibleAIPolicyViolation"
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTransport(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

// safeToken keeps a short identifier from an answer (a finish reason) and drops anything else.
func safeToken(s string) string {
	if len(s) > 32 {
		return "?"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_') {
			return "?"
		}
	}
	return s
}

// backoff is the wait before retry n+1: exponential from backoffBase, capped at backoffMax, with
// "equal jitter" (half fixed, half random) so that many workers do not retry in step.
func (c *Client) backoff(n int) time.Duration {
	d := c.backoffMax
	if n-1 < 32 {
		if e := c.backoffBase << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	return d/2 + time.Duration(c.jitter()*float64(d/2))
}

// retryAfter reads how long a 429 asks to wait: Azure's retry-after-ms, or Retry-After in
// seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 || s > 1e6 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// logCall records an attempt's metadata: never the prompt, the answer or the key.
func (c *Client) logCall(ctx context.Context, info CallInfo) {
	level := slog.LevelInfo
	if info.Status != StatusOK {
		level = slog.LevelWarn
	}
	c.logger.LogAttrs(ctx, level, "azure openai call",
		slog.String("deployment", info.Deployment),
		slog.String("status", info.Status),
		slog.Int("http_status", info.HTTPStatus),
		slog.Duration("latency", info.Latency),
		slog.Int("prompt_tokens", info.PromptTokens),
		slog.Int("completion_tokens", info.CompletionTokens),
		slog.Int("attempt", info.Attempt),
	)
}

// responseRecord keeps the status and headers of an attempt's answer, which go-openai does not
// return with its errors (the Retry-After of a 429 lives there).
type responseRecord struct {
	status int
	header http.Header
}

type responseRecordKey struct{}

// recordingDoer sends requests with the configured client and fills the responseRecord carried
// by the request's context.
type recordingDoer struct{ client *http.Client }

func (d recordingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req)
	if rec, ok := req.Context().Value(responseRecordKey{}).(*responseRecord); ok && resp != nil {
		rec.status, rec.header = resp.StatusCode, resp.Header.Clone()
	}
	return resp, err
}
