package classifier_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"personas/classifier"
)

// The speed comparison with scikit-learn (bench/sklearn_anchor.py on bench/make_blobs.py data):
// 1,000,000 × 24, k=8. Set PERSONAS_BLOBS to the .f64 file make_blobs.py wrote to run on the very
// same values; otherwise an equivalent generator draws them.
const (
	benchN = 1_000_000
	benchD = 24
	benchK = 8
)

func BenchmarkKMeansLloyd(b *testing.B) {
	X := blobs(b, benchN, benchD, benchK)
	var res classifier.KMeansResult
	for b.Loop() {
		var err error
		res, err = classifier.KMeans(X, benchN, benchD, benchK, classifier.KMeansOptions{Starts: 10, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(res.Inertia, "inertia")
}

// BenchmarkMiniBatchKMeans also reports the process's CPU time per run (cpu-ms/op, every thread,
// the runtime's included): on a shared machine it moves less with the load than the wall time.
func BenchmarkMiniBatchKMeans(b *testing.B) {
	X := blobs(b, benchN, benchD, benchK)
	var res classifier.KMeansResult
	cpu0, runs := cpuTime(), 0
	for b.Loop() {
		var err error
		res, err = classifier.MiniBatchKMeans(X, benchN, benchD, benchK, classifier.MiniBatchOptions{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		runs++
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(runs), "cpu-ms/op")
	b.ReportMetric(res.Inertia, "inertia")
	b.ReportMetric(float64(res.Iter), "steps")
}

// cpuTime is the user and system time of the whole process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGMMDiag times what scikit-learn's GaussianMixture(covariance_type='diag') does in its
// fit: a k-means initialisation (mini-batch here) and EM.
func BenchmarkGMMDiag(b *testing.B) {
	X := blobs(b, benchN, benchD, benchK)
	var g classifier.GMM
	for b.Loop() {
		km, err := classifier.MiniBatchKMeans(X, benchN, benchD, benchK, classifier.MiniBatchOptions{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		g, err = classifier.FitGMM(X, benchN, benchD, benchK, km.Centroids, classifier.GMMOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(g.Iter), "iter")
	b.ReportMetric(g.LogLikelihood, "loglik/row")
}

// BenchmarkShoppers is the online shoppers comparison (k=6): Lloyd with 10 starts and mini-batch.
func BenchmarkShoppers(b *testing.B) {
	X, n, d := loadShoppers(b)
	b.Run("lloyd", func(b *testing.B) {
		var res classifier.KMeansResult
		for b.Loop() {
			res, _ = classifier.KMeans(X, n, d, 6, classifier.KMeansOptions{Starts: 10, Seed: 1})
		}
		b.ReportMetric(res.Inertia, "inertia")
	})
	b.Run("minibatch", func(b *testing.B) {
		var res classifier.KMeansResult
		for b.Loop() {
			res, _ = classifier.MiniBatchKMeans(X, n, d, 6, classifier.MiniBatchOptions{Seed: 1})
		}
		b.ReportMetric(res.Inertia, "inertia")
	})
	b.Run("gmm", func(b *testing.B) {
		km, _ := classifier.KMeans(X, n, d, 6, classifier.KMeansOptions{Starts: 1, Seed: 1})
		var g classifier.GMM
		for b.Loop() {
			g, _ = classifier.FitGMM(X, n, d, 6, km.Centroids, classifier.GMMOptions{})
		}
		b.ReportMetric(float64(g.Iter), "iter")
	})
}

// wideModel trains a model with 64 features and k=12 on random visitors: the largest model
// Classify serves.
func wideModel(b *testing.B) *classifier.Model {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(keys []string) map[string]int64 {
		m := map[string]int64{}
		for range 3 {
			m[keys[rng.IntN(len(keys))]] += 1 + rng.Int64N(5)
		}
		return m
	}
	var paths []string
	for i := range 30 {
		paths = append(paths, fmt.Sprintf("/s%d", i))
	}
	elements := []string{"button", "link", "nav", "cta", "form", "media", "other"}
	channels := []string{"direct", "search", "social", "referral", "email", "campaign"}
	devices := []string{"desktop", "mobile", "tablet", "other"}
	goals := []string{"g1", "g2", "g3", "g4", "g5", "g6"}
	pop := make([]classifier.Aggregates, 3000)
	for i := range pop {
		v := 1 + rng.Int64N(20)
		first := trainNow.Add(-time.Duration(rng.IntN(90*24)) * time.Hour)
		a := classifier.Aggregates{Visits: v, PageViews: v + rng.Int64N(50), Clicks: rng.Int64N(40), Goals: rng.Int64N(3),
			Bounces: rng.Int64N(v + 1), TimeMS: rng.Int64N(1e7), ScrollSum: rng.Float64() * 10, ScrollCount: 10,
			FirstSeen: first, LastSeen: first.Add(time.Duration(rng.IntN(48)) * time.Hour), ActiveDays: 1 + rng.Int64N(v),
			Paths: pick(paths), Elements: pick(elements), Channels: pick(channels), Devices: pick(devices), GoalNames: pick(goals)}
		for h := range a.Hours {
			a.Hours[h] = rng.Int64N(3)
		}
		for d := range a.Weekdays {
			a.Weekdays[d] = rng.Int64N(3)
		}
		pop[i] = a
	}
	res, err := classifier.Train(pop, trainNow, classifier.TrainOptions{FixedK: 12, MinClusterSize: 20, Seed: 1,
		Schema: classifier.SchemaOptions{MaxPaths: 100}})
	if err != nil {
		b.Fatal(err)
	}
	return res.Model
}

// BenchmarkClassify is one visitor's assignment (target < 20 µs for k ≤ 12 and 64 features).
func BenchmarkClassify(b *testing.B) {
	m := wideModel(b)
	pop, _ := population(1, []int{1, 1, 1, 1})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Classify(pop[i%len(pop)], trainNow)
		i++
	}
	b.ReportMetric(float64(m.K), "k")
	b.ReportMetric(float64(m.Scaler.D()), "features")
}

// BenchmarkTrain is a whole training run on 20,000 visitors, choosing k in 2..12.
func BenchmarkTrain(b *testing.B) {
	pop, _ := population(1, []int{8000, 6000, 4000, 2000})
	var res *classifier.Result
	for b.Loop() {
		var err error
		res, err = classifier.Train(pop, trainNow, classifier.TrainOptions{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Model.K), "k")
}
