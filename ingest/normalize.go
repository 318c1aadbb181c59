package ingest

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"personas/models"
	"personas/privacy"
)

// Normalizer turns raw events into stored events for one project: the server-side privacy
// pass. It never trusts the client. A Normalizer belongs to one request (or one import) and is
// not safe for concurrent use.
type Normalizer struct {
	project models.Project
	index   *privacy.BlindIndex
	now     time.Time
	maxAge  time.Duration
	device  string // the device class of every event from this browser
	loc     *time.Location

	// The hashes of the last visitor and session: a request's events share them.
	hashedFor  [2]string
	vhash, sid []byte
}

// ForBrowser is the normalizer of events a browser sent itself (collect, and classify's inline
// events): the device class comes from the request's User-Agent and the screen width the
// context gives, the hours from its time zone. Both endpoints use it, so that an event counts
// the same whichever way it came. index keys the visitor and session hashes.
func ForBrowser(index *privacy.BlindIndex, p models.Project, userAgent string, bc CollectContext, now time.Time) *Normalizer {
	return &Normalizer{project: p, index: index, now: now, maxAge: eventMaxAge,
		device: privacy.DeviceClass(userAgent, screenWidth(bc)), loc: loadTZ(bc.TZ)}
}

func screenWidth(ctx CollectContext) int {
	if len(ctx.Screen) > 0 && ctx.Screen[0] > 0 && ctx.Screen[0] < 100000 {
		return ctx.Screen[0]
	}
	return 0
}

var formTags = map[string]bool{"input": true, "textarea": true, "select": true, "option": true}

var allowedAttrs = map[string]bool{"role": true, "type": true, "name": true, "href": true,
	"aria-label": true, "title": true, "alt": true}

// Normalize returns the stored form of e, sent by visitorID in sessionID, or the reason it is
// dropped (models.ReasonTooOld, ReasonAhead, ReasonBadShape, ReasonExcluded). e must have
// passed the contract's checks.
func (n *Normalizer) Normalize(e *RawEvent, visitorID, sessionID string) (models.Event, string) {
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
		Device:      n.device,
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
		if reason := n.element(&ev, e.Element); reason != "" {
			return models.Event{}, reason
		}
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

// element fills the element columns of a click from el, or returns the reason it is dropped.
// Whatever a form field holds stays out: its text, its name, its label; its value was never
// accepted.
func (n *Normalizer) element(ev *models.Event, el *RawElement) string {
	tag := strings.ToLower(strings.TrimSpace(el.Tag))
	if !identLike(tag) {
		tag = "other"
	}
	if excluded(n.project.ExcludedSelectors, tag, el) {
		return models.ReasonExcluded
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
	return ""
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
