package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"personas/classify"
	"personas/models"
)

// ClassifyRequest is the body of POST /v1/classify.
type ClassifyRequest struct {
	SiteKey   string         `json:"site_key"`
	VisitorID string         `json:"visitor_id"`
	SessionID string         `json:"session_id,omitempty"`
	Context   CollectContext `json:"context"`
	Events    []RawEvent     `json:"events"`
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
	body, err := readCollectBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req ClassifyRequest
	if err := strictUnmarshal(body, &req); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	if err := checkID("site_key", req.SiteKey); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	if err := checkID("visitor_id", req.VisitorID); err != nil {
		s.fail(c, badRequest(err.Error()))
		return
	}
	if req.SessionID != "" {
		if err := checkID("session_id", req.SessionID); err != nil {
			s.fail(c, badRequest(err.Error()))
			return
		}
	}
	if len(req.Events) > maxEventsPerRequest {
		s.fail(c, badRequest("events: at most 200 per request"))
		return
	}
	for i := range req.Events {
		if err := checkEvent(&req.Events[i], false); err != nil {
			s.fail(c, badRequest("events["+itoa(i)+"]: "+err.Error()))
			return
		}
	}
	p, ok := s.siteRequest(c, req.SiteKey, "classify")
	if !ok {
		return
	}
	resp, err := s.classifyVisitor(c, c.Request, p, &req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, classifyResponse(&resp))
}

// classifyVisitor classifies the visitor of req, with its inline events normalised as collect
// would have stored them from the same browser request r.
func (s *Server) classifyVisitor(ctx context.Context, r *http.Request, p models.Project, req *ClassifyRequest) (classify.Answer, error) {
	var events []models.Event
	if len(req.Events) > 0 && p.ModelVersion != nil {
		now := s.store.Now().UTC()
		norm := s.browserNormalizer(r, p, req.Context, now)
		session := req.SessionID
		if session == "" {
			session = "inline"
		}
		events = make([]models.Event, 0, len(req.Events))
		for i := range req.Events {
			if ev, reason := norm.normalize(&req.Events[i], req.VisitorID, session); reason == "" {
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

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }
