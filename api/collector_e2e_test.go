package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"personas/collector"
	"personas/internal/testenv"
	"personas/internal/testserver"
)

// TestCollectorInRealBrowser loads the real snippet (from the snippet endpoint, with its SRI
// hash) into a page of a site on another origin, clicks plain, nested, ignored and excluded
// elements, follows a single-page-app route, types personal data into a form and submits it,
// then checks exactly which events PostgreSQL holds and that nothing typed is stored anywhere.
func TestCollectorInRealBrowser(t *testing.T) {
	t.Parallel()
	b := testenv.Browser(t) // skips without chromium, fails when CI is set
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)

	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + a.ProjectID.String() + "/snippet", Token: a.Token})
	if r.Status != 200 {
		t.Fatalf("snippet: %d %s", r.Status, r.Body)
	}
	var snip struct {
		Snippet, Integrity string
	}
	r.JSON(t, &snip)
	if snip.Integrity != collector.Integrity() || !strings.Contains(snip.Snippet, `integrity="`+collector.Integrity()+`"`) ||
		!strings.Contains(snip.Snippet, `crossorigin="anonymous"`) || !strings.Contains(snip.Snippet, srv.URL+collector.Path()) {
		t.Fatalf("snippet %q does not pin the served script", snip.Snippet)
	}
	tampered := strings.Replace(snip.Snippet, `integrity="sha384-`, `onerror="window.__sriFailed=true" integrity="sha384-AAAA`, 1)

	const page = `
<h1>Shop</h1>
<button id="plain" class="btn buy">Add to cart</button>
<button id="nested-btn" class="card"><span><b id="nested">Details</b></span></button>
<div data-personas-ignore><button id="ignored">Ignored button</button></div>
<div class="promo"><button id="excluded">Promo deal</button></div>
<button id="route" onclick="history.pushState({}, '', '/catalog/123')">Catalog</button>
<form id="f" action="/thanks" method="get">
  <label>Name <input id="name" name="name" type="text"></label>
  <input id="email" name="email" type="email" placeholder="you@example.com">
  <input id="password" name="password" type="password">
  <textarea id="message" name="message"></textarea>
  <button id="send" type="submit">Send</button>
</form>`
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := snip.Snippet
		if r.URL.Path == "/tampered" {
			head = tampered
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title>%s</head><body>%s</body></html>`,
			r.URL.Path, head, page)
	}))
	t.Cleanup(site.Close)
	r = srv.Do(t, testserver.Request{Method: "PATCH", Path: "/v1/projects/" + a.ProjectID.String(), Token: a.Token,
		Body: map[string]any{"allowed_origins": []string{site.URL}, "excluded_selectors": []string{".promo"}}})
	if r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	srv.API.EvictProject(a.SiteKey)

	t.Run("a tampered integrity hash stops the script", func(t *testing.T) {
		tab := testenv.Tab(t, b)
		testenv.Do(t, tab, chromedp.Navigate(site.URL+"/tampered"))
		testenv.WaitFor(t, tab, `window.__sriFailed === true`)
		if testenv.Eval[bool](t, tab, `typeof window.personas !== 'undefined'`) {
			t.Error("the script ran although its integrity hash did not match")
		}
	})

	secrets := map[string]string{
		"name":     "Zebulon Quixote-Fairweather",
		"email":    "zebulon.quixote@fairweather.example",
		"password": "hunter2-Pl4typus!",
		"message":  "My card is 4111 1111 1111 1111, call +44 20 7946 0958, ask for Wilhelmina",
	}
	tab := testenv.Tab(t, b)
	testenv.Do(t, tab, chromedp.Navigate(site.URL+"/"))
	testenv.WaitFor(t, tab, `!!(window.personas && window.personas.id && window.personas.id())`)
	visitor := testenv.Eval[string](t, tab, `window.personas.id()`)
	for _, id := range []string{"plain", "nested", "ignored", "excluded", "route"} {
		testenv.Do(t, tab, chromedp.Click(chromedp.ID(id)))
	}
	testenv.WaitFor(t, tab, `location.pathname === '/catalog/123'`)
	for _, id := range []string{"name", "email", "password", "message"} {
		testenv.Do(t, tab, chromedp.Click(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), secrets[id]))
	}
	testenv.Do(t, tab, chromedp.Click(chromedp.ID("send")))
	testenv.WaitAcross(t, tab, `location.pathname === '/thanks' && document.readyState === 'complete' && !!window.personas`)
	if !strings.Contains(testenv.Eval[string](t, tab, `location.search`), "Zebulon") {
		t.Fatal("the form did not put what was typed into the next page's URL (the test would prove less)")
	}
	testenv.Do(t, tab, chromedp.Navigate("about:blank")) // pagehide: the last leave goes by beacon

	type row struct{ Type, Path, Tag, Goal string }
	want := []row{
		{"pageview", "/", "", ""},
		{"click", "/", "button", ""}, // plain
		{"click", "/", "button", ""}, // nested: the <b> inside the button counts as the button
		{"click", "/", "button", ""}, // the route button
		{"leave", "/", "", ""},
		{"pageview", "/catalog/:id", "", ""},
		{"click", "/catalog/:id", "input", ""},
		{"click", "/catalog/:id", "input", ""},
		{"click", "/catalog/:id", "input", ""},
		{"click", "/catalog/:id", "textarea", ""},
		{"click", "/catalog/:id", "button", ""}, // send
		{"leave", "/catalog/:id", "", ""},
		{"pageview", "/thanks", "", ""},
		{"leave", "/thanks", "", ""},
	}
	sortRows := func(rs []row) {
		slices.SortFunc(rs, func(x, y row) int { return strings.Compare(fmt.Sprint(x), fmt.Sprint(y)) })
	}
	sortRows(want)
	var got []row
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = got[:0]
		rows, err := srv.Pool.Query(context.Background(), `SELECT type, path, el_tag, goal FROM events WHERE project_id = $1`, a.ProjectID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var x row
			if err := rows.Scan(&x.Type, &x.Path, &x.Tag, &x.Goal); err != nil {
				t.Fatal(err)
			}
			got = append(got, x)
		}
		sortRows(got)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events in PostgreSQL (-want +got):\n%s", d)
	}
	var visitors int
	if err := srv.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT visitor_hash) FROM events WHERE project_id = $1`, a.ProjectID).Scan(&visitors); err != nil || visitors != 1 {
		t.Errorf("%d visitors stored (%v), want 1", visitors, err)
	}

	exp := srv.Do(t, testserver.Request{Method: "GET", Token: a.Token,
		Path: "/v1/projects/" + a.ProjectID.String() + "/visitors/" + visitor + "/export"})
	if exp.Status != 200 {
		t.Fatalf("export: %d %s", exp.Status, exp.Body)
	}
	var texts []string
	for _, want := range []string{`"element_text":"Add to cart"`, `"element_text":"Details"`, `"element_text":"Send"`} {
		if !strings.Contains(string(exp.Body), want) {
			texts = append(texts, want)
		}
	}
	if len(texts) > 0 {
		t.Errorf("the export lacks %v: %s", texts, exp.Body)
	}
	places := map[string]string{"pg_dump": testenv.PGDump(t, srv.DataURL, "--no-owner", "--no-privileges"), "export": string(exp.Body), "logs": srv.Logs.String()}
	// The typed values whole, and the words in them that occur nowhere else.
	typed := []string{"Zebulon", "Quixote", "Fairweather", "hunter2", "Pl4typus", "4111 1111", "7946 0958", "Wilhelmina"}
	for _, v := range secrets {
		typed = append(typed, v)
	}
	for _, w := range typed {
		for place, text := range places {
			if strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
				t.Errorf("typed text %q found in %s", w, place)
			}
		}
	}
	for place, text := range places {
		for _, w := range []string{"Ignored button", "Promo deal"} {
			if strings.Contains(text, w) {
				t.Errorf("text of an ignored or excluded element %q found in %s", w, place)
			}
		}
	}
}
