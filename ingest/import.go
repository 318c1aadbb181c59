package ingest

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"personas/models"
	"personas/privacy"
)

// importLine is one NDJSON line of an import: an event with its own visitor and session, and
// optionally the device class and time zone the collector would have derived from the browser.
type importLine struct {
	RawEvent
	Device string `json:"device,omitempty"`
	TZ     string `json:"tz,omitempty"`
}

// Rejection is why an import line was not stored: the drop reason it is counted under
// (models.Reason*) and the message the import's answer shows for it.
type Rejection struct {
	Reason  string
	Message string
}

// Import is the privacy pass of one project's import (POST /v1/projects/{id}/import): the same
// scrubbing as collect, but any age within the project's event retention instead of collect's
// 48 hours. It is not safe for concurrent use.
type Import struct {
	project models.Project
	index   *privacy.BlindIndex
	now     time.Time
	maxAge  time.Duration
	norms   map[string]*Normalizer // by time zone
}

// NewImport starts the import of project p's events at now; index keys the visitor and
// session hashes.
func NewImport(index *privacy.BlindIndex, p models.Project, now time.Time) *Import {
	return &Import{project: p, index: index, now: now, norms: map[string]*Normalizer{},
		maxAge: time.Duration(p.Retention.Effective().EventsDays) * 24 * time.Hour}
}

// Line checks and prepares one line (without its newline, not blank): the stored event, or why
// it was rejected. A line the contract refuses is counted as bad_shape with the check's
// message; one the privacy pass drops under the pass's reason, which is also its message.
func (im *Import) Line(raw []byte) (models.Event, *Rejection) {
	l, err := parseimportLine(raw)
	if err != nil {
		return models.Event{}, &Rejection{Reason: models.ReasonBadShape, Message: err.Error()}
	}
	norm := im.norms[l.TZ]
	if norm == nil {
		norm = &Normalizer{project: im.project, index: im.index, now: im.now, maxAge: im.maxAge,
			device: privacy.DeviceClass("", 0), loc: loadTZ(l.TZ)}
		im.norms[l.TZ] = norm
	}
	ev, reason := norm.Normalize(&l.RawEvent, l.VisitorID, l.SessionID)
	if reason != "" {
		return models.Event{}, &Rejection{Reason: reason, Message: reason}
	}
	if l.Device != "" {
		ev.Device = l.Device
	}
	return ev, nil
}

// parseimportLine decodes and checks one line against the contract; every error is a
// *ShapeError.
func parseimportLine(raw []byte) (*importLine, error) {
	if !utf8.Valid(raw) {
		return nil, bad("invalid UTF-8")
	}
	var l importLine
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, bad("malformed JSON: %s", truncateMsg(err.Error()))
	}
	if err := CheckID("visitor_id", l.VisitorID); err != nil {
		return nil, err
	}
	if err := CheckID("session_id", l.SessionID); err != nil {
		return nil, err
	}
	if err := checkEvent(&l.RawEvent, true); err != nil {
		return nil, &ShapeError{err.Error()}
	}
	switch l.Device {
	case "", "desktop", "mobile", "tablet", "other":
	default:
		return nil, bad("device must be desktop, mobile, tablet or other")
	}
	return &l, nil
}
