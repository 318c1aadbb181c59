package openapitest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"personas/docs"
	"personas/internal/openapitest"
)

// TestValidatorCatchesDrift proves the check can fail: answers that differ from the document
// (a field of the wrong type, a missing required field, an undocumented status, another content
// type) are each refused, and the documented answer passes.
func TestValidatorCatchesDrift(t *testing.T) {
	c, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	jsonCT := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	cases := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		wantErr            string // "" passes
	}{
		{"documented", "GET", "/readyz", 200, jsonCT,
			`{"ready":true,"checks":{"postgres":"ok","keystore":"ok","redis":"ok","schema":"ok"}}`, ""},
		{"wrong type", "GET", "/readyz", 200, jsonCT,
			`{"ready":"yes","checks":{"postgres":"ok","keystore":"ok","redis":"ok","schema":"ok"}}`, "doesn't match schema"},
		{"missing field", "GET", "/readyz", 200, jsonCT, `{"checks":{}}`, "doesn't match schema"},
		{"undocumented status", "GET", "/readyz", 418, jsonCT, `{}`, "status is not supported"},
		{"other content type", "GET", "/readyz", 200, http.Header{"Content-Type": {"text/html"}}, `<p>`, "Content-Type"},
		{"error body drift", "GET", "/v1/me", 401, jsonCT, `{"message":"no"}`, "doesn't match schema"},
		{"error body", "GET", "/v1/me", 401, jsonCT, `{"error":{"code":"unauthenticated","message":"no"}}`, ""},
		{"null where the document allows it", "POST", "/v1/classify", 200, jsonCT,
			`{"persona":null,"confidence":0,"probabilities":[],"model_version":null,"reason":"no_model"}`, ""},
		{"a reason the document does not name", "POST", "/v1/classify", 200, jsonCT,
			`{"persona":null,"confidence":0,"probabilities":[],"model_version":null,"reason":"disabled"}`, "doesn't match schema"},
		{"a string for a nullable integer", "POST", "/v1/classify", 200, jsonCT,
			`{"persona":null,"confidence":0,"probabilities":[],"model_version":"3","reason":"no_model"}`, "doesn't match schema"},
		{"a body where none is documented", "POST", "/v1/collect", 204, http.Header{}, `{}`, "without a body"},
		{"HTML page", "GET", "/login", 200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, `<!doctype html>`, ""},
		{"JSON where the page is HTML", "GET", "/login", 200, jsonCT, `{}`, "Content-Type"},
		{"unknown field in a closed object", "GET", "/v1/receipt-key", 200, jsonCT,
			`{"algorithm":"ed25519","public_key":"` + strings.Repeat("ab", 32) + `","key_id":"k","extra":1}`, "doesn't match schema"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			err := c.Validate(req, tc.status, tc.header, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("the documented answer was refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("a drifted answer (%s) passed", tc.name)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q, want one about %q", err, tc.wantErr)
			}
		})
	}
}

// TestHandlerFailsTheTest runs a handler that answers against the document behind Handler, in
// a test of its own, and checks that this test failed with the method, path and status.
func TestHandlerFailsTheTest(t *testing.T) {
	var got []string
	rec := recordingTB{TB: t, errs: &got}
	func() {
		h := openapitest.Handler(&rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"ready":1}`))
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/readyz", nil))
		rec.cleanup()
	}()
	if len(got) != 1 || !strings.Contains(got[0], "GET /readyz → 200") {
		t.Fatalf("violations reported: %q, want one naming GET /readyz → 200", got)
	}
}

// TestDocumentIsEmbedded holds the embedded document to the file.
func TestDocumentIsEmbedded(t *testing.T) {
	if len(docs.OpenAPI) == 0 || !strings.HasPrefix(string(docs.OpenAPI), "openapi: 3.1") {
		t.Fatalf("docs.OpenAPI starts %.40q", docs.OpenAPI)
	}
}

// recordingTB keeps Errorf's messages and the cleanups, run by cleanup.
type recordingTB struct {
	testing.TB
	errs     *[]string
	cleanups []func()
}

func (r *recordingTB) Errorf(format string, args ...any) {
	*r.errs = append(*r.errs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// BenchmarkValidate is the check's cost on one answer: a classify answer with three
// probabilities, the most frequent answer of the load tests.
func BenchmarkValidate(b *testing.B) {
	c, err := openapitest.Load()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"persona":{"id":"0ed596fc-b5ee-40c1-9eb4-f68b848f7c6d","name":"Deal Hunters","type":"deal_seeker"},` +
		`"confidence":0.83,"probabilities":[{"persona_id":"0ed596fc-b5ee-40c1-9eb4-f68b848f7c6d","p":0.83},` +
		`{"persona_id":"3e7f9be8-9af5-4ede-a16a-6f73622800c3","p":0.12},{"persona_id":"8f0749b6-ca00-4b1b-bb57-16c9759b550b","p":0.05}],` +
		`"model_version":3,"reason":"ok"}`)
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for b.Loop() {
		if err := c.Validate(httptest.NewRequest("POST", "/v1/classify", nil), 200, h, body); err != nil {
			b.Fatal(err)
		}
	}
}
