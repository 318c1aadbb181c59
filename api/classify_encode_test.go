package api

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/uuid"

	"personas/classify"
)

// TestClassifyJSONAsEncodingJSON: the hand-written encoder of the classify answer writes what
// encoding/json writes for the contract's ClassifyResponse, byte for byte, for every reason,
// awkward names and figures; non-finite figures are left to encoding/json.
func TestClassifyJSONAsEncodingJSON(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0b8f6f5e-6c1a-4c55-9a3e-2f4f3c2d1e0f")
	ref := func(name, typ string) *classify.PersonaRef {
		return &classify.PersonaRef{ID: id, IDText: id.String(), Name: name, Type: typ}
	}
	probs := []classify.Probability{{PersonaID: id.String(), P: 0.8123}, {PersonaID: uuid.Nil.String(), P: 0.0001}, {PersonaID: "x", P: 0}}
	answers := []classify.Answer{
		{Probabilities: []classify.Probability{}, Reason: classify.ReasonNoModel},
		{Probabilities: []classify.Probability{}, ModelVersion: 3, Reason: classify.ReasonUnknownVisitor},
		{Persona: ref("Deal Seekers", "deal_seeker"), Confidence: 0.8123, Probabilities: probs, ModelVersion: 12, Reason: classify.ReasonOK},
		{Confidence: 1, Probabilities: probs[:1], ModelVersion: 1, Reason: classify.ReasonOutlier},
		{Persona: ref(`Les "Curieux" \ <b>&</b>`, "explorer"), Confidence: 0.5, Probabilities: probs, ModelVersion: 2, Reason: classify.ReasonOK},
		{Persona: ref("Käufer 🛒 \u2028 \x7f \xff", "buyer"), Confidence: 1e-7, Probabilities: []classify.Probability{{PersonaID: "y", P: 1e21}}, ModelVersion: 2, Reason: classify.ReasonOK},
	}
	for i, a := range answers {
		want, err := json.Marshal(classifyResponse(&a))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendClassifyJSON(nil, &a)
		if !ok || string(got) != string(want) {
			t.Errorf("answer %d:\n got %s (%v)\nwant %s", i, got, ok, want)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1)} {
		a := classify.Answer{Confidence: bad, Probabilities: []classify.Probability{}, Reason: classify.ReasonOK}
		if _, ok := appendClassifyJSON(nil, &a); ok {
			t.Errorf("confidence %v encoded", bad)
		}
		a = classify.Answer{Probabilities: []classify.Probability{{PersonaID: "z", P: bad}}, Reason: classify.ReasonOK}
		if _, ok := appendClassifyJSON(nil, &a); ok {
			t.Errorf("probability %v encoded", bad)
		}
	}
}
