package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"personas/api"
	"personas/internal/testserver"
)

// dashSession is one signed-in browser: its cookie header and CSRF token.
type dashSession struct{ cookie, csrf string }

func signIn(t *testing.T, srv *testserver.Server, email, password string) dashSession {
	t.Helper()
	a := send(t, clientFrom("127.0.0.1"), "POST", srv.URL+"/v1/session", "application/json", loginJSON(email, password), nil)
	if a.status != http.StatusOK {
		t.Fatalf("login %s: %d %s", email, a.status, a.body)
	}
	var li struct {
		CSRF string `json:"csrf_token"`
	}
	testserver.Response{Body: []byte(a.body)}.JSON(t, &li)
	return dashSession{cookie: api.SessionCookie + "=" + sessionCookie(t, a.header).Value, csrf: li.CSRF}
}

func (d dashSession) alive(t *testing.T, srv *testserver.Server) bool {
	t.Helper()
	r := send(t, clientFrom("127.0.0.1"), "GET", srv.URL+"/v1/me", "", "", map[string]string{"Cookie": d.cookie})
	return r.status == http.StatusOK
}

// TestPasswordChangeAndSignOutEverywhere: a password change ends every other session of the user
// (the one that made it stays); "sign out everywhere", from the API or the dashboard's form,
// ends all of them; neither touches another user's sessions or the user's API tokens; both
// need the session's CSRF token.
func TestPasswordChangeAndSignOutEverywhere(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	const newPassword = "a much longer new password"
	type outcome struct {
		status                 int
		current, others, other bool // still signed in: the acting session, the user's other sessions, another user's
		password               string
	}
	tests := []struct {
		name string
		act  func(t *testing.T, acting dashSession, email string) answer
		want outcome
	}{
		{
			name: "password change keeps the current session only",
			act: func(t *testing.T, s dashSession, _ string) answer {
				return send(t, clientFrom("127.0.0.1"), "PUT", srv.URL+"/v1/me/password", "application/json",
					`{"current_password":"`+sessionPassword+`","new_password":"`+newPassword+`"}`,
					map[string]string{"Cookie": s.cookie, "X-CSRF-Token": s.csrf})
			},
			want: outcome{http.StatusOK, true, false, true, newPassword},
		},
		{
			name: "wrong current password changes nothing",
			act: func(t *testing.T, s dashSession, _ string) answer {
				return send(t, clientFrom("127.0.0.1"), "PUT", srv.URL+"/v1/me/password", "application/json",
					`{"current_password":"not the password","new_password":"`+newPassword+`"}`,
					map[string]string{"Cookie": s.cookie, "X-CSRF-Token": s.csrf})
			},
			want: outcome{http.StatusUnauthorized, true, true, true, sessionPassword},
		},
		{
			name: "too short a new password changes nothing",
			act: func(t *testing.T, s dashSession, _ string) answer {
				return send(t, clientFrom("127.0.0.1"), "PUT", srv.URL+"/v1/me/password", "application/json",
					`{"current_password":"`+sessionPassword+`","new_password":"short"}`,
					map[string]string{"Cookie": s.cookie, "X-CSRF-Token": s.csrf})
			},
			want: outcome{http.StatusBadRequest, true, true, true, sessionPassword},
		},
		{
			name: "password change without the CSRF token is refused",
			act: func(t *testing.T, s dashSession, _ string) answer {
				return send(t, clientFrom("127.0.0.1"), "PUT", srv.URL+"/v1/me/password", "application/json",
					`{"current_password":"`+sessionPassword+`","new_password":"`+newPassword+`"}`,
					map[string]string{"Cookie": s.cookie})
			},
			want: outcome{http.StatusForbidden, true, true, true, sessionPassword},
		},
		{
			name: "sign out everywhere through the API",
			act: func(t *testing.T, s dashSession, _ string) answer {
				return send(t, clientFrom("127.0.0.1"), "POST", srv.URL+"/v1/sessions/revoke", "", "",
					map[string]string{"Cookie": s.cookie, "X-CSRF-Token": s.csrf})
			},
			want: outcome{http.StatusOK, false, false, true, sessionPassword},
		},
		{
			name: "sign out everywhere through the dashboard's form",
			act: func(t *testing.T, s dashSession, _ string) answer {
				return send(t, clientFrom("127.0.0.1"), "POST", srv.URL+"/logout/everywhere", "application/x-www-form-urlencoded",
					url.Values{"csrf_token": {s.csrf}}.Encode(), map[string]string{"Cookie": s.cookie})
			},
			want: outcome{http.StatusSeeOther, false, false, true, sessionPassword},
		},
		{
			name: "the dashboard's form without the CSRF token is refused",
			act: func(t *testing.T, s dashSession, _ string) answer {
				return send(t, clientFrom("127.0.0.1"), "POST", srv.URL+"/logout/everywhere", "application/x-www-form-urlencoded",
					"", map[string]string{"Cookie": s.cookie})
			},
			want: outcome{http.StatusForbidden, true, true, true, sessionPassword},
		},
		{
			name: "a password set by the CLI ends every session",
			act: func(t *testing.T, _ dashSession, email string) answer {
				u, err := srv.Store.UserByEmail(context.Background(), email)
				if err != nil {
					t.Fatal(err)
				}
				if err := srv.Store.SetPassword(context.Background(), u.ID, newPassword); err != nil {
					t.Fatal(err)
				}
				return answer{status: http.StatusOK}
			},
			want: outcome{http.StatusOK, false, false, true, newPassword},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := "user" + string(rune('a'+i)) + "@sessions.example"
			acct := srv.NewAccount(t, email, false)
			bystander := srv.NewAccount(t, "bystander"+string(rune('a'+i))+"@sessions.example", false)
			acting := signIn(t, srv, email, sessionPassword)
			others := []dashSession{signIn(t, srv, email, sessionPassword), signIn(t, srv, email, sessionPassword)}
			other := signIn(t, srv, bystander.Email, sessionPassword)

			got := tt.act(t, acting, email)
			if got.status != tt.want.status {
				t.Fatalf("answered %d, want %d: %s", got.status, tt.want.status, got.body)
			}
			if tt.want.status == http.StatusSeeOther && !strings.HasPrefix(got.header.Get("Location"), "/login") {
				t.Errorf("redirect to %q, want /login", got.header.Get("Location"))
			}
			if a := acting.alive(t, srv); a != tt.want.current {
				t.Errorf("acting session signed in: %v, want %v", a, tt.want.current)
			}
			for j, o := range others {
				if a := o.alive(t, srv); a != tt.want.others {
					t.Errorf("other session %d signed in: %v, want %v", j, a, tt.want.others)
				}
			}
			if a := other.alive(t, srv); a != tt.want.other {
				t.Errorf("another user's session signed in: %v, want %v", a, tt.want.other)
			}
			if r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/me", Token: acct.Token}); r.Status != http.StatusOK {
				t.Errorf("the user's API token answered %d, want 200: tokens are not sessions", r.Status)
			}
			signIn(t, srv, email, tt.want.password) // fails the test unless this password works
		})
	}
}

// TestDashboardHasSignOutEverywhere: every dashboard page's header carries the "sign out
// everywhere" button, posting the session's CSRF token to /logout/everywhere.
func TestDashboardHasSignOutEverywhere(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "button@sessions.example", false)
	s := signIn(t, srv, acct.Email, sessionPassword)
	page := send(t, clientFrom("127.0.0.1"), "GET", srv.URL+"/", "", "", map[string]string{"Cookie": s.cookie})
	if page.status != http.StatusOK && page.status != http.StatusSeeOther {
		t.Fatalf("GET /: %d", page.status)
	}
	if page.status == http.StatusSeeOther { // one project: the way in is its page
		page = send(t, clientFrom("127.0.0.1"), "GET", srv.URL+page.header.Get("Location"), "", "", map[string]string{"Cookie": s.cookie})
	}
	for _, want := range []string{`formaction="/logout/everywhere"`, `name="csrf_token" value="` + s.csrf + `"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("dashboard page lacks %s", want)
		}
	}
}
