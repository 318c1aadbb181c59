package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"personas/models"
)

// apiError is an error with its HTTP status and machine-readable code.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

func errStatus(status int, code, msg string) error { return &apiError{status, code, msg} }

func badRequest(msg string) error { return &apiError{http.StatusBadRequest, "bad_request", msg} }

// errorBody is the JSON error shape of DESIGN.md.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

func writeError(c *gin.Context, status int, code, msg, field string) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Field = code, msg, field
	c.AbortWithStatusJSON(status, b)
}

// fail maps an error to its status and writes the JSON error. It is the only place that logs
// server errors (with the request id, never the request body).
func (s *Server) fail(c *gin.Context, err error) {
	var ae *apiError
	var ve *models.ValidationError
	switch {
	case errors.As(err, &ae):
		if ae.Status == http.StatusServiceUnavailable {
			c.Header("Retry-After", "2")
		}
		writeError(c, ae.Status, ae.Code, ae.Message, "")
	case errors.As(err, &ve):
		writeError(c, http.StatusBadRequest, "invalid", ve.Error(), ve.Field)
	case errors.Is(err, models.ErrNotFound):
		writeError(c, http.StatusNotFound, "not_found", "not found", "")
	case errors.Is(err, models.ErrUnauthenticated):
		writeError(c, http.StatusUnauthorized, "unauthenticated", "a valid token or session is required", "")
	case errors.Is(err, models.ErrForbidden):
		writeError(c, http.StatusForbidden, "forbidden", "your role does not allow this", "")
	case errors.Is(err, models.ErrConflict):
		writeError(c, http.StatusConflict, "conflict", err.Error(), "")
	case errors.Is(err, models.ErrKeyDestroyed):
		writeError(c, http.StatusGone, "gone", "the project's data was deleted", "")
	case errors.Is(err, models.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		c.Header("Retry-After", "2")
		s.logger.Warn("storage unavailable", "request_id", requestID(c), "route", c.FullPath(), "err", err.Error())
		writeError(c, http.StatusServiceUnavailable, "unavailable", "storage is unavailable, retry later", "")
	case errors.Is(err, context.Canceled):
		writeError(c, 499, "canceled", "request canceled", "")
	default:
		s.logger.Error("request failed", "request_id", requestID(c), "route", c.FullPath(), "err", err.Error())
		writeError(c, http.StatusInternalServerError, "internal", "internal error", "")
	}
}

func logAttrs(c *gin.Context) []any {
	return []any{slog.String("request_id", requestID(c)), slog.String("route", c.FullPath())}
}
