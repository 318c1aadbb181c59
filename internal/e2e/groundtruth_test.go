package e2e

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"personas/classifier"
	"personas/internal/groundtruth"
	"personas/internal/testenv"
	"personas/internal/testserver"
)

// desktopUA is a desktop Chrome's user agent: headless Chromium's own says "HeadlessChrome",
// which the service rightly classes as a bot, and the generated buyers are people on desktops.
const desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// TestBrowserWalksLikeAPersona trains a model on generated ground truth, then has Chromium
// walk the customer's site the way one trained buyer did in one visit (the same pages in the
// same order, the same kinds of clicks, the add-to-cart goal, the scroll depth and the time on
// each page), through the
// real snippet, and checks that the page's personas.persona() answers "ok" with the persona
// whose training members are mostly buyers.
func TestBrowserWalksLikeAPersona(t *testing.T) {
	t.Parallel()
	const buyers = 2 // groundtruth.Groups()[2]
	if groundtruth.Groups()[buyers].Name != "buyers" {
		t.Fatalf("group %d is %q, want the buyers", buyers, groundtruth.Groups()[buyers].Name)
	}
	browser := testenv.Browser(t)
	srv := testserver.New(t, testserver.Options{TrainOptions: classifier.TrainOptions{MinClusterSize: 50}})
	s := &shop{Srv: srv, Acct: srv.NewAccount(t, "owner@shop.example", false), pages: map[string]page{}}
	site := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(site.Close)
	s.Site = site.URL
	base := "/v1/projects/" + s.Acct.ProjectID.String()
	r := srv.Do(t, testserver.Request{Method: "PATCH", Path: base, Token: s.Acct.Token,
		Body: map[string]any{"allowed_origins": []string{testserver.Origin, s.Site}}})
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH allowed_origins: status %d: %s", r.Status, r.Body)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: base + "/snippet", Token: s.Acct.Token})
	var sn struct {
		Snippet string `json:"snippet"`
	}
	r.JSON(t, &sn)
	if r.Status != http.StatusOK || sn.Snippet == "" {
		t.Fatalf("GET snippet: status %d: %s", r.Status, r.Body)
	}
	s.Snippet = sn.Snippet

	vs := groundtruth.Generate(groundtruth.Config{Visitors: 2000, Seed: 21, End: time.Now().Add(-2 * time.Hour), Site: testserver.Origin})
	r = srv.Do(t, testserver.Request{Method: "POST", Path: base + "/import", Token: s.Acct.Token, Body: groundtruth.NDJSON(vs),
		Header: map[string]string{"Content-Type": "application/x-ndjson"}})
	if r.Status != http.StatusOK {
		t.Fatalf("import: status %d: %s", r.Status, r.Body)
	}
	s.Version = s.train(t)

	// The buyers' persona: the one whose training members are mostly buyers.
	ctx := context.Background()
	group := map[string]int{}
	for _, v := range vs {
		group[string(srv.Store.VisitorHash(s.Acct.ProjectID, v.ID))] = v.Group
	}
	members := map[int]map[int]int{} // cluster → group → members
	clusterOf := map[string]int{}
	if err := srv.Store.EachModelMember(ctx, s.Acct.ProjectID, s.Version, func(h []byte, c int) error {
		if members[c] == nil {
			members[c] = map[int]int{}
		}
		members[c][group[string(h)]]++
		clusterOf[string(h)] = c
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cluster, most := -1, 0
	for c, byGroup := range members {
		total := 0
		for _, n := range byGroup {
			total += n
		}
		if n := byGroup[buyers]; 2*n > total && n > most {
			cluster, most = c, n
		}
	}
	if cluster < 0 {
		t.Fatalf("no persona of model v%d is mostly buyers (members per cluster and group: %v)", s.Version, members)
	}
	ids, err := srv.Store.PersonaIDsByCluster(ctx, s.Acct.ProjectID, s.Version)
	if err != nil {
		t.Fatal(err)
	}
	want := ids[cluster].String()
	t.Logf("model v%d: %d clusters; cluster %d (persona %s) holds %d of the buyers (%v)", s.Version, len(members), cluster, want, most, members[cluster])

	// A visit of a trained buyer of that persona: direct, on a desktop, through the funnel
	// with the add-to-cart goal, at most six pages; of those, the shortest, since the browser
	// spends the visit's own time on each page.
	var walk []groundtruth.Event
	for _, v := range vs {
		if v.Group != buyers || clusterOf[string(srv.Store.VisitorHash(s.Acct.ProjectID, v.ID))] != cluster {
			continue
		}
		for _, visit := range sessions(v.Events) {
			if first := visit[0]; first.Device == "desktop" && first.Referrer == "" && !strings.Contains(first.URL, "?") &&
				hasPage(visit, "/cart") && hasPage(visit, "/checkout") && hasGoal(visit, "add_to_cart") && pageViews(visit) <= 6 &&
				(walk == nil || walked(visit) < walked(walk)) {
				walk = visit
			}
		}
	}
	if walk == nil {
		t.Fatal("no trained buyer of the persona has a direct desktop visit through the funnel")
	}
	t.Logf("the walk: %d pages, %s on the pages before the last", pageViews(walk), walked(walk))

	tab := testenv.Tab(t, browser)
	if _, err := chromedp.Call(tab, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: desktopUA}); err != nil {
		t.Fatalf("set the user agent: %v", err)
	}
	pages := splitPages(walk)
	for _, p := range pages {
		s.Page(pathOf(p[0].URL), shopPage(s.Snippet))
	}
	s.Page("/blank", page{})
	var visitor string
	sent := 0 // events the walk made so far, each page's leave included
	for i, p := range pages {
		last := i == len(pages)-1
		if last {
			// The answer after the walk: every earlier event stored (the previous page's leave
			// goes out as it is left, here for a page of the site without the snippet), and
			// the cached answer of the first page older than its minute.
			testenv.Do(t, tab, chromedp.Navigate(s.Site+"/blank"))
			waitStored(t, srv, s.Acct.ProjectID, visitor, sent)
			testenv.Eval[bool](t, tab, `sessionStorage.removeItem('personas_p'); true`)
		}
		arrived := time.Now()
		testenv.Do(t, tab, chromedp.Navigate(s.Site+pathOf(p[0].URL)))
		testenv.WaitFor(t, tab, `!!(window.personas && personas.id())`)
		if visitor == "" {
			visitor = testenv.Eval[string](t, tab, `personas.id()`)
		}
		if last {
			break
		}
		sent += 2 // the page view and its leave
		for _, e := range p[1:] {
			switch e.Type {
			case "click":
				testenv.Do(t, tab, chromedp.Click(chromedp.CSS(`[data-kind="`+kindOf(e.Element)+`"]`)))
				sent++
			case "goal":
				testenv.Eval[bool](t, tab, `personas.goal(`+jsString(e.Name)+`); true`)
				sent++
			case "leave":
				testenv.Eval[bool](t, tab, fmt.Sprintf(`window.scrollTo(0, %f * document.documentElement.scrollHeight - innerHeight); true`, *e.ScrollDepth))
				time.Sleep(time.Until(arrived.Add(time.Duration(*e.DurationMS) * time.Millisecond))) // the buyer's time on the page
			}
		}
	}
	got := testenv.Eval[answer](t, tab, `personas.persona()`)
	t.Logf("walk of %d pages (%s): persona() = %+v", len(pages), strings.Join(walkPaths(pages), " → "), got)
	if got.Reason != "ok" || got.Persona == nil || got.Persona.ID != want {
		t.Fatalf("persona() after walking like a buyer = %+v, want reason ok with the buyers' persona %s", got, want)
	}
	if api := s.Classify(t, visitor); api.Persona == nil || api.Persona.ID != want {
		t.Errorf("POST /v1/classify for the walking visitor = %+v, want the buyers' persona %s", api, want)
	}
}

// shopPage is a page of the generated site: tall enough to scroll, with one element of each
// kind the generator clicks, as groundtruth.ElementOf describes them.
func shopPage(snippet string) page {
	var b strings.Builder
	for _, kind := range []string{"cta", "button", "link", "nav", "form", "media"} {
		el := groundtruth.ElementOf(kind)
		attrs := fmt.Sprintf(` data-kind="%s"`, kind)
		if el.ID != "" {
			attrs += fmt.Sprintf(` id="%s"`, html.EscapeString(el.ID))
		}
		if len(el.Classes) > 0 {
			attrs += fmt.Sprintf(` class="%s"`, html.EscapeString(strings.Join(el.Classes, " ")))
		}
		keys := make([]string, 0, len(el.Attrs))
		for k := range el.Attrs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			attrs += fmt.Sprintf(` %s="%s"`, k, html.EscapeString(el.Attrs[k]))
		}
		switch el.Tag {
		case "input", "img":
			fmt.Fprintf(&b, `<p><%s%s></p>`, el.Tag, attrs)
		case "a":
			fmt.Fprintf(&b, `<p><a%s onclick="event.preventDefault()">%s</a></p>`, attrs, html.EscapeString(el.Text))
		default:
			fmt.Fprintf(&b, `<p><%s%s>%s</%s></p>`, el.Tag, attrs, html.EscapeString(el.Text), el.Tag)
		}
	}
	b.WriteString(`<div style="height:4000px"></div>`)
	return page{Head: snippet, Body: b.String()}
}

