package classifier

import "math"

// Hungarian solves the assignment problem for a rows × cols cost matrix (rows of equal length):
// it returns, for every row, the column assigned to it, or -1 when there are more rows than
// columns and the row is left out, so that the total cost is the least possible. Non-finite costs
// are treated as larger than every finite one. It runs in O(rows² · cols) (Kuhn–Munkres with
// potentials).
func Hungarian(cost [][]float64) []int {
	rows := len(cost)
	if rows == 0 {
		return nil
	}
	cols := len(cost[0])
	for _, r := range cost {
		cols = min(cols, len(r))
	}
	out := make([]int, rows)
	for i := range out {
		out[i] = -1
	}
	if cols == 0 {
		return out
	}
	// Replace non-finite costs by a finite value larger than any sum of finite ones.
	big := 0.0
	for _, r := range cost {
		for _, v := range r[:cols] {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				big = max(big, math.Abs(v))
			}
		}
	}
	big = (big + 1) * float64(rows+cols+1)
	at := func(i, j int) float64 {
		v := cost[i][j]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return big
		}
		return v
	}
	if rows <= cols {
		for i, j := range assignRows(rows, cols, at) {
			out[i] = j
		}
		return out
	}
	// More rows than columns: assign columns to rows on the transpose.
	for j, i := range assignRows(cols, rows, func(j, i int) float64 { return at(i, j) }) {
		out[i] = j
	}
	return out
}

// assignRows is the O(n²m) Hungarian algorithm for n ≤ m: it returns the column of every row.
func assignRows(n, m int, cost func(i, j int) float64) []int {
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1) // p[j]: row (1-based) matched to column j; p[0] is the row being added
	way := make([]int, m+1)
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				if cur := cost(i0-1, j-1) - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	res := make([]int, n)
	for j := 1; j <= m; j++ {
		if p[j] > 0 {
			res[p[j]-1] = j - 1
		}
	}
	return res
}
