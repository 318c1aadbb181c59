package collector

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"personas/internal/testenv"
)

func TestFirstPartySnippet(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"pk_abc", `pk_"><script>alert(1)</script>`, "pk_'&<>", ""} {
		t.Run(key, func(t *testing.T) {
			s := FirstPartySnippet(key)
			lines := strings.Split(s, "\n")
			if len(lines) != 2 {
				t.Fatalf("FirstPartySnippet has %d lines, want 2:\n%s", len(lines), s)
			}
			if want := "<style>" + AntiFlickerCSS() + "</style>"; lines[0] != want {
				t.Errorf("first line = %q, want %q", lines[0], want)
			}
			got := map[string]string{}
			for _, name := range []string{"src", "integrity", "crossorigin", "data-site-key", "data-api"} {
				got[name] = attrValue(t, lines[1], name)
			}
			want := map[string]string{
				"src": "/_p" + Path(), "integrity": Integrity(), "crossorigin": "anonymous",
				"data-site-key": key, "data-api": "/_p",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			if strings.Contains(lines[1], "data-endpoint") || strings.Count(lines[1], "<") != 2 ||
				!strings.HasPrefix(lines[1], "<script async ") || !strings.HasSuffix(lines[1], "></script>") {
				t.Errorf("second line is not one async script tag with data-api only: %s", lines[1])
			}
		})
	}
}

// firstPartySite is a customer's site that forwards /_p/… to an API recorder on its own
// origin, as the reverse proxies of docs/deploy.md do. Every recorded request came through it.
type firstPartySite struct {
	API  *APIRecorder
	URL  string
	head string
}

func newFirstPartySite(t *testing.T, api *APIRecorder) *firstPartySite {
	t.Helper()
	s := &firstPartySite{API: api}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, FirstPartyPrefix+"/"); ok {
			r = r.Clone(r.Context())
			r.URL.Path = "/" + rest
			api.ServeHTTP(w, r)
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>%s</head><body>%s</body></html>`,
			s.head, variantsBody)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func TestFirstPartyInBrowser(t *testing.T) {
	t.Parallel()
	browser := testenv.Browser(t)
	closed := closedOrigin(t)
	snip := FirstPartySnippet(testSiteKey)

	for _, c := range []struct {
		name string
		head func(site string) string
		ok   bool // the script talks to /_p on the site; otherwise it stays silent
	}{
		{"the first-party snippet", func(string) string { return snip }, true},
		{"a path without the leading slash", func(string) string { return strings.Replace(snip, `data-api="/_p"`, `data-api="_p/"`, 1) }, true},
		{"an absolute URL of the site", func(site string) string {
			return strings.Replace(snip, `data-api="/_p"`, `data-api="`+site+`/_p"`, 1)
		}, true},
		{"query and fragment dropped", func(string) string {
			return strings.Replace(snip, `data-api="/_p"`, `data-api="/_p?x=1#frag"`, 1)
		}, true},
		{"data-api wins over data-endpoint", func(string) string {
			return strings.Replace(snip, `data-api=`, `data-endpoint="`+closed+`" data-api=`, 1)
		}, true},
		{"a javascript: URL", func(string) string {
			return strings.Replace(snip, `data-api="/_p"`, `data-api="javascript:alert(1)//"`, 1)
		}, false},
		{"a data: URL", func(string) string { return strings.Replace(snip, `data-api="/_p"`, `data-api="data:text/plain,x"`, 1) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			site := newFirstPartySite(t, DefaultAPI())
			site.head = c.head(site.URL)
			tab := testenv.Tab(t, browser)
			testenv.Do(t, tab, chromedp.Navigate(site.URL+"/"))
			if got := testenv.Eval[string](t, tab, `typeof window.personas`); got != "object" {
				t.Fatalf("typeof window.personas = %s: the script did not run through the site (integrity?)", got)
			}
			a := testenv.Eval[map[string]any](t, tab, `personas.persona()`)
			if !c.ok {
				if a["reason"] != "unavailable" {
					t.Errorf("persona() = %v, want reason unavailable", a)
				}
				testenv.Do(t, tab, chromedp.Navigate("about:blank"), chromedp.Navigate(site.URL+"/_p/sentinel"))
				reqs := site.API.WaitFor(t, "the sentinel", func(rs []Recorded) bool {
					return slices.ContainsFunc(rs, func(r Recorded) bool { return r.Path == "/sentinel" })
				})
				if len(reqs) != 1 {
					t.Errorf("the script sent requests with an unusable data-api:\n%s", dump(reqs))
				}
				return
			}
			if p, _ := a["persona"].(map[string]any); p == nil || p["type"] != "deal_seeker" {
				t.Fatalf("persona() = %v, want the recorder's deal_seeker answer", a)
			}
			testenv.Eval[bool](t, tab, `personas.goal("signup"); personas.flush().then(() => true)`)
			site.API.WaitFor(t, "the goal", HasEvent(t, func(ev Event) bool { return ev.Type == "goal" && ev.Name == "signup" }))
			testenv.Eval[bool](t, tab, `personas.forget().then(() => true)`)
			paths := Paths(site.API.WaitFor(t, "the forget request", func(rs []Recorded) bool {
				return slices.ContainsFunc(rs, func(r Recorded) bool { return r.Path == "/v1/forget" })
			}))
			for _, want := range []string{"/v1/config", "/v1/collect", "/v1/classify", "/v1/forget"} {
				if !slices.Contains(paths, want) {
					t.Errorf("no %s through the site's /_p; recorded %v", want, paths)
				}
			}
			// Every request of the page went to its own origin.
			urls := testenv.Eval[[]string](t, tab, `performance.getEntriesByType('resource').map(e => e.name)`)
			for _, u := range urls {
				if !strings.HasPrefix(u, site.URL+"/") {
					t.Errorf("the page requested %s, outside its origin %s", u, site.URL)
				}
			}
		})
	}
}

// closedOrigin is an http origin on a loopback port nothing listens on.
func closedOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}
