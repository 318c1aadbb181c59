package privacy_test

import (
	"bytes"
	"strings"
	"testing"

	"personas/privacy"
)

// FuzzParseKeyring checks that ParseKeyring never panics, never quotes a
// secret in its errors, and gives keyrings whose seals open.
func FuzzParseKeyring(f *testing.F) {
	for _, s := range []string{
		"k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
		"k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI,k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
		"k1:-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8",
		"", ",", "k1:", ":x", "k1:short", "k1:AQEB,k1:AQEB",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		k, err := privacy.ParseKeyring(spec)
		if err != nil {
			for _, entry := range strings.Split(spec, ",") {
				id, secret, ok := strings.Cut(entry, ":")
				secret = strings.TrimSpace(secret)
				if ok && len(secret) >= 12 && !strings.Contains(id, secret) && strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q quotes the secret of %q", err, entry)
				}
			}
			return
		}
		if first, _, _ := strings.Cut(strings.TrimSpace(strings.Split(spec, ",")[0]), ":"); k.PrimaryID() != first {
			t.Fatalf("PrimaryID = %q, want %q", k.PrimaryID(), first)
		}
		c, err := k.Seal([]byte("x"), []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Open(c, []byte("ad")); err != nil || !bytes.Equal(got, []byte("x")) {
			t.Fatalf("Open(Seal) = %q, %v", got, err)
		}
	})
}
