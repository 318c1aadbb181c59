package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"personas/models"
	"personas/privacy"
)

// ga4Row is what an import reads of one row of a GA4 BigQuery export (the events_YYYYMMDD
// tables, exported as newline-delimited JSON): the event, its parameters, the pseudonymous
// visitor and the device class. Everything else a row holds (user_id, user_properties, geo,
// the browser and its version, app_info, traffic_source, ecommerce, items, privacy_info…) is
// never decoded.
type ga4Row struct {
	EventDate      string     `json:"event_date"`
	EventTimestamp flexInt    `json:"event_timestamp"` // microseconds since the epoch
	EventName      string     `json:"event_name"`
	EventParams    []ga4Param `json:"event_params"`
	UserPseudoID   flexString `json:"user_pseudo_id"`
	Device         struct {
		Category string `json:"category"`
	} `json:"device"`
}

// ga4Param is one event parameter: its value in whichever of the typed fields is set.
type ga4Param struct {
	Key   string `json:"key"`
	Value struct {
		StringValue *string    `json:"string_value"`
		IntValue    *flexInt   `json:"int_value"`
		FloatValue  *flexFloat `json:"float_value"`
		DoubleValue *flexFloat `json:"double_value"`
	} `json:"value"`
}

// flexFloat is a float BigQuery may write as a string.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return errNotNumber
	}
	*f = flexFloat(v)
	return nil
}

func (r *ga4Row) str(key string) string {
	for i := range r.EventParams {
		p := &r.EventParams[i]
		if p.Key != key {
			continue
		}
		switch v := &p.Value; {
		case v.StringValue != nil:
			return *v.StringValue
		case v.IntValue != nil:
			return strconv.FormatInt(int64(*v.IntValue), 10)
		}
	}
	return ""
}

func (r *ga4Row) num(key string) (float64, bool) {
	for i := range r.EventParams {
		p := &r.EventParams[i]
		if p.Key != key {
			continue
		}
		switch v := &p.Value; {
		case v.IntValue != nil:
			return float64(*v.IntValue), true
		case v.DoubleValue != nil:
			return float64(*v.DoubleValue), true
		case v.FloatValue != nil:
			return float64(*v.FloatValue), true
		case v.StringValue != nil:
			f, err := strconv.ParseFloat(*v.StringValue, 64)
			return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
		}
	}
	return 0, false
}

// ga4Goals are the GA4 events that count as goals: the recommended events a property marks as
// key events (conversions) for a shop or a lead form.
var ga4Goals = map[string]bool{
	"purchase": true, "add_to_cart": true, "begin_checkout": true, "add_payment_info": true,
	"add_shipping_info": true, "add_to_wishlist": true, "sign_up": true, "generate_lead": true,
	"login": true, "qualify_lead": true, "close_convert_lead": true, "subscribe": true,
}

// ga4Line maps one row: page_view to a page view, user_engagement (its engagement_time_msec)
// and scroll (percent_scrolled) to leaves, click and file_download to clicks on a link, the key
// events of ga4Goals to goals. Other events (session_start, first_visit, view_item…) have no
// counterpart and are skipped.
func (im *Import) ga4Line(rec *Record, raw []byte) error {
	if !utf8.Valid(raw) {
		rec.reject(1, "invalid UTF-8")
		return nil
	}
	if raw[0] == '[' && rec.N == 1 {
		return &StreamError{Code: "not_ga4", N: 1, Message: "not a GA4 export: a JSON array; export the events_ table as newline-delimited JSON, one row a line"}
	}
	var r ga4Row
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&r); err != nil {
		msg := "malformed JSON"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			msg = fmt.Sprintf("%s has the wrong type", truncateMsg(te.Field))
		} else if errors.Is(err, errNotNumber) {
			msg = "a number field holds something else"
		}
		rec.reject(1, msg)
		return nil
	}
	if dec.More() {
		rec.reject(1, "malformed JSON: more than one object")
		return nil
	}
	if r.EventName == "" || r.EventTimestamp == 0 {
		if rec.N == 1 {
			return &StreamError{Code: "not_ga4", N: 1,
				Message: "not a GA4 export: line 1 has no event_name and event_timestamp (the rows of a BigQuery events_ table are expected)"}
		}
		rec.reject(1, "event_name and event_timestamp are required")
		return nil
	}
	source := strings.TrimSpace(string(r.UserPseudoID))
	if err := CheckID("user_pseudo_id", source); err != nil {
		rec.reject(1, err.Error())
		return nil
	}
	visitor := im.SourceVisitorID("ga4", source)
	session := "ga4-session:" + r.str("ga_session_id")
	if session == "ga4-session:" {
		session = "ga4-day:" + truncateMsg(r.EventDate)
	}
	ts := int64(r.EventTimestamp) / 1000
	page := r.str("page_location")
	var e RawEvent
	switch name := r.EventName; {
	case name == "page_view":
		e = RawEvent{Type: models.EventPageview, URL: page, Referrer: r.str("page_referrer")}
	case name == "user_engagement":
		ms, ok := r.num("engagement_time_msec")
		if !ok || ms <= 0 || page == "" {
			rec.Skipped++
			return nil
		}
		d := int64(min(ms, 24*3600*1000))
		e = RawEvent{Type: models.EventLeave, URL: page, DurationMS: &d}
	case name == "scroll":
		pct, ok := r.num("percent_scrolled")
		if !ok || page == "" {
			rec.Skipped++
			return nil
		}
		depth := max(0, min(pct/100, 1))
		e = RawEvent{Type: models.EventLeave, URL: page, ScrollDepth: &depth}
	case name == "click", name == "file_download":
		// link_text is left out: the text of a link to a download or another site is often the
		// name of a person or of their document.
		el := &RawElement{Tag: "a", Attrs: map[string]string{"href": r.str("link_url")}}
		if id := r.str("link_id"); len(id) <= 256 {
			el.ID = id
		}
		for _, c := range strings.Fields(r.str("link_classes")) {
			if len(el.Classes) < maxClasses && len(c) <= maxClassLen {
				el.Classes = append(el.Classes, c)
			}
		}
		if name == "file_download" {
			el.Classes = append(el.Classes[:min(len(el.Classes), maxClasses-1)], "download")
		} else if r.str("outbound") == "true" {
			el.Classes = append(el.Classes[:min(len(el.Classes), maxClasses-1)], "outlink")
		}
		e = RawEvent{Type: models.EventClick, URL: page, Element: el}
	case ga4Goals[name]:
		e = RawEvent{Type: models.EventGoal, Name: name, URL: page}
	default:
		rec.Skipped++
		return nil
	}
	e.TS = ts
	ev, rej := im.event(&e, visitor, session, ga4Device(r.Device.Category), time.UTC)
	rec.add(ev, rej)
	return nil
}

// ga4Device maps GA4's device.category.
func ga4Device(category string) string {
	switch strings.ToLower(category) {
	case "desktop":
		return privacy.DeviceDesktop
	case "mobile":
		return privacy.DeviceMobile
	case "tablet":
		return privacy.DeviceTablet
	case "":
		return ""
	}
	return privacy.DeviceOther
}
