package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"personas/api"
	"personas/internal/demodata"
	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/models"
)

const (
	password    = "correct horse battery staple"
	browserStep = 20 * time.Second
)

// trainedProject is a service with a project trained twice on demo traffic (so that personas
// carry a stability figure), its owner, an admin, an editor and a viewer, all with passwords.
type trainedProject struct {
	srv                   *testserver.Server
	owner                 testserver.Account
	admin, editor, viewer string // emails
	visitor               string // a visitor id of the imported traffic
	projectName           string
}

func newTrainedProject(t *testing.T) *trainedProject {
	t.Helper()
	srv := testserver.New(t, testserver.Options{})
	owner := srv.NewAccount(t, "owner@example.com", false)
	ctx := context.Background()
	tp := &trainedProject{srv: srv, owner: owner, admin: "admin@example.com", editor: "editor@example.com", viewer: "viewer@example.com"}
	for email, role := range map[string]models.Role{tp.admin: models.RoleAdmin, tp.editor: models.RoleEditor, tp.viewer: models.RoleViewer} {
		uid, _ := srv.Member(t, owner.ProjectID, email, role)
		if err := srv.Store.SetPassword(ctx, uid, password); err != nil {
			t.Fatal(err)
		}
	}
	p, err := srv.Store.Project(ctx, owner.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	tp.projectName = p.Name

	// Three weeks of demo traffic through the import API, trained, then the last days again
	// (new visitors) and a retrain: the second version carries stability figures.
	end := time.Now().UTC().Add(-time.Hour)
	for round, seed := range []uint64{1, 2} {
		vs := demodata.Generate(demodata.Config{Visitors: 300, Days: 21, End: end, Site: testserver.Origin, Seed: seed})
		if round == 0 {
			tp.visitor = vs[0].ID
		}
		// The second round arrives in three batches, as the demo sends history: one import in
		// the audit log.
		parts := [][]demodata.Visitor{vs}
		if round == 1 {
			parts = [][]demodata.Visitor{vs[:100], vs[100:200], vs[200:]}
		}
		for _, part := range parts {
			r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + owner.ProjectID.String() + "/import",
				Token: owner.Token, Body: demodata.NDJSON(part), Header: map[string]string{"Content-Type": "application/x-ndjson"}})
			if r.Status != http.StatusOK {
				t.Fatalf("import: status %d: %s", r.Status, r.Body)
			}
		}
		r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + owner.ProjectID.String() + "/models", Token: owner.Token})
		if r.Status != http.StatusAccepted {
			t.Fatalf("train: status %d: %s", r.Status, r.Body)
		}
		want := round + 1
		testserver.Eventually(t, 90*time.Second, fmt.Sprintf("model version %d published", want), func() bool {
			v, err := srv.Store.CurrentModelVersion(ctx, owner.ProjectID)
			return err == nil && v >= want
		})
	}
	// Some events from a site that is not allowed: the data-health panel shows them dropped.
	// 5 × 200 of them: a few per cent of what was offered, over the warning's 1 %.
	events := make([]map[string]any, 200)
	for i := range events {
		events[i] = map[string]any{"type": "pageview", "ts": time.Now().UnixMilli(), "url": "https://other.example/"}
	}
	for i := range 5 {
		r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/collect",
			Header: map[string]string{"Origin": "https://other.example", "Content-Type": "text/plain"},
			Body: map[string]any{"site_key": owner.SiteKey, "visitor_id": fmt.Sprintf("stranger-%d", i), "session_id": "s",
				"events": events}})
		if r.Status != http.StatusForbidden {
			t.Fatalf("collect from another origin: status %d, want 403", r.Status)
		}
	}
	return tp
}

// newBrowser starts a headless Chromium; without it the test is skipped, or fails in CI.
func newBrowser(t *testing.T) context.Context {
	return testenv.Browser(t, chromedp.WindowSize(1280, 900))
}

