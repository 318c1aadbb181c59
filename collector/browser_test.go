package collector

// Helpers for tests that run collector.js in a headless Chromium. A "site" server serves
// pages that install the snippet, and an "api" server on another origin serves the script
// and records what the script sends to /v1/config, /v1/collect, /v1/classify and
// /v1/forget. The browser itself is internal/testenv's.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"personas/internal/openapitest"
	"personas/internal/testenv"
)

// stepTimeout bounds every wait for a recorded request.
const stepTimeout = testenv.StepTimeout

// Recorded is one request the API recorder received.
type Recorded struct {
	Path, Query string
	ContentType string
	FetchMode   string // Sec-Fetch-Mode: "no-cors" for sendBeacon, "cors" for fetch
	At          time.Time
	Body        []byte
}

// APIRecorder is a stand-in for the Personas API that records every request and answers
// with configurable values. Change its fields only before the page loads.
type APIRecorder struct {
	// Config is the body of /v1/config; ConfigStatus, when not 0, replaces it by an error.
	Config       string
	ConfigStatus int
	// Classify is the body of /v1/classify; when Hang is not nil, the answer waits for it.
	Classify string
	Hang     chan struct{}
	// CollectStatuses answer the first collect requests in turn; later ones get 204.
	CollectStatuses []int
	// RetryAfter is sent with 429 and 503 answers.
	RetryAfter string
	// SlowFirstCollect holds the answer of the first collect request this long.
	SlowFirstCollect time.Duration
	// Script replaces the served collector script (to test integrity checks).
	Script []byte

	mu      sync.Mutex
	reqs    []Recorded
	changed chan struct{}
}

// ServeHTTP implements http.Handler.
func (a *APIRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == Path() && a.Script != nil {
		w.Header().Set("Content-Type", "text/javascript")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(a.Script)
		return
	}
	if r.URL.Path == Path() {
		Handler().ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.reqs = append(a.reqs, Recorded{
		Path: r.URL.Path, Query: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"),
		FetchMode: r.Header.Get("Sec-Fetch-Mode"), At: time.Now(), Body: body,
	})
	n := len(a.reqs)
	if a.changed != nil {
		close(a.changed)
		a.changed = nil
	}
	a.mu.Unlock()

	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	switch r.URL.Path {
	case "/v1/config":
		if a.ConfigStatus != 0 {
			writeAPIError(w, a.ConfigStatus)
			return
		}
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(a.Config))
	case "/v1/collect":
		status := http.StatusNoContent
		k := a.collectIndex(n)
		if k < len(a.CollectStatuses) {
			status = a.CollectStatuses[k]
		}
		if k == 0 && a.SlowFirstCollect > 0 {
			select {
			case <-time.After(a.SlowFirstCollect):
			case <-r.Context().Done():
			}
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			h.Set("Retry-After", a.RetryAfter)
		}
		if status >= 400 {
			writeAPIError(w, status)
			return
		}
		w.WriteHeader(status)
	case "/v1/classify":
		if a.Hang != nil {
			select {
			case <-a.Hang:
			case <-r.Context().Done():
				return
			}
		}
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(a.Classify))
	case "/v1/forget":
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":"00000000-0000-4000-8000-000000000001","status":"queued"}`))
	default: // the sentinel page, and anything unexpected, which the tests then see
		h.Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><title>sentinel</title>"))
	}
}

// writeAPIError answers an error as the service does: its JSON error body with the status.
func writeAPIError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error":{"code":"test","message":"the test's answer %d"}}`, status)
}

// collectIndex counts the collect requests among the first n recorded ones, less one.
func (a *APIRecorder) collectIndex(n int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := -1
	for _, r := range a.reqs[:n] {
		if r.Path == "/v1/collect" {
			k++
		}
	}
	return k
}

// Requests returns a copy of what was recorded so far.
func (a *APIRecorder) Requests() []Recorded {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reqs)
}

