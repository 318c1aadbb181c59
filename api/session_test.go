package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"personas/api"
	"personas/internal/testserver"
)

const sessionPassword = "correct horse battery staple" // testserver.NewAccount's password

// clientFrom is an HTTP client whose connections leave from a loopback address of its own, so
// the server sees a different client per address. It follows no redirects.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, c *http.Client, method, u, contentType, body string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func sessionCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == api.SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", api.SessionCookie, h.Values("Set-Cookie"))
	return nil
}

func loginJSON(email, password string) string {
	return `{"email":` + strconv.Quote(email) + `,"password":` + strconv.Quote(password) + `}`
}

func TestLoginCookie(t *testing.T) {
	t.Parallel()
	for _, production := range []bool{false, true} {
		t.Run("production="+strconv.FormatBool(production), func(t *testing.T) {
			srv := testserver.New(t, testserver.Options{NoWorker: true, APIConfig: api.Config{Production: production}})
			acct := srv.NewAccount(t, "login@session.example", false)
			c := clientFrom("127.0.0.1")

			j := send(t, c, "POST", srv.URL+"/v1/session", "application/json", loginJSON(acct.Email, sessionPassword), nil)
			if j.status != http.StatusOK || !strings.Contains(j.body, `"csrf_token"`) {
				t.Fatalf("JSON login: %d %s", j.status, j.body)
			}
			f := send(t, c, "POST", srv.URL+"/v1/session", "application/x-www-form-urlencoded",
				url.Values{"email": {acct.Email}, "password": {sessionPassword}, "next": {"//evil.example/"}}.Encode(), nil)
			if f.status != http.StatusSeeOther || f.header.Get("Location") != "/" {
				t.Fatalf("form login: %d, Location %q (an off-site next must become /)", f.status, f.header.Get("Location"))
			}
			for name, a := range map[string]answer{"JSON": j, "form": f} {
				ck := sessionCookie(t, a.header)
				if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != production || ck.Value == "" || ck.Path != "/" {
					t.Errorf("%s login cookie: HttpOnly %v SameSite %v Secure %v path %q; want HttpOnly, Strict, Secure=%v, /",
						name, ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path, production)
				}
				if ck.MaxAge <= 0 || ck.MaxAge > 12*3600 {
					t.Errorf("%s login cookie Max-Age %d, want at most 12 h", name, ck.MaxAge)
				}
			}
		})
	}
}

