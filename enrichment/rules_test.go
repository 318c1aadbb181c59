package enrichment

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// profiles are typical personas as the classifier would describe them.
func profiles() []struct {
	name     string
	in       Input
	wantType string
} {
	return []struct {
		name     string
		in       Input
		wantType string
	}{
		{"heavy buyers", Input{
			PersonaID: "p-buyers", Size: 640, Share: 0.12,
			Traits: []Trait{
				{"goals_per_visit", 0.6, 0.1, 2.6}, {"pageviews_per_visit", 7, 4, 1.1}, {"bounce_rate", 0.1, 0.4, -1.2},
			},
			TopPaths: []Share{{"/p/:id", 0.35}, {"/cart", 0.2}, {"/checkout", 0.15}, {"/", 0.1}},
			Channels: []Share{{"direct", 0.4}, {"search", 0.35}},
			Devices:  []Share{{"desktop", 0.7}, {"mobile", 0.3}},
			Goals:    []Share{{"purchase", 0.8}, {"add_to_cart", 0.2}},
		}, TypeBuyer},
		{"bouncers", Input{
			PersonaID: "p-bouncers", Size: 4100, Share: 0.41,
			Traits: []Trait{
				{"bounce_rate", 0.92, 0.45, 2.4}, {"pageviews_per_visit", 1.05, 3.2, -1.3},
				{"time_per_visit_ms", 9000, 95000, -1.1}, {"scroll_depth", 0.2, 0.5, -1.0}, {"visits", math.Log1p(1.1), math.Log1p(2.3), -0.6},
			},
			TopPaths: []Share{{"/", 0.5}, {"/blog/:slug", 0.2}},
			Channels: []Share{{"search", 0.38}, {"social", 0.3}, {"direct", 0.32}},
			Devices:  []Share{{"mobile", 0.8}, {"desktop", 0.2}},
		}, TypeBrowser},
		{"researchers reading many info pages", Input{
			PersonaID: "p-researchers", Size: 900, Share: 0.09,
			Traits: []Trait{
				{"time_per_visit_ms", 410000, 95000, 2.5}, {"scroll_depth", 0.85, 0.5, 1.7}, {"pageviews_per_visit", 8, 3.2, 1.6},
			},
			TopPaths: []Share{{"/docs/:slug", 0.3}, {"/blog/:slug", 0.2}, {"/compare/:slug", 0.12}, {"/pricing", 0.06}},
			Channels: []Share{{"search", 0.6}, {"direct", 0.3}},
			Devices:  []Share{{"desktop", 0.85}},
		}, TypeResearcher},
		{"deal seekers from campaigns", Input{
			PersonaID: "p-deals", Size: 700, Share: 0.07,
			Traits: []Trait{
				{"pageviews_per_visit", 3.5, 3.2, 0.2}, {"element:coupon", 0.3, 0.02, 2.8},
			},
			TopPaths: []Share{{"/sale", 0.3}, {"/p/:id", 0.2}, {"/offers/:slug", 0.15}},
			Channels: []Share{{"campaign", 0.55}, {"email", 0.25}, {"direct", 0.1}},
			Devices:  []Share{{"mobile", 0.55}, {"desktop", 0.45}},
			Goals:    []Share{{"coupon_used", 0.5}},
		}, TypeDealSeeker},
		{"returning loyal visitors", Input{
			PersonaID: "p-loyal", Size: 500, Share: 0.05,
			Traits: []Trait{
				{"visits", math.Log1p(14), math.Log1p(2.3), 2.8}, {"active_days", math.Log1p(11), math.Log1p(1.8), 2.6}, {"days_since_last_visit", 2, 20, -1.2},
			},
			TopPaths: []Share{{"/", 0.3}, {"/news/:slug", 0.1}, {"/account", 0.05}},
			Channels: []Share{{"direct", 0.75}, {"email", 0.15}},
			Devices:  []Share{{"desktop", 0.5}, {"mobile", 0.5}},
			Hours:    []Share{{"7", 0.2}, {"8", 0.25}, {"9", 0.15}},
		}, TypeLoyal},
		{"support page visitors", Input{
			PersonaID: "p-support", Size: 380, Share: 0.04,
			Traits: []Trait{
				{"pageviews_per_visit", 4, 3.2, 0.4}, {"path:/help", 0.4, 0.05, 3},
			},
			TopPaths: []Share{{"/help/:slug", 0.35}, {"/contact", 0.2}, {"/account/orders", 0.15}, {"/faq", 0.1}},
			Channels: []Share{{"direct", 0.5}, {"search", 0.4}},
			Devices:  []Share{{"desktop", 0.6}},
			Goals:    []Share{{"contact_form", 0.9}},
		}, TypeSupportSeeker},
		{"wide explorers", Input{
			PersonaID: "p-explorers", Size: 820, Share: 0.08,
			Traits: []Trait{
				{"pageviews_per_visit", 14, 3.2, 2.9}, {"clicks_per_visit", 22, 6, 2.4}, {"distinct_paths", 11, 3, 2.7},
			},
			TopPaths: []Share{{"/", 0.1}, {"/collections/:slug", 0.1}, {"/gallery", 0.08}, {"/p/:id", 0.08}},
			Channels: []Share{{"direct", 0.4}, {"referral", 0.3}},
			Devices:  []Share{{"desktop", 0.6}},
		}, TypeExplorer},
		{"newcomers from search and social", Input{
			PersonaID: "p-new", Size: 1500, Share: 0.15,
			Traits: []Trait{
				{"visits", math.Log1p(1), math.Log1p(2.3), -0.9}, {"active_days", math.Log1p(1), math.Log1p(1.8), -0.7}, {"pageviews_per_visit", 3.4, 3.2, 0.1}, {"bounce_rate", 0.4, 0.45, -0.1},
			},
			TopPaths: []Share{{"/", 0.4}, {"/about", 0.05}},
			Channels: []Share{{"search", 0.5}, {"social", 0.35}},
			Devices:  []Share{{"mobile", 0.6}},
		}, TypeNewcomer},
		{"average visitors", Input{
			PersonaID: "p-avg", Size: 2000, Share: 0.2,
			Traits: []Trait{{"pageviews_per_visit", 3.3, 3.2, 0.1}, {"bounce_rate", 0.44, 0.45, 0}},
		}, TypeOther},
	}
}