// WaitFor waits until cond holds for the recorded requests, and returns them.
func (a *APIRecorder) WaitFor(t *testing.T, what string, cond func([]Recorded) bool) []Recorded {
	t.Helper()
	deadline := time.After(stepTimeout)
	for {
		a.mu.Lock()
		reqs := slices.Clone(a.reqs)
		if a.changed == nil {
			a.changed = make(chan struct{})
		}
		changed := a.changed
		a.mu.Unlock()
		if cond(reqs) {
			return reqs
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; recorded:\n%s", what, dump(reqs))
		}
	}
}

func dump(reqs []Recorded) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %s?%s %s %s\n", r.Path, r.Query, r.FetchMode, r.Body)
	}
	return b.String()
}

// Payloads as the API receives them.
type (
	// CollectBody is a POST /v1/collect body.
	CollectBody struct {
		SiteKey   string  `json:"site_key"`
		VisitorID string  `json:"visitor_id"`
		SessionID string  `json:"session_id"`
		Context   Context `json:"context"`
		Events    []Event `json:"events"`
	}
	// Context is the device context of a collect body.
	Context struct {
		Lang   string `json:"lang"`
		TZ     string `json:"tz"`
		Screen []int  `json:"screen"`
	}
	// Event is one collected event.
	Event struct {
		Type        string   `json:"type"`
		TS          int64    `json:"ts"`
		URL         string   `json:"url,omitempty"`
		Referrer    *string  `json:"referrer,omitempty"`
		Element     *Element `json:"element,omitempty"`
		DurationMS  *int64   `json:"duration_ms,omitempty"`
		ScrollDepth *float64 `json:"scroll_depth,omitempty"`
		Name        string   `json:"name,omitempty"`
	}
	// Element describes a clicked element.
	Element struct {
		Tag      string            `json:"tag"`
		ID       string            `json:"id,omitempty"`
		Classes  []string          `json:"classes,omitempty"`
		Text     string            `json:"text,omitempty"`
		Attrs    map[string]string `json:"attrs"`
		Selector string            `json:"selector,omitempty"`
	}
)

// Collected decodes every collect body recorded, with the request it came in.
func Collected(t *testing.T, reqs []Recorded) ([]CollectBody, []Recorded) {
	t.Helper()
	var bodies []CollectBody
	var from []Recorded
	for _, r := range reqs {
		if r.Path != "/v1/collect" {
			continue
		}
		var b CollectBody
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("collect body %s: %v", r.Body, err)
		}
		bodies = append(bodies, b)
		from = append(from, r)
	}
	return bodies, from
}

// Events returns every collected event of the given type ("" for all), in order.
func Events(t *testing.T, reqs []Recorded, typ string) []Event {
	t.Helper()
	bodies, _ := Collected(t, reqs)
	var out []Event
	for _, b := range bodies {
		for _, e := range b.Events {
			if typ == "" || e.Type == typ {
				out = append(out, e)
			}
		}
	}
	return out
}

// HasEvent returns a condition for APIRecorder.WaitFor: a collected event for which match holds.
func HasEvent(t *testing.T, match func(Event) bool) func([]Recorded) bool {
	return func(reqs []Recorded) bool {
		return slices.ContainsFunc(Events(t, reqs, ""), match)
	}
}

// Env is a site and an API recorder on two origins, and a browser tab.
type Env struct {
	API     *APIRecorder
	APIURL  string
	SiteURL string
	Tab     context.Context

	pages map[string]string
}

// EnvOptions configure NewEnv.
type EnvOptions struct {
	Pages      map[string]string // path → body HTML; each page gets the snippet in its head
	Head       string            // extra head HTML before the snippet, on every page
	TimeoutMS  int               // anti-flicker timeout; 0 for the default
	InitScript string            // runs in every document of the tab before its scripts
	TagAttrs   string            // extra attributes of the snippet's script tag: data-consent="required"
	API        *APIRecorder      // nil for DefaultAPI()
}

