package classifier

import "math"

// Silhouette is the mean silhouette coefficient of the n × d row-major matrix X labelled with k
// clusters: for each row, (b − a) / max(a, b), with a the mean distance to the other rows of its
// cluster and b the smallest mean distance to the rows of another cluster; rows alone in their
// cluster count 0, as in scikit-learn. It costs n² distances, so callers pass a sample of large
// data (Train samples TrainOptions.SampleSize rows). It is NaN when fewer than two clusters are
// populated.
func Silhouette(X []float64, n, d int, labels []int, k int) float64 {
	return silhouettes(X, n, d, [][]int{labels}, []int{k})[0]
}

// silhouettes scores several labellings of the same rows at once: the n² distances, the costly
// part, are computed once and shared.
func silhouettes(X []float64, n, d int, labelings [][]int, ks []int) []float64 {
	offs := make([]int, len(ks)+1)
	for l, k := range ks {
		offs[l+1] = offs[l] + k
	}
	sizes := make([]int, offs[len(ks)])
	out := make([]float64, len(ks))
	for l, lab := range labelings {
		populated := 0
		for _, c := range lab[:n] {
			if c >= 0 && c < ks[l] {
				if sizes[offs[l]+c] == 0 {
					populated++
				}
				sizes[offs[l]+c]++
			}
		}
		if populated < 2 {
			out[l] = math.NaN()
		}
	}
	const rows = 32
	nc := numChunks(n, rows)
	part := make([]float64, nc*len(ks))
	forChunks(n, rows, func(ch, lo, hi int) {
		sums := make([]float64, len(sizes))
		p := part[ch*len(ks) : (ch+1)*len(ks)]
		for i := lo; i < hi; i++ {
			clear(sums)
			x := X[i*d : (i+1)*d]
			for j := range n {
				if j == i {
					continue
				}
				dist := math.Sqrt(sqDist(x, X[j*d:(j+1)*d]))
				for l, lab := range labelings {
					if c := lab[j]; c >= 0 && c < ks[l] {
						sums[offs[l]+c] += dist
					}
				}
			}
			for l, lab := range labelings {
				own := lab[i]
				if own < 0 || own >= ks[l] || sizes[offs[l]+own] < 2 {
					continue // a lone row scores 0
				}
				a := sums[offs[l]+own] / float64(sizes[offs[l]+own]-1)
				b := math.Inf(1)
				for c := range ks[l] {
					if c != own && sizes[offs[l]+c] > 0 {
						b = min(b, sums[offs[l]+c]/float64(sizes[offs[l]+c]))
					}
				}
				if math.IsInf(b, 1) || max(a, b) == 0 {
					continue
				}
				p[l] += (b - a) / max(a, b)
			}
		}
	})
	for l := range ks {
		if math.IsNaN(out[l]) {
			continue
		}
		var s float64
		for ch := range nc {
			s += part[ch*len(ks)+l]
		}
		out[l] = s / float64(n)
	}
	return out
}

// AdjustedRandIndex measures the agreement of two labellings of the same items, corrected for
// chance: 1 for identical partitions (whatever the label numbers), about 0 for independent ones.
// Labels may be any integers. Two trivial partitions (one cluster each, or one item each) score 1,
// as in scikit-learn. It is NaN when the lengths differ.
func AdjustedRandIndex(a, b []int) float64 {
	if len(a) != len(b) {
		return math.NaN()
	}
	n := len(a)
	type pair struct{ a, b int }
	joint := make(map[pair]int)
	ca := make(map[int]int)
	cb := make(map[int]int)
	for i := range a {
		joint[pair{a[i], b[i]}]++
		ca[a[i]]++
		cb[b[i]]++
	}
	choose2 := func(m int) float64 { return float64(m) * float64(m-1) / 2 }
	var index, sa, sb float64
	for _, m := range joint {
		index += choose2(m)
	}
	for _, m := range ca {
		sa += choose2(m)
	}
	for _, m := range cb {
		sb += choose2(m)
	}
	total := choose2(n)
	if total == 0 {
		return 1
	}
	expected := sa * sb / total
	maxIndex := (sa + sb) / 2
	if maxIndex == expected {
		return 1
	}
	return (index - expected) / (maxIndex - expected)
}