func TestCSRFAndLogout(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "csrf@session.example", false)
	c := clientFrom("127.0.0.1")
	login := send(t, c, "POST", srv.URL+"/v1/session", "application/json", loginJSON(acct.Email, sessionPassword), nil)
	if login.status != http.StatusOK {
		t.Fatalf("login: %d %s", login.status, login.body)
	}
	cookie := api.SessionCookie + "=" + sessionCookie(t, login.header).Value
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	testserver.Response{Body: []byte(login.body)}.JSON(t, &me)
	if me.CSRF == "" {
		t.Fatal("login answer has no csrf_token")
	}

	write := `{"name":"from the dashboard"}`
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"read needs no token", nil, http.StatusOK},
		{"write without the CSRF header", map[string]string{}, http.StatusForbidden},
		{"write with a wrong CSRF header", map[string]string{"X-CSRF-Token": me.CSRF + "x"}, http.StatusForbidden},
		{"write from a cross-site Origin", map[string]string{"X-CSRF-Token": me.CSRF, "Origin": "https://evil.example"}, http.StatusForbidden},
		{"write marked cross-site by the browser", map[string]string{"X-CSRF-Token": me.CSRF, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"write from a cross-site Referer", map[string]string{"X-CSRF-Token": me.CSRF, "Referer": "https://evil.example/page"}, http.StatusForbidden},
		{"write with the token", map[string]string{"X-CSRF-Token": me.CSRF}, http.StatusCreated},
		{"write with the token from the same origin", map[string]string{"X-CSRF-Token": me.CSRF, "Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Cookie": cookie}
			for k, v := range tt.header {
				h[k] = v
			}
			method, body, ct := "POST", write, "application/json"
			if tt.header == nil {
				method, body, ct = "GET", "", ""
			}
			got := send(t, c, method, srv.URL+"/v1/tokens", ct, body, h)
			if got.status != tt.want {
				t.Fatalf("%s /v1/tokens: %d, want %d: %s", method, got.status, tt.want, got.body)
			}
		})
	}

	// Logout needs the CSRF token too, clears the cookie, and the session is gone.
	if r := send(t, c, "DELETE", srv.URL+"/v1/session", "", "", map[string]string{"Cookie": cookie}); r.status != http.StatusForbidden {
		t.Errorf("logout without CSRF token: %d, want 403", r.status)
	}
	out := send(t, c, "DELETE", srv.URL+"/v1/session", "", "", map[string]string{"Cookie": cookie, "X-CSRF-Token": me.CSRF})
	if out.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", out.status, out.body)
	}
	if ck := sessionCookie(t, out.header); ck.Value != "" || ck.MaxAge >= 0 {
		t.Errorf("logout cookie %q Max-Age %d: want it cleared", ck.Value, ck.MaxAge)
	}
	if r := send(t, c, "GET", srv.URL+"/v1/me", "", "", map[string]string{"Cookie": cookie}); r.status != http.StatusUnauthorized {
		t.Errorf("after logout, the old cookie: %d, want 401", r.status)
	}
}

// failUntilLimited sends up to max wrong logins until the answer is 429 and returns the 401s
// seen before.
func failUntilLimited(t *testing.T, srv *testserver.Server, ip string, max int, email func(i int) string) (int, answer) {
	t.Helper()
	for i := range max {
		a := send(t, clientFrom(ip), "POST", srv.URL+"/v1/session", "application/json", loginJSON(email(i), "wrong password!"), nil)
		switch a.status {
		case http.StatusUnauthorized:
			continue
		case http.StatusTooManyRequests:
			return i, a
		default:
			t.Fatalf("wrong login %d: %d %s", i, a.status, a.body)
		}
	}
	t.Fatalf("%d wrong logins from %s and no 429", max, ip)
	return 0, answer{}
}

func checkRetryAfter(t *testing.T, a answer) {
	t.Helper()
	n, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Errorf("429 with Retry-After %q, want a number of seconds ≥ 1", a.header.Get("Retry-After"))
	}
}

