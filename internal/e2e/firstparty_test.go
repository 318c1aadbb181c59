package e2e

// First-party serving (docs/deploy.md): Debian's real nginx and Caddy, each run privately with
// the very configuration files of docs/deploy/ (only the upstream replaced), in front of the
// in-process service, and a Chromium page on "the customer's" origin that talks to nothing else.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"personas/api"
	"personas/internal/residue"
	"personas/internal/testenv"
	"personas/internal/testserver"
)

// upstreamPlaceholder is the Personas URL in docs/deploy's files, which the tests replace.
const upstreamPlaceholder = "https://personas.example.com"

// spoofedClient is the X-Forwarded-For the browser sends on every request of the tests.
const spoofedClient = "203.0.113.9"

// loopback is the service's PERSONAS_TRUSTED_PROXIES in these tests. It includes ::1, the
// address the browser connects to the proxies from: a proxy that extended the browser's
// X-Forwarded-For instead of replacing it would then let the spoofed address through.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// proxyKind starts one of the reverse proxies of docs/deploy.
type proxyKind struct {
	name  string
	bin   string
	start func(t *testing.T, upstream, root string) *proxy
}

var proxyKinds = []proxyKind{
	{"nginx", "/usr/sbin/nginx", startNginx},
	{"caddy", "/usr/bin/caddy", startCaddy},
}

// proxy is a running reverse proxy: the customer's web server.
type proxy struct {
	Addr   string // [::1]:port, where it listens
	Origin string // http://shop.test:port, the customer's origin as the browser sees it
}

// shopHost is the customer's host name; the browser maps it to ::1, so the proxies see the
// browser's requests come from ::1 while their own requests to the service come from 127.0.0.1.
const shopHost = "shop.test"

// proxyBrowser is a browser that resolves shopHost to the proxies.
func proxyBrowser(t *testing.T) context.Context {
	t.Helper()
	for _, k := range proxyKinds {
		if _, err := os.Stat(k.bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI (make proxies): %v", k.name, err)
			}
			t.Skipf("no %s (make proxies): %v", k.name, err)
		}
	}
	return testenv.Browser(t, chromedp.Flag("host-resolver-rules", "MAP "+shopHost+" [::1]"))
}

// deployConfig reads a file of docs/deploy with the upstream replaced.
func deployConfig(t *testing.T, name, upstream string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), upstreamPlaceholder) {
		t.Fatalf("docs/deploy/%s does not name %s", name, upstreamPlaceholder)
	}
	return strings.ReplaceAll(string(b), upstreamPlaceholder, upstream)
}

