package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

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

// reply is what an error answers besides its status, on either side of the service: the JSON
// error's code, message and field, and the dashboard error page's heading and message.
type reply struct {
	Code, Message, Field string
	Heading, Page        string     // the error page's; empty: the status text and Message
	log                  slog.Level // logged at this level when logged is set
	logged               bool
}

// errorKinds are the domain errors in the order they are matched, with their status and reply.
// A reply without a Message answers the error's own text.
var errorKinds = []struct {
	err    error
	status int
	reply  reply
}{
	{models.ErrNotFound, http.StatusNotFound, reply{Code: "not_found", Message: "not found",
		Heading: "Not found", Page: "There is nothing here, or you do not have access to it."}},
	{models.ErrUnauthenticated, http.StatusUnauthorized, reply{Code: "unauthenticated", Message: "a valid token or session is required",
		Heading: "Please sign in", Page: "Your session has ended."}},
	{models.ErrForbidden, http.StatusForbidden, reply{Code: "forbidden", Message: "your role does not allow this",
		Heading: "Not allowed", Page: "Your role in this project does not allow this."}},
	{models.ErrConflict, http.StatusConflict, reply{Code: "conflict", Heading: "Conflict"}},
	{models.ErrKeyDestroyed, http.StatusGone, reply{Code: "gone", Message: "the project's data was deleted",
		Heading: "Deleted", Page: "The project's data was deleted."}},
	{models.ErrUnavailable, http.StatusServiceUnavailable, unavailableReply},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, unavailableReply}, // a database timeout
	{context.Canceled, 499, reply{Code: "canceled", Message: "request canceled",
		Heading: "Request canceled", Page: "The request was canceled before it finished."}},
}

var unavailableReply = reply{Code: "unavailable", Message: "storage is unavailable, retry later",
	Heading: "Temporarily unavailable", Page: "Storage is unavailable; try again in a moment.", log: slog.LevelWarn, logged: true}

var internalReply = reply{Code: "internal", Message: "internal error",
	Heading: "Something went wrong", Page: "The page could not be shown. Try again in a moment.", log: slog.LevelError, logged: true}

// statusOf maps an error to its status and public reply: the one map of the JSON errors (fail)
// and of the dashboard's error page (errorPage), so that an error answers the same status on
// both. Anything unknown is a 500 whose text stays in the log.
func statusOf(err error) (int, reply) {
	err = teamsKind(err)
	var ae *apiError
	var ve *models.ValidationError
	switch {
	case errors.As(err, &ae):
		r := reply{Code: ae.Code, Message: ae.Message}
		if ae.Code == "csrf" {
			r.Heading = "Request refused"
			r.Page = "This form did not come from the dashboard (" + ae.Message + "). Reload the page and try again."
		}
		return ae.Status, r
	case errors.As(err, &ve):
		return http.StatusBadRequest, reply{Code: "invalid", Message: ve.Error(), Field: ve.Field, Heading: "Please check the form"}
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			r := k.reply
			if r.Message == "" {
				r.Message = err.Error()
			}
			return k.status, r
		}
	}
	return http.StatusInternalServerError, internalReply
}

// failed does what every error answer does, JSON or HTML: Retry-After on a 503, and the log
// line of a server error (with the request id, never the request body). It is the only place
// that logs them.
func (s *Server) failed(c *gin.Context, status int, r reply, err error) {
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "2")
	}
	if r.logged {
		msg := "request failed"
		if status == http.StatusServiceUnavailable {
			msg = "storage unavailable"
		}
		s.logger.Log(c, r.log, msg, append(logAttrs(c), "err", err.Error())...)
	}
}

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

// fail answers an error as JSON, with statusOf's status and reply.
func (s *Server) fail(c *gin.Context, err error) {
	status, r := statusOf(err)
	s.failed(c, status, r, err)
	writeError(c, status, r.Code, r.Message, r.Field)
}

// errorView is the error page's data.
type errorView struct {
	Status  int
	Heading string
	Message string
}

// errorPage answers an error as the dashboard's error page, with statusOf's status and reply.
func (s *Server) errorPage(c *gin.Context, err error) {
	status, r := statusOf(err)
	s.failed(c, status, r, err)
	v := errorView{Status: status, Heading: r.Heading, Message: r.Page}
	if v.Heading == "" {
		v.Heading = http.StatusText(status)
	}
	if v.Message == "" {
		v.Message = r.Message
	}
	p := page{Title: v.Heading, Data: v, Role: roleFrom(c)}
	if pr := principalFrom(c); pr.UserID != uuid.Nil {
		p.CSRF = pr.SessionCSRF
		if u, uerr := s.store.User(c, pr.UserID); uerr == nil {
			p.User = u
		}
	}
	s.render(c, status, "error", p)
}

func logAttrs(c *gin.Context) []any {
	return []any{slog.String("request_id", requestID(c)), slog.String("route", c.FullPath())}
}
