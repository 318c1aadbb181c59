package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"personas/internal/residue"
	"personas/internal/testenv"
	"personas/internal/testserver"
)

// checkClassifyCarriesNoMore makes the classify request carry unsent events (the first
// collect answers 503, so the page view and two clicks are still queued when the script
// asks), and checks field by field that the classify request holds nothing that the
// collect requests of the page do not.
func checkClassifyCarriesNoMore(t *testing.T, s *shop, browser context.Context, blocks []block) {
	s.Page("/", variantsPage(s.Snippet, blocks))
	tab := testenv.Tab(t, browser)
	rec := record(t, tab)

	paused := make(chan *fetch.EventRequestPaused, 64)
	if err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e:
			default: // cannot happen with a handful of requests; the wait below would fail
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: s.Srv.URL + "/v1/collect*", RequestStage: fetch.RequestStageRequest}}}); err != nil {
		t.Fatalf("enable request interception: %v", err)
	}
	testenv.Do(t, tab, chromedp.Navigate(s.Site+"/"))
	var first *fetch.EventRequestPaused
	select {
	case first = <-paused:
	case <-time.After(testenv.StepTimeout):
		t.Fatal("no collect request")
	}
	// While the first collect is in flight, the visitor clicks twice.
	testenv.Do(t, tab, chromedp.Click(chromedp.ID("b1")), chromedp.Click(chromedp.ID("b2")))
	if _, err := chromedp.Call(tab, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: first.RequestID,
		ResponseCode: http.StatusServiceUnavailable, ResponseHeaders: []*fetch.HeaderEntry{
			{Name: "Access-Control-Allow-Origin", Value: s.Site}, {Name: "Access-Control-Expose-Headers", Value: "Retry-After"},
			{Name: "Retry-After", Value: "1"}, {Name: "Content-Type", Value: "application/json"}},
		Body: []byte(`{"error":{"code":"unavailable","message":"retry later"}}`)}); err != nil {
		t.Fatalf("answer the first collect: %v", err)
	}
	// Later collects reach the service.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case e := <-paused:
				_, _ = chromedp.Call(tab, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
			case <-stop:
				return
			}
		}
	}()
	defer wg.Wait()
	defer close(stop)

	a := testenv.Eval[answer](t, tab, `personas.persona()`)
	t.Logf("classify answered %+v", a)
	classify := rec.Requests("/v1/classify")
	if len(classify) != 1 {
		t.Fatalf("%d classify requests, want 1", len(classify))
	}
	bodies(t, tab, classify)
	var cb map[string]any
	if err := json.Unmarshal(classify[0].Body, &cb); err != nil {
		t.Fatalf("classify body %s: %v", classify[0].Body, err)
	}
	events, _ := cb["events"].([]any)
	if len(events) != 3 {
		t.Fatalf("classify carried %d events, want the page view and two clicks still unsent: %s", len(events), classify[0].Body)
	}

	// Wait for the retried collect, which must carry the same events.
	var collects []map[string]any
	var creqs []request
	testserver.Eventually(t, testenv.StepTimeout, "a successful collect after the classify request", func() bool {
		creqs = rec.Requests("/v1/collect")
		return slices.ContainsFunc(creqs, func(q request) bool { return q.Seq > classify[0].Seq && q.Status == http.StatusNoContent })
	})
	bodies(t, tab, creqs)
	for _, q := range creqs {
		var b map[string]any
		if err := json.Unmarshal(q.Body, &b); err != nil {
			t.Fatalf("collect body %s: %v", q.Body, err)
		}
		collects = append(collects, b)
	}
	for k, v := range cb {
		if k == "events" {
			continue
		}
		for i, b := range collects {
			if w, ok := b[k]; !ok || !cmp.Equal(v, w) {
				t.Errorf("classify field %s = %v; collect %d has %v", k, v, i, w)
			}
		}
	}
	for _, e := range events {
		if !slices.ContainsFunc(collects, func(b map[string]any) bool {
			ce, _ := b["events"].([]any)
			return slices.ContainsFunc(ce, func(x any) bool { return cmp.Equal(e, x) })
		}) {
			t.Errorf("classify event %v was never collected", e)
		}
	}
	if strings.Contains(classify[0].URL, "?") {
		t.Errorf("classify URL %s has a query", classify[0].URL)
	}
	for name, v := range classify[0].Headers {
		if name == "content-length" {
			continue
		}
		if !slices.ContainsFunc(creqs, func(q request) bool { return q.Headers[name] == v }) {
			t.Errorf("classify header %s: %s is on no collect request", name, v)
		}
	}
	if _, ok := classify[0].Headers["cookie"]; ok || classify[0].Headers == nil {
		t.Errorf("classify headers %v: want the wire headers, without cookies", classify[0].Headers)
	}
}

