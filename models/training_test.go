package models

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgtype"
)

// checkDecodeCounts compares decodeCounts with encoding/json on in.
func checkDecodeCounts(t *testing.T, in string) {
	t.Helper()
	var want map[string]int64
	wantErr := json.Unmarshal([]byte(in), &want)
	var got map[string]int64
	gotErr := decodeCounts([]byte(in), &got)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("decodeCounts(%q) error %v, encoding/json's %v", in, gotErr, wantErr)
	}
	if wantErr == nil {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("decodeCounts(%q) differs from encoding/json (-json +decodeCounts):\n%s", in, diff)
		}
	}
	// The reusing decoder of training passes: a map left from another visitor, keys interned.
	reused := map[string]int64{"/p": 7, "stale": 1}
	intern := map[string]string{"/p": "/p", "a": "a"}
	gotErr = decodeCountsInto([]byte(in), &reused, intern)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("decodeCountsInto(%q) error %v, encoding/json's %v", in, gotErr, wantErr)
	}
	if wantErr == nil {
		if diff := cmp.Diff(want, reused); diff != "" {
			t.Fatalf("decodeCountsInto(%q) differs from encoding/json (-json +decodeCountsInto):\n%s", in, diff)
		}
	}
}

var countsSeeds = []string{
	`{}`, ` { } `, `{"/p": 12, "/cart": 3}`, `{"a":1,"b":-2}`, `{"a": 0}`, `{"a": 1, "a": 2}`,
	`{"button": 9223372036854775807}`, `{"x": 9223372036854775808}`, `{"x": 1.5}`, `{"x": 1e3}`,
	`{"x": 01}`, `{"é": 1}`, `{"a\"b": 1}`, `{"a\u0041": 2}`, `null`, `{"a": 1,}`, `{"a" 1}`, `{"a": 1} x`,
	`{"a": -}`, `[1]`, `{"a": "1"}`, `{"a": null}`, "{\"a\":\n 1}", ``,
}

func TestDecodeCountsMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range countsSeeds {
		t.Run(in, func(t *testing.T) { checkDecodeCounts(t, in) })
	}
}

func FuzzDecodeCounts(f *testing.F) {
	for _, in := range countsSeeds {
		f.Add(in)
	}
	f.Fuzz(checkDecodeCounts)
}

func TestDecodeInt8ArrayMatchesPgx(t *testing.T) {
	t.Parallel()
	m := pgtype.NewMap()
	for _, in := range [][]int64{{1, 2, 3, 4, 5, 6, 7}, make([]int64, 24), {-1, 1 << 40}, {}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		b, err := m.Encode(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{9, 9, 9, 9, 9, 9, 9}
		clear(want)
		copy(want, in)
		got := []int64{9, 9, 9, 9, 9, 9, 9}
		if ok := decodeInt8Array(b, got); !ok && len(in) > 0 {
			t.Fatalf("decodeInt8Array(%v) = %v", in, ok)
		} else if ok {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decodeInt8Array(%v) (-want +got):\n%s", in, diff)
			}
		}
	}
	withNull, err := m.Encode(pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, []*int64{nil}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if decodeInt8Array(withNull, make([]int64, 7)) {
		t.Error("decodeInt8Array accepted an array with a null")
	}
}
