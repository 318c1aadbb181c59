package ingest_test

import (
	"strings"
	"testing"
	"time"

	"personas/ingest"
	"personas/models"
)

// TestImportLines: an import takes history within the project's event retention, with the
// same scrubbing as collect, and says for each refused line why.
func TestImportLines(t *testing.T) {
	p := testProject()
	p.Retention = models.Retention{EventsDays: 30}
	line := func(fields string) []byte {
		return []byte(`{"visitor_id":"v1","session_id":"s1",` + fields + `}`)
	}
	tests := []struct {
		name    string
		raw     []byte
		reason  string // "" when stored
		message string // a prefix of the refusal's message
		check   func(t *testing.T, e models.Event)
	}{
		{name: "a month-old page view within retention", raw: line(`"type":"pageview","ts":` + at(-29*24*time.Hour) + `,"url":"https://shop.example/p/42?email=a%40b.c"`),
			check: func(t *testing.T, e models.Event) {
				if e.Path != "/p/:id" || e.UTM != nil || e.Device != "other" {
					t.Errorf("path %q utm %v device %q, want /p/:id, none and other", e.Path, e.UTM, e.Device)
				}
			}},
		{name: "beyond retention", raw: line(`"type":"pageview","ts":` + at(-31*24*time.Hour) + `,"url":"https://shop.example/"`),
			reason: models.ReasonTooOld, message: models.ReasonTooOld},
		{name: "ahead", raw: line(`"type":"pageview","ts":` + at(time.Hour) + `,"url":"https://shop.example/"`),
			reason: models.ReasonAhead, message: models.ReasonAhead},
		{name: "device and time zone given", raw: line(`"type":"pageview","ts":` + at(0) + `,"url":"https://shop.example/","device":"tablet","tz":"Asia/Tokyo"`),
			check: func(t *testing.T, e models.Event) {
				if e.Device != "tablet" || e.Hour != 21 {
					t.Errorf("device %q hour %d, want tablet and 21 (Tokyo)", e.Device, e.Hour)
				}
			}},
		{name: "scrubbed text", raw: line(`"type":"click","ts":` + at(0) + `,"url":"https://shop.example/","element":{"tag":"p","text":"call 06 12 34 56 78"}`),
			check: func(t *testing.T, e models.Event) {
				if e.ElText != "call [phone]" {
					t.Errorf("text %q, want the phone number scrubbed", e.ElText)
				}
			}},
		{name: "unknown device", raw: line(`"type":"goal","ts":` + at(0) + `,"name":"a","device":"fridge"`),
			reason: models.ReasonBadShape, message: "device must be desktop, mobile, tablet or other"},
		{name: "no visitor", raw: []byte(`{"session_id":"s1","type":"goal","ts":1,"name":"a"}`),
			reason: models.ReasonBadShape, message: "visitor_id is required"},
		{name: "session with a newline", raw: []byte(`{"visitor_id":"v1","session_id":"s\n1","type":"goal","ts":1,"name":"a"}`),
			reason: models.ReasonBadShape, message: "session_id has control or space characters"},
		{name: "invalid UTF-8", raw: line(`"type":"goal","ts":1,"name":"a` + "\xff" + `"`),
			reason: models.ReasonBadShape, message: "invalid UTF-8"},
		{name: "malformed", raw: []byte(`{"visitor_id":"v1",`), reason: models.ReasonBadShape, message: "malformed JSON: "},
		{name: "unknown field", raw: line(`"type":"goal","ts":1,"name":"a","ip":"192.0.2.1"`), reason: models.ReasonBadShape, message: "malformed JSON: "},
		{name: "unknown type", raw: line(`"type":"keystroke","ts":1`), reason: models.ReasonBadShape, message: `unknown type "keystroke"`},
		{name: "huge ts", raw: line(`"type":"goal","ts":1e300,"name":"a"`), reason: models.ReasonBadShape, message: "malformed JSON: "},
	}
	im := ingest.NewImport(testIndex, p, testNow)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, rej := im.Line(tt.raw)
			if tt.reason == "" {
				if rej != nil {
					t.Fatalf("rejected: %+v", *rej)
				}
				if ev.ProjectID != p.ID || len(ev.VisitorHash) == 0 {
					t.Errorf("event of project %s with visitor hash %x", ev.ProjectID, ev.VisitorHash)
				}
				if tt.check != nil {
					tt.check(t, ev)
				}
				return
			}
			if rej == nil {
				t.Fatalf("stored, want a rejection as %s", tt.reason)
			}
			if rej.Reason != tt.reason || !strings.HasPrefix(rej.Message, tt.message) {
				t.Errorf("rejected as %q with %q, want %q with %q", rej.Reason, rej.Message, tt.reason, tt.message)
			}
		})
	}
}
