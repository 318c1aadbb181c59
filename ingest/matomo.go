package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"personas/models"
	"personas/privacy"
)

// matomoVisit is what an import reads of one visit of Matomo's Live.getLastVisitsDetails
// (format=JSON): its visitor, its time, its device and its actions. Everything else a visit
// holds (visitIp, userId, fingerprint, location, browser, custom variables…) is never decoded,
// so it never reaches anything but the decoder's buffer.
type matomoVisit struct {
	IDVisit              flexString     `json:"idVisit"`
	VisitorID            flexString     `json:"visitorId"`
	ServerTimestamp      flexInt        `json:"serverTimestamp"`
	FirstActionTimestamp flexInt        `json:"firstActionTimestamp"`
	VisitLocalTime       string         `json:"visitLocalTime"` // "12:34:06", the visitor's clock
	DeviceType           string         `json:"deviceType"`
	Resolution           string         `json:"resolution"` // "1024x768"
	ReferrerURL          string         `json:"referrerUrl"`
	ActionDetails        []matomoAction `json:"actionDetails"`
}

// matomoAction is one entry of a visit's actionDetails: a page view ("action"), a goal, an
// event, a download, an outlink, a site search, an ecommerce order…
type matomoAction struct {
	Type          string     `json:"type"`
	URL           string     `json:"url"`
	Timestamp     flexInt    `json:"timestamp"` // seconds
	TimeSpent     flexInt    `json:"timeSpent"` // seconds on the page, for page views
	GoalName      string     `json:"goalName"`
	GoalID        flexString `json:"goalId"`
	EventCategory string     `json:"eventCategory"`
	EventAction   string     `json:"eventAction"`
}

// matomoSource reads the JSON array of visits with a streaming decoder, one visit at a time.
type matomoSource struct {
	im      *Import
	lim     *limitedReader
	dec     *json.Decoder
	started bool
	done    bool
	n       int
}

func newMatomoSource(r io.Reader, im *Import) *matomoSource {
	lim := &limitedReader{r: r}
	return &matomoSource{im: im, lim: lim, dec: json.NewDecoder(lim)}
}

// errVisitTooLarge is what limitedReader answers once a visit has gone past MaxMatomoVisit.
var errVisitTooLarge = errors.New("visit too large")

// limitedReader stops a decoder that reads more than MaxMatomoVisit bytes past the start of the
// visit it decodes: json.Decoder buffers a whole value, so this bounds its memory.
type limitedReader struct {
	r     io.Reader
	read  int64
	until int64 // 0: no limit yet
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.until > 0 && l.read >= l.until {
		return 0, errVisitTooLarge
	}
	if l.until > 0 {
		p = p[:min(int64(len(p)), l.until-l.read)]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

func (s *matomoSource) Next() (*Record, error) {
	if s.done {
		return nil, io.EOF
	}
	if !s.started {
		if err := s.start(); err != nil {
			return nil, err
		}
		s.started = true
	}
	if !s.dec.More() {
		return nil, s.end()
	}
	s.n++
	// The decoder may hold up to a buffer of read-ahead beyond the visit's start.
	s.lim.until = s.dec.InputOffset() + MaxMatomoVisit + 64<<10
	var v matomoVisit
	err := s.dec.Decode(&v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		// The decoder read the whole visit past the field of the wrong type: only this visit
		// is rejected.
		rec := &Record{N: s.n}
		rec.reject(1, fmt.Sprintf("%s has the wrong type", truncateMsg(te.Field)))
		return rec, nil
	case errors.Is(err, errNotNumber):
		rec := &Record{N: s.n}
		rec.reject(1, "a number field holds something else")
		return rec, nil
	default:
		return nil, s.fail(err)
	}
	return s.im.matomoVisit(s.n, &v), nil
}

// start reads the opening of the array, or says what the file is instead.
func (s *matomoSource) start() error {
	tok, err := s.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &StreamError{Code: "empty", Message: "empty body: a Matomo export (a JSON array of visits) is expected"}
		}
		return s.fail(err)
	}
	if tok == json.Delim('[') {
		return nil
	}
	msg := "not a Matomo file: Live.getLastVisitsDetails with format=JSON is a JSON array of visits"
	if tok == json.Delim('{') {
		// Matomo answers an error (a bad token, a missing permission) as {"result":"error",…}.
		if k, err := s.dec.Token(); err == nil && k == "result" {
			if v, err := s.dec.Token(); err == nil && v == "error" {
				msg = "not a Matomo export: the file is Matomo's error answer ({\"result\": \"error\"}), not visits; check the token and the site id of the export"
			}
		}
	}
	return &StreamError{Code: "not_matomo", Message: msg}
}

// end reads the closing of the array and checks nothing follows it.
func (s *matomoSource) end() error {
	if _, err := s.dec.Token(); err != nil {
		return s.fail(err)
	}
	s.done = true
	if _, err := s.dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil && !isSyntax(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return err
		}
		return &StreamError{Code: "malformed", N: s.n, Message: "malformed JSON: data after the array of visits"}
	}
	return io.EOF
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

