package enrichment

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuildPrompt(t *testing.T) {
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
				"Visitors in the cohort: 812", "Share of all visitors: 23.0%",
				"goals_per_visit: 0.4 vs 0.1 (z = +2.2, much higher)",
				"bounce_rate: 0.12 vs 0.41 (z = -1.4, lower)",
				"- /p/:id: 31.0%", "- search: 44.0%", "- desktop: 62.0%", "- 20: 15.0%", "- purchase: 70.0%",
				"Names already taken by other personas (choose a different one): Weekend Planters",
			},
		},
		{
			name: "user holds the business context as written, fenced",
			text: user,
			want: []string{"<business_context>", "Business goals: Sell more garden tools " + contextMarker, "Industry: Garden retail", "</business_context>"},
		},
		{
			name:    "no persona id, no personal data, no broken numbers",
			text:    system + user,
			notWant: []string{testPersonaID, "jane.doe@example.com", "NaN", "Inf", "broken"},
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
	in := Input{PersonaID: "p", Size: 100, Share: 0.1}
	for i := range 50 {
		in.Traits = append(in.Traits, Trait{Feature: strings.Repeat("f", i+1), Value: 1, Population: 1, Z: float64(i % 7)})
		in.TopPaths = append(in.TopPaths, Share{Key: "/" + strings.Repeat("p", 300), Share: 0.01})
		in.Taken = append(in.Taken, strings.Repeat("n", 200))
	}
	in.Context.Notes = strings.Repeat("note ", 5000)
	_, user := BuildPrompt(in)
	if n := len(user); n > 12000 {
		t.Errorf("prompt is %d bytes, want it bounded", n)
	}
	if strings.Count(user, "\n- f") != maxPromptTraits {
		t.Errorf("prompt has %d traits, want %d", strings.Count(user, "\n- f"), maxPromptTraits)
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
	if strings.Contains(string(b), "maxLength") {
		t.Errorf("schema uses maxLength, which Azure's strict mode refuses: %s", b)
	}
}

func TestNumber(t *testing.T) {
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
