package enrichment

import "personas/models"

// Share is one key (a path group, channel, device class, hour or goal) and the share of the
// persona's activity it accounts for, between 0 and 1.
type Share struct {
	Key   string  `json:"key"`
	Share float64 `json:"share"`
}

// Trait compares one feature of a persona with the whole population: the persona's mean, the
// population's mean and the persona's distance from it in standard deviations. Values are means
// of the raw features of classifier.Schema.Vector (some of them log1p); models.FeatureFigure
// reads them in human units.
type Trait struct {
	Feature    string  `json:"feature"`
	Value      float64 `json:"value"`
	Population float64 `json:"population"`
	Z          float64 `json:"z"`
}

// GoalLift is a persona's conversion on one goal against all visitors: rates are shares of
// visitors who reached the goal at least once, Lift their ratio, Low and High its 95 % interval.
type GoalLift struct {
	Goal           string  `json:"goal"`
	Visitors       int     `json:"visitors"`
	Rate           float64 `json:"rate"`
	PopulationRate float64 `json:"population_rate"`
	Lift           float64 `json:"lift"`
	Low            float64 `json:"low"`
	High           float64 `json:"high"`
}

// BusinessContext is what the project wrote about itself to guide the naming. It is sent to the
// model as the project wrote it, and never logged.
type BusinessContext struct {
	Goals    string `json:"goals"`
	Industry string `json:"industry"`
	Audience string `json:"audience"`
	Notes    string `json:"notes"`
}

// Input is everything known about one persona when it is named. It holds only k-anonymous
// aggregates.
type Input struct {
	// PersonaID seeds the rule-based namer and the avatar; it is never sent to the model.
	PersonaID string
	// Size is the number of visitors in the persona and Share its share of all visitors.
	Size  int
	Share float64
	// Traits are the persona's features compared with the population.
	Traits []Trait
	// TopPaths, Channels, Devices, Hours and Goals are the persona's largest shares of each:
	// path groups of its page views, channels and devices of its visits, hour buckets (night,
	// morning, afternoon, evening) of its activity, goals of its visitors (who reached each).
	TopPaths, Channels, Devices, Hours, Goals []Share
	// GoalLifts compare, per goal ("any" first), the share of the persona's visitors who reached
	// it with all visitors'. When set, texts state goals from them rather than from Goals.
	GoalLifts []GoalLift
	// PageLabels names path groups for people; the defaults of models.DefaultPageLabel fill in.
	PageLabels models.PageLabels
	// Context is the project's business context.
	Context BusinessContext
	// Taken holds the names of the project's other personas, so that a new name differs.
	Taken []string
}

// Result is a persona's name and description, ready to be stored.
type Result struct {
	Name             string   `json:"name"`
	Type             string   `json:"type"`
	Tagline          string   `json:"tagline"`
	Summary          string   `json:"summary"`
	Goals            []string `json:"goals"`
	Frustrations     []string `json:"frustrations"`
	SuggestedActions []string `json:"suggested_actions"`
	// NamedBy says who wrote the result: NamedByLLM or NamedByRules.
	NamedBy string `json:"named_by"`
}

// Who named a persona, as stored in Result.NamedBy.
const (
	NamedByLLM   = "llm"
	NamedByRules = "rules"
)

// Persona types, the only values Result.Type takes.
const (
	TypeExplorer      = "explorer"
	TypeResearcher    = "researcher"
	TypeBuyer         = "buyer"
	TypeDealSeeker    = "deal_seeker"
	TypeLoyal         = "loyal"
	TypeSupportSeeker = "support_seeker"
	TypeBrowser       = "browser"
	TypeNewcomer      = "newcomer"
	TypeOther         = "other"
)

// Types lists every persona type, in a fixed order. The slice is the caller's to keep.
func Types() []string {
	return []string{
		TypeExplorer, TypeResearcher, TypeBuyer, TypeDealSeeker, TypeLoyal,
		TypeSupportSeeker, TypeBrowser, TypeNewcomer, TypeOther,
	}
}

// ValidType reports whether t is one of the persona types.
func ValidType(t string) bool {
	switch t {
	case TypeExplorer, TypeResearcher, TypeBuyer, TypeDealSeeker, TypeLoyal,
		TypeSupportSeeker, TypeBrowser, TypeNewcomer, TypeOther:
		return true
	}
	return false
}

// Limits of the answer's fields, in characters (Unicode code points) and list items.
const (
	MaxNameLen    = 40
	MaxTaglineLen = 80
	MaxSummaryLen = 600
	MaxItemLen    = 120
	MinItems      = 1
	MaxItems      = 5
)

// taken reports whether name is one of the names in list, ignoring case and surrounding space,
// as the database's unique index on a project's current persona names does.
func taken(name string, list []string) bool { return models.NameTaken(name, list) }

// pageLabel names a path group: the project's label or the default.
func (in Input) pageLabel(group string) string { return in.PageLabels.Label(group) }
