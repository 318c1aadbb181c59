package quality

import (
	"math"

	"personas/classifier"
)

// ARI is the adjusted Rand index of two labellings of the same items (Hubert and Arabie), the
// classifier's own: 1 for the same partition up to renaming, about 0 for independent ones. Labels
// are any ints; a label of -1 is a cluster like any other.
func ARI(truth, got []int) float64 {
	if len(truth) != len(got) {
		panic("ARI: labellings of different lengths")
	}
	return classifier.AdjustedRandIndex(truth, got)
}

// Prediction is one answer with its stated confidence and whether it was right.
type Prediction struct {
	Confidence float64
	Correct    bool
}

// ECE is the expected calibration error of predictions over bins equal-width bins of
// confidence: the mean, weighted by the bins' sizes, of |accuracy − mean confidence| in each
// bin. A confidence of exactly 1 falls in the last bin. It is NaN without predictions.
func ECE(ps []Prediction, bins int) float64 {
	if len(ps) == 0 {
		return math.NaN()
	}
	n := make([]float64, bins)
	conf := make([]float64, bins)
	right := make([]float64, bins)
	for _, p := range ps {
		b := min(max(int(p.Confidence*float64(bins)), 0), bins-1)
		n[b]++
		conf[b] += p.Confidence
		if p.Correct {
			right[b]++
		}
	}
	var e float64
	for b := range n {
		if n[b] > 0 {
			e += n[b] / float64(len(ps)) * math.Abs(right[b]/n[b]-conf[b]/n[b])
		}
	}
	return e
}

// majority is, per cluster, the truth label most of its items have (ties: the smaller label),
// ignoring items whose truth is skip.
func majority(truth, got []int, skip int) map[int]int {
	counts := map[int]map[int]int{}
	for i := range truth {
		if truth[i] == skip {
			continue
		}
		if counts[got[i]] == nil {
			counts[got[i]] = map[int]int{}
		}
		counts[got[i]][truth[i]]++
	}
	out := map[int]int{}
	for c, byTruth := range counts {
		best, bestN := 0, -1
		for t, n := range byTruth {
			if n > bestN || n == bestN && t < best {
				best, bestN = t, n
			}
		}
		out[c] = best
	}
	return out
}