// kindOf is the generator's kind of a clicked element.
func kindOf(el *groundtruth.Element) string {
	for _, kind := range []string{"cta", "button", "link", "nav", "form", "media"} {
		e := groundtruth.ElementOf(kind)
		if e.Tag == el.Tag && slices.Equal(e.Classes, el.Classes) && e.Text == el.Text {
			return kind
		}
	}
	return ""
}

// sessions splits a visitor's events into visits.
func sessions(evs []groundtruth.Event) [][]groundtruth.Event {
	var out [][]groundtruth.Event
	for i, e := range evs {
		if i == 0 || e.SessionID != evs[i-1].SessionID {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], e)
	}
	return out
}

// splitPages splits a visit into its pages: each page view with the events until the next.
func splitPages(visit []groundtruth.Event) [][]groundtruth.Event {
	var out [][]groundtruth.Event
	for _, e := range visit {
		if e.Type == "pageview" || len(out) == 0 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], e)
	}
	return out
}

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "/"
	}
	return p.Path
}

func hasPage(visit []groundtruth.Event, path string) bool {
	return slices.ContainsFunc(visit, func(e groundtruth.Event) bool { return e.Type == "pageview" && pathOf(e.URL) == path })
}

func hasGoal(visit []groundtruth.Event, name string) bool {
	return slices.ContainsFunc(visit, func(e groundtruth.Event) bool { return e.Type == "goal" && e.Name == name })
}