// Test values of the fake API.
const (
	testSiteKey  = "pk_test_123"
	testConfig   = `{"sample_rate":1.0,"exclude":[".promo"],"respect_gpc":true,"respect_dnt":false,"cookieless":false,"data_attrs":["data-product"],"classify":true}`
	testClassify = `{"persona":{"id":"p-deal","name":"Deal hunter","type":"deal_seeker"},"confidence":0.82,"probabilities":[{"persona_id":"p-deal","p":0.82},{"persona_id":"p-loyal","p":0.18}],"model_version":3,"reason":"ok"}`
)

// DefaultAPI is a recorder with a permissive configuration and a deal_seeker answer.
func DefaultAPI() *APIRecorder {
	return &APIRecorder{Config: testConfig, Classify: testClassify, RetryAfter: "1"}
}

// NewEnv starts the two servers and a tab; everything stops in t.Cleanup.
func NewEnv(t *testing.T, browser context.Context, o EnvOptions) *Env {
	t.Helper()
	e := &Env{API: o.API, pages: o.Pages}
	if e.API == nil {
		e.API = DefaultAPI()
	}
	// The double's answers are held to docs/openapi.yaml like the service's: the script is
	// tested against the contract, not against what the double happens to say.
	api := httptest.NewServer(openapitest.Handler(t, e.API))
	t.Cleanup(api.Close)
	if e.API.Hang != nil {
		t.Cleanup(func() { close(e.API.Hang) }) // before api.Close, which waits for handlers
	}
	e.APIURL = api.URL
	timeout := o.TimeoutMS
	if timeout == 0 {
		timeout = defaultTimeoutMS
	}
	snip := strings.Replace(snippet(api.URL, testSiteKey, timeout), "<script ", "<script "+o.TagAttrs+" ", 1)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := e.pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title>%s%s</head><body>%s</body></html>",
			r.URL.Path, o.Head, snip, body)
	}))
	t.Cleanup(site.Close)
	e.SiteURL = site.URL
	e.Tab = testenv.Tab(t, browser, o.InitScript)
	return e
}

// Open navigates the tab to a site path and waits for the load event (which waits for the
// async collector script to run or fail).
func (e *Env) Open(t *testing.T, path string) {
	t.Helper()
	testenv.Do(t, e.Tab, chromedp.Navigate(e.SiteURL+path))
}

// Quiesce lets the page go (to about:blank, so its pagehide handlers run and its beacons
// leave), then loads a sentinel page from the API server and returns what was recorded
// before the sentinel. A beacon can still arrive after the sentinel, so a test that needs
// one waits for it with APIRecorder.WaitFor; Quiesce serves tests that expect silence.
func (e *Env) Quiesce(t *testing.T) []Recorded {
	t.Helper()
	testenv.Do(t, e.Tab, chromedp.Navigate("about:blank"), chromedp.Navigate(e.APIURL+"/sentinel"))
	reqs := e.API.WaitFor(t, "the sentinel", func(rs []Recorded) bool {
		return slices.ContainsFunc(rs, func(r Recorded) bool { return r.Path == "/sentinel" })
	})
	i := slices.IndexFunc(reqs, func(r Recorded) bool { return r.Path == "/sentinel" })
	return reqs[:i]
}

// Paths lists the paths of recorded requests.
func Paths(reqs []Recorded) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Path
	}
	return out
}

// paintProbe, put in a page's head, records in window.__painted which of the elements with
// the given ids were ever rendered visible in a frame, and counts personas:persona events.
func paintProbe(ids ...string) string {
	q, _ := json.Marshal(ids)
	return `<script>window.__painted={};window.__events=[];` +
		`document.addEventListener('personas:persona',function(e){__events.push(e.detail)});` +
		`(function f(){` + string(q) + `.forEach(function(id){var el=document.getElementById(id);` +
		`if(el){var s=getComputedStyle(el);if(s.display!=='none'&&s.visibility==='visible')__painted[id]=true}});` +
		`requestAnimationFrame(f)})();</script>`
}

// visible is a JavaScript expression: is the element with this id rendered visible now?
func visible(id string) string {
	q := strconv.Quote(id)
	return `(function(){var s=getComputedStyle(document.getElementById(` + q + `));` +
		`return s.display!=='none'&&s.visibility==='visible'})()`
}