func TestRuleNameTypes(t *testing.T) {
	t.Parallel()
	for _, p := range profiles() {
		t.Run(p.name, func(t *testing.T) {
			r := RuleName(p.in)
			if r.Type != p.wantType {
				t.Errorf("type = %q, want %q (scores %v)", r.Type, p.wantType, readProfile(p.in).scores())
			}
			if r.NamedBy != NamedByRules {
				t.Errorf("NamedBy = %q, want %q", r.NamedBy, NamedByRules)
			}
			if err := validate(r); err != nil {
				t.Errorf("rule result breaks the answer limits: %v\n%+v", err, r)
			}
			if again := RuleName(p.in); !cmp.Equal(r, again) {
				t.Errorf("RuleName is not deterministic:\n%+v\n%+v", r, again)
			}
		})
	}
}

func TestRuleNamesAreDistinct(t *testing.T) {
	t.Parallel()
	var taken []string
	seen := map[string]string{}
	for _, p := range profiles() {
		in := p.in
		in.Taken = slices.Clone(taken)
		r := RuleName(in)
		key := strings.ToLower(r.Name)
		if other, dup := seen[key]; dup {
			t.Errorf("%s and %s are both named %q", other, p.name, r.Name)
		}
		seen[key] = p.name
		taken = append(taken, r.Name)
		t.Logf("%-40s %-15s %q", p.name, r.Type, r.Name)
	}
	// Even without knowing each other, the typical profiles get different names.
	names := map[string]bool{}
	for _, p := range profiles() {
		names[RuleName(p.in).Name] = true
	}
	if len(names) != len(profiles()) {
		t.Errorf("%d distinct names for %d profiles", len(names), len(profiles()))
	}
}

