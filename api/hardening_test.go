package api_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"personas/api"
	"personas/internal/testserver"
)

// scrape reads /metrics.
func scrape(t *testing.T, srv *testserver.Server) string {
	t.Helper()
	a := send(t, http.DefaultClient, "GET", srv.URL+"/metrics", "", "", nil)
	if a.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", a.status)
	}
	return a.body
}

var requestSeries = regexp.MustCompile(`(?m)^personas_http_requests_total\{[^}]*\}`)

// TestMetricLabelsStayBounded sends requests with random methods and random unmatched paths,
// as the hostile review did: the request series and the scrape must not grow with them.
func TestMetricLabelsStayBounded(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	c := clientFrom("127.0.0.1")
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[rand.IntN(len(letters))]
		}
		return string(b)
	}
	flood := func(n int) {
		for i := range n {
			switch i % 4 {
			case 0: // an unknown method on a real route
				send(t, c, word(12), srv.URL+"/v1/collect", "", "", nil)
			case 1: // an unknown method on no route
				send(t, c, word(12), srv.URL+"/"+word(20), "", "", nil)
			case 2: // a known method on no route
				send(t, c, "GET", srv.URL+"/x/"+word(20)+"?q="+word(8), "", "", nil)
			case 3: // a known method the route does not answer (405)
				send(t, c, "PUT", srv.URL+"/healthz", "", "", nil)
			}
		}
	}
	flood(400)
	first := scrape(t, srv)
	flood(400)
	second := scrape(t, srv)

	series := requestSeries.FindAllString(second, -1)
	var unmatched []string
	for _, s := range series {
		if strings.Contains(s, `route="unmatched"`) {
			unmatched = append(unmatched, s)
			if !strings.Contains(s, `method="unmatched"`) {
				t.Errorf("unmatched route with method label of its own: %s", s)
			}
		}
	}
	// Unmatched requests are 404 or 405: at most one series per status.
	if len(unmatched) == 0 || len(unmatched) > 2 {
		t.Errorf("%d request series for unmatched requests, want 1 or 2: %v", len(unmatched), unmatched)
	}
	if len(series) > 10 {
		t.Errorf("%d request series after 800 random requests, want at most 10: %v", len(series), series)
	}
	if strings.Contains(second, `method="PUT",route="/healthz"`) {
		t.Error("a 405 on /healthz is labelled as the route")
	}
	// A second flood of new random strings adds nothing but counts: the scrape stays the same
	// size within a few bytes per changed number.
	if d := len(second) - len(first); d > 2048 {
		t.Errorf("scrape grew by %d bytes after 400 more random requests (%d → %d), want bounded", d, len(first), len(second))
	}
}

// TestSafeNextAfterSignIn signs in through the login form with hostile next values: every
// redirect stays on this site.
func TestSafeNextAfterSignIn(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "next@session.example", false)
	tests := []struct{ name, next, want string }{
		{"own page", "/projects/42?done=renamed", "/projects/42?done=renamed"},
		{"root", "/", "/"},
		{"protocol relative", "//evil.example/", "/"},
		{"backslash", "/\\evil.example", "/"},
		{"backslash later", "/a\\..\\evil", "/"},
		{"tab after slash", "/\t/evil.example", "/"},
		{"encoded tab after slash", "/%09/evil.example", "/"},
		{"newline", "/\n/evil.example", "/"},
		{"encoded slashes, relative", "%2F%2Fevil.example", "/"},
		{"encoded slashes after slash", "/%2F/evil.example", "/"},
		{"encoded backslash", "/%5Cevil.example", "/"},
		{"double-encoded slashes", "/%252F%252Fevil.example", "/"},
		{"absolute URL", "https://evil.example/", "/"},
		{"scheme-relative https", "https:/evil.example", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"data", "data:text/html,hi", "/"},
		{"space", "/ /evil.example", "/"},
		{"non-ASCII", "/\u3000/evil.example", "/"},
		{"DEL", "/\x7f/evil.example", "/"},
		{"empty", "", "/"},
		{"relative", "projects", "/"},
		{"user info", "/@evil.example", "/@evil.example"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := "127.0.2." + strconv.Itoa(i+1)
			a := send(t, clientFrom(ip), "POST", srv.URL+"/login", "application/x-www-form-urlencoded",
				url.Values{"email": {acct.Email}, "password": {sessionPassword}, "next": {tt.next}}.Encode(), nil)
			if a.status != http.StatusSeeOther || a.header.Get("Location") != tt.want {
				t.Errorf("next %q: %d, Location %q; want 303 to %q", tt.next, a.status, a.header.Get("Location"), tt.want)
			}
			// The page's own links carry next through the query: the same rule applies there.
			q := send(t, clientFrom(ip), "POST", srv.URL+"/v1/session", "application/x-www-form-urlencoded",
				url.Values{"email": {acct.Email}, "password": {sessionPassword}, "next": {tt.next}}.Encode(), nil)
			if q.status != http.StatusSeeOther || q.header.Get("Location") != tt.want {
				t.Errorf("/v1/session next %q: %d, Location %q; want 303 to %q", tt.next, q.status, q.header.Get("Location"), tt.want)
			}
		})
	}
}

