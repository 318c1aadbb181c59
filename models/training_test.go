package models

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
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
}

var countsSeeds = []string{
	`{}`, ` { } `, `{"/p": 12, "/cart": 3}`, `{"a":1,"b":-2}`, `{"a": 0}`, `{"a": 1, "a": 2}`,
	`{"button": 9223372036854775807}`, `{"x": 9223372036854775808}`, `{"x": 1.5}`, `{"x": 1e3}`,
	`{"x": 01}`, `{"é": 1}`, `{"a\"b": 1}`, `{"a\u0041": 2}`, `null`, `{"a": 1,}`, `{"a" 1}`, `{"a": 1} x`,
	`{"a": -}`, `[1]`, `{"a": "1"}`, `{"a": null}`, "{\"a\":\n 1}", ``,
}

func TestDecodeCountsMatchesEncodingJSON(t *testing.T) {
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
