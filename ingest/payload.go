package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"personas/models"
)

// Limits of the collect contract.
const (
	// MaxEvents is how many events one collect or classify request may carry.
	MaxEvents       = 200
	maxIDLen        = 128
	maxURLLen       = 2048
	maxTextRunes    = 200
	maxClasses      = 20
	maxClassLen     = 64
	maxAttrs        = 20
	maxAttrValueLen = 512
	maxSelectorLen  = 512
	maxGoalLen      = 64
	// eventMaxAge and eventMaxAhead are the window of a browser's event time stamps: older or
	// later events are dropped (too_old, ahead). Imports take any age within the retention.
	eventMaxAge   = 48 * time.Hour
	eventMaxAhead = 5 * time.Minute
)

// Payload is the body of POST /v1/collect.
type Payload struct {
	SiteKey   string         `json:"site_key"`
	VisitorID string         `json:"visitor_id"`
	SessionID string         `json:"session_id"`
	Context   CollectContext `json:"context"`
	Events    []RawEvent     `json:"events"`
}

// CollectContext is what the browser says about itself. Only the time zone (for active hours)
// and the screen width (for the device class) are used; nothing of it is stored.
type CollectContext struct {
	Lang   string `json:"lang"`
	TZ     string `json:"tz"`
	Screen []int  `json:"screen"`
}