func multipartBody(t *testing.T, fields map[string]string, fileBytes int) (string, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if fileBytes > 0 {
		f, _ := w.CreateFormFile("upload", "big.bin")
		_, _ = f.Write(bytes.Repeat([]byte("x"), fileBytes))
	}
	_ = w.Close()
	return w.FormDataContentType(), b.String()
}

// TestFormBodiesAreLimited posts oversized, multipart and over-long password bodies to the
// sign-in routes and a dashboard form: each is refused before it is read whole or hashed.
func TestFormBodiesAreLimited(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "forms@session.example", false)
	mpType, mpBody := multipartBody(t, map[string]string{"email": acct.Email, "password": sessionPassword}, 1<<20)
	long := strings.Repeat("p", 1025)
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, path, ct, body string
		want                 int
		wantText             string
	}{
		{"login form of 9 MiB", "/login", form, "email=" + url.QueryEscape(acct.Email) + "&password=" + strings.Repeat("a", 9<<20), 413, "larger than 64 KiB"},
		{"login form just past 64 KiB", "/login", form, "email=x&password=" + strings.Repeat("a", 64<<10), 413, "larger than 64 KiB"},
		{"multipart login", "/login", mpType, mpBody, 415, "multipart"},
		{"multipart session", "/v1/session", mpType, mpBody, 415, "multipart"},
		{"session form of 1 MiB", "/v1/session", form, "password=" + strings.Repeat("a", 1<<20), 413, "larger than"},
		{"multipart dashboard form", "/projects/" + acct.ProjectID.String() + "/train", mpType, mpBody, 415, "multipart"},
		{"dashboard form of 1 MiB", "/projects/" + acct.ProjectID.String() + "/train", form, "csrf_token=" + strings.Repeat("a", 1<<20), 413, "larger than 64 KiB"},
		{"password over 1024 bytes, JSON", "/v1/session", "application/json", loginJSON(acct.Email, long), 400, "at most 1024 bytes"},
		{"password over 1024 bytes, form", "/login", form, url.Values{"email": {acct.Email}, "password": {long}}.Encode(), 400, "at most 1024 bytes"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, clientFrom("127.0.3."+strconv.Itoa(i+1)), "POST", srv.URL+tt.path, tt.ct, tt.body, nil)
			if a.status != tt.want || !strings.Contains(a.body, tt.wantText) {
				t.Errorf("POST %s: %d %.200s; want %d saying %q", tt.path, a.status, a.body, tt.want, tt.wantText)
			}
		})
	}
	// A password of exactly 1024 bytes is checked (and is wrong).
	if a := send(t, clientFrom("127.0.3.100"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(acct.Email, long[:1024]), nil); a.status != http.StatusUnauthorized {
		t.Errorf("1024-byte password: %d %s, want 401", a.status, a.body)
	}
}

func TestSessionRefusesCrossSiteForms(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "csrf-login@session.example", false)
	body := url.Values{"email": {acct.Email}, "password": {sessionPassword}}.Encode()
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cross-site Origin", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site Referer", map[string]string{"Referer": "https://evil.example/login"}, http.StatusForbidden},
		{"browser says cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same origin", map[string]string{"Origin": srv.URL}, http.StatusSeeOther},
		{"no browser headers", nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, clientFrom("127.0.4.1"), "POST", srv.URL+"/v1/session", "application/x-www-form-urlencoded", body, tt.header)
			if a.status != tt.want {
				t.Fatalf("form post to /v1/session: %d %s, want %d", a.status, a.body, tt.want)
			}
			if tt.want == http.StatusForbidden && len(a.header.Values("Set-Cookie")) > 0 {
				t.Errorf("a refused cross-site sign-in set a cookie: %v", a.header.Values("Set-Cookie"))
			}
		})
	}
}