// freeLoopback6 returns a port free on [::1].
func freeLoopback6(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("listen on [::1]: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNginx runs nginx in the foreground with its own prefix, one process, and the site's
// server block: the static files of root and docs/deploy/nginx.conf included as it is.
func startNginx(t *testing.T, upstream, root string) *proxy {
	t.Helper()
	dir := t.TempDir()
	port := freeLoopback6(t)
	include := filepath.Join(dir, "personas.conf")
	if err := os.WriteFile(include, []byte(deployConfig(t, "nginx.conf", upstream)), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	types { text/html html; }
	server {
		listen [::1]:%[2]d;
		server_name %[3]s;
		root %[4]s;
		include %[5]s;
	}
}
`, dir, port, shopHost, root, include)
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/nginx", "-e", "stderr", "-p", dir, "-c", file)
	return runProxy(t, "nginx", cmd, port)
}

// startCaddy runs caddy with the admin endpoint off, its state in a temporary directory, and
// the site's block: docs/deploy/Caddyfile imported as it is, then the static files of root.
func startCaddy(t *testing.T, upstream, root string) *proxy {
	t.Helper()
	dir := t.TempDir()
	port := freeLoopback6(t)
	include := filepath.Join(dir, "personas.Caddyfile")
	if err := os.WriteFile(include, []byte(deployConfig(t, "Caddyfile", upstream)), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{
	admin off
}
http://:%d {
	bind ::1
	import %s
	handle {
		root * %s
		file_server
	}
}
`, port, include, root)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/caddy", "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	return runProxy(t, "caddy", cmd, port)
}

// runProxy starts cmd, waits until it accepts connections on [::1]:port, and stops it (that
// process only) in t.Cleanup. Its output goes to the test log on failure.
func runProxy(t *testing.T, name string, cmd *exec.Cmd, port int) *proxy {
	t.Helper()
	var out testenv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	addr := net.JoinHostPort("::1", fmt.Sprint(port))
	deadline := time.Now().Add(testenv.StepTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited: %v\n%s", name, err, out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s:\n%s", name, addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &proxy{Addr: addr, Origin: fmt.Sprintf("http://%s:%d", shopHost, port)}
}

// tapped is one request that reached the service through a proxy.
type tapped struct {
	Method, Path string
	Header       http.Header
}

// tap sits between a proxy and the service and records what the proxy forwards, passing
// X-Forwarded-For on unchanged (the service trusts the tap's loopback address as it trusts
// the proxy's).
type tap struct {
	URL  string
	mu   sync.Mutex
	reqs []tapped
}

func newTap(t *testing.T, target string) *tap {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Header["X-Forwarded-For"] = r.In.Header["X-Forwarded-For"]
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.mu.Lock()
		tp.reqs = append(tp.reqs, tapped{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()})
		tp.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tp.URL = srv.URL
	return tp
}

// Requests returns what reached the service so far.
func (tp *tap) Requests() []tapped {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.reqs)
}

// forwardedPath matches what the proxies may forward: the script and the page API.
var forwardedPath = regexp.MustCompile(`^/(collector/[^/]+\.js|v1/(config|collect|classify|forget))$`)

// writeSite writes the customer's static pages: / with the first-party snippet and a button,
// and /blank.html without it (to set cookies before a visit).
func writeSite(t *testing.T, snippet string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{
		"index.html": `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>` + snippet +
			`</head><body><button id="b1">Apply coupon</button></body></html>`,
		"blank.html": `<!doctype html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>`,
	}
	for name, body := range pages {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// firstPartySnippet is first_party.snippet of GET /v1/projects/{id}/snippet.
func firstPartySnippet(t *testing.T, srv *testserver.Server, a testserver.Account) string {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + a.ProjectID.String() + "/snippet", Token: a.Token})
	var sn struct {
		FirstParty struct {
			Snippet string `json:"snippet"`
		} `json:"first_party"`
	}
	r.JSON(t, &sn)
	if r.Status != http.StatusOK || !strings.Contains(sn.FirstParty.Snippet, `data-api="/_p"`) {
		t.Fatalf("GET snippet: status %d: %s; want a first-party snippet", r.Status, r.Body)
	}
	return sn.FirstParty.Snippet
}

// allowOrigins sets the project's allowed origins.
func allowOrigins(t *testing.T, srv *testserver.Server, a testserver.Account, origins ...string) {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "PATCH", Path: "/v1/projects/" + a.ProjectID.String(), Token: a.Token,
		Body: map[string]any{"allowed_origins": origins}})
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH allowed_origins: status %d: %s", r.Status, r.Body)
	}
	// The service caches a site key's project for a few seconds: wait until it knows.
	for _, o := range origins {
		testserver.Eventually(t, testenv.StepTimeout, "the service allows "+o, func() bool {
			return srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/config?site_key=" + url.QueryEscape(a.SiteKey),
				Header: map[string]string{"Origin": o}}).Status == http.StatusOK
		})
	}
}

// proxyTab is a tab whose every request carries a spoofed X-Forwarded-For, recorded.
func proxyTab(t *testing.T, browser context.Context) (context.Context, *recorder) {
	t.Helper()
	tab := testenv.Tab(t, browser)
	rec := record(t, tab)
	ctx, cancel := context.WithTimeout(tab, testenv.StepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-Forwarded-For": spoofedClient}}); err != nil {
		t.Fatalf("set extra headers: %v", err)
	}
	return tab, rec
}

