package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"personas/internal/testenv"
	"personas/internal/testserver"
)

// TestNoSecretsInLogsOrDump runs a broad account scenario (wrong and right logins, tokens made
// and revoked, members added by email, a business context) and then looks for every secret and
// personal value it used in the captured logs and in a pg_dump of the data database.
func TestNoSecretsInLogsOrDump(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	// Not srv.NewAccount: it names the project after the email, which is data the user chose.
	ctx := context.Background()
	owner := testserver.Account{Email: "leak.owner@secrets.example"}
	u, _, err := srv.Store.EnsureUser(ctx, owner.Email, sessionPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := srv.Store.CreateProject(ctx, u.ID, "Shop", []string{testserver.Origin})
	if err != nil {
		t.Fatal(err)
	}
	if _, owner.Token, err = srv.Store.CreateToken(ctx, u.ID, "test", 30); err != nil {
		t.Fatal(err)
	}
	owner.UserID, owner.ProjectID = u.ID, pr.ID
	p := "/v1/projects/" + owner.ProjectID.String()
	secrets := map[string]string{ // what must not appear → what it is
		owner.Token: "owner's token", owner.Email: "owner's email", sessionPassword: "owner's password",
	}
	const wrongPassword = "Wr0ng-Passw0rd-zebra"
	secrets[wrongPassword] = "a wrong password"
	secrets["ghost@secrets.example"] = "an unknown email tried at login"

	c := clientFrom("127.0.0.1")
	for _, body := range []string{loginJSON(owner.Email, wrongPassword), loginJSON("ghost@secrets.example", wrongPassword)} {
		if r := send(t, c, "POST", srv.URL+"/v1/session", "application/json", body, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong login: %d %s", r.status, r.body)
		}
	}
	login := send(t, c, "POST", srv.URL+"/v1/session", "application/json", loginJSON(owner.Email, sessionPassword), nil)
	if login.status != http.StatusOK {
		t.Fatalf("login: %d %s", login.status, login.body)
	}
	cookie := sessionCookie(t, login.header).Value
	var sess struct {
		CSRF string `json:"csrf_token"`
	}
	testserver.Response{Body: []byte(login.body)}.JSON(t, &sess)
	secrets[cookie] = "session cookie"
	secrets[sess.CSRF] = "CSRF token"

	// A token minted from the dashboard session, one by token, one revoked.
	h := map[string]string{"Cookie": "personas_session=" + cookie, "X-CSRF-Token": sess.CSRF}
	r := send(t, c, "POST", srv.URL+"/v1/tokens", "application/json", `{"name":"ci","expires_in_days":7}`, h)
	if r.status != http.StatusCreated {
		t.Fatalf("token from the session: %d %s", r.status, r.body)
	}
	var minted struct {
		Token string `json:"token"`
		ID    string `json:"id"`
	}
	testserver.Response{Body: []byte(r.body)}.JSON(t, &minted)
	secrets[minted.Token] = "token minted from a session"
	r2 := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/tokens", Token: owner.Token, Body: map[string]any{"name": "deploy"}})
	var second struct {
		Token string `json:"token"`
		ID    string `json:"id"`
	}
	r2.JSON(t, &second)
	secrets[second.Token] = "token minted by token"
	if r := srv.Do(t, testserver.Request{Method: "DELETE", Path: "/v1/tokens/" + second.ID, Token: owner.Token}); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/me", Token: second.Token}); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", r.Status)
	}
	forged := forgedToken()
	secrets[forged] = "forged token"
	srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: forged})

	// Members by email, their roles changed, the list read (emails decrypted for the answer).
	for _, email := range []string{"first.member@secrets.example", "second.member@secrets.example"} {
		secrets[email] = "member's email"
		r := srv.Do(t, testserver.Request{Method: "POST", Path: p + "/members", Token: minted.Token, Body: map[string]string{"email": email, "role": "editor"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("add member: %d %s", r.Status, r.Body)
		}
		var m struct {
			Link string `json:"link"` // adding a member invites them; no mail here, so the link
		}
		r.JSON(t, &m)
		secrets[m.Link[strings.LastIndex(m.Link, "/")+1:]] = "invitation token"
		acc := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/invitations/accept",
			Body: map[string]string{"token": m.Link[strings.LastIndex(m.Link, "/")+1:], "password": "correct horse battery staple 7"}})
		var in struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		}
		acc.JSON(t, &in)
		srv.Do(t, testserver.Request{Method: "PATCH", Path: p + "/members/" + in.User.ID, Token: owner.Token, Body: map[string]string{"role": "viewer"}})
	}
	if r := srv.Do(t, testserver.Request{Method: "GET", Path: p + "/members", Token: owner.Token}); !strings.Contains(string(r.Body), "first.member@secrets.example") {
		t.Fatalf("members: %d %s", r.Status, r.Body)
	}
	// A member tries to add themselves as owner, with an invalid email, and so on: errors too.
	srv.Do(t, testserver.Request{Method: "POST", Path: p + "/members", Token: owner.Token, Body: map[string]string{"email": "bad address@secrets.example", "role": "viewer"}})
	const plan = "Confidential plan: sell zebra umbrellas"
	secrets[plan] = "business context"
	if r := srv.Do(t, testserver.Request{Method: "PUT", Path: p + "/context", Token: owner.Token, Body: map[string]string{"goals": plan}}); r.Status != http.StatusOK {
		t.Fatalf("context: %d %s", r.Status, r.Body)
	}

	// The keys of the service, in every encoding a log might use.
	for i, part := range strings.Split(srv.Secrets.EncryptionKeys, ",") {
		_, key, _ := strings.Cut(part, ":")
		secrets[key] = "encryption key " + string(rune('1'+i))
	}
	for name, k := range map[string][]byte{"index key": srv.Secrets.IndexKey, "signing key": srv.Secrets.SigningKey} {
		secrets[base64.StdEncoding.EncodeToString(k)] = name
		secrets[base64.RawURLEncoding.EncodeToString(k)] = name
		secrets[hex.EncodeToString(k)] = name
	}

	var dump []byte
	logs := srv.Logs.String()
	if !strings.Contains(logs, `"route":"/v1/session"`) || !strings.Contains(logs, `"route":"/v1/projects/:id/members"`) {
		t.Fatalf("the logs did not capture the scenario's requests:\n%s", logs)
	}
	dump = []byte(testenv.PGDump(t, srv.DataURL, "--no-owner"))
	if !bytes.Contains(dump, []byte("COPY public.users")) || !bytes.Contains(dump, []byte("COPY public.api_tokens")) {
		t.Fatalf("pg_dump holds no users or tokens table; is it the right database?")
	}
	for value, what := range secrets {
		if value == "" {
			t.Fatalf("empty secret %s", what)
		}
		if strings.Contains(logs, value) {
			t.Errorf("the logs hold the %s", what)
		}
		if what == "CSRF token" {
			continue // stored with its session, as the session's second factor; useless without the cookie
		}
		if bytes.Contains(dump, []byte(value)) || bytes.Contains(dump, []byte(strings.ToLower(value))) {
			i := max(bytes.Index(dump, []byte(value)), bytes.Index(dump, []byte(strings.ToLower(value))))
			t.Errorf("pg_dump of the data database holds the %s: …%s…", what, dump[max(0, i-300):min(len(dump), i+100)])
		}
	}
	// Token secrets also never appear without their prefix.
	for _, tok := range []string{owner.Token, minted.Token, second.Token} {
		body := strings.TrimPrefix(tok, "psn_")
		if strings.Contains(logs, body) || bytes.Contains(dump, []byte(body)) {
			t.Errorf("a token's secret part is in the logs or the dump")
		}
	}
}