func TestRuleNameAvoidsTakenNames(t *testing.T) {
	t.Parallel()
	in := profiles()[0].in
	var used []string
	for i := range 30 {
		in.Taken = used
		r := RuleName(in)
		if taken(r.Name, used) {
			t.Fatalf("round %d: %q is already taken", i, r.Name)
		}
		if r.Type != TypeBuyer {
			t.Fatalf("round %d: type changed to %q", i, r.Type)
		}
		used = append(used, strings.ToUpper(r.Name))
	}
}

func TestRuleNameVariesWithSeed(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for i := range 20 {
		in := profiles()[3].in
		in.PersonaID = fmt.Sprintf("persona-%d", i)
		names[RuleName(in).Name] = true
	}
	if len(names) < 3 {
		t.Errorf("20 seeds gave %d names, want variety", len(names))
	}
}

func TestRuleNameEmptyInput(t *testing.T) {
	t.Parallel()
	r := RuleName(Input{})
	if r.Type != TypeOther || r.NamedBy != NamedByRules {
		t.Errorf("RuleName(empty) = %+v, want an 'other' persona by the rules", r)
	}
	if err := validate(r); err != nil {
		t.Errorf("RuleName(empty) breaks the limits: %v", err)
	}
}

func TestRuleNameScrubsData(t *testing.T) {
	t.Parallel()
	in := profiles()[0].in
	in.TopPaths = []Share{{"/cart/jane.doe@example.com", 0.9}}
	in.Channels = []Share{{"bob@example.com", 0.9}}
	r := RuleName(in)
	all := fmt.Sprint(r)
	if strings.Contains(all, "@example.com") {
		t.Errorf("rule result carries personal data: %s", all)
	}
}

func TestIntentOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key    string
		want   intent
		wantOK bool
	}{
		{"/help/orders", iSupport, true},
		{"/account/orders", iSupport, true},
		{"/cart", iBuy, true},
		{"/p/:id", iShop, true},
		{"/category/shoes", iShop, true},
		{"checkout_complete", iBuy, true},
		{"add_to_cart", iBuy, true},
		{"/blog/summer-deals", iDeal, true},
		{"/docs/install", iResearch, true},
		{"/news/:slug", iResearch, true},
		{"newsletter_signup", iNew, true},
		{"/pages/p", iShop, true},
		{"Informational", iResearch, true},
		{"Administrative", iSupport, true},
		{"/", 0, false},
		{"/gallery", 0, false},
		{"/ship", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := intentOf(tt.key)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("intentOf(%q) = %v, %v; want %v, %v", tt.key, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestRuleTypeFromColumnNames: a project that trains on its own feature names (here the online
// shoppers data's columns, CamelCase and all) still gets the type its traits describe.
func TestRuleTypeFromColumnNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		traits []Trait
		want   []string // any of
	}{
		{"bouncing", []Trait{{"BounceRates", 0.2, 0.02, 3}, {"ExitRates", 0.2, 0.04, 2.5}, {"ProductRelated", 1, 32, -1.5},
			{"ProductRelated_Duration", 0, 1200, -2}, {"PageValues", 0, 6, -0.5}}, []string{TypeBrowser}},
		{"buying", []Trait{{"PageValues", 40, 6, 2.5}, {"ProductRelated", 50, 32, 1}, {"ProductRelated_Duration", 2000, 1200, 0.8},
			{"BounceRates", 0.005, 0.02, -0.5}}, []string{TypeBuyer}},
		{"reading information pages", []Trait{{"Informational", 4, 0.5, 2.5}, {"Informational_Duration", 300, 35, 2}, {"PageValues", 2, 6, -0.3}},
			[]string{TypeResearcher}},
		{"managing an account", []Trait{{"Administrative", 9, 2.3, 2.5}, {"Administrative_Duration", 300, 80, 1.5}}, []string{TypeSupportSeeker}},
		{"long product sessions without buying", []Trait{{"ProductRelated", 150, 32, 2.5}, {"ProductRelated_Duration", 6000, 1200, 2},
			{"PageValues", 6, 6, 0}}, []string{TypeResearcher, TypeExplorer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := RuleName(Input{PersonaID: tt.name, Size: 500, Share: 0.1, Traits: tt.traits})
			if !slices.Contains(tt.want, r.Type) {
				t.Errorf("typed %s (%q), want one of %v", r.Type, r.Name, tt.want)
			}
		})
	}
}

// TestRuleTypeConditions: types whose members must meet a condition are refused when they do
// not, whatever the other signals say.
func TestRuleTypeConditions(t *testing.T) {
	t.Parallel()
	lg := math.Log1p
	tests := []struct {
		name    string
		in      Input
		notType string
		want    string
	}{
		{"returning visitors from search are no newcomers", Input{
			Traits:   []Trait{{"visits", lg(4), lg(1.9), 1.3}, {"active_days", lg(3.5), lg(1.6), 1.2}, {"bounce_rate", 0.2, 0.3, -0.3}},
			Channels: []Share{{"search", 0.6}, {"social", 0.3}},
			TopPaths: []Share{{"/", 0.4}, {"/about", 0.2}},
		}, TypeNewcomer, ""},
		{"one-visit visitors from search are newcomers", Input{
			Traits:   []Trait{{"visits", lg(1), lg(1.9), -1.3}, {"active_days", lg(1), lg(1.6), -1.2}, {"bounce_rate", 0.25, 0.3, -0.2}},
			Channels: []Share{{"search", 0.6}, {"social", 0.3}},
			TopPaths: []Share{{"/", 0.4}, {"/about", 0.2}},
		}, "", TypeNewcomer},
		{"the email channel alone is no deal", Input{
			Traits:   []Trait{{"channel:email", 0.9, 0.1, 3}, {"time_per_page", lg(60), lg(36), 0.8}},
			Channels: []Share{{"email", 0.9}},
			TopPaths: []Share{{"/news", 0.5}, {"/p", 0.3}},
		}, TypeDealSeeker, ""},
		{"coupons make a deal seeker", Input{
			Traits:    []Trait{{"path:/deals", 0.5, 0.1, 2.5}, {"channel:email", 0.9, 0.1, 3}},
			Channels:  []Share{{"email", 0.9}},
			TopPaths:  []Share{{"/deals", 0.5}, {"/p", 0.3}},
			GoalLifts: []GoalLift{{"coupon_applied", 80, 0.4, 0.1, 4, 3.5, 4.5}},
		}, "", TypeDealSeeker},
		{"cart pages without buying more than others make no buyer", Input{
			Traits:    []Trait{{"path:/cart", 0.4, 0.1, 2}, {"path:/checkout", 0.2, 0.05, 2}},
			TopPaths:  []Share{{"/cart", 0.4}, {"/checkout", 0.2}},
			GoalLifts: []GoalLift{{"any", 20, 0.1, 0.2, 0.5, 0.3, 0.8}, {"purchase", 10, 0.05, 0.1, 0.5, 0.3, 0.8}},
		}, TypeBuyer, ""},
		{"many visits on one day make no loyal reader", Input{
			Traits:   []Trait{{"visits", lg(6), lg(1.9), 2}, {"active_days", lg(1), lg(1.6), -0.5}},
			Channels: []Share{{"direct", 0.9}},
		}, TypeLoyal, ""},
		{"flat shares and small z are noise", Input{
			Traits:   []Trait{{"time_per_page", lg(40), lg(36), 0.3}, {"device:tablet", 0.33, 0.05, 2}},
			Channels: []Share{{"direct", 0.2}, {"search", 0.2}, {"email", 0.2}, {"social", 0.2}, {"campaign", 0.2}},
			Devices:  []Share{{"desktop", 0.34}, {"mobile", 0.33}, {"tablet", 0.33}},
			TopPaths: []Share{{"/", 0.25}, {"/p", 0.25}, {"/deals", 0.25}, {"/help", 0.25}},
		}, "", TypeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RuleName(tt.in).Type
			if tt.notType != "" && got == tt.notType {
				t.Errorf("type = %s, which the members are not (scores %v)", got, readProfile(tt.in).scores())
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("type = %s, want %s (scores %v)", got, tt.want, readProfile(tt.in).scores())
			}
		})
	}
}
