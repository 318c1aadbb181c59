package classifier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// The model format: magic, format version (uint16, little-endian), the fields in a fixed order
// (varint integers, IEEE-754 little-endian floats, length-prefixed strings and slices whose prefix
// is length+1, 0 standing for nil, so a model round-trips exactly), and a CRC-32 of everything
// before it, so corruption is caught even where the bytes would still parse.
const modelMagic = "PSNM"

// errCorrupt is wrapped by every decoding failure.
var errCorrupt = errors.New("corrupt model")

// MarshalBinary encodes the model in its format version: FormatVersion, or the version of an
// older blob it was decoded from (which round-trips as it was).
func (m *Model) MarshalBinary() ([]byte, error) {
	if m.Version < 1 || m.Version > FormatVersion {
		return nil, fmt.Errorf("encode model: format version %d, this build writes 1 to %d", m.Version, FormatVersion)
	}
	v2 := m.Version >= 2
	var w writer
	w.b = append(w.b, modelMagic...)
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(m.Version))
	s := m.Schema
	for _, v := range [][]string{s.Features, s.Paths, s.Elements, s.Channels, s.Devices, s.Goals} {
		w.strings(v)
	}
	w.ints(m.Scaler.Keep)
	w.floats(m.Scaler.Center)
	w.floats(m.Scaler.Scale)
	w.float(m.Scaler.Clip)
	w.int(m.K)
	w.floats(m.Centroids)
	w.floats(m.Variances)
	w.floats(m.Weights)
	w.ints(m.Sizes)
	w.float(m.OutlierThreshold)
	if v2 {
		w.floats(m.BgMean)
		w.floats(m.BgVar)
		w.float(m.BgWeight)
		w.floats(m.Thresholds)
		w.floats(m.Temperatures)
	}
	mt := m.Metrics
	w.int(mt.N)
	w.int(mt.ChosenK)
	w.float(mt.Inertia)
	w.float(mt.Silhouette)
	w.float(mt.LogLikelihood)
	if v2 {
		w.float(mt.Noise)
		w.floats(mt.CalibrationError)
	}
	w.length(mt.KScores == nil, len(mt.KScores))
	for _, ks := range mt.KScores {
		w.int(ks.K)
		w.int(ks.Clusters)
		w.float(ks.Silhouette)
		if v2 {
			w.float(ks.ICL)
		}
	}
	w.length(m.Personas == nil, len(m.Personas))
	for _, p := range m.Personas {
		w.int(p.Size)
		w.float(p.Share)
		w.length(p.Traits == nil, len(p.Traits))
		for _, t := range p.Traits {
			w.string(t.Feature)
			w.float(t.Value)
			w.float(t.Population)
			w.float(t.Z)
		}
		for _, sh := range [][]Share{p.TopPaths, p.Channels, p.Devices, p.Hours, p.Goals} {
			w.shares(sh)
		}
		if v2 {
			w.length(p.GoalLifts == nil, len(p.GoalLifts))
			for _, gl := range p.GoalLifts {
				w.string(gl.Goal)
				w.int(gl.Visitors)
				for _, v := range []float64{gl.Rate, gl.PopulationRate, gl.Lift, gl.Low, gl.High} {
					w.float(v)
				}
			}
		}
	}
	w.b = binary.LittleEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b))
	return w.b, nil
}

// UnmarshalModel decodes a model written by MarshalBinary. It rejects truncated, corrupt or
// inconsistent input and unknown format versions with an error, and never panics: lengths are
// checked against the bytes left before anything is allocated.
func UnmarshalModel(b []byte) (*Model, error) {
	if len(b) < len(modelMagic)+2+4 || string(b[:len(modelMagic)]) != modelMagic {
		return nil, fmt.Errorf("decode model: %w: not a model (%d bytes)", errCorrupt, len(b))
	}
	version := int(binary.LittleEndian.Uint16(b[len(modelMagic):]))
	if version < 1 || version > FormatVersion {
		return nil, fmt.Errorf("decode model: unknown format version %d (this build reads 1 to %d)", version, FormatVersion)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("decode model: %w: checksum mismatch", errCorrupt)
	}
	m, err := decodeModel(body[len(modelMagic)+2:], version)
	if err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	m.Version = version
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("decode model: %w: %v", errCorrupt, err)
	}
	return m, nil
}

