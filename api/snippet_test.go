package api_test

import (
	"crypto/sha512"
	"encoding/base64"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/collector"
	"personas/internal/testserver"
	"personas/models"
)

// snippetAnswer is the body of GET /v1/projects/{id}/snippet.
type snippetAnswer struct {
	Snippet    string `json:"snippet"`
	ScriptURL  string `json:"script_url"`
	Integrity  string `json:"integrity"`
	FirstParty struct {
		Snippet    string `json:"snippet"`
		ScriptPath string `json:"script_path"`
		API        string `json:"api"`
		Upstream   string `json:"upstream"`
		Guide      string `json:"guide"`
	} `json:"first_party"`
}

// TestSnippetFirstParty checks both snippets of the endpoint: the direct one and the
// first-party one, whose script path is the served script's behind /_p and whose integrity
// hash is the one of the bytes the service serves there.
func TestSnippetFirstParty(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)
	_, viewer := srv.Member(t, a.ProjectID, "viewer@example.com", models.RoleViewer)
	other := srv.NewAccount(t, "other@example.com", false)
	path := "/v1/projects/" + a.ProjectID.String() + "/snippet"

	r := srv.Do(t, testserver.Request{Method: "GET", Path: path, Token: viewer})
	if r.Status != http.StatusOK {
		t.Fatalf("GET snippet as a viewer: status %d: %s", r.Status, r.Body)
	}
	var got snippetAnswer
	r.JSON(t, &got)
	fp := got.FirstParty
	want := snippetAnswer{Snippet: collector.Snippet(srv.URL, a.SiteKey), ScriptURL: srv.URL + collector.Path(), Integrity: collector.Integrity()}
	want.FirstParty.Snippet = collector.FirstPartySnippet(a.SiteKey)
	want.FirstParty.ScriptPath = "/_p" + collector.Path()
	want.FirstParty.API = "/_p"
	want.FirstParty.Upstream = srv.URL
	want.FirstParty.Guide = "docs/deploy.md#first-party-serving-reverse-proxy"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("snippet answer (-want +got):\n%s", diff)
	}
	for _, part := range []string{`src="` + fp.ScriptPath + `"`, `data-api="/_p"`, `integrity="` + got.Integrity + `"`, `crossorigin="anonymous"`,
		`data-site-key="` + a.SiteKey + `"`} {
		if !strings.Contains(fp.Snippet, part) {
			t.Errorf("first-party snippet %s lacks %s", fp.Snippet, part)
		}
	}
	if strings.Contains(fp.Snippet, srv.URL) {
		t.Errorf("first-party snippet names the Personas server: %s", fp.Snippet)
	}

	// What a proxy forwarding /_p/ to the upstream gets there is what the hash pins.
	r = srv.Do(t, testserver.Request{Method: "GET", Path: strings.TrimPrefix(fp.ScriptPath, fp.API)})
	sum := sha512.Sum384(r.Body)
	if r.Status != http.StatusOK || "sha384-"+base64.StdEncoding.EncodeToString(sum[:]) != got.Integrity {
		t.Errorf("GET %s behind the proxy: status %d, %d bytes not matching %s", strings.TrimPrefix(fp.ScriptPath, fp.API), r.Status, len(r.Body), got.Integrity)
	}

	t.Run("settings page of the owner", func(t *testing.T) {
		c := clientFrom("127.0.0.1")
		login := send(t, c, "POST", srv.URL+"/v1/session", "application/json", loginJSON(a.Email, sessionPassword), nil)
		if login.status != http.StatusOK {
			t.Fatalf("login: %d %s", login.status, login.body)
		}
		ck := sessionCookie(t, login.header)
		page := send(t, c, "GET", srv.URL+"/projects/"+a.ProjectID.String()+"/settings", "", "", map[string]string{"Cookie": ck.Name + "=" + ck.Value})
		if page.status != http.StatusOK {
			t.Fatalf("GET settings: %d %s", page.status, page.body)
		}
		// html/template escapes more than html.EscapeString (a + of the integrity hash is &#43;):
		// the snippets are looked for in the page's text, the markup in its source.
		text := html.UnescapeString(page.body)
		for _, part := range []string{fp.Snippet, got.Snippet} {
			if !strings.Contains(text, part) {
				t.Errorf("the settings page lacks %s", part)
			}
		}
		for _, part := range []string{`id="first-party"`, "docs/deploy.md#first-party-serving-reverse-proxy", `<code>data-consent="required"</code>`} {
			if !strings.Contains(page.body, part) {
				t.Errorf("the settings page lacks %s", part)
			}
		}
	})

	for _, c := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a bad token", "psn_not-a-token-at-all-0000000000", http.StatusUnauthorized},
		{"another account's token", other.Token, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := srv.Do(t, testserver.Request{Method: "GET", Path: path, Token: c.token})
			if r.Status != c.want || strings.Contains(string(r.Body), a.SiteKey) {
				t.Errorf("GET snippet with %s: status %d (want %d): %s", c.name, r.Status, c.want, r.Body)
			}
		})
	}
}
