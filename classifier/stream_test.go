package classifier_test

import (
	"errors"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"personas/classifier"
)

// reusingSource streams pop the way a database cursor does: one Aggregates value whose maps are
// cleared and refilled for every visitor, so a TrainSource that kept a pointer or a map would
// see them change.
func reusingSource(pop []classifier.Aggregates, passes *int) classifier.Source {
	var a classifier.Aggregates
	refill := func(dst *map[string]int64, src map[string]int64) {
		if *dst == nil {
			*dst = map[string]int64{}
		}
		clear(*dst)
		maps.Copy(*dst, src)
	}
	return func(yield func(*classifier.Aggregates) error) error {
		*passes++
		for i := range pop {
			paths, elements, channels, devices, goals := a.Paths, a.Elements, a.Channels, a.Devices, a.GoalNames
			a = pop[i]
			a.Paths, a.Elements, a.Channels, a.Devices, a.GoalNames = paths, elements, channels, devices, goals
			refill(&a.Paths, pop[i].Paths)
			refill(&a.Elements, pop[i].Elements)
			refill(&a.Channels, pop[i].Channels)
			refill(&a.Devices, pop[i].Devices)
			refill(&a.GoalNames, pop[i].GoalNames)
			if err := yield(&a); err != nil {
				return err
			}
		}
		return nil
	}
}

// modelOptions compare models by their exported contents (the classification cache aside).
var modelOptions = cmp.Options{cmpopts.IgnoreUnexported(classifier.Model{}), cmpopts.EquateNaNs()}

func TestTrainSourceGivesTrainsModel(t *testing.T) {
	t.Parallel()
	pop, _ := population(11, []int{400, 300, 200, 150})
	next, _ := population(12, []int{300, 300, 300, 150})
	first, err := classifier.Train(pop, trainNow, classifier.TrainOptions{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pop  []classifier.Aggregates
		opts classifier.TrainOptions
	}{
		{"k chosen", pop, classifier.TrainOptions{Seed: 1}},
		{"fixed k, small clusters", pop, classifier.TrainOptions{Seed: 2, FixedK: 5, MinClusterSize: 20}},
		{"large-project path (sampled scaler, mini-batch)", pop, classifier.TrainOptions{Seed: 3, MiniBatchAbove: 500}},
		{"retrain classifying with the previous model", next, classifier.TrainOptions{Seed: 5, Prev: first.Model}},
		{"retrain with previous labels", pop, classifier.TrainOptions{Seed: 6, Prev: first.Model, PrevLabels: first.Labels}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := classifier.Train(tt.pop, trainNow, tt.opts)
			if err != nil {
				t.Fatalf("Train: %v", err)
			}
			passes := 0
			got, err := classifier.TrainSource(reusingSource(tt.pop, &passes), trainNow, tt.opts)
			if err != nil {
				t.Fatalf("TrainSource: %v", err)
			}
			if passes != 3 {
				t.Errorf("TrainSource read the source %d times, want 3", passes)
			}
			if diff := cmp.Diff(want.Model, got.Model, modelOptions); diff != "" {
				t.Errorf("model differs from Train's (-Train +TrainSource):\n%s", diff)
			}
			if diff := cmp.Diff(want.Labels, got.Labels); diff != "" {
				t.Errorf("labels differ from Train's (-Train +TrainSource):\n%s", diff)
			}
			if diff := cmp.Diff([]any{want.Match, want.Stability, want.Drift}, []any{got.Match, got.Stability, got.Drift}); diff != "" {
				t.Errorf("matching differs from Train's (-Train +TrainSource):\n%s", diff)
			}
			a, _ := want.Model.MarshalBinary()
			b, _ := got.Model.MarshalBinary()
			if string(a) != string(b) {
				t.Errorf("serialised models differ (%d and %d bytes)", len(a), len(b))
			}
		})
	}
}

func TestTrainSourceRefusesChangingSource(t *testing.T) {
	t.Parallel()
	pop, _ := population(13, []int{200, 200})
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		src  func(pass int, yield func(*classifier.Aggregates) error) error
		want error
	}{
		{"a visitor more in the second pass", func(pass int, yield func(*classifier.Aggregates) error) error {
			if pass > 1 {
				return classifier.SliceSource(append(pop[:len(pop):len(pop)], pop[0]))(yield)
			}
			return classifier.SliceSource(pop)(yield)
		}, classifier.ErrInvalidInput},
		{"a visitor fewer in the third pass", func(pass int, yield func(*classifier.Aggregates) error) error {
			if pass > 2 {
				return classifier.SliceSource(pop[1:])(yield)
			}
			return classifier.SliceSource(pop)(yield)
		}, classifier.ErrInvalidInput},
		{"the source fails", func(pass int, yield func(*classifier.Aggregates) error) error {
			if pass == 2 {
				return boom
			}
			return classifier.SliceSource(pop)(yield)
		}, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pass := 0
			res, err := classifier.TrainSource(func(yield func(*classifier.Aggregates) error) error {
				pass++
				return tt.src(pass, yield)
			}, trainNow, classifier.TrainOptions{Seed: 1, MinClusterSize: 20})
			if !errors.Is(err, tt.want) || res != nil {
				t.Fatalf("TrainSource = %v, %v; want no result and an error wrapping %v", res, err, tt.want)
			}
		})
	}
}

