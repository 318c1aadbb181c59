package ingest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"personas/ingest"
)

// body builds a collect body for site pk_1, visitor v, session s, with events as written.
func body(events ...string) []byte {
	return []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","events":[` + strings.Join(events, ",") + `]}`)
}

func repeat(event string, n int) []string {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = event
	}
	return evs
}

// TestParsePayloadHostile feeds the collect parser what an attacker or a broken client could
// send. Every refusal must be a *ShapeError (a 400, nothing stored) whose message says what was
// wrong; every acceptance keeps the events as sent.
func TestParsePayloadHostile(t *testing.T) {
	const (
		pv    = `{"type":"pageview","ts":1763884800000,"url":"https://shop.example/"}`
		goal  = `{"type":"goal","ts":1763884800000,"name":"signup"}`
		click = `{"type":"click","ts":1763884800000,"url":"https://shop.example/","element":{"tag":"a"}}`
	)
	tests := []struct {
		name   string
		body   []byte
		err    string // a substring of the refusal; "" when accepted
		events int    // events of an accepted payload
	}{
		{name: "good", body: body(pv, click, goal), events: 3},
		{name: "200 events", body: body(repeat(goal, 200)...), events: 200},
		{name: "201 events", body: body(repeat(goal, 201)...), err: "events: at most 200 per request"},
		{name: "10,000 events", body: body(repeat(goal, 10000)...), err: "events: at most 200 per request"},
		{name: "no events", body: body(), err: "events: at least one event is required"},
		{name: "events null", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","events":null}`), err: "at least one event"},
		{name: "empty body", body: nil, err: "malformed JSON"},
		{name: "not an object", body: []byte(`[1,2,3]`), err: "malformed JSON"},
		{name: "truncated", body: []byte(`{"site_key":"pk_1","events":[{"type":"pageview",`), err: "malformed JSON"},
		{name: "two objects", body: append(body(goal), body(goal)...), err: "trailing data"},
		{name: "invalid UTF-8", body: body(`{"type":"goal","ts":1,"name":"a` + "\xff\xfe" + `"}`), err: "not valid UTF-8"},
		{name: "deep nesting", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","context":{"screen":` +
			strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `},"events":[]}`), err: "malformed JSON"},
		{name: "unknown top-level field", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","ip":"1.2.3.4","events":[` + goal + `]}`),
			err: `unknown field "ip"`},
		{name: "value of a field", body: body(`{"type":"click","ts":1,"url":"https://a/","element":{"tag":"input","value":"hunter2","password":"x"}}`),
			err: `unknown field "password"`},
		{name: "unknown event type", body: body(pv, `{"type":"keystroke","ts":1,"url":"https://a/"}`), err: `events[1]: unknown type "keystroke"`},
		{name: "no event type", body: body(`{"ts":1,"url":"https://a/"}`), err: "events[0]: type is required"},
		{name: "ts as a string", body: body(`{"type":"goal","ts":"yesterday","name":"a"}`), err: "malformed JSON"},
		{name: "ts missing", body: body(`{"type":"goal","name":"a"}`), err: "events[0]: ts"},
		{name: "negative ts", body: body(`{"type":"goal","ts":-5,"name":"a"}`), err: "events[0]: ts"},
		{name: "ts beyond int64", body: body(`{"type":"goal","ts":1e400,"name":"a"}`), err: "malformed JSON"},
		{name: "ts with a fraction", body: body(`{"type":"goal","ts":1.5,"name":"a"}`), err: "malformed JSON"},
		{name: "NaN duration", body: body(`{"type":"leave","ts":1,"url":"https://a/","duration_ms":NaN}`), err: "malformed JSON"},
		{name: "huge duration", body: body(`{"type":"leave","ts":1,"url":"https://a/","duration_ms":100000000000}`), err: "duration_ms"},
		{name: "negative duration", body: body(`{"type":"leave","ts":1,"url":"https://a/","duration_ms":-1}`), err: "duration_ms"},
		{name: "scroll depth out of range", body: body(`{"type":"leave","ts":1,"url":"https://a/","scroll_depth":7}`), err: "scroll_depth"},
		{name: "scroll depth overflows", body: body(`{"type":"leave","ts":1,"url":"https://a/","scroll_depth":1e999}`), err: "malformed JSON"},
		{name: "Infinity scroll depth", body: body(`{"type":"leave","ts":1,"url":"https://a/","scroll_depth":Infinity}`), err: "malformed JSON"},
		{name: "screen as a string", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","context":{"screen":"1440x900"},"events":[` + goal + `]}`),
			err: "malformed JSON"},
		{name: "screen of three numbers", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","context":{"screen":[1,2,3]},"events":[` + goal + `]}`),
			err: "context: unexpected values"},
		{name: "huge screen", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","context":{"screen":[1e30,1]},"events":[` + goal + `]}`),
			err: "malformed JSON"},
		{name: "long time zone", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","context":{"tz":"` + strings.Repeat("a", 65) + `"},"events":[` + goal + `]}`),
			err: "context: unexpected values"},
		{name: "events as an object", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","events":{"type":"goal"}}`), err: "malformed JSON"},
		{name: "attrs nested", body: body(`{"type":"click","ts":1,"url":"https://a/","element":{"tag":"a","attrs":{"title":{"a":1}}}}`), err: "malformed JSON"},
		{name: "site key missing", body: []byte(`{"visitor_id":"v","session_id":"s","events":[` + goal + `]}`), err: "site_key is required"},
		{name: "visitor id with a space", body: []byte(`{"site_key":"pk_1","visitor_id":"a visitor","session_id":"s","events":[` + goal + `]}`),
			err: "visitor_id has control or space characters"},
		{name: "session id with NUL", body: []byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s\u0000","events":[` + goal + `]}`),
			err: "session_id has control or space characters"},
		{name: "site key with DEL", body: []byte(`{"site_key":"pk_1\u007f","visitor_id":"v","session_id":"s","events":[` + goal + `]}`),
			err: "site_key has control or space characters"},
		{name: "visitor id too long", body: []byte(`{"site_key":"pk_1","visitor_id":"` + strings.Repeat("v", 129) + `","session_id":"s","events":[` + goal + `]}`),
			err: "visitor_id is longer than 128 bytes"},
		{name: "event names its own visitor", body: body(`{"type":"goal","ts":1,"name":"a","visitor_id":"other"}`), err: "belong to the request"},
		{name: "click without element", body: body(`{"type":"click","ts":1,"url":"https://a/"}`), err: "element is required for a click"},
		{name: "element on a page view", body: body(`{"type":"pageview","ts":1,"url":"https://a/","element":{"tag":"a"}}`), err: "element is only for clicks"},
		{name: "page view without url", body: body(`{"type":"pageview","ts":1}`), err: "url is required"},
		{name: "url too long", body: body(`{"type":"pageview","ts":1,"url":"https://a/` + strings.Repeat("x", 2048) + `"}`), err: "at most 2048 bytes"},
		{name: "goal name too long", body: body(`{"type":"goal","ts":1,"name":"` + strings.Repeat("g", 65) + `"}`), err: "longer than 64 bytes"},
		{name: "21 classes", body: body(`{"type":"click","ts":1,"url":"https://a/","element":{"tag":"a","classes":[` +
			strings.TrimSuffix(strings.Repeat(`"c",`, 21), ",") + `]}}`), err: "more than 20 classes"},
		{name: "class too long", body: body(`{"type":"click","ts":1,"url":"https://a/","element":{"tag":"a","classes":["` + strings.Repeat("c", 65) + `"]}}`),
			err: "class longer than 64 bytes"},
		{name: "attribute too long", body: body(`{"type":"click","ts":1,"url":"https://a/","element":{"tag":"a","attrs":{"title":"` + strings.Repeat("t", 513) + `"}}}`),
			err: "attribute too long"},
		{name: "element text too long", body: body(`{"type":"click","ts":1,"url":"https://a/","element":{"tag":"a","text":"` + strings.Repeat("x", 3201) + `"}}`),
			err: "element fields too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ingest.ParsePayload(tt.body)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(p.Events) != tt.events {
					t.Errorf("%d events, want %d", len(p.Events), tt.events)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want a refusal containing %q", tt.err)
			}
			var se *ingest.ShapeError
			if !errors.As(err, &se) {
				t.Errorf("error %T (%v) is not a *ingest.ShapeError", err, err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %q, want it to contain %q", err, tt.err)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error of %d bytes: a refusal must not echo the body back", len(err.Error()))
			}
		})
	}
}

