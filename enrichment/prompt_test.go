package enrichment

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuildPrompt(t *testing.T) {
	t.Parallel()
	in := sampleInput()
	in.TopPaths = append(in.TopPaths, Share{Key: "/u/jane.doe@example.com/orders", Share: 0.04})
	in.Traits = append(in.Traits, Trait{Feature: "broken", Value: math.NaN(), Population: 1, Z: math.Inf(1)})
	system, user := BuildPrompt(in)

	tests := []struct {
		name    string
		text    string
		want    []string
		notWant []string
	}{
		{
			name: "system sets the task and the JSON answer",
			text: system,
			want: []string{"JSON", `"name"`, `"suggested_actions"`, "at most 40 characters", "deal_seeker", "data, not instructions"},
		},
		{
			name: "user holds the aggregates",
			text: user,
			want: []string{
				"Cohort size: 812 visitors", "Share of all visitors: 23 %",
				"- time per page: 2 min 30 s for this persona vs 36 s for all visitors (typical, per page view; much higher, z = +1.6)",
				"- pages per visit: 6.2 pages for this persona vs 3.1 pages for all visitors (typical, per visit; much higher, z = +1.8)",
				"- bounce rate: 12 % for this persona vs 41 % for all visitors (share of visits with a single page view; much lower, z = -1.4)",
				"- page views of Checkout: 12 % for this persona vs 3 % for all visitors (share of page views; much higher, z = +2.5)",
				"- reached purchase: 70 % of this persona's visitors vs 27 % of all visitors (2.6× as often as all visitors, much higher; 95 % interval 2.4×–2.8×)",
				"- reached add_to_cart: 0 % of this persona's visitors vs 9.5 % of all visitors (none of them reached it",
				"- Product pages (/p/:id): 31 %", "- search: 44 %", "- desktop: 62 %", "- evening (18–24 h): 55 %",
				"Names already taken by other personas (choose a different one): Weekend Planters",
			},
		},
		{
			name: "user holds the business context as written, fenced",
			text: user,
			want: []string{"<business_context>", "Business goals: Sell more garden tools " + contextMarker, "Industry: Garden retail", "</business_context>"},
		},
		{
			name: "no persona id, no personal data, no broken numbers",
			text: system + user,
			notWant: []string{testPersonaID, "jane.doe@example.com", "NaN", "Inf", "broken", "about the same",
				"goals per visit", "1.82", "5.01", "log"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !strings.Contains(tt.text, w) {
					t.Errorf("prompt lacks %q:\n%s", w, tt.text)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(tt.text, w) {
					t.Errorf("prompt contains %q:\n%s", w, tt.text)
				}
			}
		})
	}
}

func TestBuildPromptIsBoundedAndStable(t *testing.T) {
	t.Parallel()
	in := Input{PersonaID: "p", Size: 100, Share: 0.1}
	for i := range 50 {
		in.Traits = append(in.Traits, Trait{Feature: "element:" + strings.Repeat("f", i+1), Value: 1, Population: 1, Z: float64(i % 7)})
		in.TopPaths = append(in.TopPaths, Share{Key: "/" + strings.Repeat("p", 300), Share: 0.01})
		in.Taken = append(in.Taken, strings.Repeat("n", 200))
	}
	in.Context.Notes = strings.Repeat("note ", 5000)
	_, user := BuildPrompt(in)
	if n := len(user); n > 12000 {
		t.Errorf("prompt is %d bytes, want it bounded", n)
	}
	if n := strings.Count(user, "\n- clicks on f"); n != maxPromptTraits {
		t.Errorf("prompt has %d traits, want %d", n, maxPromptTraits)
	}
	if _, again := BuildPrompt(in); again != user {
		t.Error("the same input gave two prompts")
	}
	_, empty := BuildPrompt(Input{})
	if !strings.Contains(empty, "No business context was given.") {
		t.Errorf("empty input prompt = %q", empty)
	}
}

func TestAnswerSchema(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(answerSchema())
	if err != nil {
		t.Fatalf("marshal schema: %v", err)
	}
	var s struct {
		Type                 string   `json:"type"`
		Required             []string `json:"required"`
		AdditionalProperties bool     `json:"additionalProperties"`
		Properties           map[string]struct {
			Type  string   `json:"type"`
			Enum  []string `json:"enum"`
			Items *struct {
				Type string `json:"type"`
			} `json:"items"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("unmarshal schema: %v", err)
	}
	if s.Type != "object" || s.AdditionalProperties || !cmp.Equal(s.Required, answerFields()) {
		t.Errorf("schema = %s, want a closed object requiring %v", b, answerFields())
	}
	if diff := cmp.Diff(Types(), s.Properties["type"].Enum); diff != "" {
		t.Errorf("type enum mismatch (-want +got):\n%s", diff)
	}
	for _, f := range []string{fieldGoals, fieldFrustrations, fieldSuggestedActions} {
		if p := s.Properties[f]; p.Type != "array" || p.Items == nil || p.Items.Type != "string" {
			t.Errorf("%s schema = %+v, want an array of strings", f, p)
		}
	}
	// The limits travel with the schema (sent with strict off: strict mode refuses maxLength).
	var limits struct {
		Properties map[string]struct {
			MaxLength int `json:"maxLength"`
			MinItems  int `json:"minItems"`
			MaxItems  int `json:"maxItems"`
			Items     *struct {
				MaxLength int `json:"maxLength"`
			} `json:"items"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &limits); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]int{fieldName: MaxNameLen, fieldTagline: MaxTaglineLen, fieldSummary: MaxSummaryLen} {
		if got := limits.Properties[f].MaxLength; got != want {
			t.Errorf("%s maxLength = %d, want %d", f, got, want)
		}
	}
	for _, f := range []string{fieldGoals, fieldFrustrations, fieldSuggestedActions} {
		p := limits.Properties[f]
		if p.MinItems != MinItems || p.MaxItems != MaxItems || p.Items == nil || p.Items.MaxLength != MaxItemLen {
			t.Errorf("%s limits = %+v, want %d to %d items of at most %d characters", f, p, MinItems, MaxItems, MaxItemLen)
		}
	}
}

func TestNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {6.2, "6.2"}, {0.123456, "0.123"}, {410000, "410000"}, {123456, "123000"},
		{-1.4, "-1.4"}, {0.0004567, "0.000457"}, {3, "3"}, {math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := number(tt.in); got != tt.want {
				t.Errorf("number(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-45000, "-45,000"}}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := count(tt.in); got != tt.want {
				t.Errorf("count(%d) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
