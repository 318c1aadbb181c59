package enrichment

import "strings"

// Share is one key (a path group, channel, device class, hour or goal) and the share of the
// persona's activity it accounts for, between 0 and 1.
type Share struct {
	Key   string  `json:"key"`
	Share float64 `json:"share"`
}

// Trait compares one feature of a persona with the whole population: the persona's mean, the
// population's mean and the persona's distance from it in standard deviations.
type Trait struct {
	Feature    string  `json:"feature"`
	Value      float64 `json:"value"`
	Population float64 `json:"population"`
	Z          float64 `json:"z"`
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
	// TopPaths, Channels, Devices, Hours and Goals are the persona's largest shares of each.
	TopPaths, Channels, Devices, Hours, Goals []Share
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

// taken reports whether name is one of the names in list, ignoring case and surrounding space.
func taken(name string, list []string) bool {
	n := strings.TrimSpace(name)
	for _, t := range list {
		if strings.EqualFold(n, strings.TrimSpace(t)) {
			return true
		}
	}
	return false
}
