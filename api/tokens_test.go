package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testserver"
	"personas/models"
)

// mintedToken is POST /v1/tokens's answer.
type mintedToken struct {
	Token     string     `json:"token"`
	ID        uuid.UUID  `json:"id"`
	ExpiresAt *time.Time `json:"expires_at"`
	ParentID  *uuid.UUID `json:"parent_id"`
}

// TestTokenLineage is DESIGN.md's rule "a token never outlives, or outlasts the revocation of,
// a token that minted it": each case mints a family of tokens through the API (each child with
// its parent's token), does something to one of them, and checks who still authenticates and
// when each expires.
func TestTokenLineage(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "lineage@tokens.example", false)
	ctx := context.Background()

	type mint struct {
		name, parent string // parent "" is a root made by the CLI (CreateToken)
		days         int
	}
	tests := []struct {
		name   string
		family []mint
		act    func(t *testing.T, tok map[string]mintedToken)
		alive  map[string]bool
		// expiresLike names, per token, the token whose expiry it must have ("" = never,
		// "self" = its own request).
		expiresLike map[string]string
	}{
		{
			name: "expiry capped at the parent's",
			family: []mint{{"root", "", 30}, {"longer", "root", 90}, {"never", "root", 0}, {"shorter", "root", 10},
				{"grandchild never", "never", 0}, {"free root", "", 0}, {"child of free root", "free root", 0}},
			alive: map[string]bool{"root": true, "longer": true, "never": true, "shorter": true, "grandchild never": true,
				"free root": true, "child of free root": true},
			expiresLike: map[string]string{"root": "self", "longer": "root", "never": "root", "shorter": "self",
				"grandchild never": "root", "free root": "", "child of free root": ""},
		},
		{
			name:   "revoked parent: child and grandchild 401, sibling and root unaffected",
			family: []mint{{"root", "", 30}, {"parent", "root", 30}, {"child", "parent", 30}, {"grandchild", "child", 30}, {"sibling", "root", 30}},
			act: func(t *testing.T, tok map[string]mintedToken) {
				r := srv.Do(t, testserver.Request{Method: "DELETE", Path: "/v1/tokens/" + tok["parent"].ID.String(), Token: tok["root"].Token})
				if r.Status != http.StatusNoContent {
					t.Fatalf("revoke parent: %d %s", r.Status, r.Body)
				}
			},
			alive: map[string]bool{"root": true, "parent": false, "child": false, "grandchild": false, "sibling": true},
		},
		{
			name:   "revoked root ends the whole family",
			family: []mint{{"root", "", 30}, {"a", "root", 30}, {"b", "a", 30}, {"c", "root", 30}},
			act: func(t *testing.T, tok map[string]mintedToken) {
				if err := srv.Store.RevokeToken(ctx, models.Principal{UserID: acct.UserID}, tok["root"].ID); err != nil {
					t.Fatal(err)
				}
			},
			alive: map[string]bool{"root": false, "a": false, "b": false, "c": false},
		},
		{
			// Written behind the API's back, without the cascade: only the lineage walk at
			// authentication can refuse the descendants.
			name:   "ancestor revoked without cascade: descendants 401 all the same",
			family: []mint{{"root", "", 0}, {"child", "root", 0}, {"grandchild", "child", 0}, {"other", "root", 0}},
			act: func(t *testing.T, tok map[string]mintedToken) {
				if _, err := srv.Pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, tok["child"].ID); err != nil {
					t.Fatal(err)
				}
			},
			alive: map[string]bool{"root": true, "child": false, "grandchild": false, "other": true},
		},
		{
			name:   "expired parent: child 401 though its own expiry is later",
			family: []mint{{"root", "", 0}, {"parent", "root", 0}, {"child", "parent", 0}, {"sibling", "root", 0}},
			act: func(t *testing.T, tok map[string]mintedToken) {
				if _, err := srv.Pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, tok["parent"].ID); err != nil {
					t.Fatal(err)
				}
			},
			alive: map[string]bool{"root": true, "parent": false, "child": false, "sibling": true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := map[string]mintedToken{}
			for _, m := range tt.family {
				if m.parent == "" {
					tk, secret, err := srv.Store.CreateToken(ctx, acct.UserID, m.name, m.days)
					if err != nil {
						t.Fatal(err)
					}
					tok[m.name] = mintedToken{Token: secret, ID: tk.ID, ExpiresAt: tk.ExpiresAt}
					continue
				}
				r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/tokens", Token: tok[m.parent].Token,
					Body: map[string]any{"name": m.name, "expires_in_days": m.days}})
				if r.Status != http.StatusCreated {
					t.Fatalf("mint %s from %s: %d %s", m.name, m.parent, r.Status, r.Body)
				}
				var mt mintedToken
				r.JSON(t, &mt)
				if mt.ParentID == nil || *mt.ParentID != tok[m.parent].ID {
					t.Errorf("%s: parent_id %v, want %s", m.name, mt.ParentID, tok[m.parent].ID)
				}
				tok[m.name] = mt
			}
			for name, like := range tt.expiresLike {
				got := tok[name].ExpiresAt
				var want *time.Time
				switch like {
				case "":
				case "self":
					want = got
					if got == nil {
						t.Errorf("%s: never expires, want its own expiry", name)
					}
				default:
					want = tok[like].ExpiresAt
				}
				if (got == nil) != (want == nil) || (got != nil && !got.Equal(*want)) {
					t.Errorf("%s expires %v, want %v (like %q)", name, got, want, like)
				}
			}
			if tt.act != nil {
				tt.act(t, tok)
			}
			for name, alive := range tt.alive {
				want := http.StatusUnauthorized
				if alive {
					want = http.StatusOK
				}
				if r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/me", Token: tok[name].Token}); r.Status != want {
					t.Errorf("%s: GET /v1/me answered %d, want %d", name, r.Status, want)
				}
				if !alive {
					// A dead token mints nothing either.
					r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/tokens", Token: tok[name].Token, Body: map[string]any{"name": "heir"}})
					if r.Status != http.StatusUnauthorized {
						t.Errorf("%s: minting from a dead token answered %d, want 401", name, r.Status)
					}
				}
			}
			// The token list shows the cascade of API revocations too.
			var list struct {
				Tokens []models.Token `json:"tokens"`
			}
			srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/tokens", Token: acct.Token}).JSON(t, &list)
			for _, lt := range list.Tokens {
				for name, alive := range tt.alive {
					if lt.ID == tok[name].ID && alive && lt.RevokedAt != nil {
						t.Errorf("%s is alive but listed as revoked", name)
					}
				}
			}
		})
	}
}