// TestFirstPartyThroughProxies runs the first-party snippet on the customer's origin, served
// by nginx and by Caddy with the configurations of docs/deploy, against a trained project.
func TestFirstPartyThroughProxies(t *testing.T) {
	t.Parallel()
	browser := proxyBrowser(t)
	s := newShopWith(t, testserver.Options{APIConfig: api.Config{TrustedProxies: loopback}})
	root := writeSite(t, firstPartySnippet(t, s.Srv, s.Acct))
	taps := make([]*tap, len(proxyKinds))
	proxies := make([]*proxy, len(proxyKinds))
	origins := []string{testserver.Origin, s.Site}
	for i, k := range proxyKinds {
		taps[i] = newTap(t, s.Srv.URL)
		proxies[i] = k.start(t, taps[i].URL, root)
		origins = append(origins, proxies[i].Origin)
	}
	allowOrigins(t, s.Srv, s.Acct, origins...)

	for i, k := range proxyKinds {
		t.Run(k.name, func(t *testing.T) {
			checkFirstPartyVisit(t, s, browser, proxies[i], taps[i], s.Visitors[i], "first_party_"+k.name)
		})
	}
	for i, k := range proxyKinds {
		t.Run(k.name+"/not forwarded", func(t *testing.T) {
			checkNotForwarded(t, proxies[i], taps[i])
		})
	}
	// Last: an erasure marks the model stale and may start a retrain.
	for i, k := range proxyKinds {
		t.Run(k.name+"/forget", func(t *testing.T) {
			checkFirstPartyForget(t, s, browser, proxies[i], taps[i], s.Visitors[i])
		})
	}
}

