package collector

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gzipBudget is the size the script may have gzipped (gzip -9), everything included (consent
// mode took it from 6.6 to 7.9 KiB).
const gzipBudget = 9 * 1024

func TestVersionAndPath(t *testing.T) {
	t.Parallel()
	if !regexp.MustCompile(`^v1-[0-9a-f]{12}$`).MatchString(Version()) {
		t.Errorf("Version() = %q, want v1- and 12 hex digits", Version())
	}
	if want := "/collector/" + Version() + ".js"; Path() != want {
		t.Errorf("Path() = %q, want %q", Path(), want)
	}
}

func TestScriptIsACopy(t *testing.T) {
	t.Parallel()
	s := Script()
	s[0] = 'X'
	if Script()[0] == 'X' {
		t.Fatal("Script() returned the embedded bytes themselves; a caller changed them")
	}
}

func TestScriptSizeBudget(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(Script()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > gzipBudget {
		t.Errorf("collector.js is %d bytes gzipped, over the budget of %d", buf.Len(), gzipBudget)
	}
	t.Logf("collector.js: %d bytes, %d gzipped", len(Script()), buf.Len())
}

// sri computes a Subresource Integrity value the way a browser checks it.
func sri(b []byte) string {
	sum := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := Handler()
	etag := `"` + Version() + `"`
	tests := []struct {
		name, method, path string
		header             http.Header
		wantStatus         int
		wantEncoding       string
		wantETag           string
		wantBody           bool
	}{
		{name: "plain GET", method: "GET", path: Path(), wantStatus: 200, wantETag: etag, wantBody: true},
		{name: "gzip accepted", method: "GET", path: Path(), header: http.Header{"Accept-Encoding": {"br, gzip, deflate"}},
			wantStatus: 200, wantEncoding: "gzip", wantETag: `"` + Version() + `-gz"`, wantBody: true},
		{name: "gzip refused with q=0", method: "GET", path: Path(), header: http.Header{"Accept-Encoding": {"gzip;q=0, *"}},
			wantStatus: 200, wantETag: etag, wantBody: true},
		{name: "HEAD has no body", method: "HEAD", path: Path(), wantStatus: 200, wantETag: etag},
		{name: "revalidation", method: "GET", path: Path(), header: http.Header{"If-None-Match": {`W/"x", ` + etag}},
			wantStatus: 304, wantETag: etag},
		{name: "revalidation of the gzip variant", method: "GET", path: Path(),
			header:     http.Header{"If-None-Match": {`"` + Version() + `-gz"`}, "Accept-Encoding": {"gzip"}},
			wantStatus: 304, wantETag: `"` + Version() + `-gz"`},
		{name: "another version", method: "GET", path: "/collector/v1-000000000000.js", wantStatus: 404},
		{name: "POST", method: "POST", path: Path(), wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus >= 400 {
				return
			}
			got := map[string]string{}
			for _, k := range []string{"Content-Type", "Cache-Control", "Access-Control-Allow-Origin",
				"Cross-Origin-Resource-Policy", "Content-Encoding", "ETag", "Vary"} {
				got[k] = res.Header.Get(k)
			}
			want := map[string]string{
				"Content-Type":                 "text/javascript; charset=utf-8",
				"Cache-Control":                "public, max-age=31536000, immutable",
				"Access-Control-Allow-Origin":  "*",
				"Cross-Origin-Resource-Policy": "cross-origin",
				"Content-Encoding":             tt.wantEncoding,
				"ETag":                         tt.wantETag,
				"Vary":                         "Accept-Encoding",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantBody {
				if len(body) != 0 {
					t.Errorf("body of %d bytes, want none", len(body))
				}
				return
			}
			if tt.wantEncoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("read gzip body: %v", err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("read gzip body: %v", err)
				}
			}
			if got := sri(body); got != Integrity() {
				t.Errorf("integrity of the served bytes = %s, Integrity() = %s", got, Integrity())
			}
		})
	}
}

func TestValidateBase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, base string
		ok         bool
	}{
		{"https host", "https://personas.example", true},
		{"http with port and path", "http://127.0.0.1:8080/personas", true},
		{"trailing slash", "https://personas.example/", true},
		{"no scheme", "personas.example", false},
		{"other scheme", "javascript:alert(1)", false},
		{"no host", "https:///x", false},
		{"credentials", "https://u:p@personas.example", false},
		{"query", "https://personas.example/?a=1", false},
		{"fragment", "https://personas.example/#x", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateBase(tt.base)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateBase(%q) = %v, want ok=%v", tt.base, err, tt.ok)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, base, key  string
		wantSrc, wantEnd string
	}{
		{"plain", "https://p.example", "pk_abc", "https://p.example" + Path(), "https://p.example"},
		{"trailing slashes dropped", "https://p.example/base//", "pk_abc", "https://p.example/base" + Path(), "https://p.example/base"},
		{"key escaped", "https://p.example", `pk_"><script>alert(1)</script>`, "https://p.example" + Path(), "https://p.example"},
		{"ampersand in path escaped", "https://p.example/a&b", "pk_1", "https://p.example/a&b" + Path(), "https://p.example/a&b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Snippet(tt.base, tt.key)
			lines := strings.Split(s, "\n")
			if len(lines) != 2 {
				t.Fatalf("Snippet has %d lines, want 2:\n%s", len(lines), s)
			}
			if want := "<style>" + AntiFlickerCSS() + "</style>"; lines[0] != want {
				t.Errorf("first line = %q, want %q", lines[0], want)
			}
			got := map[string]string{}
			for _, name := range []string{"src", "integrity", "crossorigin", "data-site-key", "data-endpoint"} {
				got[name] = attrValue(t, lines[1], name)
			}
			want := map[string]string{
				"src": tt.wantSrc, "integrity": Integrity(), "crossorigin": "anonymous",
				"data-site-key": tt.key, "data-endpoint": tt.wantEnd,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(lines[1], "<script async ") || !strings.HasSuffix(lines[1], "></script>") {
				t.Errorf("second line is not one async script tag: %s", lines[1])
			}
		})
	}
	if s := Snippet("ftp://p.example", "pk_1"); s != "" {
		t.Errorf("Snippet with an invalid base = %q, want empty", s)
	}
}