func TestLoginBackoff(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	victim := srv.NewAccount(t, "victim@session.example", false)
	bystander := srv.NewAccount(t, "bystander@session.example", false)

	t.Run("per account, across clients", func(t *testing.T) {
		// Each wrong password comes from another address: only the account's count can stop them.
		ips := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8",
			"127.0.0.9", "127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"}
		var n int
		var limited answer
		for i, ip := range ips {
			a := send(t, clientFrom(ip), "POST", srv.URL+"/v1/session", "application/json", loginJSON(victim.Email, "wrong password!"), nil)
			if a.status == http.StatusTooManyRequests {
				n, limited = i, a
				break
			}
			if a.status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d %s", i, a.status, a.body)
			}
		}
		if n < 3 || limited.status == 0 {
			t.Fatalf("account limited after %d failures (status %d), want after at least 3", n, limited.status)
		}
		checkRetryAfter(t, limited)
		// The right password is refused too while the account backs off, from a fresh client.
		if a := send(t, clientFrom("127.0.0.30"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(victim.Email, sessionPassword), nil); a.status != http.StatusTooManyRequests {
			t.Errorf("right password during back-off: %d, want 429", a.status)
		}
		// Another account is not affected.
		if a := send(t, clientFrom("127.0.0.31"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(bystander.Email, sessionPassword), nil); a.status != http.StatusOK {
			t.Errorf("another account's login: %d, want 200: %s", a.status, a.body)
		}
	})

	t.Run("per client and account pair", func(t *testing.T) {
		// Behind one proxy address, a stranger's wrong guesses on their own email do not lock
		// out another account's right password, while the same pair backs off after three.
		pairVictim := srv.NewAccount(t, "pair@session.example", false)
		n, limited := failUntilLimited(t, srv, "127.0.0.60", 12, func(int) string { return pairVictim.Email })
		if n != 3 {
			t.Fatalf("pair limited after %d failures, want 3", n)
		}
		checkRetryAfter(t, limited)
		for i := range 3 {
			email := "stranger" + strconv.Itoa(i) + "@session.example"
			if a := send(t, clientFrom("127.0.0.61"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(email, "wrong password!"), nil); a.status != http.StatusUnauthorized {
				t.Fatalf("wrong login on %s: %d %s", email, a.status, a.body)
			}
		}
		if a := send(t, clientFrom("127.0.0.61"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(bystander.Email, sessionPassword), nil); a.status != http.StatusOK {
			t.Errorf("right password after three failures on unrelated emails from the same client: %d, want 200: %s", a.status, a.body)
		}
		// The locked pair's account still signs in from another client.
		if a := send(t, clientFrom("127.0.0.62"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(pairVictim.Email, sessionPassword), nil); a.status != http.StatusOK {
			t.Errorf("the pair's account from another client: %d, want 200: %s", a.status, a.body)
		}
	})

	t.Run("per client, across accounts", func(t *testing.T) {
		// One client guessing on many accounts is stopped by its own total.
		n, limited := failUntilLimited(t, srv, "127.0.0.40", 40, func(i int) string { return "nobody" + strconv.Itoa(i) + "@session.example" })
		if n < 10 {
			t.Fatalf("client limited after %d failures on distinct accounts, want after at least 10", n)
		}
		checkRetryAfter(t, limited)
		// The limited client cannot log in even as a good account; another client can.
		if a := send(t, clientFrom("127.0.0.40"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(bystander.Email, sessionPassword), nil); a.status != http.StatusTooManyRequests {
			t.Errorf("limited client, good account: %d, want 429", a.status)
		}
		if a := send(t, clientFrom("127.0.0.41"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(bystander.Email, sessionPassword), nil); a.status != http.StatusOK {
			t.Errorf("another client, good account: %d, want 200: %s", a.status, a.body)
		}
	})
}

func TestLoginUnknownEmailAnswersLikeWrongPassword(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "known@session.example", false)
	wrong := send(t, clientFrom("127.0.0.50"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(acct.Email, "wrong password!"), nil)
	unknown := send(t, clientFrom("127.0.0.51"), "POST", srv.URL+"/v1/session", "application/json", loginJSON("unknown@session.example", "wrong password!"), nil)
	invalid := send(t, clientFrom("127.0.0.52"), "POST", srv.URL+"/v1/session", "application/json", loginJSON("not an email", "wrong password!"), nil)
	if wrong.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %s", wrong.status, wrong.body)
	}
	for name, a := range map[string]answer{"unknown email": unknown, "malformed email": invalid} {
		if a.status != wrong.status || a.body != wrong.body {
			t.Errorf("%s: %d %s; wrong password: %d %s: they must not differ", name, a.status, a.body, wrong.status, wrong.body)
		}
	}
	// A user made by adding a member has no password yet: it cannot log in, and says so the same way.
	if _, err := srv.Store.AddMember(context.Background(), acct.ProjectID, "nopassword@session.example", "viewer"); err != nil {
		t.Fatal(err)
	}
	np := send(t, clientFrom("127.0.0.53"), "POST", srv.URL+"/v1/session", "application/json", loginJSON("nopassword@session.example", ""), nil)
	if np.status != wrong.status || np.body != wrong.body {
		t.Errorf("passwordless user: %d %s, want the wrong-password answer", np.status, np.body)
	}
}