// shuffledSource gives pop's visitors with their positions in another random order on every pass,
// as a sequential scan of a table would after updates.
func shuffledSource(pop []classifier.Aggregates, passes *int) classifier.IndexedSource {
	return func(yield func(int, *classifier.Aggregates) error) error {
		*passes++
		rng := rand.New(rand.NewPCG(uint64(*passes), 7))
		for _, i := range rng.Perm(len(pop)) {
			a := pop[i]
			if err := yield(i, &a); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestTrainIndexedInAnyOrderGivesTrainsModel(t *testing.T) {
	t.Parallel()
	pop, _ := population(11, []int{400, 300, 200, 150})
	first, err := classifier.Train(pop, trainNow, classifier.TrainOptions{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []classifier.TrainOptions{
		{Seed: 1},
		{Seed: 3, MiniBatchAbove: 500},
		{Seed: 6, Prev: first.Model, PrevLabels: first.Labels},
		{Seed: 5, Prev: first.Model},
	} {
		want, err := classifier.Train(pop, trainNow, opts)
		if err != nil {
			t.Fatalf("Train: %v", err)
		}
		passes := 0
		got, err := classifier.TrainIndexed(len(pop), shuffledSource(pop, &passes), trainNow, opts)
		if err != nil {
			t.Fatalf("TrainIndexed: %v", err)
		}
		if passes != 3 {
			t.Errorf("TrainIndexed read the source %d times, want 3", passes)
		}
		if diff := cmp.Diff(want.Labels, got.Labels); diff != "" {
			t.Errorf("labels differ from Train's (-Train +TrainIndexed):\n%s", diff)
		}
		if diff := cmp.Diff([]any{want.Match, want.Stability, want.Drift}, []any{got.Match, got.Stability, got.Drift}); diff != "" {
			t.Errorf("matching differs from Train's (-Train +TrainIndexed):\n%s", diff)
		}
		// Everything but the personas' means is exact; those are sums in another order.
		if diff := cmp.Diff(want.Model, got.Model, modelOptions, cmpopts.IgnoreFields(classifier.Model{}, "Personas")); diff != "" {
			t.Errorf("model differs from Train's (-Train +TrainIndexed):\n%s", diff)
		}
		if diff := cmp.Diff(want.Model.Personas, got.Model.Personas, cmpopts.EquateApprox(1e-12, 1e-12)); diff != "" {
			t.Errorf("personas differ from Train's beyond rounding (-Train +TrainIndexed):\n%s", diff)
		}
	}
}

func TestTrainIndexedRefusesWrongPositions(t *testing.T) {
	t.Parallel()
	pop, _ := population(13, []int{200, 200})
	tests := []struct {
		name  string
		remap func(i int) int
	}{
		{"a position twice", func(i int) int { return max(i, 1) }},
		{"a position out of range", func(i int) int { return i + 1 }},
		{"a negative position", func(i int) int { return i - 1 }},
	}
	for _, tt := range tests {
		for pass := 1; pass <= 3; pass++ {
			n := 0
			res, err := classifier.TrainIndexed(len(pop), func(yield func(int, *classifier.Aggregates) error) error {
				n++
				for i := range pop {
					j := i
					if n == pass {
						j = tt.remap(i)
					}
					if err := yield(j, &pop[i]); err != nil {
						return err
					}
				}
				return nil
			}, trainNow, classifier.TrainOptions{Seed: 1, MinClusterSize: 20})
			if !errors.Is(err, classifier.ErrInvalidInput) || res != nil {
				t.Fatalf("%s in pass %d: TrainIndexed = %v, %v; want ErrInvalidInput", tt.name, pass, res, err)
			}
		}
	}
	n := 0
	res, err := classifier.TrainIndexed(len(pop), func(yield func(int, *classifier.Aggregates) error) error {
		n++
		from := 0
		if n == 2 {
			from = 1
		}
		for i := from; i < len(pop); i++ {
			if err := yield(i, &pop[i]); err != nil {
				return err
			}
		}
		return nil
	}, trainNow, classifier.TrainOptions{Seed: 1, MinClusterSize: 20})
	if !errors.Is(err, classifier.ErrInvalidInput) || res != nil || n != 2 {
		t.Fatalf("a position missing in pass 2 (%d passes): TrainIndexed = %v, %v; want ErrInvalidInput", n, res, err)
	}
}