// checkFirstPartyVisit visits the shop through the proxy as a known visitor: the script loads
// under its integrity hash, persona() answers from the model, a goal and the leave beacon are
// stored, every request of the page goes to the shop's own origin, and what reached the service
// carried the proxy's view of the client and none of the shop's cookies.
func checkFirstPartyVisit(t *testing.T, s *shop, browser context.Context, p *proxy, tp *tap, visitor, goal string) {
	ctx := context.Background()
	tab, rec := proxyTab(t, browser)
	testenv.Do(t, tab, chromedp.Navigate(p.Origin+"/blank.html"))
	testenv.Eval[bool](t, tab, `document.cookie = "personas_id=`+visitor+`; path=/; max-age=3600; SameSite=Lax";`+
		`document.cookie = "shop_session=s3cret-session; path=/"; true`)
	start := time.Now()
	testenv.Do(t, tab, chromedp.Navigate(p.Origin+"/"))
	if got := testenv.Eval[string](t, tab, `typeof window.personas`); got != "object" {
		page, _ := rec.Console()
		t.Fatalf("the collector did not run through the proxy (integrity?): typeof personas = %s; console %v", got, page)
	}

	got := testenv.Eval[answer](t, tab, `personas.persona()`)
	want := s.Classify(t, visitor)
	if got.Reason != "ok" && got.Reason != "outlier" || got.ModelVersion == nil || *got.ModelVersion != s.Version {
		t.Fatalf("persona() through the proxy = %+v, want an answer of model %d", got, s.Version)
	}
	if got.Reason == "ok" && want.Reason == "ok" && !cmp.Equal(got.Persona, want.Persona) {
		t.Errorf("persona() = %+v, POST /v1/classify = %+v", got.Persona, want.Persona)
	}

	testenv.Do(t, tab, chromedp.Click(chromedp.ID("b1")))
	testenv.Eval[bool](t, tab, `personas.goal("`+goal+`"); personas.flush().then(() => true)`)
	// The collector sends no credentials with fetch, but a page's own call through /_p (or a
	// beacon) does: the proxy must keep them.
	if st := testenv.Eval[int](t, tab, `fetch("/_p/v1/config?site_key=`+s.Acct.SiteKey+`", {credentials: "include"}).then(r => r.status)`); st != http.StatusOK {
		t.Errorf("GET /_p/v1/config with the shop's cookies: status %d, want 200", st)
	}
	// Leaving sends the leave event with sendBeacon, which carries the site's cookies.
	testenv.Do(t, tab, chromedp.Navigate(p.Origin+"/blank.html"))
	hash := s.Srv.Store.VisitorHash(s.Acct.ProjectID, visitor)
	var types []string
	testserver.Eventually(t, testenv.StepTimeout, "the visit's page view, click, goal and leave in PostgreSQL", func() bool {
		rows, err := s.Srv.Pool.Query(ctx, `SELECT type || ' ' || goal FROM events
			WHERE project_id = $1 AND visitor_hash = $2 AND received_at >= $3 ORDER BY ts, type`, s.Acct.ProjectID, hash, start.Add(-time.Second))
		if err != nil {
			t.Fatal(err)
		}
		types = types[:0]
		for rows.Next() {
			var e string
			if err := rows.Scan(&e); err != nil {
				t.Fatal(err)
			}
			types = append(types, strings.TrimSpace(e))
		}
		return rows.Err() == nil && slices.Contains(types, "goal "+goal) && slices.Contains(types, "leave")
	})
	for _, want := range []string{"pageview", "click"} {
		if !slices.Contains(types, want) {
			t.Errorf("stored events of the visit %v lack a %s", types, want)
		}
	}

	// The page talked to its own origin only.
	for _, q := range rec.Requests("") {
		if !strings.HasPrefix(q.URL, p.Origin+"/") {
			t.Errorf("the page requested %s %s, outside %s", q.Method, q.URL, p.Origin)
		}
	}
	withCookies := func() bool {
		return slices.ContainsFunc(rec.Requests(p.Origin+"/_p/"), func(q request) bool {
			return strings.Contains(q.Headers["cookie"], "shop_session=s3cret-session")
		})
	}
	deadline := time.Now().Add(testenv.StepTimeout)
	for !withCookies() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, path := range []string{"/_p/collector/", "/_p/v1/config", "/_p/v1/collect", "/_p/v1/classify"} {
		if len(rec.Requests(p.Origin+path)) == 0 {
			t.Errorf("no request to %s%s from the page", p.Origin, path)
		}
	}
	if !withCookies() {
		t.Errorf("no request of the page to /_p/ carried the shop's cookies: the cookie check below proves nothing")
	}

	checkTapped(t, tp, p)
}

// checkTapped checks everything that reached the service through the proxy: forwarded paths
// only, the client as the proxy saw it (::1, never the spoofed address), Origin or Referer of
// the shop, and no cookies or credentials.
func checkTapped(t *testing.T, tp *tap, p *proxy) {
	t.Helper()
	reqs := tp.Requests()
	if len(reqs) == 0 {
		t.Fatal("nothing reached the service through the proxy")
	}
	for _, r := range reqs {
		what := r.Method + " " + r.Path
		if !forwardedPath.MatchString(r.Path) {
			t.Errorf("%s reached the service", what)
		}
		if xff := r.Header.Values("X-Forwarded-For"); !cmp.Equal(xff, []string{"::1"}) {
			t.Errorf("%s: X-Forwarded-For %q, want the browser's address ::1 alone", what, xff)
		}
		for _, h := range []string{"Cookie", "Authorization"} {
			if v := r.Header.Get(h); v != "" {
				t.Errorf("%s: the proxy forwarded %s %q", what, h, v)
			}
		}
		if o, ref := r.Header.Get("Origin"), r.Header.Get("Referer"); o != p.Origin && !strings.HasPrefix(ref, p.Origin+"/") {
			t.Errorf("%s: Origin %q, Referer %q: the shop's origin %s got lost", what, o, ref, p.Origin)
		}
	}
}