// TestReadyWhileRedisIsDown: with Redis unreachable, collect and classify still work, so the
// instance is ready; the body and /metrics say Redis is down.
func TestReadyWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	srv := testserver.New(t, testserver.Options{NoWorker: true, Redis: rdb})
	a := send(t, http.DefaultClient, "GET", srv.URL+"/readyz", "", "", nil)
	for _, want := range []string{`"ready":true`, `"redis":"unreachable"`, `"postgres":"ok"`, `"keystore":"ok"`, `"schema":"ok"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("readyz body %s lacks %s", a.body, want)
		}
	}
	if a.status != http.StatusOK {
		t.Errorf("readyz with Redis down: %d, want 200", a.status)
	}
	m := scrape(t, srv)
	for _, want := range []string{`personas_dependency_up{dependency="redis"} 0`, `personas_dependency_up{dependency="postgres"} 1`,
		`personas_dependency_up{dependency="keystore"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	acct := srv.NewAccount(t, "redis-down@session.example", false)
	srv.Collect(t, acct.SiteKey, "v1", "s1", []map[string]any{{"type": "pageview", "ts": time.Now().UnixMilli(), "url": testserver.Origin + "/"}})
}

func TestTokenGuessingIsLimited(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true, APIConfig: api.Config{TokenFailures: 1}}) // the default
	acct := srv.NewAccount(t, "tokens@session.example", false)
	guesser := clientFrom("127.0.5.1")
	var limited answer
	n := 0
	for ; n < 40; n++ {
		a := send(t, guesser, "GET", srv.URL+"/v1/me", "", "", map[string]string{"Authorization": "Bearer psn_guess" + strconv.Itoa(n)})
		if a.status == http.StatusTooManyRequests {
			limited = a
			break
		}
		if a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", n, a.status, a.body)
		}
	}
	if n != 20 {
		t.Fatalf("limited after %d failed token checks, want 20 (status %d)", n, limited.status)
	}
	checkRetryAfter(t, limited)
	// The guesser's real token waits too; another client's works.
	if a := send(t, guesser, "GET", srv.URL+"/v1/me", "", "", map[string]string{"Authorization": "Bearer " + acct.Token}); a.status != http.StatusTooManyRequests {
		t.Errorf("limited client with a good token: %d, want 429", a.status)
	}
	if a := send(t, clientFrom("127.0.5.2"), "GET", srv.URL+"/v1/me", "", "", map[string]string{"Authorization": "Bearer " + acct.Token}); a.status != http.StatusOK {
		t.Errorf("another client with a good token: %d, want 200", a.status)
	}
	// Good tokens never count: 50 checks in a row pass.
	for i := range 50 {
		if a := send(t, clientFrom("127.0.5.3"), "GET", srv.URL+"/v1/me", "", "", map[string]string{"Authorization": "Bearer " + acct.Token}); a.status != http.StatusOK {
			t.Fatalf("good token check %d: %d", i, a.status)
		}
	}
}

func TestStaticAndSecurityHeaders(t *testing.T) {
	t.Parallel()
	for _, production := range []bool{false, true} {
		t.Run("production="+strconv.FormatBool(production), func(t *testing.T) {
			srv := testserver.New(t, testserver.Options{NoWorker: true, APIConfig: api.Config{Production: production}})
			tests := []struct {
				path string
				want int
			}{
				{"/static/app.css", 200},
				{"/static/logo.svg", 200},
				{"/static/", 404},
				{"/static/.", 404},
				{"/static/../web/templates/login.html", 404},
				{"/static/%2e%2e/templates/login.html", 404},
				{"/static/nothing.js", 404},
			}
			for _, tt := range tests {
				a := send(t, http.DefaultClient, "GET", srv.URL+tt.path, "", "", nil)
				if a.status != tt.want {
					t.Errorf("GET %s: %d, want %d", tt.path, a.status, tt.want)
				}
				if strings.Contains(a.body, "<pre>") || strings.Contains(a.body, `href="app.js"`) {
					t.Errorf("GET %s lists a folder: %.200s", tt.path, a.body)
				}
				got := a.header.Get("Strict-Transport-Security")
				if production && !strings.Contains(got, "max-age=31536000") {
					t.Errorf("production GET %s: Strict-Transport-Security %q, want a year", tt.path, got)
				}
				if !production && got != "" {
					t.Errorf("development GET %s sets Strict-Transport-Security %q", tt.path, got)
				}
			}
		})
	}
}

