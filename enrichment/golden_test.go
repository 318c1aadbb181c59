package enrichment

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"personas/models"
)

// update rewrites the golden files: go test ./enrichment -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenPersonas are fixed personas as the classifier describes them: trait values are means of
// the raw features (log1p where the schema says so), goal lifts per goal.
func goldenPersonas() []struct {
	name string
	in   Input
} {
	lg := math.Log1p
	return []struct {
		name string
		in   Input
	}{
		{"buyers", Input{
			PersonaID: "golden-buyers", Size: 1240, Share: 0.18,
			Traits: []Trait{
				{"path:/checkout", 0.14, 0.03, 2.4},
				{"time_per_page", lg(150), lg(36), 1.9},
				{"clicks_per_page", 1.86, 0.928, 1.5},
				{"goal_rate", 0.9, 0.2, 2.2},
				{"goal:purchase", 0.5, 0.08, 2.0},
				{"visits", lg(3.2), lg(1.9), 0.9},
				{"bounce_rate", 0.05, 0.31, -1.2},
				{"pages_per_visit", lg(5.5), lg(3.1), 1.1},
			},
			TopPaths:  []Share{{"/p", 0.46}, {"/cart", 0.2}, {"/checkout", 0.14}, {"/", 0.1}},
			Channels:  []Share{{"direct", 0.48}, {"search", 0.32}, {"email", 0.2}},
			Devices:   []Share{{"desktop", 0.71}, {"mobile", 0.29}},
			Hours:     []Share{{"night", 0.04}, {"morning", 0.21}, {"afternoon", 0.44}, {"evening", 0.31}},
			Goals:     []Share{{"any", 0.62}, {"purchase", 0.41}, {"add_to_cart", 0.58}},
			GoalLifts: []GoalLift{{"any", 769, 0.62, 0.24, 2.58, 2.45, 2.7}, {"purchase", 508, 0.41, 0.08, 5.1, 4.8, 5.5}, {"add_to_cart", 719, 0.58, 0.22, 2.6, 2.5, 2.8}},
			Taken:     []string{"Bargain Hunters"},
		}},
		{"recent discoverers who come back", Input{
			PersonaID: "golden-returning", Size: 820, Share: 0.12,
			Traits: []Trait{
				{"visits", lg(4.1), lg(1.9), 1.4},
				{"active_days", lg(3.6), lg(1.6), 1.3},
				{"recency_days", 2.5, 9.1, -0.9},
				{"channel:search", 0.62, 0.3, 1.1},
				{"time_per_page", lg(41), lg(36), 0.2},
			},
			TopPaths:   []Share{{"/", 0.3}, {"/blog", 0.25}, {"/p", 0.2}},
			Channels:   []Share{{"search", 0.62}, {"social", 0.2}, {"direct", 0.18}},
			Devices:    []Share{{"mobile", 0.66}, {"desktop", 0.34}},
			Hours:      []Share{{"evening", 0.58}, {"afternoon", 0.3}, {"morning", 0.12}},
			Goals:      []Share{{"any", 0}, {"add_to_cart", 0}},
			GoalLifts:  []GoalLift{{"any", 0, 0, 0.24, 0, 0, 0.02}, {"add_to_cart", 0, 0, 0.095, 0, 0, 0.05}},
			PageLabels: models.PageLabels{"/blog": "Gardening stories"},
		}},
		{"noise", Input{
			PersonaID: "golden-noise", Size: 400, Share: 0.06,
			Traits: []Trait{
				{"time_per_page", lg(38), lg(36), 0.1},
				{"bounce_rate", 0.3, 0.31, -0.05},
				{"channel:email", 0.17, 0.15, 0.1},
			},
			TopPaths:  []Share{{"/p", 0.2}, {"/c", 0.2}, {"/blog", 0.19}, {"/help", 0.2}, {"/", 0.21}},
			Channels:  []Share{{"direct", 0.17}, {"search", 0.17}, {"social", 0.16}, {"referral", 0.17}, {"email", 0.17}, {"campaign", 0.16}},
			Devices:   []Share{{"desktop", 0.34}, {"mobile", 0.33}, {"tablet", 0.33}},
			GoalLifts: []GoalLift{{"any", 98, 0.245, 0.24, 1.02, 0.85, 1.2}},
		}},
	}
}

// figureWithUnit is a number a person can read: a count with its noun, a duration, a
// percentage, a lift, an hour range, or a z-score.
var figureWithUnit = regexp.MustCompile(`z = [-+]\d+(\.\d+)?|\d+–\d+ h|<?\d[\d,]*(\.\d+)?( ?(%|×|s\b|min\b|h\b|visits per day|visits|visitors|page views|clicks|pages|days|day|per visit|people))`)

// checkUnits fails when a line holding figures has a number without a unit, or shows a log1p
// trait's stored value.
func checkUnits(t *testing.T, what, text string, in Input) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "Names already taken") {
			continue
		}
		rest := figureWithUnit.ReplaceAllString(line, "")
		// Path groups and goal names may hold digits of their own; the fixtures have none.
		if strings.ContainsAny(rest, "0123456789") {
			t.Errorf("%s: a number without a unit in %q (left %q)", what, line, rest)
		}
	}
	for _, tr := range in.Traits {
		if !models.IsTypicalFeature(tr.Feature) {
			continue
		}
		for _, raw := range []float64{tr.Value, tr.Population} {
			if s := models.FormatNumber(raw); strings.Contains(text, " "+s+" ") || strings.Contains(text, "("+s) {
				t.Errorf("%s shows the log1p value %s of %s:\n%s", what, s, tr.Feature, text)
			}
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "about the same") && strings.Contains(line, ": 0 % ") && !strings.Contains(line, "vs 0 % ") {
			t.Errorf("%s calls 0 %% about the same as a positive rate: %q", what, line)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run with -update to write it): %v", path, err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func goldenName(s string) string { return strings.ReplaceAll(s, " ", "_") }

// TestPromptGolden: the exact prompt of fixed personas, every figure with its unit.
func TestPromptGolden(t *testing.T) {
	t.Parallel()
	for _, p := range goldenPersonas() {
		t.Run(p.name, func(t *testing.T) {
			system, user := BuildPrompt(p.in)
			if system != systemPrompt {
				t.Errorf("system prompt changed")
			}
			checkUnits(t, "prompt", user, p.in)
			golden(t, "prompt_"+goldenName(p.name), user)
		})
	}
}

// TestRuleTextsGolden: the rule-based result of fixed personas, every figure with its unit.
func TestRuleTextsGolden(t *testing.T) {
	t.Parallel()
	for _, p := range goldenPersonas() {
		t.Run(p.name, func(t *testing.T) {
			r := RuleName(p.in)
			if err := validate(r); err != nil {
				t.Errorf("rule result breaks the limits: %v", err)
			}
			for _, s := range append([]string{r.Name, r.Tagline, r.Summary}, r.SuggestedActions...) {
				checkUnits(t, "rule text", s, p.in)
			}
			b, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "rules_"+goldenName(p.name), string(b)+"\n")
		})
	}
}