// checkNotForwarded sends what a proxy must not forward, byte for byte (no client clean-up of
// the paths): the proxy answers itself and nothing reaches the service.
func checkNotForwarded(t *testing.T, p *proxy, tp *tap) {
	before := len(tp.Requests())
	for _, c := range []struct {
		method, path string
		want         []int
	}{
		{"GET", "/_p/v1/projects", []int{404}},
		{"GET", "/_p/dashboard", []int{404}},
		{"GET", "/_p/", []int{404}},
		{"GET", "/_p", []int{404}},
		{"GET", "/_p/login", []int{404}},
		{"GET", "/_p/metrics", []int{404}},
		{"GET", "/_p/healthz", []int{404}},
		{"GET", "/_p/v1/receipt-key", []int{404}},
		{"POST", "/_p/v1/session", []int{404}},
		{"GET", "/_p/projects/1/settings", []int{404}},
		{"GET", "/_p/v1/config/../projects", []int{404}},
		{"GET", "/_p/v1/collect/../../v1/projects", []int{404}},
		{"GET", "/_p/collector/../v1/projects", []int{404}},
		{"GET", "/_p/collector/%2e%2e/v1/projects", []int{404}},
		{"GET", "/_p/collector/..%2f..%2fv1/projects", []int{404}},
		{"GET", "/_p/%2e%2e/_p/v1/projects", []int{404}},
		{"GET", "/_p/v1/CONFIG", []int{404}},
		{"GET", "/_p/v1/configx", []int{404}},
		{"GET", "/v1/projects", []int{404}},
		{"GET", "/collector/x.js", []int{404}},
		// Forwarded paths with other methods: refused by the proxy (nginx 403, Caddy 404).
		{"GET", "/_p/v1/collect", []int{403, 404}},
		{"DELETE", "/_p/v1/forget", []int{403, 404}},
		{"PUT", "/_p/v1/classify", []int{403, 404}},
		{"POST", "/_p/v1/config", []int{403, 404}},
		{"OPTIONS", "/_p/v1/collect", []int{403, 404}},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			if got := rawRequest(t, p, c.method, c.path); !slices.Contains(c.want, got) {
				t.Errorf("%s %s through the proxy: status %d, want one of %v", c.method, c.path, got, c.want)
			}
		})
	}
	if after := tp.Requests(); len(after) != before {
		for _, r := range after[before:] {
			t.Errorf("%s %s reached the service", r.Method, r.Path)
		}
	}
}

// rawRequest writes one HTTP/1.1 request with the path exactly as given and returns the status.
func rawRequest(t *testing.T, p *proxy, method, path string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr, testenv.StepTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(testenv.StepTimeout))
	host := strings.TrimPrefix(p.Origin, "http://")
	body := ""
	if method == "POST" || method == "PUT" {
		body = `{"site_key":"x"}`
	}
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nCookie: shop_session=s3cret\r\nX-Forwarded-For: %s\r\n"+
		"Content-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, path, host, p.Origin, spoofedClient, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkFirstPartyForget erases the visitor through the proxy: forget() resolves on 202 and