// TestCheckEvents is classify's check of its inline events: the same limits as collect's, and
// no events at all is fine.
func TestCheckEvents(t *testing.T) {
	goal := ingest.RawEvent{Type: "goal", TS: 1, Name: "signup"}
	many := make([]ingest.RawEvent, 201)
	for i := range many {
		many[i] = goal
	}
	tests := []struct {
		name   string
		events []ingest.RawEvent
		err    string
	}{
		{"none", nil, ""},
		{"one", []ingest.RawEvent{goal}, ""},
		{"200", many[:200], ""},
		{"201", many, "events: at most 200 per request"},
		{"second unknown", []ingest.RawEvent{goal, {Type: "keystroke", TS: 1, URL: "https://a/"}}, `events[1]: unknown type "keystroke"`},
		{"own visitor", []ingest.RawEvent{{Type: "goal", TS: 1, Name: "a", VisitorID: "x"}}, "events[0]: visitor_id and session_id belong to the request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ingest.CheckEvents(tt.events)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err && (tt.err == "" || !strings.HasPrefix(got, tt.err)) {
				t.Errorf("CheckEvents = %q, want %q", got, tt.err)
			}
		})
	}
}

// TestProbe: a refused body is still counted against the site it names, with as many events as
// it holds when they can be told.
func TestProbe(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		key    string
		events int64
	}{
		{"three events", `{"site_key":"pk_1","events":[1,2,3]}`, "pk_1", 3},
		{"no events", `{"site_key":"pk_1","events":[]}`, "pk_1", 1},
		{"malformed", `{"site_key":"pk_1","events":[1,2`, "", 1},
		{"key with a space", `{"site_key":"pk 1","events":[1,2]}`, "", 2},
		{"no key", `{"events":[1,2]}`, "", 2},
		{"key of the wrong type", `{"site_key":7,"events":[1]}`, "", 1},
		{"not an object", `[1,2]`, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, n := ingest.Probe([]byte(tt.body))
			if key != tt.key || n != tt.events {
				t.Errorf("Probe(%s) = %q, %d; want %q, %d", tt.body, key, n, tt.key, tt.events)
			}
		})
	}
}

func ExampleParsePayload() {
	_, err := ingest.ParsePayload([]byte(`{"site_key":"pk_1","visitor_id":"v","session_id":"s","events":[{"type":"keystroke","ts":1}]}`))
	fmt.Println(err)
	// Output: events[0]: unknown type "keystroke"
}
