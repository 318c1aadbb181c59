package classifier_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"personas/classifier"
)

// trainedModel is a small trained model, shared by the tests that only read it.
var trainedModel = sync.OnceValues(func() (*classifier.Model, error) {
	pop, _ := population(9, []int{120, 120, 100, 80})
	res, err := classifier.Train(pop, trainNow, classifier.TrainOptions{Seed: 3})
	if err != nil {
		return nil, err
	}
	return res.Model, nil
})

func TestModelRoundTrip(t *testing.T) {
	t.Parallel()
	m, err := trainedModel()
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := classifier.UnmarshalModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got, cmpopts.IgnoreUnexported(classifier.Model{}), cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("round trip changed the model (-want +got):\n%s", diff)
	}
	again, err := got.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Error("encoding the decoded model gave other bytes")
	}
	pop, _ := population(10, []int{5, 5, 5, 5})
	for i, a := range pop {
		if want, got := m.Classify(a, trainNow), got.Classify(a, trainNow); !cmp.Equal(want, got) {
			t.Errorf("visitor %d: decoded model classifies %+v, original %+v", i, got, want)
		}
	}
}

// reframe puts a payload between the header of the given version and a valid checksum, so that
// tests reach the decoder behind the checksum.
func reframe(version uint16, payload []byte) []byte {
	b := append([]byte("PSNM"), 0, 0)
	binary.LittleEndian.PutUint16(b[4:], version)
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func TestUnmarshalModelRejectsBadInput(t *testing.T) {
	t.Parallel()
	m, err := trainedModel()
	if err != nil {
		t.Fatal(err)
	}
	good, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	payload := good[6 : len(good)-4]
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not a model", []byte("hello, world, this is not a model")},
		{"unknown version", reframe(99, payload)},
		{"flipped bit", flipped},
		{"truncated payload, valid checksum", reframe(1, payload[:len(payload)/2])},
		{"trailing bytes, valid checksum", reframe(1, append(bytes.Clone(payload), 0))},
		{"huge length, valid checksum", reframe(1, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := classifier.UnmarshalModel(tt.in); err == nil {
				t.Errorf("UnmarshalModel accepted it: %+v", got)
			}
		})
	}
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(good) {
			if _, err := classifier.UnmarshalModel(good[:n]); err == nil {
				t.Fatalf("accepted the first %d of %d bytes", n, len(good))
			}
			if _, err := classifier.UnmarshalModel(reframe(1, payload[:min(n, len(payload)-1)])); err == nil {
				t.Fatalf("accepted the first %d bytes of the payload with a valid checksum", n)
			}
		}
	})
	t.Run("inconsistent model", func(t *testing.T) {
		bad := cloneModel(t, m)
		bad.Variances[0] = -1
		if b, err := bad.MarshalBinary(); err != nil {
			t.Fatal(err)
		} else if _, err := classifier.UnmarshalModel(b); err == nil {
			t.Error("accepted a negative variance")
		}
	})
}

func cloneModel(t *testing.T, m *classifier.Model) *classifier.Model {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c, err := classifier.UnmarshalModel(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func FuzzUnmarshalModel(f *testing.F) {
	m, err := trainedModel()
	if err != nil {
		f.Fatal(err)
	}
	good, err := m.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(b []byte) {
			m, err := classifier.UnmarshalModel(b)
			if err != nil {
				return
			}
			// Whatever decodes must classify without panicking and survive a round trip (the bytes
			// may differ: varints have more than one encoding).
			m.Classify(classifier.Aggregates{Visits: 1, PageViews: 2}, trainNow)
			again, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("decoded model does not encode: %v", err)
			}
			m2, err := classifier.UnmarshalModel(again)
			if err != nil {
				t.Fatalf("re-encoded model does not decode: %v", err)
			}
			if diff := cmp.Diff(m, m2, cmpopts.IgnoreUnexported(classifier.Model{}), cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("round trip of a decoded model changed it (-first +second):\n%s", diff)
			}
		}
		check(b)
		// The same bytes as a payload behind a valid header and checksum reach the decoder proper.
		check(reframe(1, b))
		if len(b) > 10 {
			check(reframe(1, b[6:len(b)-4]))
		}
	})
}

