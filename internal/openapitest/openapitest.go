// Package openapitest checks a server's answers against the service's OpenAPI document
// (docs/openapi.yaml, as embedded in package docs): every request and answer that goes through
// a checked handler is matched to its operation, and the answer's status, content type and body
// are validated with kin-openapi. Requests are not validated: hostile-input tests send bad
// ones on purpose. Violations fail the test at its end, each with the method, path, status and
// the validator's message, so a drift between the code and the document fails CI.
package openapitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"personas/docs"
)

// maxBody is the most of an answer's body kept for validation; a longer body (a large export)
// has its status and content type checked, not its body.
const maxBody = 8 << 20

// maxMessage bounds a violation's message: the validator quotes the whole value.
const maxMessage = 1200

// Contract is the loaded document with its router.
type Contract struct {
	doc    *openapi3.T
	router routers.Router
}

// load parses and validates the embedded document once per test binary.
var load = sync.OnceValues(func() (*Contract, error) { return Parse(docs.OpenAPI) })

// Load returns the service's contract, the embedded docs/openapi.yaml.
func Load() (*Contract, error) { return load() }

// Parse loads a document (for the test that proves a drift fails).
func Parse(data []byte) (*Contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	// Match paths alone: the test servers listen on other hosts and ports than servers[0].
	doc.Servers = nil
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	return &Contract{doc: doc, router: r}, nil
}

// ErrUndocumented is returned for a request whose method and path no operation of the
// document matches.
var ErrUndocumented = errors.New("no operation of the document matches")

// Validate checks one answer to req against the document: its status must be one the
// operation documents, its content type one that status documents, and its body must match
// that content's schema.
func (c *Contract) Validate(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUndocumented, err)
	}
	// openapi3filter checks the status and the headers. The body is checked below with
	// openapi3's own schema visitor: for an OpenAPI 3.1 document openapi3filter switches to the
	// JSON Schema 2020-12 validator, which compiles the schema again on every call (about 6 ms
	// an answer here, too slow for the load tests), and the keywords this document uses
	// (type lists with "null", oneOf, enum, required, additionalProperties, bounds) are the
	// visitor's too.
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return err
	}
	if req.Method != http.MethodHead {
		if err := validateBody(route.Operation, status, header.Get("Content-Type"), body); err != nil {
			return err
		}
	}
	if req.Method == http.MethodHead {
		// kin-openapi skips HEAD: check at least that the status is documented.
		if op := route.PathItem.GetOperation(http.MethodHead); op == nil || op.Responses.Status(status) == nil {
			return fmt.Errorf("HEAD answered %d, which the document does not list", status)
		}
	}
	return nil
}

// validateBody checks an answer's content type and body against what the operation documents
// for its status. body nil: too large to keep, only the content type is checked.
func validateBody(op *openapi3.Operation, status int, contentType string, body []byte) error {
	r := op.Responses.Status(status)
	if r == nil {
		r = op.Responses.Default()
	}
	if r == nil || r.Value == nil {
		return fmt.Errorf("status %d is not documented", status)
	}
	content := r.Value.Content
	if len(content) == 0 {
		// A redirect may carry net/http's short link text for GET: clients follow Location.
		if len(body) > 0 && (status < 300 || status > 399) {
			return fmt.Errorf("status %d is documented without a body, and %d bytes came", status, len(body))
		}
		return nil
	}
	mt := content.Get(contentType)
	if mt == nil {
		return fmt.Errorf("response Content-Type %q is not one of the documented %v", contentType, mediaTypes(content))
	}
	if mt.Schema == nil || mt.Schema.Value == nil || body == nil || !isJSON(contentType) {
		return nil // text (HTML, SVG, scripts, YAML): its media type is what is checked
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("response body doesn't match schema %s: %w", mt.Schema.Ref, err)
	}
	return nil
}

func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func mediaTypes(c openapi3.Content) []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Handler wraps h so that every answer it writes is validated against the service's contract;
// the violations fail t when it ends (a Cleanup registered now, so it runs after the cleanups
// registered later, such as the server's stop). Requests that match no operation (unknown
// routes, wrong methods) are not checked here: the router test holds the document and the
// route table equal.
func Handler(t testing.TB, h http.Handler) http.Handler {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ck := &checker{c: c, h: h}
	t.Cleanup(func() {
		ck.mu.Lock()
		defer ck.mu.Unlock()
		sort.Strings(ck.violations)
		for _, v := range ck.violations {
			t.Errorf("answer not as docs/openapi.yaml says: %s", v)
		}
	})
	return ck
}

type checker struct {
	c          *Contract
	h          http.Handler
	mu         sync.Mutex
	violations []string
	seen       map[string]bool
}

func (ck *checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	// The router and the handlers may rewrite r.URL; validate against what the client sent.
	orig := r.Clone(r.Context())
	ck.h.ServeHTTP(rec, r)
	if rec.status == 0 && r.Context().Err() != nil {
		return // the client went away before anything was answered
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	var body []byte
	if !rec.overflow {
		body = rec.body.Bytes()
		if body == nil {
			body = []byte{}
		}
	}
	err := ck.c.Validate(orig, rec.status, w.Header(), body)
	if err == nil || errors.Is(err, ErrUndocumented) {
		return
	}
	why := strings.Join(strings.Fields(err.Error()), " ")
	if len(why) > maxMessage {
		why = why[:maxMessage] + "…"
	}
	msg := fmt.Sprintf("%s %s → %d (%s): %s", orig.Method, orig.URL.Path, rec.status, w.Header().Get("Content-Type"), why)
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if ck.seen == nil {
		ck.seen = map[string]bool{}
	}
	if !ck.seen[msg] && len(ck.violations) < 50 { // bounded: a load test repeats the same answer
		ck.seen[msg] = true
		ck.violations = append(ck.violations, msg)
	}
}

// recorder passes an answer through and keeps its status and (up to maxBody of) its body.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if !r.overflow {
		if r.body.Len()+len(p) > maxBody {
			r.overflow = true
			r.body = bytes.Buffer{}
		} else {
			r.body.Write(p)
		}
	}
	return r.ResponseWriter.Write(p)
}

// Flush passes a flush on (gin's writer asserts http.Flusher).
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack passes a hijack on.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack not supported")
	}
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
