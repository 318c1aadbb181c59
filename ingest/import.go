package ingest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// Rejection is why an imported event was not stored: the drop reason it is counted under
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
	// norms holds a normalizer per time zone. It is keyed by the zone loadTZ resolved (or the
	// fixed offset a Matomo visit gives), never by the raw string a file holds, so that it
	// stays bounded by the time zone database whatever the file.
	norms map[string]*Normalizer
}

// NewImport starts the import of project p's events at now; index keys the visitor and
// session hashes.
func NewImport(index *privacy.BlindIndex, p models.Project, now time.Time) *Import {
	return &Import{project: p, index: index, now: now, norms: map[string]*Normalizer{},
		maxAge: time.Duration(p.Retention.Effective().EventsDays) * 24 * time.Hour}
}

// Line checks and prepares one NDJSON line (without its newline, not blank): the stored event,
// or why it was rejected. A line the contract refuses is counted as bad_shape with the check's
// message; one the privacy pass drops under the pass's reason, which is also its message.
func (im *Import) Line(raw []byte) (models.Event, *Rejection) {
	l, err := parseimportLine(raw)
	if err != nil {
		return models.Event{}, &Rejection{Reason: models.ReasonBadShape, Message: err.Error()}
	}
	return im.prepare(&l.RawEvent, l.VisitorID, l.SessionID, l.Device, loadTZ(l.TZ))
}

// event checks and prepares one event mapped from another tool's export (Matomo, GA4) against
// the same contract as an NDJSON line: device is its device class ("" for unknown), loc the
// time zone of its active hours.
func (im *Import) event(e *RawEvent, visitorID, sessionID, device string, loc *time.Location) (models.Event, *Rejection) {
	if err := checkEvent(e, true); err != nil {
		return models.Event{}, &Rejection{Reason: models.ReasonBadShape, Message: truncateMsg(err.Error())}
	}
	return im.prepare(e, visitorID, sessionID, device, loc)
}

func (im *Import) prepare(e *RawEvent, visitorID, sessionID, device string, loc *time.Location) (models.Event, *Rejection) {
	norm := im.norms[loc.String()]
	if norm == nil {
		norm = &Normalizer{project: im.project, index: im.index, now: im.now, maxAge: im.maxAge,
			device: privacy.DeviceClass("", 0), loc: loc}
		im.norms[loc.String()] = norm
	}
	ev, reason := norm.Normalize(e, visitorID, sessionID)
	if reason != "" {
		return models.Event{}, &Rejection{Reason: reason, Message: reason}
	}
	if device != "" {
		ev.Device = device
	}
	return ev, nil
}

// SourceVisitorID maps the visitor id another tool gave a visitor (Matomo's visitorId, GA4's
// user_pseudo_id) to the visitor id this import uses for them: a keyed hash of the source and
// the id within the project, 32 hexadecimal digits like a collector's visitor id. It is
// deterministic, so importing the same file twice finds the same visitors, and it cannot be
// turned back into the source id without the index key. The source id itself is never stored:
// the store keeps, as for every visitor, only the blind index of the mapped id.
func (im *Import) SourceVisitorID(source, id string) string {
	return hex.EncodeToString(im.index.Sum("import-visitor", im.project.ID.String(), source, id)[:16])
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

// fixedZone is the zone of a UTC offset in seconds, rounded to the quarter hour and bounded to
// ±14 hours (so at most 113 zones exist), named so that prepare's cache keys it apart from
// the zones of the database.
func fixedZone(offset int) *time.Location {
	q := 15 * 60
	offset = (offset + q/2*sign(offset)) / q * q
	offset = max(-14*3600, min(14*3600, offset))
	if offset == 0 {
		return time.UTC
	}
	s := "+"
	if offset < 0 {
		s = "-"
	}
	a := abs(offset)
	return time.FixedZone(fmt.Sprintf("UTC%s%02d:%02d", s, a/3600, a%3600/60), offset)
}

func sign(n int) int {
	if n < 0 {
		return -1
	}
	return 1
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