// fail turns a decoder's error into the import's: a truncated or malformed file, a visit too
// large, or the reader's own error.
func (s *matomoSource) fail(err error) error {
	n := max(s.n, 1)
	var se *json.SyntaxError
	switch {
	case errors.Is(err, errVisitTooLarge):
		return &StreamError{Code: "too_long", N: n, Message: fmt.Sprintf("visit %d is larger than %d bytes", n, MaxMatomoVisit)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &StreamError{Code: "truncated", N: n, Message: fmt.Sprintf("truncated JSON: the file ends inside visit %d", n)}
	case errors.As(err, &se):
		// The syntax error's own message can quote the file: only its place is told.
		return &StreamError{Code: "malformed", N: n, Message: fmt.Sprintf("malformed JSON in visit %d (byte %d)", n, se.Offset)}
	}
	return err
}

// matomoVisit maps visit n: page views (with a leave carrying the time spent on the page),
// goals and ecommerce orders as goals, outlinks, downloads and events as clicks. Site searches,
// abandoned carts and the other action types have no counterpart and are skipped.
func (im *Import) matomoVisit(n int, v *matomoVisit) *Record {
	rec := &Record{N: n}
	source := strings.TrimSpace(string(v.VisitorID))
	if err := CheckID("visitorId", source); err != nil {
		rec.reject(len(v.ActionDetails), err.Error())
		return rec
	}
	visitor := im.SourceVisitorID("matomo", source)
	session := "matomo-visit:" + string(v.IDVisit)
	if v.IDVisit == "" {
		session = "matomo-visit:" + strconv.FormatInt(int64(v.FirstActionTimestamp), 10)
	}
	device := matomoDevice(v.DeviceType, v.Resolution)
	loc := matomoZone(int64(v.FirstActionTimestamp), v.VisitLocalTime)
	start := int64(v.FirstActionTimestamp)
	if start <= 0 {
		start = int64(v.ServerTimestamp)
	}
	var page string // the URL of the page the visitor is on
	referrer := v.ReferrerURL
	prev := start * 1000
	for i := range v.ActionDetails {
		a := &v.ActionDetails[i]
		ts := int64(a.Timestamp) * 1000
		if ts <= 0 {
			ts = prev // Matomo leaves some time stamps out: the action came after the last one
		}
		prev = ts
		add := func(e RawEvent) {
			e.TS = ts
			ev, rej := im.event(&e, visitor, session, device, loc)
			if rej != nil && rej.Reason == models.ReasonBadShape {
				rej.Message = fmt.Sprintf("action %d: %s", i+1, rej.Message)
			}
			rec.add(ev, rej)
		}
		switch a.Type {
		case "action":
			page = a.URL
			add(RawEvent{Type: models.EventPageview, URL: a.URL, Referrer: referrer})
			referrer = ""
			if spent := int64(a.TimeSpent); spent > 0 {
				d := min(spent, 24*3600) * 1000
				e := RawEvent{Type: models.EventLeave, URL: a.URL, DurationMS: &d}
				ts += d
				add(e)
			}
		case "goal", "ecommerceOrder":
			name := "purchase"
			if a.Type == "goal" {
				name = slug(a.GoalName)
				if name == "" && a.GoalName == "" && a.GoalID != "" {
					name = "goal_" + slug(string(a.GoalID))
				}
			}
			if name == "" {
				rec.Rejected = append(rec.Rejected, Rejection{Reason: models.ReasonBadShape,
					Message: fmt.Sprintf("action %d: the goal's name is empty or holds personal data", i+1)})
				continue
			}
			add(RawEvent{Type: models.EventGoal, Name: name, URL: orEmpty(a.URL, page)})
		case "outlink", "download":
			add(RawEvent{Type: models.EventClick, URL: orEmpty(page, a.URL),
				Element: &RawElement{Tag: "a", Classes: []string{a.Type}, Attrs: map[string]string{"href": a.URL}}})
		case "event":
			text := strings.TrimSpace(a.EventCategory)
			if act := strings.TrimSpace(a.EventAction); act != "" {
				text = strings.TrimSpace(text + ": " + act)
			}
			add(RawEvent{Type: models.EventClick, URL: orEmpty(a.URL, page),
				Element: &RawElement{Tag: "other", Classes: []string{"event"}, Text: truncateRunes(text, maxTextRunes)}})
		default:
			rec.Skipped++
		}
	}
	return rec
}

func orEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// matomoDevice maps Matomo's device type (DeviceDetector's names) to a device class, or the
// screen width of its resolution when the type is unknown.
func matomoDevice(typ, resolution string) string {
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case "desktop":
		return privacy.DeviceDesktop
	case "smartphone", "phablet", "feature phone":
		return privacy.DeviceMobile
	case "tablet":
		return privacy.DeviceTablet
	case "", "unknown":
		w, _, _ := strings.Cut(resolution, "x")
		if width, err := strconv.Atoi(w); err == nil && width > 0 && width < 100000 {
			return privacy.DeviceClass("", width)
		}
		return ""
	}
	return privacy.DeviceOther
}

// matomoZone is the visitor's time zone as a fixed offset: the difference between their clock
// at the first action (visitLocalTime) and that action's time in UTC.
func matomoZone(first int64, local string) *time.Location {
	if first <= 0 {
		return time.UTC
	}
	t, err := time.Parse("15:04:05", local)
	if err != nil {
		return time.UTC
	}
	utc := time.Unix(first, 0).UTC()
	offset := (t.Hour()*3600 + t.Minute()*60 + t.Second()) - (utc.Hour()*3600 + utc.Minute()*60 + utc.Second())
	// The visitor's day may differ from UTC's: the offset lies within ±14 hours.
	if offset > 14*3600 {
		offset -= 24 * 3600
	} else if offset < -14*3600 {
		offset += 24 * 3600
	}
	return fixedZone(offset)
}
