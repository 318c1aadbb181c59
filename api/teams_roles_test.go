package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testserver"
	"personas/models"
)

// The teams routes join the role matrix of roles_test.go: project routes through the policy
// table, the others classified here.
func init() {
	for _, k := range []string{"POST /v1/invitations/accept", "POST /v1/password-strength", "POST /v1/password-resets",
		"POST /v1/password-resets/complete", "POST /v1/login/second-factor"} {
		publicRoutes[k] = true
	}
	for _, k := range []string{"GET /v1/me/sessions", "DELETE /v1/me/sessions/:session_id", "POST /v1/me/two-factor",
		"POST /v1/me/two-factor/confirm", "DELETE /v1/me/two-factor", "POST /v1/me/two-factor/recovery-codes"} {
		accountRoutes[k] = true
	}
	allowedStatus["DELETE /v1/me/sessions/:session_id"] = http.StatusNotFound           // not a session of the caller
	allowedStatus["POST /v1/me/two-factor"] = http.StatusOK                             // takes no body: draws a secret
	allowedStatus["DELETE /v1/me/two-factor"] = http.StatusBadRequest                   // the probe sends no code
	allowedStatus["DELETE /v1/projects/:id/invitations/:invitation_id"] = http.StatusOK // withdrawn already: idempotent
}

// teamsFixture adds the route parameters of the teams routes to the role matrix's world: a
// withdrawn invitation and a session id of nobody.
func teamsFixture(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	inv, _, err := w.srv.Store.CreateInvitation(ctx, models.NewInvitation{ProjectID: w.owner.ProjectID, Email: "invited@roles.example",
		Role: models.RoleViewer, CreatedBy: w.owner.UserID, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.srv.Store.RevokeInvitation(ctx, w.owner.ProjectID, inv.ID); err != nil {
		t.Fatal(err)
	}
	w.params["invitation_id"] = inv.ID.String()
	w.params["session_id"] = uuid.NewString()
}

// strongPassword passes the password policy for every address of these tests.
const strongPassword = "correct horse battery staple 7"

// cookieClient is a cookie-keeping client that does not follow redirects.
type cookieClient struct {
	t   *testing.T
	srv *testserver.Server
	c   *http.Client
}

func newCookieClient(t *testing.T, srv *testserver.Server) *cookieClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &cookieClient{t: t, srv: srv, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *cookieClient) do(method, path string, body any, header map[string]string) testserver.Response {
	b.t.Helper()
	var r io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			b.t.Fatal(err)
		}
		r = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, b.srv.URL+path, r)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return testserver.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// signIn posts the login and returns the session's CSRF token ("" when a code is asked for).
func (b *cookieClient) signIn(email, password string) (int, string) {
	b.t.Helper()
	r := b.do("POST", "/v1/session", map[string]string{"email": email, "password": password}, nil)
	var body struct {
		CSRF         string `json:"csrf_token"`
		SecondFactor bool   `json:"second_factor_required"`
	}
	if r.Status == http.StatusOK || r.Status == http.StatusAccepted {
		r.JSON(b.t, &body)
	}
	return r.Status, body.CSRF
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func errOf(t *testing.T, r testserver.Response) apiErr {
	t.Helper()
	var e apiErr
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.Body, err)
	}
	return e
}

