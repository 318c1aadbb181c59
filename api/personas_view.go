package api

import (
	"encoding/json"

	"personas/classifier"
	"personas/models"
)

// The training job stores a persona's statistics and a model's metrics as the classifier's
// structs encode them (Go field names). The API answers them in its own snake_case shapes,
// below, converted at the edge: the stored rows keep their format.

// traitsBody is a persona's aggregate statistics, as GET …/personas answers them in traits.
type traitsBody struct {
	Size      int         `json:"size"`
	Share     float64     `json:"share"`
	Traits    []traitBody `json:"traits"`
	TopPaths  []shareBody `json:"top_paths"`
	Channels  []shareBody `json:"channels"`
	Devices   []shareBody `json:"devices"`
	Hours     []shareBody `json:"hours"`
	Goals     []shareBody `json:"goals"`
	GoalLifts []goalLift  `json:"goal_lifts"`
}

// traitBody is one feature of a persona: its mean, the population's, and the z-score.
type traitBody struct {
	Feature    string  `json:"feature"`
	Value      float64 `json:"value"`
	Population float64 `json:"population"`
	Z          float64 `json:"z"`
}

// shareBody is one key's share (a path group, channel, device class, part of the day or goal).
type shareBody struct {
	Key   string  `json:"key"`
	Share float64 `json:"share"`
}

// traitsAnswer converts stored statistics; a persona without them (or with unreadable ones)
// answers empty lists.
func traitsAnswer(raw json.RawMessage) traitsBody {
	var st classifier.PersonaStats
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &st) // written by the training job; a bad row reads as empty
	}
	shares := func(in []classifier.Share) []shareBody {
		out := make([]shareBody, len(in))
		for i, s := range in {
			out[i] = shareBody{Key: s.Key, Share: s.Share}
		}
		return out
	}
	b := traitsBody{Size: st.Size, Share: st.Share, Traits: make([]traitBody, len(st.Traits)),
		TopPaths: shares(st.TopPaths), Channels: shares(st.Channels), Devices: shares(st.Devices),
		Hours: shares(st.Hours), Goals: shares(st.Goals), GoalLifts: make([]goalLift, len(st.GoalLifts))}
	for i, t := range st.Traits {
		b.Traits[i] = traitBody{Feature: t.Feature, Value: t.Value, Population: t.Population, Z: t.Z}
	}
	for i, g := range st.GoalLifts {
		b.GoalLifts[i] = goalLift{Goal: g.Goal, Visitors: g.Visitors, Rate: g.Rate, PopulationRate: g.PopulationRate,
			Lift: g.Lift, Low: g.Low, High: g.High}
	}
	return b
}

// metricsBody is a model's quality as the API answers it.
type metricsBody struct {
	N                int         `json:"n"`
	ChosenK          int         `json:"chosen_k"`
	Inertia          float64     `json:"inertia"`
	Silhouette       float64     `json:"silhouette"`
	LogLikelihood    float64     `json:"log_likelihood"`
	KScores          []kScoreRow `json:"k_scores"`
	Noise            float64     `json:"noise"`
	CalibrationError []float64   `json:"calibration_error"`
}

// kScoreRow is how one candidate k fared.
type kScoreRow struct {
	K          int     `json:"k"`
	Clusters   int     `json:"clusters"`
	Silhouette float64 `json:"silhouette"`
	ICL        float64 `json:"icl"`
}

func metricsAnswer(raw json.RawMessage) metricsBody {
	var m classifier.Metrics
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m) // written by the training job; a bad row reads as zero
	}
	b := metricsBody{N: m.N, ChosenK: m.ChosenK, Inertia: m.Inertia, Silhouette: m.Silhouette,
		LogLikelihood: m.LogLikelihood, KScores: make([]kScoreRow, len(m.KScores)), Noise: m.Noise,
		CalibrationError: m.CalibrationError}
	if b.CalibrationError == nil {
		b.CalibrationError = []float64{}
	}
	for i, k := range m.KScores {
		b.KScores[i] = kScoreRow{K: k.K, Clusters: k.Clusters, Silhouette: k.Silhouette, ICL: k.ICL}
	}
	return b
}

// modelBody is a model version in GET …/models.
type modelBody struct {
	models.ModelInfo
	Metrics metricsBody `json:"metrics"`
}
