package collector

import (
	"encoding/json"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"personas/internal/testenv"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Variants used by the persona tests: the answer is deal_seeker (id p-deal).
const variantsBody = `<div id="deal" data-personas-show="deal_seeker buyer">A deal for you</div>
<div id="loyal" data-personas-show="loyal">Welcome back</div>
<div id="dflt" data-personas-hide="deal_seeker">Default offer</div>
<div id="keep" data-personas-hide="loyal p-loyal">Shown to all but loyal</div>
<button id="b">Button</button>`

func TestScriptInBrowser(t *testing.T) {
	t.Parallel()
	browser := testenv.Browser(t)

	t.Run("tampered script is blocked by SRI and default content still shows", func(t *testing.T) {
		api := DefaultAPI()
		api.Script = append(Script(), []byte("\n;window.tampered=true;")...)
		e := NewEnv(t, browser, EnvOptions{API: api, Pages: map[string]string{"/": variantsBody}})
		e.Open(t, "/")
		if got := testenv.Eval[string](t, e.Tab, `typeof window.personas + "/" + typeof window.tampered`); got != "undefined/undefined" {
			t.Errorf("tampered script ran: typeof personas/tampered = %s", got)
		}
		testenv.WaitFor(t, e.Tab, visible("dflt"))
		if testenv.Eval[bool](t, e.Tab, visible("deal")) {
			t.Error("a show-variant is visible without any answer")
		}
		if reqs := e.Quiesce(t); len(reqs) != 0 {
			t.Errorf("requests from a page whose script was blocked:\n%s", dump(reqs))
		}
	})

	t.Run("page views on load and on pushState", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{Pages: map[string]string{"/shop": "<p>shop</p>"}})
		before := time.Now().UnixMilli()
		e.Open(t, "/shop?utm_source=news#section")
		shop := e.SiteURL + "/shop?utm_source=news"
		reqs := e.API.WaitFor(t, "the first page view", HasEvent(t, func(ev Event) bool { return ev.Type == "pageview" }))
		bodies, from := Collected(t, reqs)
		b := bodies[0]
		if b.SiteKey != testSiteKey || !hexID.MatchString(b.VisitorID) || !hexID.MatchString(b.SessionID) {
			t.Errorf("ids: site_key %q visitor %q session %q", b.SiteKey, b.VisitorID, b.SessionID)
		}
		if b.Context.Lang == "" || b.Context.TZ == "" || len(b.Context.Screen) != 2 || b.Context.Screen[0] <= 0 {
			t.Errorf("context = %+v, want lang, tz and a screen size", b.Context)
		}
		if !strings.HasPrefix(from[0].ContentType, "text/plain") || from[0].FetchMode != "cors" {
			t.Errorf("collect sent as %q in mode %q, want text/plain by fetch", from[0].ContentType, from[0].FetchMode)
		}
		pv := b.Events[0]
		if pv.Type != "pageview" || pv.URL != shop || pv.Referrer == nil || *pv.Referrer != "" {
			t.Errorf("first event = %+v, want a page view of %s without referrer and fragment", pv, shop)
		}
		if pv.TS < before || pv.TS > time.Now().UnixMilli() {
			t.Errorf("ts %d not between %d and now", pv.TS, before)
		}
		cookie := testenv.Eval[string](t, e.Tab, `document.cookie`)
		if !strings.Contains(cookie, "personas_id="+b.VisitorID) {
			t.Errorf("cookie %q does not hold the visitor id %s", cookie, b.VisitorID)
		}
		if got := testenv.Eval[string](t, e.Tab, `personas.id()`); got != b.VisitorID {
			t.Errorf("personas.id() = %q, want %q", got, b.VisitorID)
		}

		testenv.Eval[bool](t, e.Tab, `history.pushState({}, "", "/cart"); personas.flush().then(() => true)`)
		reqs = e.API.WaitFor(t, "the page view of /cart", HasEvent(t, func(ev Event) bool {
			return ev.Type == "pageview" && ev.URL == e.SiteURL+"/cart"
		}))
		var got []string
		for _, ev := range Events(t, reqs, "") {
			got = append(got, ev.Type+" "+strings.TrimPrefix(ev.URL, e.SiteURL))
		}
		if want := []string{"pageview /shop?utm_source=news", "leave /shop?utm_source=news", "pageview /cart"}; !cmp.Equal(want, got) {
			t.Errorf("events (-want +got):\n%s", cmp.Diff(want, got))
		}
		cart := Events(t, reqs, "pageview")[1]
		if cart.Referrer == nil || *cart.Referrer != shop {
			t.Errorf("referrer of the SPA page view = %v, want %s", cart.Referrer, shop)
		}
		bodies, _ = Collected(t, reqs)
		for _, later := range bodies[1:] {
			if later.VisitorID != b.VisitorID || later.SessionID != b.SessionID {
				t.Errorf("ids changed within a session: %s/%s then %s/%s", b.VisitorID, b.SessionID, later.VisitorID, later.SessionID)
			}
		}
	})

	t.Run("clicks", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{Pages: map[string]string{"/": `<main>
			<button id="buy" class="btn primary" aria-label="Add to cart" data-product="42" data-private="x">Add   to
				cart</button>
			<button class="btn cta"><span id="inner">Inner <b>text</b></span></button>
			<div data-personas-ignore><p><button id="ignored">Ignored</button></p></div>
			<div class="promo"><a id="excluded" href="#promo">Promo</a></div>
			<p id="para">Plain paragraph</p>
			<a id="last" href="#top" role="link" title="Top">Last</a></main>`}})
		e.Open(t, "/")
		for _, id := range []string{"buy", "inner", "ignored", "excluded", "para", "last"} {
			testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID(id)))
		}
		testenv.Eval[bool](t, e.Tab, `personas.flush().then(() => true)`)
		reqs := e.API.WaitFor(t, "the last click", HasEvent(t, func(ev Event) bool {
			return ev.Element != nil && ev.Element.ID == "last"
		}))
		var got []Element
		for _, ev := range Events(t, reqs, "click") {
			if ev.URL != e.SiteURL+"/" {
				t.Errorf("click url = %q, want the page", ev.URL)
			}
			got = append(got, *ev.Element)
		}
		want := []Element{
			{Tag: "button", ID: "buy", Classes: []string{"btn", "primary"}, Text: "Add to cart",
				Attrs: map[string]string{"aria-label": "Add to cart", "data-product": "42"}, Selector: "button#buy"},
			{Tag: "button", Classes: []string{"btn", "cta"}, Text: "Inner text", Attrs: map[string]string{},
				Selector: "body > main > button.btn"},
			{Tag: "p", ID: "para", Text: "Plain paragraph", Attrs: map[string]string{}, Selector: "p#para"},
			{Tag: "a", ID: "last", Text: "Last", Attrs: map[string]string{"href": "#top", "role": "link", "title": "Top"},
				Selector: "a#last"},
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("clicked elements (-want +got):\n%s", diff)
		}
		if n := len(Events(t, reqs, "pageview")); n != 1 {
			t.Errorf("%d page views, want 1 (a fragment link is not a page)", n)
		}
	})

	t.Run("typed personal data never leaves the page", func(t *testing.T) {
		secrets := map[string]string{
			"name": "Zelda-Quixote", "email": "zelda.q@mail.example", "pw": "hunter2-Sw0rdfish",
			"msg": "call-5550100", "inlabel": "labelsecret", "ce": "editablesecret",
		}
		e := NewEnv(t, browser, EnvOptions{Pages: map[string]string{
			"/form": `<form method="post" action="/thanks">
				<input id="name" name="name" type="text"><input id="email" name="email" type="email">
				<input id="pw" name="pw" type="password"><textarea id="msg" name="msg"></textarea>
				<label id="label">Your city <input id="inlabel" name="city"></label>
				<div id="ce" contenteditable="true"></div>
				<button id="send" type="submit">Send</button></form>`,
			"/thanks": `<p>Thanks</p>`,
		}})
		e.Open(t, "/form")
		for _, id := range []string{"name", "email", "pw", "msg", "inlabel", "ce"} {
			testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID(id)), chromedp.SendKeys(chromedp.ID(id), secrets[id]))
		}
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("label")))
		if got := testenv.Eval[string](t, e.Tab, `document.getElementById("ce").textContent`); got != secrets["ce"] {
			t.Fatalf("typing into the editable div gave %q", got)
		}
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("send")))
		reqs := e.API.WaitFor(t, "the thanks page view and the form clicks", func(rs []Recorded) bool {
			evs := Events(t, rs, "")
			return slices.ContainsFunc(evs, func(ev Event) bool { return ev.URL == e.SiteURL+"/thanks" }) &&
				slices.ContainsFunc(evs, func(ev Event) bool { return ev.Element != nil && ev.Element.ID == "send" })
		})
		reqs = append(reqs, e.Quiesce(t)[len(reqs):]...)
		for _, r := range reqs {
			raw := r.Path + "?" + r.Query + " " + string(r.Body)
			decoded, _ := url.QueryUnescape(r.Query)
			for field, s := range secrets {
				if strings.Contains(raw, s) || strings.Contains(decoded, s) {
					t.Errorf("%s typed into %s was sent: %s", s, field, raw)
				}
			}
		}
		var got []Element
		for _, ev := range Events(t, reqs, "click") {
			got = append(got, *ev.Element)
		}
		none := map[string]string{}
		want := []Element{
			{Tag: "input", Attrs: map[string]string{"type": "text"}},
			{Tag: "input", Attrs: map[string]string{"type": "email"}},
			{Tag: "input", Attrs: map[string]string{"type": "password"}},
			{Tag: "textarea", Attrs: none},
			{Tag: "input", Attrs: map[string]string{"type": "text"}},
			{Tag: "div", Attrs: none},
			{Tag: "label", ID: "label", Attrs: none, Selector: "label#label"}, // no text: it holds a field
			{Tag: "input", Attrs: map[string]string{"type": "text"}},          // the click the label passes on
			{Tag: "button", ID: "send", Text: "Send", Attrs: map[string]string{"type": "submit"}, Selector: "button#send"},
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("clicks on fields (-want +got):\n%s", diff)
		}
	})

	t.Run("goal", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		before := time.Now().UnixMilli()
		testenv.Eval[bool](t, e.Tab, `personas.goal("  "); personas.goal(42); personas.goal(" add_to_cart "); personas.flush().then(() => true)`)
		reqs := e.API.WaitFor(t, "the goal", HasEvent(t, func(ev Event) bool { return ev.Type == "goal" }))
		goals := Events(t, reqs, "goal")
		if len(goals) != 1 || goals[0].Name != "add_to_cart" || goals[0].TS < before {
			t.Errorf("goals = %+v, want one add_to_cart after %d", goals, before)
		}
	})

	t.Run("leave on pagehide goes by sendBeacon", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{Pages: map[string]string{"/long": `<div style="height:6000px">long</div><p id="end">end</p>`}})
		e.Open(t, "/long")
		e.API.WaitFor(t, "the page view", HasEvent(t, func(ev Event) bool { return ev.Type == "pageview" }))
		testenv.Eval[bool](t, e.Tab, `window.scrollTo(0, document.body.scrollHeight); new Promise(r => requestAnimationFrame(() => r(true)))`)
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("end")), chromedp.Navigate("about:blank"))
		reqs := e.API.WaitFor(t, "the leave event", HasEvent(t, func(ev Event) bool { return ev.Type == "leave" }))
		reqs = append(reqs, e.Quiesce(t)[len(reqs):]...)
		bodies, from := Collected(t, reqs)
		var leave *Event
		var mode string
		for i, b := range bodies {
			for _, ev := range b.Events {
				if ev.Type == "leave" {
					leave, mode = &ev, from[i].FetchMode
				}
			}
		}
		if leave == nil {
			t.Fatalf("no leave event; recorded:\n%s", dump(reqs))
		}
		if mode != "no-cors" {
			t.Errorf("leave sent in mode %q, want no-cors (sendBeacon)", mode)
		}
		if leave.URL != e.SiteURL+"/long" || leave.DurationMS == nil || *leave.DurationMS < 0 ||
			leave.ScrollDepth == nil || *leave.ScrollDepth != 1 {
			t.Errorf("leave = %+v, want /long, a duration and scroll depth 1", leave)
		}
		if n := len(Events(t, reqs, "leave")); n != 1 {
			t.Errorf("%d leave events, want 1", n)
		}
		if clicks := Events(t, reqs, "click"); len(clicks) != 1 {
			t.Errorf("the click queued before leaving was not sent with the beacon: %+v", clicks)
		}
	})

	t.Run("privacy signals and sampling", func(t *testing.T) {
		const gpc = `Object.defineProperty(Navigator.prototype, "globalPrivacyControl", {get: () => true, configurable: true});`
		const dnt = `Object.defineProperty(Navigator.prototype, "doNotTrack", {get: () => "1", configurable: true});`
		tests := []struct {
			name, init, config string
			collected          bool
		}{
			{"GPC honoured", gpc, testConfig, false},
			{"GPC ignored when the project says so", gpc, strings.Replace(testConfig, `"respect_gpc":true`, `"respect_gpc":false`, 1), true},
			{"DNT ignored by default", dnt, testConfig, true},
			{"DNT honoured when the project says so", dnt, strings.Replace(testConfig, `"respect_dnt":false`, `"respect_dnt":true`, 1), false},
			{"sampled out", "", strings.Replace(testConfig, `"sample_rate":1.0`, `"sample_rate":0`, 1), false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				api := DefaultAPI()
				api.Config = tt.config
				e := NewEnv(t, browser, EnvOptions{API: api, InitScript: tt.init, Pages: map[string]string{"/": variantsBody}})
				e.Open(t, "/")
				reason := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`)
				testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("b")))
				testenv.Eval[bool](t, e.Tab, `personas.goal("g"); personas.flush().then(() => true)`)
				reqs := e.Quiesce(t)
				sent := slices.Contains(Paths(reqs), "/v1/collect")
				if sent != tt.collected {
					t.Errorf("collected = %v, want %v; recorded:\n%s", sent, tt.collected, dump(reqs))
				}
				if tt.collected {
					return
				}
				if reason != "not_collected" {
					t.Errorf("persona().reason = %q, want not_collected", reason)
				}
				if diff := cmp.Diff([]string{"/v1/config"}, Paths(reqs)); diff != "" {
					t.Errorf("requests of a visitor who is not collected (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("classify off: persona() answers not_collected without asking", func(t *testing.T) {
		api := DefaultAPI()
		api.Config = strings.Replace(testConfig, `"classify":true`, `"classify":false`, 1)
		e := NewEnv(t, browser, EnvOptions{API: api, Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); got != "not_collected" {
			t.Errorf("persona().reason with classify off = %q, want not_collected (a reason the page API documents)", got)
		}
		if slices.Contains(Paths(e.Quiesce(t)), "/v1/classify") {
			t.Errorf("persona() asked /v1/classify of a project with classify off")
		}
	})

	t.Run("cookie-less mode keeps the id in sessionStorage only", func(t *testing.T) {
		api := DefaultAPI()
		api.Config = strings.Replace(testConfig, `"cookieless":false`, `"cookieless":true`, 1)
		e := NewEnv(t, browser, EnvOptions{API: api, Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		reqs := e.API.WaitFor(t, "the page view", HasEvent(t, func(ev Event) bool { return ev.Type == "pageview" }))
		bodies, _ := Collected(t, reqs)
		got := testenv.Eval[map[string]any](t, e.Tab, `({cookie: document.cookie,
			local: Object.keys(localStorage).filter(k => k.startsWith("personas_")),
			session: JSON.parse(sessionStorage.getItem("personas_id"))})`)
		want := map[string]any{"cookie": "", "local": []any{}, "session": bodies[0].VisitorID}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("storage in cookie-less mode (-want +got):\n%s", diff)
		}
	})

	t.Run("persona answer, event, attributes and variants", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{
			TimeoutMS: 5000, // generous, so a loaded machine cannot turn this into the timeout case
			Head:      paintProbe("deal", "loyal", "dflt", "keep"),
			Pages:     map[string]string{"/": variantsBody},
		})
		e.Open(t, "/")
		var want map[string]any
		if err := json.Unmarshal([]byte(testClassify), &want); err != nil {
			t.Fatal(err)
		}
		got := testenv.Eval[map[string]any](t, e.Tab, `personas.persona()`)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("persona() (-want +got):\n%s", diff)
		}
		testenv.WaitFor(t, e.Tab, `__events.length > 0`)
		testenv.Eval[bool](t, e.Tab, `personas.persona().then(() => { personas.goal("more"); return personas.flush(); }).then(() => true)`)
		state := testenv.Eval[map[string]any](t, e.Tab, `({
			events: __events.length,
			type: document.documentElement.getAttribute("data-persona-type"),
			id: document.documentElement.getAttribute("data-persona-id"),
			deal: `+visible("deal")+`, loyal: `+visible("loyal")+`, dflt: `+visible("dflt")+`, keep: `+visible("keep")+`,
			painted: __painted})`)
		wantState := map[string]any{
			"events": 1.0, "type": "deal_seeker", "id": "p-deal",
			"deal": true, "loyal": false, "dflt": false, "keep": true,
			"painted": map[string]any{"deal": true, "keep": true},
		}
		if diff := cmp.Diff(wantState, state); diff != "" {
			t.Errorf("page state (-want +got):\n%s", diff)
		}

		reqs := e.API.Requests()
		var classify, collect []map[string]any
		for _, r := range reqs {
			var m map[string]any
			if r.Path != "/v1/classify" && r.Path != "/v1/collect" {
				continue
			}
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatalf("%s body %s: %v", r.Path, r.Body, err)
			}
			if r.Path == "/v1/classify" {
				classify = append(classify, m)
			} else {
				collect = append(collect, m)
			}
		}
		if len(classify) != 1 || len(collect) == 0 {
			t.Fatalf("%d classify and %d collect requests, want 1 and some", len(classify), len(collect))
		}
		allowed := map[string]bool{}
		for _, m := range collect {
			maps.Copy(allowed, fieldPaths("", m))
		}
		for p := range fieldPaths("", classify[0]) {
			if !allowed[p] {
				t.Errorf("classify sends %s, which no collect request carries", p)
			}
		}
		if classify[0]["visitor_id"] != collect[0]["visitor_id"] || classify[0]["site_key"] != testSiteKey {
			t.Errorf("classify ids %v/%v, want the collect ones", classify[0]["site_key"], classify[0]["visitor_id"])
		}

		// Within a minute the next page uses the cached answer and asks nothing.
		e.Open(t, "/")
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.persona.type)`); got != "deal_seeker" {
			t.Errorf("cached persona type = %q", got)
		}
		if n := strings.Count(strings.Join(Paths(e.Quiesce(t)), " "), "/v1/classify"); n != 1 {
			t.Errorf("%d classify requests over two page loads within a minute, want 1", n)
		}
	})

	t.Run("default content within the timeout when classify hangs", func(t *testing.T) {
		api := DefaultAPI()
		api.Hang = make(chan struct{})
		e := NewEnv(t, browser, EnvOptions{API: api, Head: paintProbe("deal", "dflt"), Pages: map[string]string{"/": variantsBody}})
		e.Open(t, "/")
		api.WaitFor(t, "the classify request", func(rs []Recorded) bool { return slices.Contains(Paths(rs), "/v1/classify") })
		testenv.WaitFor(t, e.Tab, visible("dflt")+` && document.documentElement.hasAttribute("data-personas-ready")`)
		state := testenv.Eval[map[string]any](t, e.Tab, `Promise.race([
			personas.persona().then(() => "settled"),
			new Promise(r => setTimeout(() => r("pending"), 50))]).then(p => ({
			persona: p, deal: `+visible("deal")+`, painted: __painted}))`)
		want := map[string]any{"persona": "pending", "deal": false, "painted": map[string]any{"dflt": true}}
		if diff := cmp.Diff(want, state); diff != "" {
			t.Errorf("page state while classify hangs (-want +got):\n%s", diff)
		}
	})

	t.Run("anti-flicker rule of the script equals the snippet's", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		if got := testenv.Eval[string](t, e.Tab, `document.getElementById("personas-af").textContent`); got != AntiFlickerCSS() {
			t.Errorf("injected rule:\n%s\nsnippet rule:\n%s", got, AntiFlickerCSS())
		}
	})

	t.Run("forget", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{Pages: map[string]string{"/": variantsBody}})
		e.Open(t, "/")
		testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`)
		vid := testenv.Eval[string](t, e.Tab, `personas.id()`)
		testenv.Eval[bool](t, e.Tab, `personas.forget().then(() => true)`)
		reqs := e.API.Requests()
		last := reqs[len(reqs)-1]
		if last.Path != "/v1/forget" {
			t.Fatalf("last request %s, want /v1/forget", last.Path)
		}
		var body map[string]string
		if err := json.Unmarshal(last.Body, &body); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"site_key": testSiteKey, "visitor_id": vid}, body); diff != "" {
			t.Errorf("forget body (-want +got):\n%s", diff)
		}
		state := testenv.Eval[map[string]any](t, e.Tab, `({id: personas.id(), cookie: document.cookie,
			stored: Object.keys(localStorage).concat(Object.keys(sessionStorage)).filter(k => /^personas_(id|sid|q|p)$/.test(k))})`)
		if state["id"] != nil || strings.Contains(state["cookie"].(string), "personas_id=") ||
			!strings.Contains(state["cookie"].(string), "personas_forgotten=1") || len(state["stored"].([]any)) != 0 {
			t.Errorf("after forget: %v, want no id, no stored ids, a forgotten flag", state)
		}
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("b")))
		testenv.Eval[bool](t, e.Tab, `personas.goal("g"); personas.flush().then(() => true)`)
		e.Open(t, "/") // a new page in the same browser
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("b")))
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); got != "not_collected" {
			t.Errorf("persona() after forget: reason %q, want not_collected", got)
		}
		after := e.Quiesce(t)[len(reqs):]
		if len(after) != 0 {
			t.Errorf("requests after forget:\n%s", dump(after))
		}
	})

	t.Run("unsent events survive a reload and retries honour Retry-After", func(t *testing.T) {
		api := DefaultAPI()
		api.CollectStatuses = slices.Repeat([]int{503}, 20)
		api.RetryAfter = "1"
		e := NewEnv(t, browser, EnvOptions{
			API: api, Pages: map[string]string{"/a": `<p>a</p>`, "/b": `<p>b</p>`},
			// A browser may refuse a beacon (its quota is full): then only sessionStorage keeps the batch.
			InitScript: `navigator.sendBeacon = () => false;`,
		})
		e.Open(t, "/a")
		reqs := api.WaitFor(t, "two collect attempts", func(rs []Recorded) bool {
			_, from := Collected(t, rs)
			return len(from) >= 2
		})
		bodies, from := Collected(t, reqs)
		if gap := from[1].At.Sub(from[0].At); gap < 900*time.Millisecond {
			t.Errorf("retry came %v after a 503 with Retry-After: 1", gap)
		}
		if diff := cmp.Diff(bodies[0].Events, bodies[1].Events); diff != "" {
			t.Errorf("the retry sent other events (-first +retry):\n%s", diff)
		}
		// Every attempt fails; the next page sends the kept batch with its own.
		e.Open(t, "/b")
		reqs = api.WaitFor(t, "the page view of /b", HasEvent(t, func(ev Event) bool { return ev.URL == e.SiteURL+"/b" }))
		bodies, _ = Collected(t, reqs)
		var urls []string
		for _, ev := range bodies[len(bodies)-1].Events {
			if ev.Type == "pageview" {
				urls = append(urls, strings.TrimPrefix(ev.URL, e.SiteURL))
			}
		}
		if diff := cmp.Diff([]string{"/a", "/b"}, urls); diff != "" {
			t.Errorf("page views in the request after the reload (-want +got):\n%s", diff)
		}
	})

	t.Run("a batch in flight as the page goes is not sent again by the next page", func(t *testing.T) {
		api := DefaultAPI()
		api.SlowFirstCollect = 2 * time.Second // the page view of /a is still in flight when /b opens
		e := NewEnv(t, browser, EnvOptions{API: api, Pages: map[string]string{"/a": `<p>a</p>`, "/b": `<p>b</p>`}})
		e.Open(t, "/a")
		api.WaitFor(t, "the first collect request", func(rs []Recorded) bool {
			_, from := Collected(t, rs)
			return len(from) >= 1
		})
		e.Open(t, "/b")
		reqs := api.WaitFor(t, "the page view of /b", HasEvent(t, func(ev Event) bool { return ev.URL == e.SiteURL+"/b" }))
		time.Sleep(2500 * time.Millisecond) // the slow answer, and anything the next page would resend
		reqs = append(reqs, e.Quiesce(t)[len(reqs):]...)
		var views []string
		for _, ev := range Events(t, reqs, "pageview") {
			views = append(views, strings.TrimPrefix(ev.URL, e.SiteURL))
		}
		if diff := cmp.Diff([]string{"/a", "/b"}, views); diff != "" {
			t.Errorf("page views received (-want +got):\n%s", diff)
		}
	})

	t.Run("config refused: silent, default content", func(t *testing.T) {
		api := DefaultAPI()
		api.ConfigStatus = 403
		e := NewEnv(t, browser, EnvOptions{API: api, Pages: map[string]string{"/": variantsBody}})
		e.Open(t, "/")
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); got != "unavailable" {
			t.Errorf("persona().reason = %q, want unavailable", got)
		}
		if !testenv.Eval[bool](t, e.Tab, visible("dflt")+` && !(`+visible("deal")+`)`) {
			t.Error("default content not shown after the configuration was refused")
		}
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("b")))
		if diff := cmp.Diff([]string{"/v1/config"}, Paths(e.Quiesce(t))); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
}

// fieldPaths lists the JSON field paths of a value: "events[].element.tag" and so on.
func fieldPaths(prefix string, v any) map[string]bool {
	out := map[string]bool{}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			maps.Copy(out, fieldPaths(p, x))
		}
	case []any:
		for _, x := range v {
			maps.Copy(out, fieldPaths(prefix+"[]", x))
		}
	}
	return out
}
