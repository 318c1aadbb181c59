package privacy_test

import (
	"strings"
	"testing"

	"personas/privacy"
)

func BenchmarkScrub(b *testing.B) {
	inputs := []struct{ name, in string }{
		{"clean 100", "Add to cart: Classic leather sneakers, size 42, 3 items for 49.90 € — delivered on 2025-11-23 10:30"},
		{"pii 100", "Jane (jane@example.com, +33 6 12 34 56 78) paid 4111 1111 1111 1111 from 192.168.0.1 ok"},
		{"clean 2k", strings.Repeat("Free delivery from 25 € on all orders, size 38 to 46, iPhone 15 cases. ", 28)},
		{"hostile 10k", strings.Repeat("1-a.", 2500)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.in)))
			b.ReportAllocs()
			for b.Loop() {
				privacy.Scrub(in.in)
			}
		})
	}
}
