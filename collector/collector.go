package collector

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

//go:embed collector.js
var script string

// defaultTimeoutMS is how long variants wait for an answer before the default content shows.
const defaultTimeoutMS = 300

// antiFlickerCSS returns the rule with a timeout in milliseconds. It must stay equal to the
// rule collector.js injects; a browser test compares them.
func antiFlickerCSS(ms int) string {
	return `[data-personas-show]:not([data-personas-match]),[data-personas-hide][data-personas-match]` +
		`{display:none!important}html:not([data-personas-ready]) [data-personas-hide]{visibility:hidden;` +
		`animation:personas-reveal 0s ` + strconv.Itoa(ms) + `ms forwards}@keyframes personas-reveal{to{visibility:visible}}`
}

// Script returns the collector script exactly as it is served, as a fresh copy.
func Script() []byte {
	return []byte(script)
}

// Version names this build of the script: "v1-" and the first 12 hex digits of its
// SHA-256. It changes whenever the script does, so URLs built from it are immutable.
func Version() string {
	sum := sha256.Sum256([]byte(script))
	return "v1-" + hex.EncodeToString(sum[:6])
}

// Path is the URL path the script is served at, "/collector/" + Version() + ".js".
func Path() string {
	return "/collector/" + Version() + ".js"
}

// Integrity is the Subresource Integrity value of the script, "sha384-" and the base64 of
// its SHA-384, for the integrity attribute of the snippet.
func Integrity() string {
	sum := sha512.Sum384([]byte(script))
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

// AntiFlickerCSS is the style rule of the snippet: it hides persona variants until the
// script has chosen them and shows the default content after 300 ms on its own.
func AntiFlickerCSS() string {
	return antiFlickerCSS(defaultTimeoutMS)
}

// ValidateBase reports whether base can serve as the public base URL in Snippet: an
// absolute http or https URL with a host and no user, query or fragment. Trailing slashes
// are allowed; Snippet drops them.
func ValidateBase(base string) error {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil {
		return fmt.Errorf("parse collector base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("collector base URL %q: scheme must be http or https", base)
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("collector base URL %q: no host", base)
	case u.User != nil:
		return fmt.Errorf("collector base URL %q: must not hold credentials", base)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(base, "#"):
		return fmt.Errorf("collector base URL %q: must not have a query or fragment", base)
	}
	return nil
}

// Snippet returns the two lines a site pastes into its <head>: the anti-flicker style and
// the script tag pinned to this version with its integrity hash, carrying the site key and
// the endpoint. base is the public URL of the Personas server; trailing slashes are dropped.
// It returns "" when base is not valid (see ValidateBase), which a server checks at start-up.
func Snippet(base, siteKey string) string {
	return snippet(base, siteKey, defaultTimeoutMS)
}

// snippet is Snippet with another anti-flicker timeout; the script tag then carries it
// in data-anti-flicker, so the style rule and the script agree.
func snippet(base, siteKey string, timeoutMS int) string {
	if ValidateBase(base) != nil {
		return ""
	}
	base = strings.TrimRight(base, "/")
	esc := html.EscapeString
	timeout := ""
	if timeoutMS != defaultTimeoutMS {
		timeout = ` data-anti-flicker="` + strconv.Itoa(timeoutMS) + `"`
	}
	return "<style>" + antiFlickerCSS(timeoutMS) + "</style>\n" +
		`<script async src="` + esc(base+Path()) + `" integrity="` + Integrity() +
		`" crossorigin="anonymous" data-site-key="` + esc(siteKey) + `" data-endpoint="` + esc(base) + `"` +
		timeout + `></script>`
}

// FirstPartyPrefix is the path on the customer's own domain under which the reverse proxy
// configurations of docs/deploy.md forward the script and the page API to Personas.
const FirstPartyPrefix = "/_p"

// FirstPartySnippet is Snippet for first-party serving: the script comes from
// FirstPartyPrefix+Path() on the site's own origin, still pinned by Integrity() (the proxy
// passes its bytes unchanged), and data-api sends the page API there too, so the page talks
// to no other host.
func FirstPartySnippet(siteKey string) string {
	esc := html.EscapeString
	return "<style>" + AntiFlickerCSS() + "</style>\n" +
		`<script async src="` + FirstPartyPrefix + Path() + `" integrity="` + Integrity() +
		`" crossorigin="anonymous" data-site-key="` + esc(siteKey) + `" data-api="` + FirstPartyPrefix + `"></script>`
}

// handler serves one immutable script, plain or gzipped.
type handler struct {
	path, etag, gzipETag string
	plain, gzipped       []byte
}

// Handler serves the script at Path() for GET and HEAD, cacheable for a year, gzipped when
// the client accepts it, with an ETag, and open to every origin (the script runs on
// customer sites). Other paths answer 404. It does not depend on any router.
func Handler() http.Handler {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		panic(err) // only for an invalid level, which is a constant here
	}
	if _, err := zw.Write([]byte(script)); err != nil {
		panic(fmt.Errorf("gzip collector script: %w", err)) // writes to memory cannot fail
	}
	if err := zw.Close(); err != nil {
		panic(fmt.Errorf("gzip collector script: %w", err))
	}
	v := Version()
	return &handler{
		path: Path(), etag: `"` + v + `"`, gzipETag: `"` + v + `-gz"`,
		plain: []byte(script), gzipped: buf.Bytes(),
	}
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Vary", "Accept-Encoding")
	body, etag := h.plain, h.etag
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag = h.gzipped, h.gzipETag
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	if matchesETag(r.Header.Get("If-None-Match"), h.etag, h.gzipETag) {
		hd.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body) // a failed write means the client left; nothing to do
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip with a quality
// above 0, naming it or through "*".
func acceptsGzip(header string) bool {
	gz, star := -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		q := 1.0
		if k, v, ok := strings.Cut(params, "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				f = 0
			}
			q = f
		}
		switch name = strings.TrimSpace(name); {
		case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
			gz = max(gz, q)
		case name == "*":
			star = max(star, q)
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}

// matchesETag reports whether an If-None-Match header names one of the given entity tags
// (weak comparison, as RFC 9110 asks for If-None-Match).
func matchesETag(header string, tags ...string) bool {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == "*" {
			return true
		}
		for _, t := range tags {
			if part == t {
				return true
			}
		}
	}
	return false
}
