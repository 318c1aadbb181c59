package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"personas/api"
	"personas/internal/testserver"
	"personas/models"
)

// The role matrix is the executable form of DESIGN.md's role table: every management route the
// router registers × every kind of caller, with the status each must get. Project routes take
// their minimum role from the server's own policy table, so a route added there is covered
// without touching this file; a /v1 route that is in no table here fails the test.

// callerKind is how a caller relates to the project under test.
type callerKind int

const (
	kindMember   callerKind = iota // a member with a role
	kindStranger                   // authenticated, but not a member: the project must not exist for them
	kindPlatform                   // platform admin: everything, everywhere
	kindBadToken                   // no, expired, revoked or forged token: 401
)

type caller struct {
	name  string
	kind  callerKind
	role  models.Role // for members
	token string
	user  uuid.UUID
}

// world is the fixture every role test shares: a project with members of each role, a model, a
// persona, a training run and a deletion, and callers of every kind.
type world struct {
	srv       *testserver.Server
	owner     testserver.Account
	other     testserver.Account
	callers   []caller
	params    map[string]string // route parameter → a value that exists in the project
	versionID int
}

func forgedToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return models.TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	st := srv.Store
	w := &world{srv: srv}
	w.owner = srv.NewAccount(t, "owner@roles.example", false)
	w.other = srv.NewAccount(t, "owner@other-tenant.example", false)
	pid := w.owner.ProjectID

	adminID, adminTok := srv.Member(t, pid, "admin@roles.example", models.RoleAdmin)
	editorID, editorTok := srv.Member(t, pid, "editor@roles.example", models.RoleEditor)
	viewerID, viewerTok := srv.Member(t, pid, "viewer@roles.example", models.RoleViewer)

	loner, _, err := st.EnsureUser(ctx, "loner@roles.example", "correct horse battery staple", false)
	if err != nil {
		t.Fatal(err)
	}
	_, lonerTok, err := st.CreateToken(ctx, loner.ID, "test", 30)
	if err != nil {
		t.Fatal(err)
	}
	platform := srv.NewAccount(t, "root@platform.example", true)

	expired, expiredTok, err := st.CreateToken(ctx, w.owner.UserID, "expired", 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() - interval '1 hour' WHERE id = $1`, expired.ID); err != nil {
		t.Fatal(err)
	}
	revoked, revokedTok, err := st.CreateToken(ctx, w.owner.UserID, "revoked", 30)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeToken(ctx, models.Principal{UserID: w.owner.UserID}, revoked.ID); err != nil {
		t.Fatal(err)
	}
	// A token minted by a token that was revoked afterwards: dead with its parent.
	parent, _, err := st.CreateToken(ctx, w.owner.UserID, "parent", 30)
	if err != nil {
		t.Fatal(err)
	}
	_, orphanTok, err := st.MintToken(ctx, models.Principal{UserID: w.owner.UserID, TokenID: parent.ID}, "child", 30)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeToken(ctx, models.Principal{UserID: w.owner.UserID}, parent.ID); err != nil {
		t.Fatal(err)
	}
	victim, _, err := st.CreateToken(ctx, w.owner.UserID, "victim", 30)
	if err != nil {
		t.Fatal(err)
	}

	// A published model with one persona, its training run, and a deletion the owner asked for.
	run, err := st.CreateTrainingRun(ctx, pid, &w.owner.UserID)
	if err != nil {
		t.Fatal(err)
	}
	personaID, personaID2 := uuid.New(), uuid.New()
	w.versionID, err = st.PublishModel(ctx, models.Publication{ProjectID: pid, RunID: run.ID, Blob: []byte("model"), K: 2,
		Metrics: []byte(`{}`), Personas: []models.PublishedPersona{{ID: personaID, New: true, Cluster: 0, Share: 1, Size: 60,
			Traits: []byte(`{}`), Picture: `<svg xmlns="http://www.w3.org/2000/svg"/>`,
			Naming: models.Naming{Name: "Deal hunters", Type: "deal_seeker", NamedBy: "rules"}},
			{ID: personaID2, New: true, Cluster: 1, Share: 0, Size: 60, Traits: []byte(`{}`), Picture: `<svg xmlns="http://www.w3.org/2000/svg"/>`,
				Naming: models.Naming{Name: "Window shoppers", Type: "browser", NamedBy: "rules"}}}})
	if err != nil {
		t.Fatalf("publish a model: %v", err)
	}
	del, err := st.CreateDeletion(ctx, pid, models.ScopeVisitor, st.VisitorHash(pid, "visitor-1"), &w.owner.UserID, "api")
	if err != nil {
		t.Fatalf("create a deletion: %v", err)
	}

	w.params = map[string]string{
		"id": pid.String(), "user_id": w.owner.UserID.String(), "version": fmt.Sprint(w.versionID),
		"run_id": run.ID.String(), "pid": personaID.String(), "pid2": personaID2.String(), "visitor_id": "visitor-1",
		"did": del.ID.String(), "token_id": victim.ID.String(),
	}
	teamsFixture(t, w)
	w.callers = []caller{
		{name: "owner", kind: kindMember, role: models.RoleOwner, token: w.owner.Token, user: w.owner.UserID},
		{name: "admin", kind: kindMember, role: models.RoleAdmin, token: adminTok, user: adminID},
		{name: "editor", kind: kindMember, role: models.RoleEditor, token: editorTok, user: editorID},
		{name: "viewer", kind: kindMember, role: models.RoleViewer, token: viewerTok, user: viewerID},
		{name: "non-member", kind: kindStranger, token: lonerTok, user: loner.ID},
		{name: "other tenant", kind: kindStranger, token: w.other.Token, user: w.other.UserID},
		{name: "platform admin", kind: kindPlatform, token: platform.Token, user: platform.UserID},
		{name: "no token", kind: kindBadToken},
		{name: "expired token", kind: kindBadToken, token: expiredTok},
		{name: "revoked token", kind: kindBadToken, token: revokedTok},
		{name: "child of a revoked token", kind: kindBadToken, token: orphanTok},
		{name: "forged token", kind: kindBadToken, token: forgedToken()},
	}
	return w
}

// path fills a route template with the fixture's values.
func (w *world) path(t *testing.T, template string) string {
	t.Helper()
	parts := strings.Split(template, "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			v, ok := w.params[name]
			if !ok {
				t.Fatalf("route %s: no fixture value for :%s; add one to newWorld", template, name)
			}
			parts[i] = v
		}
	}
	return strings.Join(parts, "/")
}

// allowedStatus is what a caller who passes the policy gets from a route's handler with the
// probe request of roleProbe. Writes get a malformed body, so a caller who passes the policy
// gets the handler's 400 and nothing changes; the exceptions are listed.
var allowedStatus = map[string]int{
	"POST /v1/projects/:id/models":                   http.StatusAccepted, // takes no body: queues a training run
	"POST /v1/projects/:id/personas/:pid/enrich":     http.StatusAccepted, // takes no body: queues an enrichment
	"POST /v1/projects/:id/import":                   http.StatusOK,       // NDJSON: a bad line is rejected, counted, not stored
	"DELETE /v1/projects/:id/members/:user_id":       http.StatusConflict, // :user_id is the owner, who cannot be removed
	"GET /v1/projects/:id/deletions/:did/receipt":    http.StatusConflict, // the deletion has not run (no worker)
	"DELETE /v1/tokens/:token_id":                    http.StatusNoContent,
	"DELETE /v1/session":                             http.StatusNoContent,
	"POST /v1/sessions/revoke":                       http.StatusOK, // takes no body: ends the caller's sessions (none here)
	"POST /v1/projects":                              http.StatusBadRequest,
	"POST /v1/tokens":                                http.StatusBadRequest,
	"GET /v1/projects/:id/personas/:pid/picture.svg": http.StatusOK,
}

func probeStatus(method, template string) (int, bool) {
	if s, ok := allowedStatus[method+" "+template]; ok {
		return s, true
	}
	switch method {
	case http.MethodGet:
		return http.StatusOK, true
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return http.StatusBadRequest, true
	}
	return 0, false
}

// publicRoutes are the /v1 routes that take no token (site key or credentials instead).
var publicRoutes = map[string]bool{
	"POST /v1/session": true, "POST /v1/collect": true, "OPTIONS /v1/collect": true, "GET /v1/config": true,
	"POST /v1/forget": true, "OPTIONS /v1/forget": true, "POST /v1/classify": true, "OPTIONS /v1/classify": true,
	"GET /v1/receipt-key": true, "GET /v1/openapi.yaml": true,
}

// accountRoutes need any valid token and act on the caller's own account.
var accountRoutes = map[string]bool{
	"GET /v1/me": true, "GET /v1/tokens": true, "POST /v1/tokens": true, "DELETE /v1/tokens/:token_id": true,
	"GET /v1/projects": true, "POST /v1/projects": true, "DELETE /v1/session": true,
	"POST /v1/sessions/revoke": true, "PUT /v1/me/password": true,
}

// deletionStatusRoutes outlive their project: the requester, the project's admins and platform
// admins read them; other members are refused, strangers see nothing.
var deletionStatusRoutes = map[string]bool{
	"GET /v1/projects/:id/deletions/:did": true, "GET /v1/projects/:id/deletions/:did/receipt": true,
}

type matrixCase struct {
	method, template string
	min              models.Role // for project routes
	class            string      // "project", "account", "deletion"
}

// want is the status DESIGN.md's role table gives the caller on the route.
func (mc matrixCase) want(w *world, c caller, allowed int) int {
	if c.kind == kindBadToken {
		return http.StatusUnauthorized
	}
	switch mc.class {
	case "account":
		if mc.method+" "+mc.template == "DELETE /v1/tokens/:token_id" && c.kind != kindPlatform && c.user != w.owner.UserID {
			return http.StatusNotFound // another user's token does not exist for the caller
		}
		return allowed
	case "deletion":
		switch {
		case c.kind == kindStranger:
			return http.StatusNotFound
		case c.kind == kindPlatform, c.user == w.owner.UserID, c.role.AtLeast(models.RoleAdmin):
			return allowed
		}
		return http.StatusForbidden
	}
	switch {
	case c.kind == kindStranger:
		return http.StatusNotFound
	case c.kind == kindPlatform, c.role.AtLeast(mc.min):
		return allowed
	}
	return http.StatusForbidden
}

// matrix classifies every /v1 route of the router; an unclassified one fails the test.
func matrix(t *testing.T, w *world) []matrixCase {
	t.Helper()
	policy := map[string]models.Role{}
	for _, pr := range w.srv.API.PolicyTable() {
		policy[pr.Method+" "+pr.Path] = pr.Role
	}
	// The route table's classification must agree with this file's: a route that changes its
	// access, or an account route that starts needing a project role, fails here.
	access := map[string]api.TableRoute{}
	for _, tr := range w.srv.API.RouteTable() {
		access[tr.Method+" "+tr.Path] = tr
	}
	var cases []matrixCase
	for _, r := range w.srv.API.Routes() {
		key := r.Method + " " + r.Path
		tr := access[key]
		switch {
		case !strings.HasPrefix(r.Path, "/v1/"):
		case publicRoutes[key] && tr.Access != "anyone" && tr.Access != "cross-origin" && tr.Access != "credentials",
			accountRoutes[key] && (tr.Access != "signed-in" || tr.Action != "signed_in"),
			deletionStatusRoutes[key] && (tr.Access != "signed-in" || tr.Action != "read_deletion"),
			!publicRoutes[key] && !accountRoutes[key] && !deletionStatusRoutes[key] && tr.Access != "member":
			t.Errorf("route %s: the route table gives it action %q (%s), which this file classifies otherwise", key, tr.Action, tr.Access)
		}
		switch {
		case !strings.HasPrefix(r.Path, "/v1/"), publicRoutes[key]:
			continue
		case accountRoutes[key]:
			cases = append(cases, matrixCase{r.Method, r.Path, models.RoleNone, "account"})
		case deletionStatusRoutes[key]:
			cases = append(cases, matrixCase{r.Method, r.Path, models.RoleNone, "deletion"})
		default:
			min, ok := policy[key]
			if !ok {
				t.Errorf("route %s is registered but in no table: add it to the policy table (api/routes.go) or classify it in roles_test.go", key)
				continue
			}
			cases = append(cases, matrixCase{r.Method, r.Path, min, "project"})
		}
	}
	sort.Slice(cases, func(i, j int) bool {
		return cases[i].template+cases[i].method < cases[j].template+cases[j].method
	})
	if len(cases) < len(policy)+len(accountRoutes) {
		t.Fatalf("only %d management routes found; the router lost some", len(cases))
	}
	return cases
}

type errorJSON struct {
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

var codeOf = map[int]string{http.StatusUnauthorized: "unauthenticated", http.StatusForbidden: "forbidden", http.StatusNotFound: "not_found"}

func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	notFound := w.srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + uuid.NewString(), Token: w.owner.Token})
	for _, mc := range matrix(t, w) {
		allowed, ok := probeStatus(mc.method, mc.template)
		if !ok {
			t.Errorf("%s %s: no probe: add its expected status to allowedStatus", mc.method, mc.template)
			continue
		}
		for _, c := range w.callers {
			t.Run(mc.method+" "+mc.template+"/"+c.name, func(t *testing.T) {
				req := testserver.Request{Method: mc.method, Path: w.path(t, mc.template), Token: c.token}
				if mc.method == http.MethodPost || mc.method == http.MethodPut || mc.method == http.MethodPatch {
					req.Body = "{"
				}
				got := w.srv.Do(t, req)
				want := mc.want(w, c, allowed)
				if got.Status != want {
					t.Fatalf("%s %s as %s: status %d, want %d; body %s", mc.method, mc.template, c.name, got.Status, want, got.Body)
				}
				if code, ok := codeOf[want]; ok && want != allowed {
					var e errorJSON
					if err := json.Unmarshal(got.Body, &e); err != nil || e.Error.Code != code {
						t.Errorf("error body %s, want code %q", got.Body, code)
					}
				}
				// A project of another tenant is indistinguishable from one that does not exist.
				if c.kind == kindStranger && mc.class == "project" && string(got.Body) != string(notFound.Body) {
					t.Errorf("stranger's 404 body %s differs from a missing project's %s", got.Body, notFound.Body)
				}
			})
		}
	}
}

// TestRoleRulesInsideRoutes covers the rules that depend on the body: origins and retention are
// admin settings on an editor route, scope "all" is the owner's, ownership is transferred, not
// granted, and the owner's membership is not edited. Each write it makes is in the audit log.
func TestRoleRulesInsideRoutes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tok := map[string]string{}
	for _, c := range w.callers {
		tok[c.name] = c.token
	}
	p := "/v1/projects/" + w.owner.ProjectID.String()
	tests := []struct {
		name, as, method, path string
		body                   any
		want                   int
	}{
		{"editor sets capture settings", "editor", "PATCH", p, map[string]any{"sample_rate": 0.5, "excluded_selectors": []string{".private"}}, 200},
		{"viewer cannot set capture settings", "viewer", "PATCH", p, map[string]any{"sample_rate": 0.5}, 403},
		{"editor cannot set origins", "editor", "PATCH", p, map[string]any{"allowed_origins": []string{"https://evil.example"}}, 403},
		{"editor cannot set retention", "editor", "PATCH", p, map[string]any{"retention": map[string]int{"events_days": 30}}, 403},
		{"admin sets origins with a wildcard", "admin", "PATCH", p, map[string]any{"allowed_origins": []string{"https://shop.example", "https://*.shop.example"}}, 200},
		{"admin shortens retention", "admin", "PATCH", p, map[string]any{"retention": map[string]int{"events_days": 30}}, 200},
		{"retention cannot be lengthened", "admin", "PATCH", p, map[string]any{"retention": map[string]int{"events_days": 61}}, 400},
		{"admin cannot delete everything", "admin", "POST", p + "/deletions", map[string]any{"scope": "all"}, 403},
		{"admin cannot grant ownership", "admin", "POST", p + "/members", map[string]any{"email": "new@roles.example", "role": "owner"}, 400},
		{"admin adds a member by email", "admin", "POST", p + "/members", map[string]any{"email": "new@roles.example", "role": "viewer"}, 201},
		{"admin cannot demote the owner", "admin", "PATCH", p + "/members/" + w.owner.UserID.String(), map[string]any{"role": "viewer"}, 409},
		{"admin cannot transfer ownership", "admin", "POST", p + "/transfer", map[string]any{"user_id": w.owner.UserID}, 403},
		{"editor renames a persona", "editor", "PATCH", p + "/personas/" + w.params["pid"], map[string]any{"name": "Bargain hunters"}, 200},
		{"editor writes the business context", "editor", "PUT", p + "/context", map[string]any{"goals": "sell more"}, 200},
		{"editor sets page labels", "editor", "PUT", p + "/page-labels", map[string]any{"labels": []map[string]string{{"path_group": "/p/:id", "label": "Seed packets"}}}, 200},
		{"viewer cannot set page labels", "viewer", "PUT", p + "/page-labels", map[string]any{"labels": []map[string]string{}}, 403},
		{"viewer reads page labels", "viewer", "GET", p + "/page-labels", nil, 200},
		{"page label over 40 characters", "editor", "PUT", p + "/page-labels", map[string]any{"labels": []map[string]string{{"path_group": "/p", "label": strings.Repeat("x", 41)}}}, 400},
		{"rename to a taken name is a conflict", "editor", "PATCH", p + "/personas/" + w.params["pid2"], map[string]any{"name": "BARGAIN HUNTERS"}, 409},
		{"other tenant cannot add itself", "other tenant", "POST", p + "/members", map[string]any{"email": w.other.Email, "role": "admin"}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := w.srv.Do(t, testserver.Request{Method: tt.method, Path: tt.path, Token: tok[tt.as], Body: tt.body})
			if got.Status != tt.want {
				t.Fatalf("%s %s as %s: status %d, want %d; body %s", tt.method, tt.path, tt.as, got.Status, tt.want, got.Body)
			}
		})
	}

	var audit struct {
		Entries []struct {
			ActorID *uuid.UUID     `json:"actor_id"`
			Action  string         `json:"action"`
			Target  string         `json:"target"`
			Details map[string]any `json:"details"`
		} `json:"entries"`
		Next string `json:"next"`
	}
	r := w.srv.Do(t, testserver.Request{Method: "GET", Path: p + "/audit?limit=200", Token: tok["admin"]})
	if r.Status != 200 {
		t.Fatalf("audit: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &audit)
	seen := map[string]int{}
	for _, e := range audit.Entries {
		if e.ActorID == nil {
			t.Errorf("audit entry %s has no actor", e.Action)
		}
		seen[e.Action]++
	}
	for action, n := range map[string]int{"project.update": 3, "invitation.create": 1, "persona.rename": 1, "context.update": 1, "page_labels.update": 1} {
		if seen[action] != n {
			t.Errorf("audit log has %d %q entries, want %d (all: %v)", seen[action], action, n, seen)
		}
	}
	if strings.Contains(string(r.Body), "new@roles.example") || strings.Contains(string(r.Body), "sell more") {
		t.Errorf("audit log holds personal data or business context: %s", r.Body)
	}

	// Pagination: a page of 2 and its cursor reach the rest, without repeats.
	first := w.srv.Do(t, testserver.Request{Method: "GET", Path: p + "/audit?limit=2", Token: tok["admin"]})
	var page struct {
		Entries []struct {
			ID int64 `json:"id"`
		} `json:"entries"`
		Next string `json:"next"`
	}
	first.JSON(t, &page)
	if len(page.Entries) != 2 || page.Next == "" {
		t.Fatalf("first audit page: %s", first.Body)
	}
	second := w.srv.Do(t, testserver.Request{Method: "GET", Path: p + "/audit?limit=2&cursor=" + page.Next, Token: tok["admin"]})
	last := page.Entries[1].ID
	page.Entries = nil
	second.JSON(t, &page)
	if len(page.Entries) == 0 || page.Entries[0].ID >= last {
		t.Errorf("second audit page does not continue after %d: %s", last, second.Body)
	}

	// Ownership moves by transfer only, to a member; the old owner becomes an admin, and there
	// is one owner at every moment.
	var adminID uuid.UUID
	for _, c := range w.callers {
		if c.name == "admin" {
			adminID = c.user
		}
	}
	if r := w.srv.Do(t, testserver.Request{Method: "POST", Path: p + "/transfer", Token: tok["owner"], Body: map[string]any{"user_id": w.other.UserID}}); r.Status != http.StatusBadRequest {
		t.Errorf("transfer to a non-member: %d %s, want 400", r.Status, r.Body)
	}
	if r := w.srv.Do(t, testserver.Request{Method: "POST", Path: p + "/transfer", Token: tok["owner"], Body: map[string]any{"user_id": adminID}}); r.Status != http.StatusOK {
		t.Fatalf("transfer: %d %s", r.Status, r.Body)
	}
	for name, want := range map[string]string{"owner": "admin", "admin": "owner"} {
		var pv struct {
			Role string `json:"role"`
		}
		w.srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: tok[name]}).JSON(t, &pv)
		if pv.Role != want {
			t.Errorf("after the transfer, the former %s's role is %q, want %q", name, pv.Role, want)
		}
	}
	if r := w.srv.Do(t, testserver.Request{Method: "POST", Path: p + "/transfer", Token: tok["owner"], Body: map[string]any{"user_id": w.owner.UserID}}); r.Status != http.StatusForbidden {
		t.Errorf("the former owner transfers back: %d, want 403", r.Status)
	}
	var members struct {
		Members []struct {
			Role string `json:"role"`
		} `json:"members"`
	}
	w.srv.Do(t, testserver.Request{Method: "GET", Path: p + "/members", Token: tok["admin"]}).JSON(t, &members)
	owners := 0
	for _, m := range members.Members {
		if m.Role == "owner" {
			owners++
		}
	}
	if owners != 1 {
		t.Errorf("%d owners after the transfer, want 1", owners)
	}
}

// TestDashboardRoleMatrix applies the same role table to the dashboard's project pages and
// forms, which share the API's policy: a caller who passes it gets a page, a redirect or a
// validation error, never 401, 403 or 404 (the fixture's ids all exist); the others get the
// table's refusal, and a reader without a valid token is sent to the login page.
func TestDashboardRoleMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	table := w.srv.API.DashboardPolicyTable()
	if len(table) < 10 {
		t.Fatalf("dashboard policy table has %d project routes", len(table))
	}
	noRedirect := clientFrom("127.0.0.1")
	for _, pr := range table {
		mc := matrixCase{method: pr.Method, template: pr.Path, min: pr.Role, class: "project"}
		for _, c := range w.callers {
			t.Run(pr.Method+" "+pr.Path+"/"+c.name, func(t *testing.T) {
				h := map[string]string{}
				if c.token != "" {
					h["Authorization"] = "Bearer " + c.token
				}
				ct := ""
				if pr.Method == http.MethodPost {
					ct = "application/x-www-form-urlencoded"
				}
				got := send(t, noRedirect, pr.Method, w.srv.URL+w.path(t, pr.Path), ct, "", h)
				want := mc.want(w, c, 0)
				switch {
				case want == http.StatusUnauthorized && pr.Method == http.MethodGet:
					if got.status != http.StatusSeeOther || !strings.HasPrefix(got.header.Get("Location"), "/login") {
						t.Fatalf("as %s: %d to %q, want 303 to /login", c.name, got.status, got.header.Get("Location"))
					}
				case want == 0: // passes the policy
					if got.status == http.StatusUnauthorized || got.status == http.StatusForbidden ||
						got.status == http.StatusNotFound || got.status >= 500 {
						t.Fatalf("as %s: %d, want the page or form's own answer", c.name, got.status)
					}
				default:
					if got.status != want {
						t.Fatalf("as %s: %d, want %d", c.name, got.status, want)
					}
				}
			})
		}
	}
}

// TestRouteTable checks the route table itself: every route the router registers is a line of
// it, every line names an action, every action has a policy, and project actions sit on
// project paths, so no route reaches a handler without passing the policy.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	srv := api.NewServer(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	table := srv.RouteTable()
	lines := map[string]api.TableRoute{}
	used := map[string]bool{}
	for _, tr := range table {
		key := tr.Method + " " + tr.Path
		if _, dup := lines[key]; dup {
			t.Errorf("route %s is in the route table twice", key)
		}
		lines[key] = tr
		used[tr.Action] = true
		switch {
		case tr.Action == "":
			t.Errorf("route %s names no action", key)
		case !tr.HasPolicy:
			t.Errorf("route %s: action %q has no policy", key, tr.Action)
		case tr.Access == "member" && !strings.Contains(tr.Path, "/projects/:id"):
			t.Errorf("route %s: project action %q on a path without a project", key, tr.Action)
		case tr.Access == "member" && (tr.Role.Rank() == 0):
			t.Errorf("route %s: project action %q without a role", key, tr.Action)
		case tr.Access != "member" && strings.Contains(tr.Path, "/projects/:id") && tr.Action != "read_deletion":
			t.Errorf("route %s: a project path whose action %q checks no project role", key, tr.Action)
		}
	}
	routes := srv.Routes()
	if len(routes) != len(table) {
		t.Errorf("the router has %d routes, the route table %d lines", len(routes), len(table))
	}
	for _, r := range routes {
		if _, ok := lines[r.Method+" "+r.Path]; !ok {
			t.Errorf("route %s %s is registered outside the route table", r.Method, r.Path)
		}
	}
	// Every action of the policy table is used by a route, except the rules checked on a body.
	onBody := map[string]bool{"delete_project": true}
	for _, a := range api.Actions() {
		if !used[a] && !onBody[a] {
			t.Errorf("action %q has a policy but no route", a)
		}
	}
	for a, want := range map[string]models.Role{"read_personas": models.RoleViewer, "retrain": models.RoleEditor,
		"manage_members": models.RoleAdmin, "transfer_ownership": models.RoleOwner} {
		found := false
		for _, tr := range table {
			if tr.Action == a {
				found = true
				if tr.Role != want {
					t.Errorf("action %s: role %s, want %s (DESIGN.md)", a, tr.Role, want)
				}
			}
		}
		if !found {
			t.Errorf("no route does %s", a)
		}
	}
}
