package api

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"personas/classify"
	"personas/ingest"
	"personas/models"
)

// ClassifyRequest is the body of POST /v1/classify.
type ClassifyRequest struct {
	SiteKey   string                `json:"site_key"`
	VisitorID string                `json:"visitor_id"`
	SessionID string                `json:"session_id,omitempty"`
	Context   ingest.CollectContext `json:"context"`
	Events    []ingest.RawEvent     `json:"events"`
}

type personaRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type probability struct {
	PersonaID string  `json:"persona_id"`
	P         float64 `json:"p"`
}

// ClassifyResponse is the answer of POST /v1/classify.
type ClassifyResponse struct {
	Persona       *personaRef   `json:"persona"`
	Confidence    float64       `json:"confidence"`
	Probabilities []probability `json:"probabilities"`
	ModelVersion  *int          `json:"model_version"`
	Reason        string        `json:"reason"`
}

// classify answers which persona a visitor belongs to, from the stored aggregates and the
// visitor's unsent events (merged, not stored).
func (s *Server) classify(c *gin.Context) {
	var req ClassifyRequest
	if !s.decodeBeacon(c, &req, &req.SiteKey, &req.VisitorID) {
		return
	}
	if req.SessionID != "" {
		if err := ingest.CheckID("session_id", req.SessionID); err != nil {
			s.fail(c, badRequest(err.Error()))
			return
		}
	}
	if err := ingest.CheckEvents(req.Events); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	p, ok := s.siteGate(c, classifySite, req.SiteKey, int64(len(req.Events)))
	if !ok {
		return
	}
	resp, err := s.classifyVisitor(c, c.Request, p, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	buf := answerBuffers.Get().(*[]byte)
	if b, ok := appendClassifyJSON((*buf)[:0], &resp); ok {
		c.Data(http.StatusOK, "application/json; charset=utf-8", b)
		*buf = b
	} else {
		c.JSON(http.StatusOK, classifyResponse(&resp)) // non-finite figures: encoding/json decides
	}
	answerBuffers.Put(buf)
}

// classifyVisitor classifies the visitor of req, with its inline events normalised as collect
// would have stored them from the same browser request r.
func (s *Server) classifyVisitor(ctx context.Context, r *http.Request, p models.Project, req *ClassifyRequest) (classify.Answer, error) {
	var events []models.Event
	if len(req.Events) > 0 && p.ModelVersion != nil {
		now := s.store.Now().UTC()
		norm := ingest.ForBrowser(s.store.Index(), p, r.UserAgent(), req.Context, now)
		session := req.SessionID
		if session == "" {
			session = "inline"
		}
		events = make([]models.Event, 0, len(req.Events))
		for i := range req.Events {
			if ev, reason := norm.Normalize(&req.Events[i], req.VisitorID, session); reason == "" {
				events = append(events, ev)
			}
		}
	}
	return s.classifySvc.Classify(ctx, p, req.VisitorID, events)
}

// classifyResponse is the contract's form of an answer.
func classifyResponse(a *classify.Answer) ClassifyResponse {
	resp := ClassifyResponse{Confidence: a.Confidence, Probabilities: make([]probability, len(a.Probabilities)), Reason: a.Reason}
	for i, pr := range a.Probabilities {
		resp.Probabilities[i] = probability{PersonaID: pr.PersonaID, P: pr.P}
	}
	if a.Persona != nil {
		resp.Persona = &personaRef{ID: a.Persona.IDText, Name: a.Persona.Name, Type: a.Persona.Type}
	}
	if a.ModelVersion != 0 {
		v := a.ModelVersion
		resp.ModelVersion = &v
	}
	return resp
}

// answerBuffers are the encoded answers' buffers, reused (the response writer copies them).
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendClassifyJSON appends an answer's contract JSON: what encoding/json writes for
// classifyResponse(a), byte for byte, without reflection (the test holds them equal). It
// reports false for a non-finite figure, which encoding/json refuses.
func appendClassifyJSON(b []byte, a *classify.Answer) ([]byte, bool) {
	b = append(b, `{"persona":`...)
	if a.Persona == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = appendJSONString(b, a.Persona.IDText)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, a.Persona.Name)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, a.Persona.Type)
		b = append(b, '}')
	}
	b = append(b, `,"confidence":`...)
	b, ok := appendJSONFloat(b, a.Confidence)
	b = append(b, `,"probabilities":[`...)
	for i, p := range a.Probabilities {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"persona_id":`...)
		b = appendJSONString(b, p.PersonaID)
		b = append(b, `,"p":`...)
		var pok bool
		b, pok = appendJSONFloat(b, p.P)
		ok = ok && pok
		b = append(b, '}')
	}
	b = append(b, `],"model_version":`...)
	if a.ModelVersion == 0 {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(a.ModelVersion), 10)
	}
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, a.Reason)
	return append(b, '}'), ok
}

// appendJSONFloat formats a float64 as encoding/json does.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 as e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONString quotes a string as encoding/json does: printable ASCII as it is, anything
// else (escapes, HTML characters, non-ASCII) through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }
