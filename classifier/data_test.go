package classifier_test

import (
	"encoding/binary"
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// shoppersPath is the shared UCI online shoppers data, relative to this package.
const shoppersPath = "../../shared/data/online_shoppers_intention.csv"

// loadShoppers prepares the online shoppers data exactly as bench/sklearn_anchor.py does: the 9
// numeric columns, log1p of columns 0-5 and 8, z-scores with the population standard deviation.
func loadShoppers(tb testing.TB) (X []float64, n, d int) {
	tb.Helper()
	f, err := os.Open(shoppersPath)
	if err != nil {
		tb.Fatalf("open shoppers data: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatalf("read shoppers data: %v", err)
	}
	cols := []string{"Administrative", "Administrative_Duration", "Informational", "Informational_Duration",
		"ProductRelated", "ProductRelated_Duration", "BounceRates", "ExitRates", "PageValues"}
	idx := make([]int, len(cols))
	for j, c := range cols {
		idx[j] = -1
		for i, h := range rows[0] {
			if h == c {
				idx[j] = i
			}
		}
		if idx[j] < 0 {
			tb.Fatalf("shoppers data has no column %q", c)
		}
	}
	d = len(cols)
	rows = rows[1:]
	n = len(rows)
	X = make([]float64, n*d)
	for i, r := range rows {
		for j, c := range idx {
			v, err := strconv.ParseFloat(r[c], 64)
			if err != nil {
				tb.Fatalf("shoppers row %d column %s: %v", i+1, cols[j], err)
			}
			if j <= 5 || j == 8 {
				v = math.Log1p(v)
			}
			X[i*d+j] = v
		}
	}
	standardize(X, n, d)
	return X, n, d
}

// standardize turns every column into z-scores with the population standard deviation.
func standardize(X []float64, n, d int) {
	for j := range d {
		var m float64
		for i := range n {
			m += X[i*d+j]
		}
		m /= float64(n)
		var s float64
		for i := range n {
			v := X[i*d+j] - m
			s += v * v
		}
		sd := math.Sqrt(s / float64(n))
		for i := range n {
			X[i*d+j] = (X[i*d+j] - m) / sd
		}
	}
}

// blobs is the data of the clustering speed comparison: read from the raw float64 file named by
// PERSONAS_BLOBS (written by bench/make_blobs.py, 24 columns), or generated like make_blobs.py:
// k centres ~ N(0, 3²), uniform labels, noise sd 1.5, seed 1.
func blobs(tb testing.TB, n, d, k int) []float64 {
	tb.Helper()
	if path := os.Getenv("PERSONAS_BLOBS"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("read blobs: %v", err)
		}
		if len(b) != n*d*8 {
			tb.Fatalf("blobs file %s has %d bytes, want %d × %d float64", path, len(b), n, d)
		}
		X := make([]float64, n*d)
		for i := range X {
			X[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[i*8:]))
		}
		return X
	}
	X, _ := mixture(rand.New(rand.NewPCG(1, 0)), n, d, k, 3, 1.5)
	return X
}

// mixture draws n rows around k centres ~ N(0, spread²) with isotropic noise sd, labels uniform.
func mixture(rng *rand.Rand, n, d, k int, spread, sd float64) ([]float64, []int) {
	C := make([]float64, k*d)
	for i := range C {
		C[i] = rng.NormFloat64() * spread
	}
	X := make([]float64, n*d)
	labels := make([]int, n)
	for i := range n {
		l := rng.IntN(k)
		labels[i] = l
		for j := range d {
			X[i*d+j] = C[l*d+j] + rng.NormFloat64()*sd
		}
	}
	return X, labels
}