// checkForget has a visitor with stored history forget themselves from the page, waits for
// the deletion cascade, and checks that no row of theirs is left and no request leaves
// the browser afterwards.
func checkForget(t *testing.T, s *shop, browser context.Context, blocks []block) {
	ctx := context.Background()
	visitor := s.Visitors[2]
	hash := s.Srv.Store.VisitorHash(s.Acct.ProjectID, visitor)
	s.Page("/", variantsPage(s.Snippet, blocks))
	tab := testenv.Tab(t, browser)
	s.setVisitor(t, tab, visitor)
	rec := record(t, tab)
	testenv.Do(t, tab, chromedp.Navigate(s.Site+"/"))
	// The visitor's own clicks on the page may move it off every persona (outlier): either way
	// the model answered for a known visitor, and the assignment is written.
	if a := testenv.Eval[answer](t, tab, `personas.persona()`); a.Reason != "ok" && a.Reason != "outlier" {
		t.Fatalf("persona() = %+v before forget, want an answer of the model", a)
	}
	var before residue.Counts
	testserver.Eventually(t, testenv.StepTimeout, "the visitor's persona assignment is stored", func() bool {
		var err error
		if before, err = residue.Visitor(ctx, s.Srv.Pool, s.Acct.ProjectID, hash); err != nil {
			t.Fatal(err)
		}
		return before["visitor_personas"] > 0
	})
	for _, table := range []string{"events", "visitor_features", "model_members", "visitor_personas"} {
		if before[table] == 0 {
			t.Fatalf("before forget: no %s rows of the visitor (%v); the check could not fail", table, before)
		}
	}

	if !testenv.Eval[bool](t, tab, `personas.forget().then(() => true)`) {
		t.Fatal("forget() did not resolve")
	}
	mark := rec.Len()
	forget := rec.Requests("/v1/forget")
	if len(forget) != 1 || forget[0].Status != http.StatusAccepted {
		t.Fatalf("forget requests = %+v, want one answered 202", forget)
	}
	if id := testenv.Eval[string](t, tab, `String(personas.id())`); id != "null" {
		t.Errorf("personas.id() = %s after forget, want null", id)
	}

	// Everything that would send something: clicks, a goal, a route change, a flush,
	// leaving the page, and a later visit.
	testenv.Do(t, tab, chromedp.Click(chromedp.ID("b1")))
	testenv.Eval[bool](t, tab, `personas.goal("coupon_applied"); history.pushState({}, "", "/cart"); personas.flush().then(() => true)`)
	testenv.Do(t, tab, chromedp.Navigate("about:blank"), chromedp.Navigate(s.Site+"/"))
	if a := testenv.Eval[answer](t, tab, `personas.persona()`); a.Persona != nil || a.Reason != "not_collected" {
		t.Errorf("persona() on a later visit = %+v, want not_collected", a)
	}
	testenv.Do(t, tab, chromedp.Click(chromedp.ID("b1")), chromedp.Navigate("about:blank"))
	for _, q := range rec.Since(mark) {
		if q.URL == s.Site+"/" || strings.HasSuffix(q.URL, "/favicon.ico") || strings.Contains(q.URL, "/collector/") && q.Method == "GET" {
			continue // the site's own page and the script file itself
		}
		t.Errorf("request after forget: %s %s (%s)", q.Method, q.URL, q.Type)
	}

	// The cascade.
	var d struct {
		Deletions []struct {
			Scope  string           `json:"scope"`
			Status string           `json:"status"`
			Counts map[string]int64 `json:"counts"`
		} `json:"deletions"`
	}
	testserver.Eventually(t, 60*time.Second, "the visitor deletion is done", func() bool {
		r := s.Srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + s.Acct.ProjectID.String() + "/deletions", Token: s.Acct.Token})
		r.JSON(t, &d)
		return len(d.Deletions) == 1 && d.Deletions[0].Status == "done"
	})
	if d.Deletions[0].Scope != "visitor" {
		t.Errorf("deletion = %+v, want scope visitor", d.Deletions[0])
	}
	after, err := residue.Visitor(ctx, s.Srv.Pool, s.Acct.ProjectID, hash)
	if err != nil {
		t.Fatal(err)
	}
	if left := after.Left(); len(left) != 0 {
		t.Errorf("rows of the forgotten visitor left: %v (before: %v)", left, before)
	}
	t.Logf("removed %v; deletion counts %v", before.Removed(after), d.Deletions[0].Counts)
}