// the visitor's rows go.
func checkFirstPartyForget(t *testing.T, s *shop, browser context.Context, p *proxy, tp *tap, visitor string) {
	ctx := context.Background()
	hash := s.Srv.Store.VisitorHash(s.Acct.ProjectID, visitor)
	before, err := residue.Visitor(ctx, s.Srv.Pool, s.Acct.ProjectID, hash)
	if err != nil {
		t.Fatal(err)
	}
	if before["events"] == 0 {
		t.Fatalf("no events of the visitor before forget (%v): the check could not fail", before)
	}
	tab, rec := proxyTab(t, browser)
	testenv.Do(t, tab, chromedp.Navigate(p.Origin+"/blank.html"))
	testenv.Eval[bool](t, tab, `document.cookie = "personas_id=`+visitor+`; path=/; max-age=3600; SameSite=Lax"; true`)
	testenv.Do(t, tab, chromedp.Navigate(p.Origin+"/"))
	testenv.Eval[answer](t, tab, `personas.persona()`)
	if !testenv.Eval[bool](t, tab, `personas.forget().then(() => true)`) {
		t.Fatal("forget() did not resolve")
	}
	forget := rec.Requests(p.Origin + "/_p/v1/forget")
	if len(forget) != 1 || forget[0].Status != http.StatusAccepted {
		t.Fatalf("forget requests = %+v, want one to %s/_p/v1/forget answered 202", forget, p.Origin)
	}
	var after residue.Counts
	testserver.Eventually(t, 60*time.Second, "the visitor's rows are erased", func() bool {
		var err error
		if after, err = residue.Visitor(ctx, s.Srv.Pool, s.Acct.ProjectID, hash); err != nil {
			t.Fatal(err)
		}
		return len(after.Left()) == 0
	})
	t.Logf("removed %v", before.Removed(after))
	checkTapped(t, tp, p)
}

// TestFirstPartyForwardedClient checks which client the service sees behind each proxy: its
// per-client rate limit (one classify call per client here, refilled only after 1000 s) is
// keyed on the browser's address as the proxy forwards it, not on the proxy's own address and
// not on an X-Forwarded-For the browser made up.
func TestFirstPartyForwardedClient(t *testing.T) {
	t.Parallel()
	browser := proxyBrowser(t)
	root := writeSite(t, "")
	for _, k := range proxyKinds {
		t.Run(k.name, func(t *testing.T) {
			srv := testserver.New(t, testserver.Options{NoWorker: true,
				APIConfig: api.Config{TrustedProxies: loopback, RatePerClient: 0.001}})
			a := srv.NewAccount(t, "owner@"+k.name+".example", false)
			p := k.start(t, srv.URL, root)
			allowOrigins(t, srv, a, p.Origin)
			body := fmt.Sprintf(`{"site_key":%q,"visitor_id":"%032x","events":[]}`, a.SiteKey, 7)

			// Straight to the service: as the proxy itself (127.0.0.1), and as the made-up client.
			direct := func(xff string) int {
				h := map[string]string{"Origin": p.Origin, "Content-Type": "text/plain"}
				if xff != "" {
					h["X-Forwarded-For"] = xff
				}
				return srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/classify", Body: body, Header: h}).Status
			}
			for _, who := range []string{"", spoofedClient} {
				if got := []int{direct(who), direct(who)}; !cmp.Equal(got, []int{200, 429}) {
					t.Fatalf("two direct classify calls as client %q: %v, want [200 429] (one call per client)", who, got)
				}
			}

			// Through the proxy, from the browser: a bucket of its own, which it then uses up.
			tab, rec := proxyTab(t, browser)
			testenv.Do(t, tab, chromedp.Navigate(p.Origin+"/blank.html"))
			call := `fetch("/_p/v1/classify", {method: "POST", body: ` + fmt.Sprintf("%q", body) + `}).then(r => r.status)`
			if got := []int{testenv.Eval[int](t, tab, call), testenv.Eval[int](t, tab, call)}; !cmp.Equal(got, []int{200, 429}) {
				t.Errorf("two classify calls of the page through %s: %v, want [200 429]: the service did not key them on the browser's own address", k.name, got)
			}
			sent := rec.Requests(p.Origin + "/_p/v1/classify")
			if len(sent) != 2 || sent[0].Headers["x-forwarded-for"] != spoofedClient {
				t.Errorf("the page's classify calls %+v did not carry the made-up X-Forwarded-For: the check proves nothing", sent)
			}
			// The bucket the page used up is the one of ::1, the address the proxy forwarded.
			if got := direct("::1"); got != http.StatusTooManyRequests {
				t.Errorf("a direct classify call as ::1: status %d, want 429 (the page's bucket)", got)
			}
		})
	}
}
