package api

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"own page", "/projects/42", "/projects/42"},
		{"own page with query", "/projects/42?done=renamed#top", "/projects/42?done=renamed#top"},
		{"encoded query", "/login?next=%2Fprojects%2F1", "/login?next=%2Fprojects%2F1"},
		{"encoded space in query", "/search?q=a%20b", "/search?q=a%20b"},
		{"root", "/", "/"},
		{"empty", "", "/"},
		{"protocol relative", "//evil", "/"},
		{"protocol relative with path", "//evil/x", "/"},
		{"slash backslash", "/\\evil", "/"},
		{"backslash slash", "\\/evil", "/"},
		{"backslash inside", "/a\\b", "/"},
		{"tab after slash", "/\t/evil", "/"},
		{"encoded tab", "/%09/evil", "/"},
		{"encoded newline", "/%0a/evil", "/"},
		{"encoded NUL", "/%00/evil", "/"},
		{"carriage return", "/\r\n//evil", "/"},
		{"encoded slashes", "%2F%2Fevil", "/"},
		{"lower-case encoded slashes", "/%2f/evil", "/"},
		{"encoded backslash", "/%5cevil", "/"},
		{"slash encoded backslash", "/%5C/evil", "/"},
		{"double encoded", "/%252F/evil", "/"},
		{"triple encoded", "/%25252F/evil", "/"},
		{"four times encoded", "/%2525252F/evil", "/"},
		{"bad escape", "/%zz", "/"},
		{"absolute URL", "https://evil", "/"},
		{"absolute URL upper case", "HTTPS://evil", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"javascript after slash-free", "javascript://%0aalert(1)", "/"},
		{"data", "data:text/html,x", "/"},
		{"scheme with one slash", "http:/evil", "/"},
		{"space", "/ /evil", "/"},
		{"leading space", " /evil", "/"},
		{"non-ASCII", "/é", "/"},
		{"ideographic space", "/\u3000/evil", "/"},
		{"DEL", "/\x7f", "/"},
		{"relative", "evil", "/"},
		{"dot relative", "./evil", "/"},
		{"too long", "/" + strings.Repeat("a", 3000), "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeNext(tt.in); got != tt.want {
				t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMetricLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, route string
		status              int
		want                [3]string
	}{
		{"matched", "GET", "/healthz", 200, [3]string{"GET", "/healthz", "200"}},
		{"matched post", "POST", "/v1/collect", 204, [3]string{"POST", "/v1/collect", "204"}},
		{"unknown method, matched route", "FOOBAR", "/v1/collect", 405, [3]string{"unmatched", "unmatched", "405"}},
		{"lower-case method", "get", "/healthz", 405, [3]string{"unmatched", "unmatched", "405"}},
		{"known method, no route", "GET", "", 404, [3]string{"unmatched", "unmatched", "404"}},
		{"unknown method, no route", "X" + strings.Repeat("Y", 500), "", 404, [3]string{"unmatched", "unmatched", "404"}},
		{"odd status", "GET", "/healthz", 1000, [3]string{"GET", "/healthz", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, r, s := metricLabels(tt.method, tt.route, tt.status)
			if got := [3]string{m, r, s}; got != tt.want {
				t.Errorf("metricLabels(%q, %q, %d) = %v, want %v", tt.method, tt.route, tt.status, got, tt.want)
			}
		})
	}
}

func TestLimitersBounded(t *testing.T) {
	t.Parallel()
	l := newLimiters(1, 2)
	for i := range maxLimiterKeys + 1000 {
		l.allow("client-" + strconv.Itoa(i))
	}
	if n := l.size(); n > maxLimiterKeys {
		t.Errorf("limiter tracks %d keys, want at most %d", n, maxLimiterKeys)
	}
	// Failures: exhausted only after the burst, and only for that key.
	f := newLimiters(1, 3)
	for i := range 3 {
		if over, _ := f.exhausted("a"); over {
			t.Fatalf("exhausted after %d failures, burst 3", i)
		}
		f.take("a")
	}
	over, wait := f.exhausted("a")
	if !over || wait <= 0 || wait > time.Second {
		t.Errorf("after the burst: exhausted %v, wait %v; want true and at most 1 s", over, wait)
	}
	if over, _ := f.exhausted("b"); over {
		t.Error("another key is exhausted")
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, remote, want string }{
		{"IPv4", "203.0.113.7:5000", "203.0.113.7"},
		{"IPv4-mapped IPv6", "[::ffff:203.0.113.7]:5000", "203.0.113.7"},
		{"IPv6: its /64", "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:5000", "2001:db8:1:2::/64"},
		{"another address of the same /64", "[2001:db8:1:2::1]:5000", "2001:db8:1:2::/64"},
		{"loopback", "127.0.0.1:1", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
			c.Request.RemoteAddr = tt.remote
			if got := clientKey(c); got != tt.want {
				t.Errorf("clientKey for %s = %q, want %q", tt.remote, got, tt.want)
			}
		})
	}
}
