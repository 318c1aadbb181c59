package privacy_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"personas/privacy"
)

func TestScrubURL(t *testing.T) {
	t.Parallel()
	allow := []string{"q", "page", "lang"}
	tests := []struct{ name, in, want string }{
		{"plain", "https://example.com/products/shoes", "https://example.com/products/shoes"},
		{"scheme and host lower-cased", "HTTPS://Shop.Example.COM/Cart", "https://shop.example.com/Cart"},
		{"userinfo dropped", "https://bob:hunter2@example.com/x", "https://example.com/x"},
		{"fragment dropped", "https://example.com/a#section-jane@example.com", "https://example.com/a"},
		{"query dropped", "https://example.com/a?session=abc&ref=x", "https://example.com/a"},
		{"utm kept", "https://example.com/?utm_source=news&utm_medium=email&x=1", "https://example.com/?utm_source=news&utm_medium=email"},
		{"utm upper case kept", "https://example.com/?UTM_Campaign=black-friday", "https://example.com/?UTM_Campaign=black-friday"},
		{"allow-listed key kept", "https://example.com/search?q=red+shoes&token=abc&page=2", "https://example.com/search?q=red%20shoes&page=2"},
		{"allow-listed key case-insensitive", "https://example.com/?LANG=fr", "https://example.com/?LANG=fr"},
		{"allow-listed value scrubbed", "https://example.com/search?q=jane@example.com", "https://example.com/search?q=[email]"},
		{"utm value scrubbed", "https://example.com/?utm_content=call+0612345678", "https://example.com/?utm_content=call%20[phone]"},
		{"email in path", "https://example.com/users/jane@example.com/orders", "https://example.com/users/[email]/orders"},
		{"encoded email in path", "https://example.com/u/jane%40example.com", "https://example.com/u/[email]"},
		{"phone in path", "https://example.com/call/+33612345678", "https://example.com/call/[phone]"},
		{"token in path", "https://example.com/reset/9b2f4c1d8e7a6b5c4d3e2f1a0b9c8d7e", "https://example.com/reset/[token]"},
		{"short ids kept by ScrubURL", "https://example.com/p/42", "https://example.com/p/42"},
		{"default port dropped", "https://example.com:443/a", "https://example.com/a"},
		{"http default port dropped", "http://example.com:80/a", "http://example.com/a"},
		{"other port kept", "http://localhost:8080/a", "http://localhost:8080/a"},
		{"non-ASCII path encoded", "https://example.com/café", "https://example.com/caf%C3%A9"},
		{"escaped path kept", "https://example.com/a%20b", "https://example.com/a%20b"},
		{"empty key dropped", "https://example.com/?=x&q=1", "https://example.com/?q=1"},
		{"bad escape in query dropped", "https://example.com/?q=%zz&page=1", "https://example.com/?page=1"},
		{"surrounding space", "  https://example.com/a  ", "https://example.com/a"},
		{"not http", "ftp://example.com/file", ""},
		{"javascript", "javascript:alert(1)", ""},
		{"mailto", "mailto:jane@example.com", ""},
		{"relative", "/just/a/path", ""},
		{"empty", "", ""},
		{"garbage", "http://[::1", ""},
		{"bad host", "http://exa mple.com/", ""},
		{"opaque", "http:example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := privacy.ScrubURL(tt.in, allow); got != tt.want {
				t.Errorf("ScrubURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	long := "/" + strings.Repeat("segment/", 40)
	tests := []struct{ name, in, want string }{
		{"root", "/", "/"},
		{"empty", "", "/"},
		{"numeric id", "/p/42", "/p/:id"},
		{"trailing slash", "/products/", "/products"},
		{"lower-cased", "/Products/Shoes", "/products/shoes"},
		{"uuid", "/orders/550E8400-E29B-41D4-A716-446655440000/items", "/orders/:id/items"},
		{"hex hash", "/files/5f4dcc3b/download", "/files/:id/download"},
		{"short hex word kept", "/cafe/beef", "/cafe/beef"},
		{"hex word without digits kept", "/deadbeef", "/deadbeef"},
		{"mixed slug", "/s/a1b2c3d4e5", "/s/:id"},
		{"long generated key", "/k/AbCdEfGhIjKlMnOp1", "/k/:id"},
		{"email", "/users/jane@example.com", "/users/:id"},
		{"encoded email", "/users/jane%40example.com/edit", "/users/:id/edit"},
		{"phone", "/call/0612345678", "/call/:id"},
		{"product name with model number kept", "/shop/iphone15", "/shop/iphone15"},
		{"slug with year kept", "/blog/summer-sale-2025", "/blog/summer-sale-2025"},
		{"year is an id", "/blog/2025/11/post", "/blog/:id/:id/post"},
		{"double slashes", "//a///b//", "/a/b"},
		{"dot segments", "/a/./b/../c", "/a/c"},
		{"dot dot above root", "/../../a", "/a"},
		{"query and fragment ignored", "/search?q=jane@example.com#top", "/search"},
		{"full URL", "https://Example.com/P/42?x=1", "/p/:id"},
		{"full URL without path", "https://example.com", "/"},
		{"encoded slash stays one segment", "/a%2Fb/c", "/a%2fb/c"},
		{"encoded percent", "/100%25", "/100%25"},
		{"unicode lower-cased", "/Über/Café", "/über/café"},
		{"invalid UTF-8", "/a\xffb", "/a\uFFFDb"},
		{"eight segments", "/1/2/3/4/5/6/7/8/9/10", "/:id/:id/:id/:id/:id/:id/:id/:id"},
		{"at most 256 bytes", long, "/segment/segment/segment/segment/segment/segment/segment/segment"},
		{"huge segment", "/" + strings.Repeat("a", 300), "/:id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := privacy.NormalizePath(tt.in)
			if got != tt.want {
				t.Errorf("NormalizePath(%q) = %q, want %q", short(tt.in), got, tt.want)
			}
			checkPathProperties(t, tt.in)
		})
	}
}

func TestNormalizePathBytes(t *testing.T) {
	t.Parallel()
	in := "/" + strings.Repeat(strings.Repeat("x", 60)+"/", 6)
	got := privacy.NormalizePath(in)
	if len(got) > 256 {
		t.Fatalf("NormalizePath gave %d bytes, want at most 256", len(got))
	}
	if want := "/" + strings.TrimSuffix(strings.Repeat(strings.Repeat("x", 60)+"/", 4), "/"); got != want {
		t.Errorf("NormalizePath(%q) = %q, want %q (whole segments only)", in, got, want)
	}
}

// checkPathProperties fails t if NormalizePath(in) is not a bounded,
// valid, idempotent path without long digit runs.
func checkPathProperties(t *testing.T, in string) {
	t.Helper()
	got := privacy.NormalizePath(in)
	switch {
	case !utf8.ValidString(got):
		t.Errorf("NormalizePath(%q) = %q is not valid UTF-8", short(in), got)
	case !strings.HasPrefix(got, "/"):
		t.Errorf("NormalizePath(%q) = %q does not start with /", short(in), got)
	case len(got) > 256:
		t.Errorf("NormalizePath(%q) has %d bytes", short(in), len(got))
	case strings.Count(got, "/") > 8:
		t.Errorf("NormalizePath(%q) = %q has more than 8 segments", short(in), got)
	case got != "/" && strings.HasSuffix(got, "/"):
		t.Errorf("NormalizePath(%q) = %q ends with /", short(in), got)
	case longestDigitRun(got) >= 7:
		t.Errorf("NormalizePath(%q) = %q keeps a long number", short(in), got)
	}
	if again := privacy.NormalizePath(got); again != got {
		t.Errorf("NormalizePath is not idempotent on %q: %q then %q", short(in), got, again)
	}
}

func TestPathGroup(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"/p/:id", "/p"},
		{"/", "/"},
		{"", "/"},
		{"/products", "/products"},
		{"/a/b/c", "/a"},
		{"/:id/edit", "/:id"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := privacy.PathGroup(tt.in); got != tt.want {
				t.Errorf("PathGroup(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// checkURLProperties fails t if ScrubURL(in) is not valid UTF-8, keeps a
// fragment or user information, or is not a fixed point.
func checkURLProperties(t *testing.T, in string, allow []string) {
	t.Helper()
	got := privacy.ScrubURL(in, allow)
	if got == "" {
		return
	}
	if !utf8.ValidString(got) {
		t.Errorf("ScrubURL(%q) = %q is not valid UTF-8", short(in), got)
	}
	if !strings.HasPrefix(got, "http://") && !strings.HasPrefix(got, "https://") {
		t.Errorf("ScrubURL(%q) = %q is not http(s)", short(in), got)
	}
	if strings.Contains(got, "#") {
		t.Errorf("ScrubURL(%q) = %q keeps a fragment", short(in), got)
	}
	if again := privacy.ScrubURL(got, allow); again != got {
		t.Errorf("ScrubURL is not idempotent on %q: %q then %q", short(in), got, again)
	}
}

func BenchmarkScrubURL(b *testing.B) {
	inputs := []struct{ name, in string }{
		{"plain", "https://shop.example.com/products/leather-sneakers/42?utm_source=news&utm_medium=email&sessionid=abc123"},
		{"pii", "https://bob:pw@shop.example.com/users/jane@example.com/orders?q=0612345678&page=2#top"},
	}
	allow := []string{"q", "page"}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				privacy.ScrubURL(in.in, allow)
			}
		})
	}
}

func BenchmarkNormalizePath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		privacy.NormalizePath("/Products/550e8400-e29b-41d4-a716-446655440000/reviews/42/")
	}
}