// attrValue finds name="…" in a tag and unescapes it; the value ends at the first quote,
// so an unescaped quote in a value shows up as a wrong value.
func attrValue(t *testing.T, tag, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(tag, " "+name+`="`)
	if !ok {
		t.Fatalf("no %s attribute in %s", name, tag)
	}
	v, _, ok := strings.Cut(rest, `"`)
	if !ok {
		t.Fatalf("unterminated %s attribute in %s", name, tag)
	}
	return html.UnescapeString(v)
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header string
		want         bool
	}{
		{"empty", "", false},
		{"gzip", "gzip", true},
		{"list", "deflate, gzip;q=0.5", true},
		{"q zero", "gzip;q=0", false},
		{"star", "*", true},
		{"explicit zero beats star", "*, gzip;q=0", false},
		{"case and spaces", " GZIP ; q=1.0 ", true},
		{"identity only", "identity", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := acceptsGzip(tt.header); got != tt.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

// FuzzSnippet checks that no site key or base URL can break out of the snippet's attributes.
func FuzzSnippet(f *testing.F) {
	f.Add("https://p.example", "pk_abc")
	f.Add("https://p.example/x/", `pk_"onload="alert(1)`)
	f.Add("http://[::1]:80/a&b", "<>&'\"")
	f.Fuzz(func(t *testing.T, base, key string) {
		s := Snippet(base, key)
		if s == "" {
			if ValidateBase(base) == nil {
				t.Fatalf("Snippet(%q, %q) is empty for a valid base", base, key)
			}
			return
		}
		_, tag, ok := strings.Cut(s, "\n")
		if !ok || strings.Count(s, "\n") != 1 {
			t.Fatalf("snippet is not two lines: %q", s)
		}
		if got := attrValue(t, tag, "data-site-key"); got != key {
			t.Fatalf("data-site-key reads back as %q, want %q", got, key)
		}
		if got := attrValue(t, tag, "data-endpoint"); got != strings.TrimRight(base, "/") {
			t.Fatalf("data-endpoint reads back as %q, want %q", got, strings.TrimRight(base, "/"))
		}
		if strings.Count(tag, "<") != 2 {
			t.Fatalf("the script tag holds a stray '<': %q", tag)
		}
	})
}

func BenchmarkHandler(b *testing.B) {
	h := Handler()
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			req := httptest.NewRequest("GET", Path(), nil)
			req.Header.Set("Accept-Encoding", enc)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