// shots saves a screenshot of every page a test visits.
type shots struct {
	dir string
	mu  sync.Mutex
	n   int
}

func newShots(t *testing.T) *shots {
	t.Helper()
	dir := os.Getenv("PERSONAS_SCREENSHOTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "personas-screenshots-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return &shots{dir: dir}
}

// user is one signed-in person's tab.
type user struct {
	t     *testing.T
	tab   context.Context
	base  string
	shots *shots
	name  string
}

func (s *shots) open(t *testing.T, browser context.Context, base, name string) *user {
	tab := testenv.Tab(t, browser)
	return &user{t: t, tab: tab, base: base, shots: s, name: name}
}

func (u *user) do(steps ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.tab, browserStep)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		u.t.Fatalf("%s: browser steps: %v", u.name, err)
	}
}

func eval[T any](u *user, expr string) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.tab, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
	if err != nil {
		u.t.Fatalf("%s: evaluate %s: %v", u.name, expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition; evaluation errors while a page navigates count as
// "not yet".
func (u *user) waitFor(cond string) {
	u.t.Helper()
	deadline := time.Now().Add(browserStep)
	for {
		ctx, cancel := context.WithTimeout(u.tab, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			href, _ := chromedp.Run(u.tab, chromedp.Evaluate[string]("location.href"))
			u.t.Fatalf("%s: not within %s: %s (last error %v, page %s)", u.name, browserStep, cond, err, href)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shot saves the page as it is now.
func (u *user) shot(what string) {
	u.t.Helper()
	var png []byte
	var err error
	for try := 0; try < 20; try++ { // a page that is still laying out has no size yet
		ctx, cancel := context.WithTimeout(u.tab, browserStep)
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		u.t.Fatalf("screenshot %s: %v", what, err)
	}
	u.shots.mu.Lock()
	u.shots.n++
	n := u.shots.n
	u.shots.mu.Unlock()
	name := fmt.Sprintf("%02d-%s-%s.png", n, u.name, regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(what), "-"))
	if err := os.WriteFile(filepath.Join(u.shots.dir, name), png, 0o644); err != nil {
		u.t.Fatal(err)
	}
}

// visit opens a path, waits for a selector and saves a screenshot.
func (u *user) visit(path, ready, what string) {
	u.t.Helper()
	u.do(chromedp.Navigate(u.base + path))
	u.waitFor(fmt.Sprintf("document.readyState === 'complete' && !!document.querySelector(%q)", ready))
	u.shot(what)
}

// login signs in through the login page.
func (u *user) login(email string) {
	u.t.Helper()
	u.visit("/login", "#email", "login")
	u.do(chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin")))
	u.waitFor("location.pathname === '/' && !!document.querySelector('#logout')")
	u.shot("projects")
}

func (u *user) text(sel string) string {
	return eval[string](u, fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", sel))
}

// TestDashboardInBrowser walks the dashboard as its users would: the owner reads the personas,
// their drift and stability and the data health; an editor renames a persona; a viewer sees
// no settings forms and is refused when posting anyway; an admin erases a visitor and watches
// it finish; everyone signs out.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	browser := newBrowser(t)
	tp := newTrainedProject(t)
	sh := newShots(t)
	pid := tp.owner.ProjectID.String()
	base := tp.srv.URL

	t.Run("owner reads personas, drift, health", func(t *testing.T) {
		u := sh.open(t, browser, base, "owner")
		u.login(tp.owner.Email)
		u.visit("/projects/"+pid, "#personas", "overview")
		cards := eval[int](u, "document.querySelectorAll('.persona-card').length")
		avatars := eval[int](u, "document.querySelectorAll('.persona-card .avatar svg').length")
		if cards < 2 || avatars != cards {
			t.Fatalf("%d persona cards with %d avatars, want at least 2, each with its avatar", cards, avatars)
		}
		if got := eval[bool](u, "getComputedStyle(document.querySelector('.persona-card .avatar svg')).display !== 'none' && document.querySelector('.persona-card .avatar svg').getBoundingClientRect().width > 40"); !got {
			t.Error("the avatar is not visible")
		}
		if s := u.text("#drift"); !strings.Contains(s, "stability") || !regexp.MustCompile(`\d+ %`).MatchString(s) {
			t.Errorf("drift section lacks a stability figure: %q", s)
		}
		if s := u.text("#drift-reading"); !strings.Contains(s, "kept") {
			t.Errorf("drift reading %q does not say how many visitors the personas kept", s)
		}
		if n := eval[int](u, "document.querySelectorAll('#drift svg rect').length"); n < 2 {
			t.Errorf("drift chart has %d bars, want some", n)
		}
		if s := u.text("#model-info"); !strings.Contains(s, "Model v2") || !strings.Contains(s, "visitors") {
			t.Errorf("model facts %q", s)
		}
		checkOverviewFigures(t, u)
		u.do(chromedp.Click(chromedp.CSS(".persona-card .card-link")))
		u.waitFor("!!document.querySelector('#persona-name')")
		u.shot("persona")
		if n := eval[int](u, "document.querySelectorAll('#traits svg rect').length"); n < 4 {
			t.Errorf("trait chart has %d bars, want persona and population bars", n)
		}
		checkPersonaFigures(t, u)
		if s := u.text("#named-by"); s != "named by rules" {
			t.Errorf("named-by badge %q, want named by rules", s)
		}
		u.visit("/projects/"+pid+"/health", "#health", "health")
		if s := u.text("#health-warning"); !strings.Contains(s, "more than 1 %") {
			t.Errorf("data-health warning %q, want a drop warning", s)
		}
		if n := eval[int](u, "document.querySelectorAll('#health svg rect').length"); n < 2 {
			t.Errorf("data-health chart has %d bars", n)
		}
		if s := u.text("#reasons"); !strings.Contains(s, "allowed origins") {
			t.Errorf("drop reasons %q lack the origin reason", s)
		}
		checkHealthChart(t, u)
		u.visit("/projects/"+pid+"/settings", "#install", "settings")
		if s := u.text("#sri"); !strings.HasPrefix(s, "sha384-") {
			t.Errorf("SRI hash %q", s)
		}
		u.visit("/projects/"+pid+"/audit", "#audit", "audit")
		checkAudit(t, u, pid)
	})

	t.Run("owner reads a drift in which a persona merged and one is new", func(t *testing.T) {
		pj, err := tp.srv.Store.CreateProject(context.Background(), tp.owner.UserID, "Merged personas", []string{testserver.Origin})
		if err != nil {
			t.Fatal(err)
		}
		stay, other, merged := newPersona("Deal Hunters"), newPersona("Researchers"), newPersona("Window Shoppers")
		publish(t, tp.srv, pj.ID, []models.PublishedPersona{stay, other, merged}, [][][]byte{hashes(0, 60), hashes(60, 100), hashes(100, 140)})
		stay.New, other.New = false, false
		st := 0.97
		stay.Stability, other.Stability = &st, &st
		publish(t, tp.srv, pj.ID, []models.PublishedPersona{stay, other, newPersona("Newcomers")},
			[][][]byte{append(hashes(0, 60), hashes(100, 130)...), append(hashes(60, 100), hashes(130, 140)...), hashes(200, 230)})
		u := sh.open(t, browser, base, "owner-drift")
		u.login(tp.owner.Email)
		u.visit("/projects/"+pj.ID.String(), "#drift", "overview with a merged persona")
		checkOverviewDrift(t, u)
		if s := u.text(fmt.Sprintf("#drift li[data-key=%q]", merged.ID.String())); !strings.Contains(s, "merged into Deal Hunters") {
			t.Errorf("legend of the merged persona %q", s)
		}
		if s := u.text("#drift-reading"); strings.Contains(s, "held steady") || !strings.Contains(s, "Window Shoppers") || !strings.Contains(s, "Newcomers") {
			t.Errorf("drift reading %q", s)
		}
	})

	t.Run("editor renames a persona", func(t *testing.T) {
		u := sh.open(t, browser, base, "editor")
		u.login(tp.editor)
		u.visit("/projects/"+pid, "#personas", "overview")
		u.do(chromedp.Click(chromedp.CSS(".persona-card .card-link")))
		u.waitFor("!!document.querySelector('#rename-form')")
		u.shot("persona before rename")
		eval[bool](u, "(document.getElementById('name').value = '') === ''")
		u.do(chromedp.SendKeys(chromedp.ID("name"), "Weekend Bargain Hunters"), chromedp.Click(chromedp.ID("rename")))
		u.waitFor("document.querySelector('#persona-name') && document.querySelector('#persona-name').textContent === 'Weekend Bargain Hunters'")
		u.shot("persona renamed")
		if s := u.text(".notice"); !strings.Contains(s, "renamed") {
			t.Errorf("notice %q after rename", s)
		}
		ps, _, err := tp.srv.Store.Personas(context.Background(), tp.owner.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range ps {
			found = found || (p.Name == "Weekend Bargain Hunters" && p.NamedBy == "person")
		}
		if !found {
			t.Error("the rename did not reach the store as a person's name")
		}
	})

	t.Run("viewer sees no settings forms and is refused posting", func(t *testing.T) {
		u := sh.open(t, browser, base, "viewer")
		u.login(tp.viewer)
		u.visit("/projects/"+pid+"/settings", "#install", "settings read-only")
		if n := eval[int](u, "document.querySelectorAll('main form').length"); n != 0 {
			t.Errorf("viewer sees %d forms in settings, want none", n)
		}
		if n := eval[int](u, "document.querySelectorAll('.tabs a[href$=\"/deletions\"]').length"); n != 0 {
			t.Error("viewer sees the deletions tab")
		}
		// Posting anyway, with the viewer's own valid CSRF token, from the dashboard's origin.
		status := eval[int](u, fmt.Sprintf(`(async () => {
			const csrf = document.querySelector('input[name=csrf_token]').value;
			const r = await fetch('/projects/%s/settings/capture', {method: 'POST', redirect: 'manual',
				body: new URLSearchParams({csrf_token: csrf, sample_pct: '50'})});
			return r.status; })()`, pid))
		if status != http.StatusForbidden {
			t.Errorf("viewer posting the capture form: status %d, want 403", status)
		}
		u.visit("/projects/"+pid+"/deletions", "#error-heading", "deletions refused")
		if s := u.text("#error-heading"); s != "Not allowed" {
			t.Errorf("viewer on deletions sees %q, want Not allowed", s)
		}
		p, err := tp.srv.Store.Project(context.Background(), tp.owner.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		if p.SampleRate != 1 {
			t.Errorf("sample rate changed to %v by a viewer", p.SampleRate)
		}
	})

	t.Run("admin erases a visitor and sees it done", func(t *testing.T) {
		u := sh.open(t, browser, base, "admin")
		u.login(tp.admin)
		u.visit("/projects/"+pid+"/deletions", "#deletion-form", "deletions")
		if !eval[bool](u, "document.querySelector('#delete-button').disabled") {
			t.Error("the delete button is enabled before the confirmation is typed")
		}
		if n := eval[int](u, "document.querySelectorAll('input[name=scope][value=all]').length"); n != 0 {
			t.Error("an admin is offered the whole-project deletion (owner only)")
		}
		u.do(chromedp.SendKeys(chromedp.ID("visitor_id"), tp.visitor), chromedp.SendKeys(chromedp.ID("confirm"), tp.projectName))
		u.waitFor("!document.querySelector('#delete-button').disabled")
		u.shot("deletion confirmed")
		u.do(chromedp.Click(chromedp.ID("delete-button")))
		u.waitFor("!!document.querySelector('#deletion-status')")
		u.shot("deletion started")
		did := eval[string](u, "location.pathname.split('/').pop()")
		deadline := time.Now().Add(60 * time.Second)
		for u.text("#deletion-status") != "done" && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if id, err := uuid.Parse(did); err == nil {
			d, err := tp.srv.Store.Deletion(context.Background(), id)
			t.Logf("deletion %s in the store: status %s step %s error %q (%v)", did, d.Status, d.Step, d.Error, err)
		}
		u.waitFor("document.querySelector('#deletion-status').textContent === 'done' && !document.querySelector('#receipt-link').hidden")
		u.shot("deletion done")
		if s := u.text("#deletion-counts"); !strings.Contains(s, "events") {
			t.Errorf("deletion counts %q do not list events", s)
		}
		status := eval[int](u, "fetch(document.querySelector('#receipt-link a').href).then(r => r.status)")
		if status != http.StatusOK {
			t.Errorf("receipt link: status %d", status)
		}
	})

	t.Run("logout", func(t *testing.T) {
		u := sh.open(t, browser, base, "logout")
		u.login(tp.viewer)
		u.do(chromedp.Click(chromedp.ID("logout")))
		u.waitFor("location.pathname === '/login'")
		u.shot("signed out")
		u.do(chromedp.Navigate(base + "/projects/" + pid))
		u.waitFor("location.pathname === '/login' && !!document.querySelector('#email')")
		if s := eval[string](u, "location.search"); !strings.Contains(s, "next=") {
			t.Errorf("login after sign-out lacks next: %q", s)
		}
	})
}

// session signs in through POST /v1/session and returns the cookie and CSRF token.
func session(t *testing.T, srv *testserver.Server, email string) (*http.Cookie, string, http.Header) {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/session", Body: map[string]string{"email": email, "password": password}})
	if r.Status != http.StatusOK {
		t.Fatalf("login: status %d: %s", r.Status, r.Body)
	}
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	r.JSON(t, &body)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == api.SessionCookie {
			return c, body.CSRF, r.Header
		}
	}
	t.Fatal("no session cookie")
	return nil, "", nil
}

// formPost posts a form with the session cookie and returns the status and Location.
func formPost(t *testing.T, srv *testserver.Server, path string, cookie *http.Cookie, form url.Values, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestDashboardCSRFAndCookies: a form post from another site is refused even with the right
// token, a post without the token is refused, the same post from the dashboard works; the
// session cookie is HttpOnly, SameSite=Strict, host-wide, and Secure in production.
func TestDashboardCSRFAndCookies(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@example.com", false)
	cookie, csrf, hdr := session(t, srv, owner.Email)
	setCookie := hdr.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("session cookie %q lacks %s", setCookie, want)
		}
	}
	if strings.Contains(setCookie, "Secure") {
		t.Errorf("development cookie %q is Secure (it would not work on http://localhost)", setCookie)
	}
	path := "/projects/" + owner.ProjectID.String() + "/settings/context"
	form := url.Values{"industry": {"Retail"}, "csrf_token": {csrf}}
	tests := []struct {
		name   string
		form   url.Values
		header map[string]string
		want   int
	}{
		{"cross-site origin", form, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site fetch metadata", form, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross-site referer", form, map[string]string{"Referer": "https://evil.example/page"}, http.StatusForbidden},
		{"no token", url.Values{"industry": {"Retail"}}, map[string]string{"Origin": srv.URL}, http.StatusForbidden},
		{"wrong token", url.Values{"industry": {"Retail"}, "csrf_token": {"x" + csrf}}, map[string]string{"Origin": srv.URL}, http.StatusForbidden},
		{"same origin", form, map[string]string{"Origin": srv.URL}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := formPost(t, srv, path, cookie, tt.form, tt.header)
			if got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}
	bc, err := srv.Store.GetBusinessContext(context.Background(), owner.ProjectID)
	if err != nil || bc.Industry != "Retail" {
		t.Errorf("business context %+v (%v), want the one accepted post", bc, err)
	}
	// Login CSRF: a login form posted from another site is refused.
	if got, _ := formPost(t, srv, "/login", &http.Cookie{Name: "x", Value: "y"},
		url.Values{"email": {owner.Email}, "password": {password}}, map[string]string{"Origin": "https://evil.example"}); got != http.StatusForbidden {
		t.Errorf("cross-site login form: status %d, want 403", got)
	}

	prod := testserver.New(t, testserver.Options{NoWorker: true, Env: srv.Env, Redis: srv.Redis, APIConfig: api.Config{Production: true}})
	_, _, hdr = session(t, prod, owner.Email)
	if sc := hdr.Get("Set-Cookie"); !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("production session cookie %q is not Secure and HttpOnly", sc)
	}
}

// TestDashboardAccess: pages need a session, a stranger's project is not found, and roles
// gate the forms as the API's policy table does.
func TestDashboardAccess(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@example.com", false)
	other := srv.NewAccount(t, "other@example.com", false)
	ctx := context.Background()
	uid, _ := srv.Member(t, owner.ProjectID, "editor@example.com", models.RoleEditor)
	if err := srv.Store.SetPassword(ctx, uid, password); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, c *http.Cookie) (int, string, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	if st, loc, _ := get("/projects/"+owner.ProjectID.String(), nil); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Errorf("anonymous overview: %d to %q, want 303 to the login page", st, loc)
	}
	cookie, csrf, _ := session(t, srv, "editor@example.com")
	if st, _, body := get("/projects/"+owner.ProjectID.String(), cookie); st != http.StatusOK || !strings.Contains(body, "No personas yet") {
		t.Errorf("editor overview without a model: %d, empty state shown: %v", st, strings.Contains(body, "No personas yet"))
	}
	if st, _, _ := get("/projects/"+other.ProjectID.String(), cookie); st != http.StatusNotFound {
		t.Errorf("another tenant's project: %d, want 404", st)
	}
	if st, _, _ := get("/projects/"+owner.ProjectID.String()+"/audit", cookie); st != http.StatusForbidden {
		t.Errorf("editor on the audit log: %d, want 403", st)
	}
	origin := map[string]string{"Origin": srv.URL}
	if st, _ := formPost(t, srv, "/projects/"+owner.ProjectID.String()+"/settings/access", cookie,
		url.Values{"csrf_token": {csrf}, "allowed_origins": {"https://evil.example"}}, origin); st != http.StatusForbidden {
		t.Errorf("editor posting origins: %d, want 403", st)
	}
	if st, loc := formPost(t, srv, "/projects/"+owner.ProjectID.String()+"/settings/capture", cookie,
		url.Values{"csrf_token": {csrf}, "sample_pct": {"50"}, "respect_gpc": {"on"}}, origin); st != http.StatusSeeOther || !strings.Contains(loc, "done=capture") {
		t.Errorf("editor posting capture settings: %d to %q, want 303", st, loc)
	}
	p, err := srv.Store.Project(ctx, owner.ProjectID)
	if err != nil || p.SampleRate != 0.5 || !p.RespectGPC {
		t.Errorf("capture settings not saved: rate %v gpc %v (%v)", p.SampleRate, p.RespectGPC, err)
	}
	if st, _ := formPost(t, srv, "/projects/"+owner.ProjectID.String()+"/deletions", cookie,
		url.Values{"csrf_token": {csrf}, "scope": {"personas"}, "confirm": {p.Name}}, origin); st != http.StatusForbidden {
		t.Errorf("editor starting a deletion: %d, want 403", st)
	}
	if st, _ := formPost(t, srv, "/projects/"+uuid.NewString()+"/train", cookie, url.Values{"csrf_token": {csrf}}, origin); st != http.StatusNotFound {
		t.Errorf("training an unknown project: %d, want 404", st)
	}
}
