package enrichment

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"personas/privacy"
)

func TestParseAnswer(t *testing.T) {
	t.Parallel()
	valid := answer(nil)
	tests := []struct {
		name    string
		content string
		want    Result
		wantErr string // a part of the error; empty for success
	}{
		{"valid", valid, wantLLMResult(), ""},
		{"surrounding whitespace", "\n  " + valid + "\n", wantLLMResult(), ""},
		{"fields in another order", `{"type":"buyer","suggested_actions":["Show delivery costs on product pages","Offer express checkout"],"frustrations":["Delivery costs shown late"],"goals":["Find the right tool","Check out fast"],"summary":"Quillfeather planners know what they need and reach the checkout quickly.","tagline":"They plan the season and buy the tools in one go.","name":"Quillfeather Planners"}`, wantLLMResult(), ""},
		{"values are trimmed", answer(func(m map[string]any) { m["name"] = "  Quillfeather Planners " }), wantLLMResult(), ""},
		{"multiline summary", answer(func(m map[string]any) { m["summary"] = "Line one.\nLine two." }), func() Result {
			r := wantLLMResult()
			r.Summary = "Line one.\nLine two."
			return r
		}(), ""},
		{"name at the limit", answer(func(m map[string]any) { m["name"] = strings.Repeat("é", MaxNameLen) }), func() Result {
			r := wantLLMResult()
			r.Name = strings.Repeat("é", MaxNameLen)
			return r
		}(), ""},
		{"empty", "", Result{}, "not JSON"},
		{"not an object", `["name"]`, Result{}, "not a JSON object"},
		{"string", `"hello"`, Result{}, "not a JSON object"},
		{"truncated", valid[:len(valid)/2], Result{}, "malformed"},
		{"trailing data", valid + `{}`, Result{}, "data after"},
		{"trailing text", valid + ` thanks`, Result{}, "data after"},
		{"repeated field", strings.Replace(valid, `{`, `{"name":"Other Name",`, 1), Result{}, "repeated"},
		{"extra field", answer(func(m map[string]any) { m["extra"] = 1 }), Result{}, "unexpected field"},
		{"field in another case", strings.Replace(valid, `"name"`, `"Name"`, 1), Result{}, "unexpected field"},
		{"missing name", answer(func(m map[string]any) { delete(m, "name") }), Result{}, "field name missing"},
		{"missing suggested actions", answer(func(m map[string]any) { delete(m, "suggested_actions") }), Result{}, "suggested_actions missing"},
		{"name is a number", answer(func(m map[string]any) { m["name"] = 7 }), Result{}, "field name: not a string"},
		{"name is null", answer(func(m map[string]any) { m["name"] = nil }), Result{}, "field name: not a string"},
		{"type is a list", answer(func(m map[string]any) { m["type"] = []string{"buyer"} }), Result{}, "field type: not a string"},
		{"goals is a string", answer(func(m map[string]any) { m["goals"] = "be happy" }), Result{}, "field goals: not an array"},
		{"goals is null", answer(func(m map[string]any) { m["goals"] = nil }), Result{}, "field goals: not an array"},
		{"goal item is null", `{"name":"A","type":"buyer","tagline":"t","summary":"s","goals":[null],"frustrations":["f"],"suggested_actions":["a"]}`, Result{}, "field goals: item 0: not a string"},
		{"goal item is an object", answer(func(m map[string]any) { m["goals"] = []any{map[string]string{"a": "b"}} }), Result{}, "item 0: not a string"},
		{"no goals", answer(func(m map[string]any) { m["goals"] = []string{} }), Result{}, "0 items"},
		{"six frustrations", answer(func(m map[string]any) { m["frustrations"] = []string{"a", "b", "c", "d", "e", "f"} }), Result{}, "6 items"},
		{"empty name", answer(func(m map[string]any) { m["name"] = "   " }), Result{}, "field name: empty"},
		{"empty action", answer(func(m map[string]any) { m["suggested_actions"] = []string{"ok", ""} }), Result{}, "item 1: empty"},
		{"name too long", answer(func(m map[string]any) { m["name"] = strings.Repeat("a", MaxNameLen+1) }), Result{}, "41 characters"},
		{"tagline too long", answer(func(m map[string]any) { m["tagline"] = strings.Repeat("a", MaxTaglineLen+1) }), Result{}, "field tagline: over the limit: 81 characters"},
		{"summary too long", answer(func(m map[string]any) { m["summary"] = strings.Repeat("a", MaxSummaryLen+1) }), Result{}, "field summary: over the limit: 601 characters"},
		{"goal too long", answer(func(m map[string]any) { m["goals"] = []string{strings.Repeat("a", MaxItemLen+1)} }), Result{}, "121 characters"},
		{"unknown type", answer(func(m map[string]any) { m["type"] = "Buyer" }), Result{}, "unknown persona type"},
		{"newline in name", answer(func(m map[string]any) { m["name"] = "Two\nLines" }), Result{}, "control characters"},
		{"control character in tagline", answer(func(m map[string]any) { m["tagline"] = "bell\u0007" }), Result{}, "control characters"},
		{"email in name", answer(func(m map[string]any) { m["name"] = "jo@example.com Fans" }), Result{}, "field name: holds personal data"},
		{"invalid UTF-8", `{"name":"` + "\xff" + `"}`, Result{}, "UTF-8"},
		{"huge", `{"summary":"` + strings.Repeat("a", maxAnswerBytes) + `"}`, Result{}, "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAnswer(tt.content)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseAnswer: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("result mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseAnswer error = %v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidAnswer) {
				t.Errorf("error %v does not wrap ErrInvalidAnswer", err)
			}
			if diff := cmp.Diff(Result{}, got); diff != "" {
				t.Errorf("a failed parse returned data (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAnswerScrubsFreeText(t *testing.T) {
	t.Parallel()
	const email = "jo.quill@example.com"
	content := answer(func(m map[string]any) {
		m["tagline"] = "Mail " + email
		m["summary"] = "They write to " + email + " often."
		m["goals"] = []string{"Reach " + email}
		m["frustrations"] = []string{"No reply from " + email}
		m["suggested_actions"] = []string{"Answer " + email + " faster"}
	})
	r, err := ParseAnswer(content)
	if err != nil {
		t.Fatalf("ParseAnswer: %v", err)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), email) {
		t.Errorf("result keeps the email: %s", b)
	}
	if want := privacy.Scrub("They write to " + email + " often."); r.Summary != want {
		t.Errorf("summary = %q, want %q", r.Summary, want)
	}
}

func TestParseAnswerErrorsDoNotQuote(t *testing.T) {
	t.Parallel()
	const secret = "SECRETVALUE"
	for _, content := range []string{
		answer(func(m map[string]any) { m[secret] = 1 }),
		answer(func(m map[string]any) { m["type"] = secret }),
		answer(func(m map[string]any) { m["name"] = secret + strings.Repeat("x", 40) }),
		`{"name": "` + secret + `", oops}`,
		secret,
	} {
		if _, err := ParseAnswer(content); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("ParseAnswer(%.40q) error = %v, want an error that does not quote the answer", content, err)
		}
	}
}

func TestRuleResultsPassValidation(t *testing.T) {
	t.Parallel()
	if err := validate(wantLLMResult()); err != nil {
		t.Errorf("validate(valid) = %v", err)
	}
	bad := wantLLMResult()
	bad.Goals = nil
	if err := validate(bad); err == nil {
		t.Error("validate(no goals) = nil, want an error")
	}
}

// FuzzParseAnswer checks that any answer is either refused with ErrInvalidAnswer or gives a
// result within every limit, and never panics.
func FuzzParseAnswer(f *testing.F) {
	f.Add(answer(nil))
	f.Add(`{}`)
	f.Add(`{"name":null}`)
	f.Add(answer(func(m map[string]any) { m["summary"] = "Mail jo@example.com" }))
	f.Fuzz(func(t *testing.T, content string) {
		r, err := ParseAnswer(content)
		if err != nil {
			if !errors.Is(err, ErrInvalidAnswer) {
				t.Fatalf("error %v does not wrap ErrInvalidAnswer", err)
			}
			return
		}
		if err := validate(r); err != nil {
			t.Fatalf("accepted answer breaks the limits: %v", err)
		}
		if r.NamedBy != NamedByLLM || privacy.Scrub(r.Name) != r.Name {
			t.Fatalf("accepted answer: named by %q, name %q", r.NamedBy, r.Name)
		}
		for _, s := range append([]string{r.Name, r.Tagline, r.Summary}, append(append(r.Goals, r.Frustrations...), r.SuggestedActions...)...) {
			if !utf8.ValidString(s) || s != strings.TrimSpace(s) {
				t.Fatalf("accepted field %q is not clean text", s)
			}
		}
	})
}