func pageViews(visit []groundtruth.Event) int {
	n := 0
	for _, e := range visit {
		if e.Type == "pageview" {
			n++
		}
	}
	return n
}

// walked is the time a visit spent on its pages before the last (the browser spends it).
func walked(visit []groundtruth.Event) time.Duration {
	var d time.Duration
	pages := splitPages(visit)
	for _, p := range pages[:len(pages)-1] {
		for _, e := range p {
			if e.Type == "leave" {
				d += time.Duration(*e.DurationMS) * time.Millisecond
			}
		}
	}
	return d
}

func walkPaths(pages [][]groundtruth.Event) []string {
	out := make([]string, len(pages))
	for i, p := range pages {
		out[i] = pathOf(p[0].URL)
	}
	return out
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// waitStored waits until the service has stored n events of the visitor.
func waitStored(t *testing.T, srv *testserver.Server, projectID uuid.UUID, visitorID string, n int) {
	t.Helper()
	hash := srv.Store.VisitorHash(projectID, visitorID)
	got := 0
	testserver.Eventually(t, testenv.StepTimeout, fmt.Sprintf("%d events of the walk stored (last count %d)", n, got), func() bool {
		if err := srv.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM events WHERE project_id = $1 AND visitor_hash = $2`, projectID, hash).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got >= n
	})
	if got != n {
		t.Fatalf("%d events of the walk stored, want %d", got, n)
	}
}
