package classifier

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// rowChunk is the number of rows one unit of parallel work covers. Chunks are fixed in size, not
// in number, so per-chunk partial sums reduced in chunk order give the same floating-point result
// on any number of cores.
const rowChunk = 2048

// numChunks is how many chunks of size rows cover n rows.
func numChunks(n, size int) int { return (n + size - 1) / size }

// forChunks calls fn for every chunk [lo, hi) of n rows in chunks of size rows, with one worker
// per core (runtime.GOMAXPROCS) pulling chunks from a shared counter. fn gets the chunk index so
// it can write partial results into a slot of its own. forChunks returns when every chunk is done.
func forChunks(n, size int, fn func(chunk, lo, hi int)) {
	nc := numChunks(n, size)
	workers := min(runtime.GOMAXPROCS(0), nc)
	if workers <= 1 {
		for c := range nc {
			fn(c, c*size, min(n, (c+1)*size))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= nc {
					return
				}
				fn(c, c*size, min(n, (c+1)*size))
			}
		})
	}
	wg.Wait()
}

// sqDist is the squared Euclidean distance between a and b (len(b) ≥ len(a)). Four accumulators
// break the dependency chain of the additions; reslicing lets the compiler drop bounds checks.
func sqDist(a, b []float64) float64 {
	var s0, s1, s2, s3 float64
	for len(a) >= 4 && len(b) >= 4 {
		d0 := a[0] - b[0]
		d1 := a[1] - b[1]
		d2 := a[2] - b[2]
		d3 := a[3] - b[3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		a, b = a[4:], b[4:]
	}
	b = b[:len(a)]
	for i, v := range a {
		d0 := v - b[i]
		s0 += d0 * d0
	}
	return (s0 + s1) + (s2 + s3)
}

// nearest returns the index of the centroid (k rows of len(x) in c) closest to x, and the
// squared distance to it.
func nearest(x, c []float64, k int) (int, float64) {
	d := len(x)
	best, bestD := 0, sqDist(x, c[:d])
	for j := 1; j < k; j++ {
		if dj := sqDist(x, c[j*d:(j+1)*d]); dj < bestD {
			best, bestD = j, dj
		}
	}
	return best, bestD
}

// newRand is the package's random source: PCG seeded by the caller's seed and a stream constant
// naming the use, so independent uses of one seed do not share draws.
func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
