package enrichment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"personas/privacy"
)

// ErrInvalidAnswer is wrapped by every error of ParseAnswer: the model's answer is not exactly
// the JSON object asked for. The error never quotes the answer.
var ErrInvalidAnswer = errors.New("invalid answer")

// errTooLong marks an answer field over its length limit or a list of the wrong size: an
// answer worth one corrected retry.
var errTooLong = errors.New("over the limit")

// Answer fields, as the model writes them.
const (
	fieldName             = "name"
	fieldType             = "type"
	fieldTagline          = "tagline"
	fieldSummary          = "summary"
	fieldGoals            = "goals"
	fieldFrustrations     = "frustrations"
	fieldSuggestedActions = "suggested_actions"
)

// answerFields lists the answer's fields in the order the schema and the prompt give them.
func answerFields() []string {
	return []string{
		fieldName, fieldType, fieldTagline, fieldSummary,
		fieldGoals, fieldFrustrations, fieldSuggestedActions,
	}
}

// maxAnswerBytes bounds what ParseAnswer reads: the largest valid answer, escaped, is far smaller.
const maxAnswerBytes = 64 << 10

// ParseAnswer reads the model's answer strictly: one JSON object with exactly the fields name,
// type, tagline, summary, goals, frustrations and suggested_actions, each present once, of the
// right JSON type, not null, within its length limits, with a known type, and nothing after the
// object. Free text is scrubbed of personal data with privacy.Scrub and kept; a name that the
// scrubber would change is rejected. The result is marked as named by the LLM. Errors wrap
// ErrInvalidAnswer and say which field failed, never what it held.
func ParseAnswer(content string) (Result, error) {
	if len(content) > maxAnswerBytes {
		return Result{}, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidAnswer, len(content), maxAnswerBytes)
	}
	if !utf8.ValidString(content) {
		return Result{}, fmt.Errorf("%w: not valid UTF-8", ErrInvalidAnswer)
	}
	raw, err := splitObject(content)
	if err != nil {
		return Result{}, err
	}
	r := Result{NamedBy: NamedByLLM}
	for _, f := range answerFields() {
		v, ok := raw[f]
		if !ok {
			return Result{}, fmt.Errorf("%w: field %s missing", ErrInvalidAnswer, f)
		}
		switch f {
		case fieldName:
			r.Name, err = parseName(v)
		case fieldType:
			r.Type, err = parseType(v)
		case fieldTagline:
			r.Tagline, err = parseText(v, MaxTaglineLen, false)
		case fieldSummary:
			r.Summary, err = parseText(v, MaxSummaryLen, true)
		case fieldGoals:
			r.Goals, err = parseList(v)
		case fieldFrustrations:
			r.Frustrations, err = parseList(v)
		case fieldSuggestedActions:
			r.SuggestedActions, err = parseList(v)
		}
		if err != nil {
			return Result{}, fmt.Errorf("%w: field %s: %w", ErrInvalidAnswer, f, err)
		}
	}
	return r, nil
}

// splitObject reads one JSON object into its raw members, rejecting anything else: another JSON
// value, unknown or repeated members, and trailing data.
func splitObject(content string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(strings.NewReader(content))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: not JSON", ErrInvalidAnswer)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidAnswer)
	}
	known := make(map[string]bool)
	for _, f := range answerFields() {
		known[f] = true
	}
	raw := make(map[string]json.RawMessage, len(known))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: malformed JSON object", ErrInvalidAnswer)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: malformed JSON object", ErrInvalidAnswer)
		}
		if !known[key] {
			// The key itself is model output: it is not quoted in the error.
			return nil, fmt.Errorf("%w: unexpected field", ErrInvalidAnswer)
		}
		if _, dup := raw[key]; dup {
			return nil, fmt.Errorf("%w: field %s repeated", ErrInvalidAnswer, key)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: field %s: malformed JSON value", ErrInvalidAnswer, key)
		}
		raw[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON object", ErrInvalidAnswer)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalidAnswer)
	}
	return raw, nil
}

// decodeString decodes a JSON string, rejecting null and every other JSON type (encoding/json
// would quietly leave the string empty for null).
func decodeString(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '"' {
		return "", errors.New("not a string")
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errors.New("not a string")
	}
	return s, nil
}

func parseName(v json.RawMessage) (string, error) {
	s, err := decodeString(v)
	if err != nil {
		return "", err
	}
	// A name is shown everywhere and cannot be half-redacted: if the scrubber changes it, the
	// answer is refused rather than stored as "[email] Fans".
	if s = strings.TrimSpace(s); privacy.Scrub(s) != s {
		return "", errors.New("holds personal data")
	}
	return cleanText(s, MaxNameLen, false)
}

func parseType(v json.RawMessage) (string, error) {
	s, err := decodeString(v)
	if err != nil {
		return "", err
	}
	if !ValidType(s) {
		return "", errors.New("unknown persona type")
	}
	return s, nil
}

// parseText decodes a string, trims it and checks it is not empty, holds no control characters
// (a newline only where multiline is allowed) and stays within max characters both as written
// and once scrubbed. It returns the scrubbed text.
func parseText(v json.RawMessage, max int, multiline bool) (string, error) {
	s, err := decodeString(v)
	if err != nil {
		return "", err
	}
	return cleanText(s, max, multiline)
}

func cleanText(s string, max int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", fmt.Errorf("%w: %d characters, more than %d", errTooLong, n, max)
	}
	for _, c := range s {
		if c == '\n' && multiline {
			continue
		}
		if unicode.IsControl(c) || c == utf8.RuneError || c == '\u2028' || c == '\u2029' {
			return "", errors.New("holds control characters")
		}
	}
	s = privacy.Scrub(s)
	if n := utf8.RuneCountInString(s); n > max {
		return "", fmt.Errorf("%w: %d characters once scrubbed, more than %d", errTooLong, n, max)
	}
	return s, nil
}

// parseList decodes an array of 1 to 5 strings, each checked like a single-line text.
func parseList(v json.RawMessage) ([]string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '[' {
		return nil, errors.New("not an array")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, errors.New("not an array")
	}
	if len(items) < MinItems || len(items) > MaxItems {
		return nil, fmt.Errorf("%w: %d items, want %d to %d", errTooLong, len(items), MinItems, MaxItems)
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, err := parseText(it, MaxItemLen, false)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// validate checks a result built here (by the rule-based namer) against the same limits as an
// answer, so both paths store the same shapes.
func validate(r Result) error {
	if _, err := cleanText(r.Name, MaxNameLen, false); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if !ValidType(r.Type) {
		return errors.New("type: unknown persona type")
	}
	if _, err := cleanText(r.Tagline, MaxTaglineLen, false); err != nil {
		return fmt.Errorf("tagline: %w", err)
	}
	if _, err := cleanText(r.Summary, MaxSummaryLen, true); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	for _, l := range []struct {
		field string
		items []string
	}{{fieldGoals, r.Goals}, {fieldFrustrations, r.Frustrations}, {fieldSuggestedActions, r.SuggestedActions}} {
		if len(l.items) < MinItems || len(l.items) > MaxItems {
			return fmt.Errorf("%s: %d items, want %d to %d", l.field, len(l.items), MinItems, MaxItems)
		}
		for i, s := range l.items {
			if _, err := cleanText(s, MaxItemLen, false); err != nil {
				return fmt.Errorf("%s item %d: %w", l.field, i, err)
			}
		}
	}
	return nil
}