// TestTeamsInvitationRules: who invites whom over HTTP, the link when no mail is sent, resend
// and withdraw, and the audit entries (ids, never the address).
func TestTeamsInvitationRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tok := map[string]string{}
	for _, c := range w.callers {
		tok[c.name] = c.token
	}
	p := "/v1/projects/" + w.owner.ProjectID.String() + "/invitations"
	tests := []struct {
		name, as string
		body     any
		want     int
	}{
		{"admin invites a viewer", "admin", map[string]any{"email": "new1@roles.example", "role": "viewer"}, 201},
		{"admin invites an admin", "admin", map[string]any{"email": "new2@roles.example", "role": "admin", "expires_in_hours": 2}, 201},
		{"nobody invites an owner", "owner", map[string]any{"email": "new3@roles.example", "role": "owner"}, 400},
		{"editor cannot invite", "editor", map[string]any{"email": "new4@roles.example", "role": "viewer"}, 403},
		{"viewer cannot invite", "viewer", map[string]any{"email": "new5@roles.example", "role": "viewer"}, 403},
		{"other tenant sees no project", "other tenant", map[string]any{"email": "new6@roles.example", "role": "viewer"}, 404},
		{"a month at most", "admin", map[string]any{"email": "new7@roles.example", "role": "viewer", "expires_in_hours": 721}, 400},
		{"a bad address", "admin", map[string]any{"email": "not an address", "role": "viewer"}, 400},
	}
	var first struct {
		Invitation models.Invitation `json:"invitation"`
		Link       string            `json:"link"`
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.srv.Do(t, testserver.Request{Method: "POST", Path: p, Token: tok[tt.as], Body: tt.body})
			if r.Status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.want, r.Body)
			}
			if i == 0 {
				r.JSON(t, &first)
			}
		})
	}
	if first.Invitation.Status != models.InvitationPending || !strings.HasPrefix(first.Link, w.srv.URL+"/accept-invitation/") {
		t.Fatalf("invitation %+v with link %q: want pending with a link to the accept page (no mail is sent)", first.Invitation, first.Link)
	}
	r := w.srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: tok["admin"]})
	var list struct {
		Invitations []models.Invitation `json:"invitations"`
	}
	r.JSON(t, &list)
	if r.Status != 200 || len(list.Invitations) != 3 { // two open, the fixture's withdrawn one
		t.Fatalf("list: %d, %d invitations: %s", r.Status, len(list.Invitations), r.Body)
	}
	if r := w.srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: tok["editor"]}); r.Status != 403 {
		t.Fatalf("editor lists invitations: %d", r.Status)
	}
	id := first.Invitation.ID.String()
	r = w.srv.Do(t, testserver.Request{Method: "POST", Path: p + "/" + id + "/resend", Token: tok["admin"], Body: map[string]any{}})
	var resent struct {
		Invitation models.Invitation `json:"invitation"`
		Link       string            `json:"link"`
	}
	r.JSON(t, &resent)
	if r.Status != 200 || resent.Invitation.Resent != 1 || resent.Link == first.Link || resent.Link == "" {
		t.Fatalf("resend: %d %s", r.Status, r.Body)
	}
	// The first link stopped working with the resend: the accept page answers plainly.
	old := strings.TrimPrefix(first.Link, w.srv.URL+"/accept-invitation/")
	r = w.srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/invitations/accept", Body: map[string]string{"token": old, "password": strongPassword}})
	if r.Status == 200 {
		t.Fatalf("a link replaced by a resend still works: %s", r.Body)
	}
	if r := w.srv.Do(t, testserver.Request{Method: "DELETE", Path: p + "/" + id, Token: tok["admin"]}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	newTok := strings.TrimPrefix(resent.Link, w.srv.URL+"/accept-invitation/")
	r = w.srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/invitations/accept", Body: map[string]string{"token": newTok, "password": strongPassword}})
	if e := errOf(t, r); r.Status != http.StatusGone || e.Error.Code != "link_revoked" || e.Error.Message != "this invitation was withdrawn" {
		t.Fatalf("withdrawn link: %d %s", r.Status, r.Body)
	}

	// Audit: who invited, resent and withdrew, by ids; the address is not in the log.
	rows, err := w.srv.Pool.Query(context.Background(), `SELECT action, target, details::text FROM audit_log WHERE project_id = $1 AND action LIKE 'invitation.%'`, w.owner.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for rows.Next() {
		var action, target, details string
		if err := rows.Scan(&action, &target, &details); err != nil {
			t.Fatal(err)
		}
		seen[action]++
		if strings.Contains(target+details, "@") {
			t.Errorf("audit %s holds an address: %s %s", action, target, details)
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if seen["invitation.create"] != 2 || seen["invitation.resend"] != 1 || seen["invitation.revoke"] != 1 {
		t.Fatalf("audit entries %v", seen)
	}
}
