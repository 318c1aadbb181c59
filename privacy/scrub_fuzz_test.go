package privacy_test

import "testing"

// FuzzScrub checks that any input scrubs to valid UTF-8, without panicking,
// to a fixed point, and without a run of seven digits left.
func FuzzScrub(f *testing.F) {
	for _, c := range piiCorpus {
		f.Add(c.in)
	}
	for _, s := range keepCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkScrubProperties(t, in)
	})
}