// TestSessionMintsRootToken: a token minted from a dashboard session has no parent and
// outlives the session's logout.
func TestSessionMintsRootToken(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "session-root@tokens.example", false)
	c := clientFrom("127.0.0.1")
	login := send(t, c, "POST", srv.URL+"/v1/session", "application/json", loginJSON(acct.Email, sessionPassword), nil)
	if login.status != http.StatusOK {
		t.Fatalf("login: %d %s", login.status, login.body)
	}
	var li struct {
		CSRF string `json:"csrf_token"`
	}
	testserver.Response{Body: []byte(login.body)}.JSON(t, &li)
	cookie := sessionCookie(t, login.header)
	h := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value, "X-CSRF-Token": li.CSRF}
	r := send(t, c, "POST", srv.URL+"/v1/tokens", "application/json", `{"name":"from the dashboard","expires_in_days":0}`, h)
	if r.status != http.StatusCreated {
		t.Fatalf("mint from a session: %d %s", r.status, r.body)
	}
	var mt mintedToken
	testserver.Response{Body: []byte(r.body)}.JSON(t, &mt)
	if mt.ParentID != nil || mt.ExpiresAt != nil {
		t.Errorf("session-minted token: parent %v, expires %v; want a root that never expires", mt.ParentID, mt.ExpiresAt)
	}
	if r := send(t, c, "DELETE", srv.URL+"/v1/session", "", "", h); r.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/me", Token: mt.Token}); r.Status != http.StatusOK {
		t.Errorf("after the session ended, its token answered %d, want 200", r.Status)
	}
}
