package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

const requestIDKey = "request_id"

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// withRequestID takes a sane X-Request-ID from the caller or makes one, and echoes it.
func withRequestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

// accessLog logs one line per request: method, route template (never the raw path or query,
// which may carry ids or personal data), status, duration and size.
// quietRoutes are the public beacon routes, whose successful requests are logged at debug level.
var quietRoutes = map[string]bool{"/v1/collect": true, "/v1/classify": true}

func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	method, route, _ := metricLabels(c.Request.Method, c.FullPath(), c.Writer.Status())
	if route == "/healthz" || route == "/metrics" || route == "/readyz" {
		return
	}
	level := slog.LevelInfo
	if quietRoutes[route] && c.Writer.Status() < 300 {
		// A site's visitors send these on every page: their successes are counted and timed in
		// /metrics, and logged one by one only at debug level (errors always are).
		level = slog.LevelDebug
	}
	if !s.logger.Enabled(c, level) {
		return
	}
	s.logger.Log(c, level, "request",
		"request_id", requestID(c), "method", method, "route", route,
		"status", c.Writer.Status(), "duration_ms", float64(time.Since(start).Microseconds())/1000,
		"bytes", c.Writer.Size())
}

// recovery turns a panic into the JSON 500 and logs the stack with the request id.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			s.logger.Error("panic", "request_id", requestID(c), "route", c.FullPath(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				writeError(c, http.StatusInternalServerError, "internal", "internal error", "")
			} else {
				c.Abort()
			}
		}
	}()
	c.Next()
}

// metricsMiddleware counts requests and observes latency by method, route template and status.
// Every label comes from a closed set (metricLabels), so a client cannot grow the scrape.
func (s *Server) metricsMiddleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	method, route, status := metricLabels(c.Request.Method, c.FullPath(), c.Writer.Status())
	s.metrics.requests.WithLabelValues(method, route, status).Inc()
	s.metrics.latency.WithLabelValues(method, route, status).Observe(time.Since(start).Seconds())
}

// unmatched is the route and method label of everything outside the route table: unmatched
// paths, unknown methods and methods a route does not answer.
const unmatched = "unmatched"

// knownMethods are the methods counted under their own name.
var knownMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions,
}

// metricLabels maps a request to its metric labels. The route is the template of a registered
// route or "unmatched"; the method is one of knownMethods on a matched route, "unmatched"
// otherwise (a request gin answered with 404 or 405 has no route); the status is a three-digit
// code. Strings a client sends are never labels as they came.
func metricLabels(method, route string, status int) (string, string, string) {
	m, ok := knownMethods[method]
	if route == "" || !ok {
		m, route = unmatched, unmatched
	}
	if status < 100 || status > 599 {
		status = 0
	}
	return m, route, strconv.Itoa(status)
}

// limitBody caps request bodies; handlers see an error past the limit and answer 413.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if strings.HasSuffix(c.FullPath(), "/import") {
			c.Next() // imports stream files of any size, bounded record by record (ingest.NewSource)
			return
		}
		if strings.HasPrefix(mediaType(c.Request), "multipart/") {
			writeError(c, http.StatusUnsupportedMediaType, "unsupported_media_type", errMultipart, "")
			return
		}
		if c.Request.ContentLength > n {
			writeError(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", n), "")
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

const errMultipart = "multipart bodies are not accepted: send application/x-www-form-urlencoded or JSON"

// formBody caps the body of a form post (the dashboard's forms, /login, /v1/session) at n bytes
// and parses it before any handler reads it: a larger body answers 413, a multipart one 415
// (no form here uploads files, and multipart would spool to disk), a malformed one 400. fail
// writes the error as the route's audience reads it (an HTML page or JSON).
func formBody(n int64, fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if unsafeMethod(c.Request.Method) {
			if err := readForm(c, n); err != nil {
				fail(c, err)
				c.Abort()
				return
			}
		}
		c.Next()
	}
}

func readForm(c *gin.Context, n int64) error {
	r := c.Request
	if strings.HasPrefix(mediaType(r), "multipart/") {
		return errStatus(http.StatusUnsupportedMediaType, "unsupported_media_type", errMultipart)
	}
	tooLarge := errStatus(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("form larger than %d KiB", n>>10))
	if r.ContentLength > n {
		return tooLarge
	}
	r.Body = http.MaxBytesReader(c.Writer, r.Body, n)
	if !isForm(r) {
		return nil // a JSON body: its decoder sees the limit
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		return badRequest("malformed form body")
	}
	return nil
}

// hsts is the Strict-Transport-Security of production: browsers that saw it once never
// talk plain HTTP to the service again for a year.
const hsts = "max-age=31536000; includeSubDomains"

// securityHeaders sets conservative headers on every answer, and HSTS in production.
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if s.cfg.Production {
		h.Set("Strict-Transport-Security", hsts)
	}
	c.Next()
}
