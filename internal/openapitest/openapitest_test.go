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