// TestClientAddressThroughTrustedProxies: X-Forwarded-For names the client only when the peer
// is a trusted proxy, read from the right past trusted hops; the per-client collect limit
// follows it.
func TestClientAddressThroughTrustedProxies(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.6.0/24"), netip.MustParsePrefix("10.0.0.0/8")}
	srv := testserver.New(t, testserver.Options{NoWorker: true, APIConfig: api.Config{TrustedProxies: trusted,
		RatePerClient: 1, RatePerSite: -1}}) // a burst of 2 per client, then one a second
	acct := srv.NewAccount(t, "proxies@session.example", false)
	payload := `{"site_key":"` + acct.SiteKey + `","visitor_id":"v","session_id":"s","events":[{"type":"pageview","ts":` +
		strconv.FormatInt(time.Now().UnixMilli(), 10) + `,"url":"` + testserver.Origin + `/"}]}`
	collect := func(peer, xff string) int {
		h := map[string]string{"Origin": testserver.Origin}
		if xff != "" {
			h["X-Forwarded-For"] = xff
		}
		return send(t, clientFrom(peer), "POST", srv.URL+"/v1/collect", "text/plain", payload, h).status
	}
	tests := []struct {
		name       string
		peer, xff  string
		sameBucket string // a request that must share the bucket (exhausted by the first two)
	}{
		{"untrusted peer: XFF ignored", "127.0.7.1", "203.0.113.1", "127.0.7.1|203.0.113.99"},
		{"trusted peer: the client it names", "127.0.6.1", "203.0.113.2", "127.0.6.2|203.0.113.2"},
		{"trusted hops skipped from the right", "127.0.6.1", "198.51.100.7, 203.0.113.3, 10.1.2.3", "127.0.6.3|203.0.113.3, 10.9.9.9"},
		{"spoofed left part ignored", "127.0.6.1", "1.1.1.1, 203.0.113.4", "127.0.6.4|8.8.8.8, 203.0.113.4"},
		{"garbage in the chain: the proxy itself", "127.0.6.5", "203.0.113.5, not-an-ip", "127.0.6.5|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 2 {
				if got := collect(tt.peer, tt.xff); got != http.StatusNoContent {
					t.Fatalf("request %d within the burst: %d", i, got)
				}
			}
			peer, xff, _ := strings.Cut(tt.sameBucket, "|")
			if got := collect(peer, xff); got != http.StatusTooManyRequests {
				t.Errorf("from %s with X-Forwarded-For %q after the burst of the same client: %d, want 429", peer, xff, got)
			}
		})
	}
}

// TestSignInFloodIsBounded sends 32 sign-ins at once to a server with one hashing slot and a
// 5 ms wait: every answer is a wrong password or a 503 with Retry-After, none is an error,
// and while they run the server never reports more hashes running than its slots.
func TestSignInFloodIsBounded(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true, APIConfig: api.Config{PasswordHashes: 1, PasswordWait: 5 * time.Millisecond}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	status := map[int]int{}
	var busy []answer
	stop := make(chan struct{})
	var peak float64
	sampled := make(chan struct{})
	go func() { // watch the gauge while the flood runs
		defer close(sampled)
		re := regexp.MustCompile(`(?m)^personas_password_hashes_running (\S+)$`)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if m := re.FindStringSubmatch(scrape(t, srv)); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				peak = max(peak, v)
			}
		}
	}()
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL+"/v1/session",
				strings.NewReader(loginJSON(fmt.Sprintf("flood%d@session.example", i), "wrong password!")))
			req.Header.Set("Content-Type", "application/json")
			resp, err := clientFrom("127.0.8." + strconv.Itoa(i+1)).Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			status[resp.StatusCode]++
			if resp.StatusCode == http.StatusServiceUnavailable {
				busy = append(busy, answer{status: resp.StatusCode, header: resp.Header})
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	if status[http.StatusUnauthorized]+status[http.StatusServiceUnavailable] != 32 || status[http.StatusUnauthorized] == 0 {
		t.Errorf("answers by status %v: want only 401 and 503, some 401", status)
	}
	if len(busy) == 0 {
		t.Errorf("no 503 among 32 sign-ins at once with one slot and a 5 ms wait: %v", status)
	}
	for _, a := range busy {
		checkRetryAfter(t, a)
	}
	if peak > 1 {
		t.Errorf("personas_password_hashes_running reached %v with one slot", peak)
	}
	if m := scrape(t, srv); !strings.Contains(m, "personas_password_hash_slots 1") ||
		!regexp.MustCompile(`personas_password_hash_refused_total [1-9]`).MatchString(m) {
		t.Errorf("/metrics does not show one slot and the refusals")
	}
}
