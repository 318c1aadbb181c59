package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"personas/models"
	"personas/privacy"
)

// Limits of the collector contract.
const (
	maxEventsPerRequest = 200
	maxIDLen            = 128
	maxURLLen           = 2048
	maxTextRunes        = 200
	maxClasses          = 20
	maxClassLen         = 64
	maxAttrs            = 20
	maxAttrValueLen     = 512
	maxSelectorLen      = 512
	maxGoalLen          = 64
	eventMaxAge         = 48 * time.Hour
	eventMaxAhead       = 5 * time.Minute
)

// CollectPayload is the body of POST /v1/collect.
type CollectPayload struct {
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

// shapeError is a 400 "bad shape": nothing of the request is stored.
type shapeError struct{ msg string }

func (e *shapeError) Error() string { return e.msg }

func bad(format string, args ...any) error { return &shapeError{fmt.Sprintf(format, args...)} }

// ParseCollectPayload decodes and validates a collect body. It checks shape only (types,
// sizes, UTF-8, known event types); the privacy pass comes after the project is known.
func ParseCollectPayload(body []byte) (*CollectPayload, error) {
	if !utf8.Valid(body) {
		return nil, bad("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var p CollectPayload
	if err := dec.Decode(&p); err != nil {
		return nil, bad("malformed JSON: %s", truncateMsg(err.Error()))
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON object")
	}
	if err := checkID("site_key", p.SiteKey); err != nil {
		return nil, err
	}
	if err := checkID("visitor_id", p.VisitorID); err != nil {
		return nil, err
	}
	if err := checkID("session_id", p.SessionID); err != nil {
		return nil, err
	}
	if len(p.Events) == 0 {
		return nil, bad("events: at least one event is required")
	}
	if len(p.Events) > maxEventsPerRequest {
		return nil, bad("events: at most %d per request", maxEventsPerRequest)
	}
	if len(p.Context.Screen) > 2 || len(p.Context.TZ) > 64 || len(p.Context.Lang) > 35 {
		return nil, bad("context: unexpected values")
	}
	for i := range p.Events {
		if err := checkEvent(&p.Events[i], false); err != nil {
			return nil, bad("events[%d]: %s", i, err.Error())
		}
	}
	return &p, nil
}

func checkID(field, v string) error {
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

// normalizer turns raw events into stored events: the server-side privacy pass. It never
// trusts the client.
type normalizer struct {
	project   models.Project
	index     *privacy.BlindIndex
	now       time.Time
	maxAge    time.Duration
	userAgent string
	screenW   int
	loc       *time.Location

	// The hashes of the last visitor and session: a request's events share them.
	hashedFor  [2]string
	vhash, sid []byte
}

// browserNormalizer is the normalizer of events a browser sent itself (collect, and classify's
// inline events): the device class comes from the request's User-Agent and the screen width the
// context gives, the hours from its time zone. Both endpoints use it, so that an event counts
// the same whichever way it came.
func (s *Server) browserNormalizer(r *http.Request, p models.Project, bc CollectContext, now time.Time) *normalizer {
	return &normalizer{project: p, index: s.store.Index(), now: now, maxAge: eventMaxAge,
		userAgent: r.UserAgent(), screenW: screenWidth(bc), loc: loadTZ(bc.TZ)}
}

// zones caches the time zones collect and classify have loaded. Only real zones are cached,
// so its size is bounded by the zone database (about 600 names) and, to be sure, by maxZones;
// a name that is not a zone costs one failed lookup and is never stored.
var zones = &zoneCache{m: map[string]*time.Location{}}

const maxZones = 1024

type zoneCache struct {
	mu sync.RWMutex
	m  map[string]*time.Location
}

// loadTZ is the zone a browser named in context.tz, UTC when it is empty or not a zone.
func loadTZ(name string) *time.Location {
	if name == "" || name == "Local" || !zoneName(name) {
		return time.UTC
	}
	zones.mu.RLock()
	l, ok := zones.m[name]
	zones.mu.RUnlock()
	if ok {
		return l
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	zones.mu.Lock()
	if len(zones.m) < maxZones {
		zones.m[name] = l
	}
	zones.mu.Unlock()
	return l
}

// zoneName reports whether s looks like an IANA zone name ("Europe/Paris", "UTC",
// "America/Argentina/Buenos_Aires", "Etc/GMT+5"): short, of letters, digits and _+-, in
// slash-separated parts, never a path outside the zone database.
func zoneName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" || part[0] == '-' || part[0] == '+' {
			return false
		}
		for _, r := range part {
			if !(r == '_' || r == '-' || r == '+' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
				return false
			}
		}
	}
	return true
}

// zoneCount is how many zones are cached.
func zoneCount() int {
	zones.mu.RLock()
	defer zones.mu.RUnlock()
	return len(zones.m)
}

var formTags = map[string]bool{"input": true, "textarea": true, "select": true, "option": true}

var allowedAttrs = map[string]bool{"role": true, "type": true, "name": true, "href": true,
	"aria-label": true, "title": true, "alt": true}

// normalize returns the stored form of e, or a drop reason.
func (n *normalizer) normalize(e *RawEvent, visitorID, sessionID string) (models.Event, string) {
	ts := time.UnixMilli(e.TS).UTC()
	if ts.Before(n.now.Add(-n.maxAge)) {
		return models.Event{}, models.ReasonTooOld
	}
	if ts.After(n.now.Add(eventMaxAhead)) {
		return models.Event{}, models.ReasonAhead
	}
	if n.vhash == nil || n.hashedFor != [2]string{visitorID, sessionID} {
		pid := n.project.ID.String()
		n.vhash = n.index.VisitorHash(pid, visitorID)
		n.sid = n.index.Sum("session", pid, visitorID, sessionID)
		n.hashedFor = [2]string{visitorID, sessionID}
	}
	local := ts.In(n.loc)
	ev := models.Event{
		ProjectID:   n.project.ID,
		TS:          ts,
		Hour:        local.Hour(),
		Weekday:     int(local.Weekday()),
		VisitorHash: n.vhash,
		SessionHash: n.sid,
		Type:        e.Type,
		Device:      privacy.DeviceClass(n.userAgent, n.screenW),
	}
	if e.URL != "" {
		clean := privacy.ScrubURL(e.URL, n.project.AllowedQueryKeys)
		if clean == "" {
			return models.Event{}, models.ReasonBadShape
		}
		u, err := url.Parse(clean)
		if err != nil {
			return models.Event{}, models.ReasonBadShape
		}
		// The decoded path can hold bytes PostgreSQL refuses in text (NUL, invalid UTF-8).
		ev.Path = privacy.NormalizePath(storable(u.Path))
		ev.PathGroup = privacy.PathGroup(ev.Path)
		ref := ""
		if e.Referrer != "" {
			ref = privacy.ScrubURL(e.Referrer, nil)
		}
		ev.Channel = privacy.Channel(ref, clean)
		if e.Type == models.EventPageview {
			q := u.Query()
			for k := range q {
				k, v := storable(k), storable(q.Get(k))
				if k == "" {
					continue
				}
				if ev.UTM == nil {
					ev.UTM = map[string]string{}
				}
				ev.UTM[k] = v
			}
		}
	}
	switch e.Type {
	case models.EventClick:
		el := e.Element
		tag := strings.ToLower(strings.TrimSpace(el.Tag))
		if !identLike(tag) {
			tag = "other"
		}
		if excluded(n.project.ExcludedSelectors, tag, el) {
			return models.Event{}, models.ReasonExcluded
		}
		ev.ElTag = tag
		typ := strings.ToLower(el.Attrs["type"])
		formField := formTags[tag] || typ == "password" || el.Attrs["contenteditable"] != ""
		for _, c := range el.Classes {
			// A class that the scrubber changes, or that is not a plain identifier, is dropped.
			if identLike(c) && privacy.Scrub(c) == c {
				ev.ElClasses = append(ev.ElClasses, c)
			}
		}
		if !formField {
			ev.ElText = truncateRunes(privacy.Scrub(strings.TrimSpace(el.Text)), maxTextRunes)
		}
		attrs := map[string]string{}
		dataAttrs := map[string]bool{}
		for _, d := range n.project.DataAttributes {
			dataAttrs[d] = true
		}
		for k, v := range el.Attrs {
			k = strings.ToLower(k)
			if !allowedAttrs[k] && !dataAttrs[k] {
				continue
			}
			if formField && k != "type" && k != "role" {
				continue // a form field's name, label or title can carry what was typed
			}
			if k == "href" {
				v = privacy.ScrubURL(v, n.project.AllowedQueryKeys)
			} else {
				v = truncateRunes(privacy.Scrub(v), 200)
			}
			if v != "" {
				attrs[k] = v
			}
		}
		if el.ID != "" && identLike(el.ID) && !formField {
			attrs["id"] = privacy.Scrub(el.ID)
		}
		if len(attrs) > 0 {
			ev.ElAttrs = attrs
		}
		ev.ElCategory = models.ElementCategory(tag, el.Attrs["role"], typ, el.Attrs["href"], el.Classes, el.InNav)
	case models.EventLeave:
		if e.DurationMS != nil {
			d := int32(*e.DurationMS)
			ev.DurationMS = &d
		}
		if e.ScrollDepth != nil {
			s := float32(*e.ScrollDepth)
			ev.ScrollDepth = &s
		}
	case models.EventGoal:
		// A goal name is the page's code talking, but a page can pass what a visitor typed:
		// scrub it as written (case matters to some patterns) and drop it if anything was found.
		g := strings.TrimSpace(e.Name)
		if privacy.Scrub(g) != g {
			return models.Event{}, models.ReasonBadShape
		}
		g = strings.ToLower(g)
		if !identLike(g) {
			return models.Event{}, models.ReasonBadShape
		}
		ev.Goal = g
	}
	return ev, ""
}

// excluded applies the project's excluded selectors that the server can evaluate on the
// element alone: tag, #id, .class and tag.class. The collector applies all of them, ancestors
// included; this is the server's belt to the client's braces.
func excluded(selectors []string, tag string, el *RawElement) bool {
	for _, sel := range selectors {
		sel = strings.TrimSpace(sel)
		if sel == "" || strings.ContainsAny(sel, " >+~[:,") {
			continue
		}
		t, rest, _ := strings.Cut(sel, ".")
		if strings.HasPrefix(sel, "#") {
			if sel[1:] == el.ID {
				return true
			}
			continue
		}
		if t != "" && t != tag {
			continue
		}
		if rest == "" {
			return true
		}
		want := strings.Split(rest, ".")
		have := map[string]bool{}
		for _, c := range el.Classes {
			have[c] = true
		}
		all := true
		for _, w := range want {
			all = all && have[w]
		}
		if all {
			return true
		}
	}
	return false
}

// storable drops what PostgreSQL refuses in text and jsonb (invalid UTF-8, NUL) and the other
// control characters, which a decoded URL may hold.
func storable(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func identLike(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// readCollectBody reads the body within the contract's limit.
func readCollectBody(c *gin.Context) ([]byte, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.GetHeader("Content-Type"), ";")[0]))
	if ct != "" && ct != "text/plain" && ct != "application/json" {
		return nil, errStatus(http.StatusUnsupportedMediaType, "unsupported_media_type", "send text/plain or application/json")
	}
	if c.Request.ContentLength > maxCollectBody {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", maxCollectBody))
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCollectBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", maxCollectBody))
		}
		return nil, badRequest("could not read the body")
	}
	return b, nil
}