// RawEvent is one event as the client sent it.
type RawEvent struct {
	Type        string      `json:"type"`
	TS          int64       `json:"ts"`
	URL         string      `json:"url"`
	Referrer    string      `json:"referrer"`
	Element     *RawElement `json:"element"`
	DurationMS  *int64      `json:"duration_ms"`
	ScrollDepth *float64    `json:"scroll_depth"`
	Name        string      `json:"name"`
	// Import only: each line names its visitor and session.
	VisitorID string `json:"visitor_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
}

// RawElement is a clicked element as the client described it.
type RawElement struct {
	Tag      string            `json:"tag"`
	ID       string            `json:"id"`
	Classes  []string          `json:"classes"`
	Text     string            `json:"text"`
	Attrs    map[string]string `json:"attrs"`
	Selector string            `json:"selector"`
	Value    json.RawMessage   `json:"value,omitempty"` // never stored, whatever the client sent
	InNav    bool              `json:"in_nav,omitempty"`
}

// ShapeError is a request the contract refuses ("bad shape", a 400): nothing of it is stored.
type ShapeError struct{ msg string }

func (e *ShapeError) Error() string { return e.msg }

func bad(format string, args ...any) error { return &ShapeError{fmt.Sprintf(format, args...)} }

// ParsePayload decodes and validates a collect body. It checks shape only (types, sizes,
// UTF-8, known event types); the privacy pass, Prepare, comes once the project is known. Every
// error is a *ShapeError.
func ParsePayload(body []byte) (*Payload, error) {
	if !utf8.Valid(body) {
		return nil, bad("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var p Payload
	if err := dec.Decode(&p); err != nil {
		return nil, bad("malformed JSON: %s", truncateMsg(err.Error()))
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON object")
	}
	if err := CheckID("site_key", p.SiteKey); err != nil {
		return nil, err
	}
	if err := CheckID("visitor_id", p.VisitorID); err != nil {
		return nil, err
	}
	if err := CheckID("session_id", p.SessionID); err != nil {
		return nil, err
	}
	if len(p.Events) == 0 {
		return nil, bad("events: at least one event is required")
	}
	if len(p.Events) > MaxEvents {
		return nil, bad("events: at most %d per request", MaxEvents)
	}
	if len(p.Context.Screen) > 2 || len(p.Context.TZ) > 64 || len(p.Context.Lang) > 35 {
		return nil, bad("context: unexpected values")
	}
	if err := CheckEvents(p.Events); err != nil {
		return nil, err
	}
	return &p, nil
}

// CheckEvents checks the events a browser sent (collect, or classify's unsent ones): at most
// MaxEvents, each of a known type and within the contract's sizes, none naming its own visitor
// or session. Its error is a *ShapeError naming the first event at fault.
func CheckEvents(events []RawEvent) error {
	if len(events) > MaxEvents {
		return bad("events: at most %d per request", MaxEvents)
	}
	for i := range events {
		if err := checkEvent(&events[i], false); err != nil {
			return bad("events[%d]: %s", i, err.Error())
		}
	}
	return nil
}

// CheckID checks an identifier a client sends (site key, visitor id, session id): present, at
// most 128 bytes, without spaces or control characters. field names it in the error, a
// *ShapeError.
func CheckID(field, v string) error {
	if v == "" {
		return bad("%s is required", field)
	}
	if len(v) > maxIDLen {
		return bad("%s is longer than %d bytes", field, maxIDLen)
	}
	for _, r := range v {
		if r < 0x21 || r == 0x7f {
			return bad("%s has control or space characters", field)
		}
	}
	return nil
}

func checkEvent(e *RawEvent, imported bool) error {
	switch e.Type {
	case models.EventPageview, models.EventClick, models.EventLeave:
		if e.URL == "" {
			return errors.New("url is required")
		}
	case models.EventGoal:
		if e.Name == "" {
			return errors.New("name is required for a goal")
		}
		if len(e.Name) > maxGoalLen {
			return fmt.Errorf("name is longer than %d bytes", maxGoalLen)
		}
	case "":
		return errors.New("type is required")
	default:
		return fmt.Errorf("unknown type %q", truncateMsg(e.Type))
	}
	if e.TS <= 0 {
		return errors.New("ts (milliseconds since the epoch) is required")
	}
	if len(e.URL) > maxURLLen || len(e.Referrer) > maxURLLen {
		return fmt.Errorf("url and referrer are at most %d bytes", maxURLLen)
	}
	if !imported && (e.VisitorID != "" || e.SessionID != "") {
		return errors.New("visitor_id and session_id belong to the request, not the event")
	}
	if e.Element != nil {
		if e.Type != models.EventClick {
			return errors.New("element is only for clicks")
		}
		el := e.Element
		if len(el.Tag) > 32 || len(el.ID) > 256 || len(el.Selector) > maxSelectorLen || len(el.Text) > 4*maxTextRunes*4 {
			return errors.New("element fields too long")
		}
		if len(el.Classes) > maxClasses || len(el.Attrs) > maxAttrs {
			return fmt.Errorf("element has more than %d classes or %d attributes", maxClasses, maxAttrs)
		}
		for _, c := range el.Classes {
			if len(c) > maxClassLen {
				return fmt.Errorf("element class longer than %d bytes", maxClassLen)
			}
		}
		for k, v := range el.Attrs {
			if len(k) > 64 || len(v) > maxAttrValueLen {
				return errors.New("element attribute too long")
			}
		}
	}
	if e.Type == models.EventClick && e.Element == nil {
		return errors.New("element is required for a click")
	}
	if e.DurationMS != nil && (*e.DurationMS < 0 || *e.DurationMS > 24*3600*1000) {
		return errors.New("duration_ms must be between 0 and one day")
	}
	if e.ScrollDepth != nil && !(*e.ScrollDepth >= 0 && *e.ScrollDepth <= 1) {
		return errors.New("scroll_depth must be between 0 and 1")
	}
	return nil
}

// Probe reads what a refused collect body names, so its events can still be counted: the site
// key when the body has a valid one, and how many events it holds (1 when that cannot be told).
func Probe(body []byte) (siteKey string, events int64) {
	var probe struct {
		SiteKey string            `json:"site_key"`
		Events  []json.RawMessage `json:"events"`
	}
	events = 1
	if json.Unmarshal(body, &probe) == nil && len(probe.Events) > 0 {
		events = int64(len(probe.Events))
	}
	if probe.SiteKey == "" || CheckID("site_key", probe.SiteKey) != nil {
		return "", events
	}
	return probe.SiteKey, events
}

// truncateMsg bounds a decoder's message, which can quote what the client sent.
func truncateMsg(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
