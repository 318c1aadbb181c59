package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"personas/models"
	"personas/privacy"
)

// Format is the format of an import file.
type Format string

// The import formats: this service's own NDJSON (the default), Matomo's
// Live.getLastVisitsDetails as JSON, and the rows of a GA4 BigQuery export (events_*) as
// newline-delimited JSON.
const (
	FormatNDJSON Format = "ndjson"
	FormatMatomo Format = "matomo"
	FormatGA4    Format = "ga4"
)

// ParseFormat reads a format's name; "" is NDJSON. Its error is a *ShapeError naming the
// formats there are.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FormatNDJSON, nil
	case FormatNDJSON, FormatMatomo, FormatGA4:
		return f, nil
	}
	return "", bad("unknown format %q: use ndjson, matomo or ga4", truncateMsg(s))
}

// Limits of an import file's records. A record larger than its limit stops the import: the
// reader cannot find where the next one starts without holding it whole.
const (
	// MaxImportLine is the longest NDJSON line.
	MaxImportLine = 16 << 10
	// MaxGA4Line is the longest GA4 row (its items and parameters make it longer than an
	// NDJSON event).
	MaxGA4Line = 256 << 10
	// MaxMatomoVisit is the largest Matomo visit, in bytes of JSON.
	MaxMatomoVisit = 4 << 20
)

// Record is what one record of an import file came to: a line of NDJSON or GA4, a visit of
// Matomo. Its events are ready to store; its rejections are the events that were not, each
// under its reason.
type Record struct {
	// N is the record's number in the file, from 1 (its line, or its visit for Matomo).
	N        int
	Events   []models.Event
	Rejected []Rejection
	// Skipped counts the source's events that have no counterpart here (a Matomo site search,
	// a GA4 session_start): not an error, and not a drop either.
	Skipped int
}

// Source reads an import file one record at a time, holding at most one record in memory.
type Source interface {
	// Next returns the next record; io.EOF after the last; a *StreamError when the file
	// cannot be read on (not of its format, truncated, a record too long); or the error of the
	// reader itself (a body cut short, too large).
	Next() (*Record, error)
}

// StreamError is an import file that cannot be read past a point. The records before it were
// read; nothing of the record at fault was.
type StreamError struct {
	// Code is the error's code in the API's answer: not_matomo, not_ga4, truncated,
	// malformed, too_long, empty.
	Code    string
	N       int // the record at fault
	Message string
}

func (e *StreamError) Error() string { return e.Message }

// NewSource reads r as an import file of format f, through im's privacy pass.
func NewSource(f Format, r io.Reader, im *Import) Source {
	switch f {
	case FormatMatomo:
		return newMatomoSource(r, im)
	case FormatGA4:
		return &lineSource{sc: newScanner(r, MaxGA4Line), max: MaxGA4Line, parse: im.ga4Line}
	}
	return &lineSource{sc: newScanner(r, MaxImportLine), max: MaxImportLine, parse: im.ndjsonLine}
}

func newScanner(r io.Reader, maxLine int) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	// The buffer's capacity must not exceed maxLine: the scanner takes the larger of the two.
	sc.Buffer(make([]byte, 0, min(maxLine, 16<<10)), maxLine)
	return sc
}

// lineSource reads a file of one record a line, skipping blank lines.
type lineSource struct {
	sc    *bufio.Scanner
	max   int
	n     int
	parse func(rec *Record, raw []byte) error
}

func (s *lineSource) Next() (*Record, error) {
	for s.sc.Scan() {
		s.n++
		raw := bytes.TrimSpace(s.sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		rec := &Record{N: s.n}
		if err := s.parse(rec, raw); err != nil {
			return nil, err
		}
		return rec, nil
	}
	err := s.sc.Err()
	switch {
	case err == nil:
		if s.n == 0 {
			return nil, &StreamError{Code: "empty", Message: "empty body: one JSON object per line is expected"}
		}
		return nil, io.EOF
	case errors.Is(err, bufio.ErrTooLong):
		return nil, &StreamError{Code: "too_long", N: s.n + 1,
			Message: fmt.Sprintf("line %d is longer than %d bytes", s.n+1, s.max)}
	}
	return nil, err
}

func (im *Import) ndjsonLine(rec *Record, raw []byte) error {
	ev, rej := im.Line(raw)
	rec.add(ev, rej)
	return nil
}

func (rec *Record) add(ev models.Event, rej *Rejection) {
	if rej != nil {
		rec.Rejected = append(rec.Rejected, *rej)
		return
	}
	rec.Events = append(rec.Events, ev)
}

func (rec *Record) reject(n int, message string) {
	for range max(n, 1) {
		rec.Rejected = append(rec.Rejected, Rejection{Reason: models.ReasonBadShape, Message: message})
	}
}

// errNotNumber is a number field that holds something else: the record is rejected, and the
// decoder, which has read the record whole, goes on with the next.
var errNotNumber = errors.New("not a number")

// flexInt is a number other tools write either way: 12, "12", 12.5 (truncated), or "" and
// null for none.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = flexInt(v)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 1<<62 || f < -(1<<62) {
		return errNotNumber
	}
	*n = flexInt(f)
	return nil
}

// flexString is an identifier other tools write as a string or a number.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = flexString(n.String())
	return nil
}

// slug turns another tool's goal or event name into a goal name of the contract: lower case,
// letters, digits and underscores, at most 64 bytes. A name the scrubber changes (it holds an
// address, a number that could be a phone's) gives "", and the goal is rejected.
func slug(name string) string {
	name = strings.TrimSpace(name)
	if name == "" || scrubbed(name) {
		return ""
	}
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(name) {
		switch {
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
			under = false
		case !under && b.Len() > 0:
			b.WriteByte('_')
			under = true
		}
		if b.Len() >= maxGoalLen {
			break
		}
	}
	return strings.Trim(b.String()[:min(b.Len(), maxGoalLen)], "_")
}

func scrubbed(s string) bool { return privacy.Scrub(s) != s }
