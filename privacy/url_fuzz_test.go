package privacy_test

import "testing"

// FuzzScrubURL checks that ScrubURL never panics and gives valid, stable
// http(s) URLs without fragments.
func FuzzScrubURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/products/shoes?utm_source=x&q=red#top",
		"https://bob:pw@Example.COM:443/users/jane@example.com?q=0612345678",
		"http://[2001:db8::1]:8080/a%20b/c?page=2&page=3",
		"https://example.com/caf%C3%A9/%zz",
		"javascript:alert(1)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkURLProperties(t, in, []string{"q", "page"})
	})
}

// FuzzNormalizePath checks that NormalizePath never panics and gives bounded,
// valid, idempotent paths.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{
		"/p/42", "/Users/jane%40example.com/Edit/", "//a/./b/../c?x=1#y",
		"/orders/550e8400-e29b-41d4-a716-446655440000", "/100%25/%2F/%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkPathProperties(t, in)
	})
}