func decodeModel(b []byte, version int) (*Model, error) {
	v2 := version >= 2
	r := reader{b: b}
	m := &Model{}
	s := &m.Schema
	for _, v := range []*[]string{&s.Features, &s.Paths, &s.Elements, &s.Channels, &s.Devices, &s.Goals} {
		*v = r.strings()
	}
	m.Scaler.Keep = r.ints()
	m.Scaler.Center = r.floats()
	m.Scaler.Scale = r.floats()
	m.Scaler.Clip = r.float()
	m.K = r.int()
	m.Centroids = r.floats()
	m.Variances = r.floats()
	m.Weights = r.floats()
	m.Sizes = r.ints()
	m.OutlierThreshold = r.float()
	if v2 {
		m.BgMean = r.floats()
		m.BgVar = r.floats()
		m.BgWeight = r.float()
		m.Thresholds = r.floats()
		m.Temperatures = r.floats()
	}
	mt := &m.Metrics
	mt.N = r.int()
	mt.ChosenK = r.int()
	mt.Inertia = r.float()
	mt.Silhouette = r.float()
	mt.LogLikelihood = r.float()
	if v2 {
		mt.Noise = r.float()
		mt.CalibrationError = r.floats()
	}
	ksSize := 3
	if v2 {
		ksSize = 11
	}
	if n, ok := r.length(ksSize); ok {
		mt.KScores = make([]KScore, n)
		for i := range mt.KScores {
			mt.KScores[i] = KScore{K: r.int(), Clusters: r.int(), Silhouette: r.float()}
			if v2 {
				mt.KScores[i].ICL = r.float()
			}
		}
	}
	if n, ok := r.length(2 + 5); ok {
		m.Personas = make([]PersonaStats, n)
		for i := range m.Personas {
			p := &m.Personas[i]
			p.Size = r.int()
			p.Share = r.float()
			if n, ok := r.length(1 + 24); ok {
				p.Traits = make([]Trait, n)
				for t := range p.Traits {
					p.Traits[t] = Trait{Feature: r.string(), Value: r.float(), Population: r.float(), Z: r.float()}
				}
			}
			for _, sh := range []*[]Share{&p.TopPaths, &p.Channels, &p.Devices, &p.Hours, &p.Goals} {
				*sh = r.shares()
			}
			if v2 {
				if n, ok := r.length(1 + 1 + 5*8); ok {
					p.GoalLifts = make([]GoalLift, n)
					for g := range p.GoalLifts {
						p.GoalLifts[g] = GoalLift{Goal: r.string(), Visitors: r.int(), Rate: r.float(),
							PopulationRate: r.float(), Lift: r.float(), Low: r.float(), High: r.float()}
					}
				}
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the model", errCorrupt, len(r.b))
	}
	return m, nil
}

type writer struct{ b []byte }

func (w *writer) int(v int)       { w.b = binary.AppendVarint(w.b, int64(v)) }
func (w *writer) float(v float64) { w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v)) }
func (w *writer) string(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}
func (w *writer) length(isNil bool, n int) {
	if isNil {
		w.b = binary.AppendUvarint(w.b, 0)
		return
	}
	w.b = binary.AppendUvarint(w.b, uint64(n)+1)
}

func (w *writer) ints(v []int) {
	w.length(v == nil, len(v))
	for _, x := range v {
		w.int(x)
	}
}

func (w *writer) floats(v []float64) {
	w.length(v == nil, len(v))
	for _, x := range v {
		w.float(x)
	}
}

func (w *writer) strings(v []string) {
	w.length(v == nil, len(v))
	for _, x := range v {
		w.string(x)
	}
}

func (w *writer) shares(v []Share) {
	w.length(v == nil, len(v))
	for _, x := range v {
		w.string(x.Key)
		w.float(x.Share)
	}
}

// reader decodes what writer wrote; after the first error every read returns a zero value and
// the error stays in err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
	}
	r.b = nil
}

func (r *reader) int() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || v > math.MaxInt32 || v < math.MinInt32 {
		r.fail("bad integer")
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail("truncated float")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// length reads a slice length prefix; ok is false for a nil slice or an error. minSize is the
// least number of bytes one element takes, so a length the remaining bytes cannot hold is
// rejected before it is allocated.
func (r *reader) length(minSize int) (int, bool) {
	if r.err != nil {
		return 0, false
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad length")
		return 0, false
	}
	r.b = r.b[n:]
	if v == 0 {
		return 0, false
	}
	v--
	if v > uint64(len(r.b)/minSize) {
		r.fail("length %d exceeds the %d bytes left", v, len(r.b))
		return 0, false
	}
	return int(v), true
}

func (r *reader) string() string {
	if r.err != nil {
		return ""
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)-n) {
		r.fail("bad string")
		return ""
	}
	s := string(r.b[n : n+int(v)])
	r.b = r.b[n+int(v):]
	return s
}

func (r *reader) ints() []int {
	n, ok := r.length(1)
	if !ok {
		return nil
	}
	v := make([]int, n)
	for i := range v {
		v[i] = r.int()
	}
	return v
}

func (r *reader) floats() []float64 {
	n, ok := r.length(8)
	if !ok {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.float()
	}
	return v
}

func (r *reader) strings() []string {
	n, ok := r.length(1)
	if !ok {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = r.string()
	}
	return v
}

func (r *reader) shares() []Share {
	n, ok := r.length(9)
	if !ok {
		return nil
	}
	v := make([]Share, n)
	for i := range v {
		v[i] = Share{Key: r.string(), Share: r.float()}
	}
	return v
}
