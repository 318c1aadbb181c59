package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"personas/internal/testenv"
	"personas/models"
)

// TestErrorStatusSameInJSONAndHTML runs each kind of error through the API's JSON answer (fail)
// and the dashboard's error page (errorPage): both must answer the status of statusOf, with
// Retry-After on a 503, and log a server error once. The timeout cases are the ones that
// drifted: the dashboard answered a context deadline with 500 where the API said 503.
func TestErrorStatusSameInJSONAndHTML(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	// A real database timeout: a query whose deadline passes before PostgreSQL answers.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, dbTimeout := e.Store.Pool().Exec(ctx, "SELECT pg_sleep(2)")
	if dbTimeout == nil || !errors.Is(dbTimeout, context.DeadlineExceeded) {
		t.Fatalf("query past its deadline: %v, want a context deadline", dbTimeout)
	}

	tests := []struct {
		name     string
		err      error
		status   int
		code     string
		heading  string // the error page's
		loggedAt string // "" when not logged
	}{
		{"not found", fmt.Errorf("persona: %w", models.ErrNotFound), 404, "not_found", "Not found", ""},
		{"unauthenticated", models.ErrUnauthenticated, 401, "unauthenticated", "Please sign in", ""},
		{"forbidden", models.ErrForbidden, 403, "forbidden", "Not allowed", ""},
		{"conflict", fmt.Errorf("%w: personas_name_key", models.ErrConflict), 409, "conflict", "Conflict", ""},
		{"key destroyed", models.ErrKeyDestroyed, 410, "gone", "Deleted", ""},
		{"validation", models.Invalid("name", "too long"), 400, "invalid", "Please check the form", ""},
		{"bad request", badRequest("malformed form body"), 400, "bad_request", "Bad Request", ""},
		{"too large", errStatus(413, "too_large", "form larger than 64 KiB"), 413, "too_large", "Request Entity Too Large", ""},
		{"csrf", errStatus(403, "csrf", "missing or wrong CSRF token"), 403, "csrf", "Request refused", ""},
		{"rate limited", errStatus(429, "rate_limited", "wait"), 429, "rate_limited", "Too Many Requests", ""},
		{"queue unavailable", errStatus(503, "unavailable", "the job queue is unavailable, retry later"), 503, "unavailable", "Service Unavailable", ""},
		{"storage unavailable", fmt.Errorf("%w: dial tcp: refused", models.ErrUnavailable), 503, "unavailable", "Temporarily unavailable", "WARN"},
		{"context deadline", fmt.Errorf("read aggregates: %w", context.DeadlineExceeded), 503, "unavailable", "Temporarily unavailable", "WARN"},
		{"database timeout", dbTimeout, 503, "unavailable", "Temporarily unavailable", "WARN"},
		{"canceled", context.Canceled, 499, "canceled", "Request canceled", ""},
		{"unknown", errors.New("template exploded"), 500, "internal", "Something went wrong", "ERROR"},
	}
	var logs testenv.Buffer
	s := NewServer(Deps{Store: e.Store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	answer := func(write func(*gin.Context, error), err error) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodGet, "/projects/x", nil)
		write(c, err)
		if !c.IsAborted() {
			t.Errorf("%v: the chain goes on after the error answer", err)
		}
		return w
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, r := statusOf(tt.err)
			if status != tt.status || r.Code != tt.code {
				t.Fatalf("statusOf(%v) = %d %q, want %d %q", tt.err, status, r.Code, tt.status, tt.code)
			}
			before := len(logs.String())
			j := answer(s.fail, tt.err)
			jsonLog := logs.String()[before:]
			before = len(logs.String())
			h := answer(s.errorPage, tt.err)
			htmlLog := logs.String()[before:]

			if j.Code != tt.status || h.Code != tt.status {
				t.Errorf("JSON answers %d, HTML %d, want %d in both", j.Code, h.Code, tt.status)
			}
			wantRetry := ""
			if tt.status == http.StatusServiceUnavailable {
				wantRetry = "2"
			}
			if j.Header().Get("Retry-After") != wantRetry || h.Header().Get("Retry-After") != wantRetry {
				t.Errorf("Retry-After: JSON %q, HTML %q, want %q", j.Header().Get("Retry-After"), h.Header().Get("Retry-After"), wantRetry)
			}
			if !strings.Contains(j.Body.String(), `"code":"`+tt.code+`"`) || !strings.HasPrefix(j.Header().Get("Content-Type"), "application/json") {
				t.Errorf("JSON body %s (%s), want code %q", j.Body, j.Header().Get("Content-Type"), tt.code)
			}
			if !strings.Contains(h.Body.String(), `<h1 id="error-heading">`+tt.heading+`</h1>`) || !strings.HasPrefix(h.Header().Get("Content-Type"), "text/html") {
				t.Errorf("error page (%s) lacks the heading %q: %s", h.Header().Get("Content-Type"), tt.heading, h.Body)
			}
			if strings.Contains(h.Body.String(), "template exploded") || strings.Contains(j.Body.String(), "template exploded") {
				t.Errorf("a server error's text reached the caller")
			}
			for side, l := range map[string]string{"JSON": jsonLog, "HTML": htmlLog} {
				switch {
				case tt.loggedAt == "" && l != "":
					t.Errorf("%s: logged %q, want nothing", side, l)
				case tt.loggedAt != "" && (strings.Count(l, "\n") != 1 || !strings.Contains(l, "level="+tt.loggedAt)):
					t.Errorf("%s: logged %q, want one %s line", side, l, tt.loggedAt)
				}
			}
		})
	}
}