// version1 is m as the first model format held it: no background, thresholds, temperatures,
// noise share, calibration error, ICL or goal lifts.
func version1(m *classifier.Model) *classifier.Model {
	v1 := &classifier.Model{Version: 1, Schema: m.Schema, Scaler: m.Scaler, K: m.K, Centroids: m.Centroids,
		Variances: m.Variances, Weights: m.Weights, Sizes: m.Sizes, OutlierThreshold: m.OutlierThreshold,
		Metrics: m.Metrics, Personas: append([]classifier.PersonaStats(nil), m.Personas...)}
	v1.Metrics.Noise, v1.Metrics.CalibrationError = 0, nil
	v1.Metrics.KScores = append([]classifier.KScore(nil), m.Metrics.KScores...)
	for i := range v1.Metrics.KScores {
		v1.Metrics.KScores[i].ICL = 0
	}
	// Version 1 mixtures have no background: their weights add up to 1.
	v1.Weights = append([]float64(nil), m.Weights...)
	var s float64
	for _, w := range v1.Weights {
		s += w
	}
	for j := range v1.Weights {
		v1.Weights[j] /= s
	}
	for j := range v1.Personas {
		v1.Personas[j].GoalLifts = nil
	}
	return v1
}

func TestVersion1ModelsStillAnswer(t *testing.T) {
	t.Parallel()
	m, err := trainedModel()
	if err != nil {
		t.Fatal(err)
	}
	v1 := version1(m)
	b, err := v1.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint16(b[4:]); got != 1 {
		t.Fatalf("a version-1 model encodes as version %d", got)
	}
	got, err := classifier.UnmarshalModel(b)
	if err != nil {
		t.Fatalf("a version-1 blob does not decode: %v", err)
	}
	if diff := cmp.Diff(v1, got, cmpopts.IgnoreUnexported(classifier.Model{}), cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("version-1 round trip changed the model (-want +got):\n%s", diff)
	}
	pop, _ := population(10, []int{20, 20, 20, 20})
	for i, a := range pop {
		as := got.Classify(a, trainNow)
		if as.Cluster < 0 || as.Cluster >= got.K || len(as.Probabilities) != got.K {
			t.Fatalf("visitor %d: version-1 answer %+v", i, as)
		}
		var s, top float64
		for _, p := range as.Probabilities {
			s += p
			top = max(top, p)
		}
		// Identity calibration: the confidence is the mixture's own posterior, the outlier test
		// the single threshold of version 1.
		if d := s - 1; d > 1e-9 || d < -1e-9 || as.Confidence != top || as.Bucket != 0 ||
			as.Outlier != (as.LogDensity < got.OutlierThreshold) {
			t.Fatalf("visitor %d: version-1 answer %+v (probabilities sum to %v)", i, as, s)
		}
	}
	// Version 2 answers with its evidence bucket.
	few := pop[0]
	few.Visits, few.PageViews, few.Clicks, few.Goals = 1, 1, 0, 0
	if as := m.Classify(few, trainNow); as.Bucket != 0 {
		t.Errorf("a visitor of one page view is in bucket %d, want 0", as.Bucket)
	}
}

// Version 2 had the same fields as version 3; its background spread a family of shares evenly
// over the categories and the rest. Such blobs still decode, round-trip as version 2 and answer.
func TestVersion2ModelsStillAnswer(t *testing.T) {
	t.Parallel()
	m, err := trainedModel()
	if err != nil {
		t.Fatal(err)
	}
	v2 := cloneModel(t, m)
	v2.Version = 2
	b, err := v2.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := classifier.UnmarshalModel(b)
	if err != nil {
		t.Fatalf("a version-2 blob does not decode: %v", err)
	}
	if got.Version != 2 {
		t.Fatalf("a version-2 blob decodes as version %d", got.Version)
	}
	if again, err := got.MarshalBinary(); err != nil || !bytes.Equal(again, b) {
		t.Fatalf("a version-2 model does not round-trip (err %v)", err)
	}
	pop, _ := population(10, []int{20, 20, 20, 20})
	for i, a := range pop {
		as := got.Classify(a, trainNow)
		var s float64
		for _, p := range as.Probabilities {
			s += p
		}
		if as.Cluster < 0 || as.Cluster >= got.K || math.Abs(s-1) > 1e-9 {
			t.Fatalf("visitor %d: version-2 answer %+v (probabilities sum to %v)", i, as, s)
		}
	}
}
