package collector

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"personas/internal/testenv"
)

// required is the script tag attribute of consent mode.
const required = `data-consent="required"`

// gtagHead defines gtag() as Google's snippet does, then runs calls, before the collector loads.
func gtagHead(calls string) string {
	return `<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}` + calls + `</script>`
}

// storedJS lists what the page holds under the personas_ prefix: localStorage and
// sessionStorage keys with their values, and cookies.
const storedJS = `(() => {
	const pick = s => Object.keys(s).filter(k => k.startsWith("personas_")).sort().map(k => k + "=" + s.getItem(k));
	return {local: pick(localStorage), session: pick(sessionStorage),
		cookie: document.cookie.split("; ").filter(c => c.startsWith("personas_")).sort()};
})()`

// stored is what storedJS returns.
type stored struct {
	Local   []string `json:"local"`
	Session []string `json:"session"`
	Cookie  []string `json:"cookie"`
}

func storedIn(t *testing.T, e *Env) stored {
	t.Helper()
	return testenv.Eval[stored](t, e.Tab, storedJS)
}

// notCollected is persona()'s answer while nothing is collected.
var notCollected = map[string]any{"persona": nil, "confidence": 0.0, "probabilities": []any{}, "model_version": 0.0, "reason": "not_collected"}

// pageState is a JavaScript expression for what the page shows of the answer.
var pageState = `({
	type: document.documentElement.getAttribute("data-persona-type"),
	id: document.documentElement.getAttribute("data-persona-id"),
	ready: document.documentElement.hasAttribute("data-personas-ready"),
	visitor: personas.id(),
	reasons: __events.map(a => a.reason),
	deal: ` + visible("deal") + `, dflt: ` + visible("dflt") + `})`

func pageView(t *testing.T) func([]Recorded) bool {
	return HasEvent(t, func(ev Event) bool { return ev.Type == "pageview" })
}

func TestConsentInBrowser(t *testing.T) {
	t.Parallel()
	browser := testenv.Browser(t)

	t.Run("required and no consent: no request, no storage, default content", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{TagAttrs: required, Head: paintProbe("deal", "dflt"), Pages: map[string]string{"/": variantsBody}})
		e.Open(t, "/")
		if diff := cmp.Diff(notCollected, testenv.Eval[map[string]any](t, e.Tab, `personas.persona()`)); diff != "" {
			t.Errorf("persona() (-want +got):\n%s", diff)
		}
		testenv.WaitFor(t, e.Tab, `__events.length > 0`)
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("b")))
		testenv.Eval[bool](t, e.Tab, `personas.goal("g"); history.pushState({}, "", "/next"); personas.flush().then(() => true)`)
		state := testenv.Eval[map[string]any](t, e.Tab, pageState)
		want := map[string]any{"type": nil, "id": nil, "ready": true, "visitor": nil, "reasons": []any{"not_collected"}, "deal": false, "dflt": true}
		if diff := cmp.Diff(want, state); diff != "" {
			t.Errorf("page (-want +got):\n%s", diff)
		}
		if p := testenv.Eval[map[string]any](t, e.Tab, `__painted`); p["deal"] != nil {
			t.Errorf("the show-variant was painted: %v", p)
		}
		if got := storedIn(t, e); !cmp.Equal(stored{}, got, cmpopts.EquateEmpty()) {
			t.Errorf("stored without consent: %+v", got)
		}
		testenv.Eval[bool](t, e.Tab, `new Promise(r => setTimeout(() => r(true), 1200))`) // a dataLayer poll
		if reqs := e.Quiesce(t); len(reqs) != 0 {
			t.Errorf("requests without consent:\n%s", dump(reqs))
		}
	})

	t.Run("ids kept from before consent mode are removed", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{TagAttrs: required, Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		const id = "0123456789abcdef0123456789abcdef"
		testenv.Eval[bool](t, e.Tab, `document.cookie = "personas_id=`+id+`; path=/; max-age=3600";
			localStorage.setItem("personas_id", '"`+id+`"'); sessionStorage.setItem("personas_q", "[]"); true`)
		e.Open(t, "/")
		if got := storedIn(t, e); !cmp.Equal(stored{}, got, cmpopts.EquateEmpty()) {
			t.Errorf("stored after a load without consent: %+v", got)
		}
		if got := testenv.Eval[any](t, e.Tab, `personas.id()`); got != nil {
			t.Errorf("personas.id() = %v, want null", got)
		}
		if reqs := e.Quiesce(t); len(reqs) != 0 {
			t.Errorf("requests:\n%s", dump(reqs))
		}
	})

	t.Run("any data-consent value requires consent", func(t *testing.T) {
		for _, attrs := range []string{`data-consent`, `data-consent="Required "`, `data-consent="no"`} {
			e := NewEnv(t, browser, EnvOptions{TagAttrs: attrs, Pages: map[string]string{"/": `<p>p</p>`}})
			e.Open(t, "/")
			if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); got != "not_collected" {
				t.Errorf("%s: persona() reason %q", attrs, got)
			}
			if reqs := e.Quiesce(t); len(reqs) != 0 {
				t.Errorf("%s: requests without consent:\n%s", attrs, dump(reqs))
			}
		}
	})

	t.Run("consent(true) starts collection, the answer follows, the decision is remembered", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{TagAttrs: required, Head: paintProbe("deal", "dflt"), Pages: map[string]string{"/": variantsBody}})
		e.Open(t, "/")
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("b"))) // before consent: not recorded
		testenv.Eval[bool](t, e.Tab, `personas.goal("early"); personas.consent(true); personas.goal("late"); personas.flush().then(() => true)`)
		reqs := e.API.WaitFor(t, "the page view and the goal", HasEvent(t, func(ev Event) bool { return ev.Name == "late" }))
		var got []string
		for _, ev := range Events(t, reqs, "") {
			got = append(got, ev.Type+" "+ev.Name)
		}
		if diff := cmp.Diff([]string{"pageview ", "goal late"}, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		bodies, _ := Collected(t, reqs)
		vid := bodies[0].VisitorID
		if reason := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); reason != "ok" {
			t.Errorf("persona() after consent: reason %q, want ok", reason)
		}
		testenv.WaitFor(t, e.Tab, `__events.length > 1`)
		state := testenv.Eval[map[string]any](t, e.Tab, pageState)
		// The variants keep the default content shown before consent: switching now would flicker.
		want := map[string]any{"type": "deal_seeker", "id": "p-deal", "ready": true, "visitor": vid,
			"reasons": []any{"not_collected", "ok"}, "deal": false, "dflt": true}
		if diff := cmp.Diff(want, state); diff != "" {
			t.Errorf("page after consent (-want +got):\n%s", diff)
		}
		s := storedIn(t, e)
		if !slices.Contains(s.Local, "personas_consent=1") || !slices.Contains(s.Cookie, "personas_id="+vid) {
			t.Errorf("stored after consent: %+v, want the decision and the id", s)
		}
		e.Open(t, "/") // the next page: collected at once, same visitor
		reqs = e.API.WaitFor(t, "the second page view", func(rs []Recorded) bool { return len(Events(t, rs, "pageview")) == 2 })
		bodies, _ = Collected(t, reqs)
		if last := bodies[len(bodies)-1]; last.VisitorID != vid {
			t.Errorf("visitor on the next page %s, want %s", last.VisitorID, vid)
		}
	})

	t.Run("Google Consent Mode", func(t *testing.T) {
		const (
			denied  = `gtag('consent','default',{ad_storage:'denied',analytics_storage:'denied'});`
			granted = `gtag('consent','update',{ad_storage:'granted',analytics_storage:'granted'});`
		)
		tests := []struct {
			name, before, after string
			collected           bool
		}{
			{"default denied", denied, "", false},
			{"default denied, update granted", denied, granted, true},
			{"default granted", `gtag('consent','default',{analytics_storage:'granted'});`, "", true},
			{"update granted before the default", granted + denied, "", true},
			{"only ad_storage granted", denied, `gtag('consent','update',{ad_storage:'granted'});`, false},
			{"a granted default for some regions only", `gtag('consent','default',{analytics_storage:'granted',region:['US']});`, "", false},
			{"a denied default for some regions wins over a global grant",
				`gtag('consent','default',{analytics_storage:'granted'});gtag('consent','default',{analytics_storage:'denied',region:['ES']});`, "", false},
			{"a global grant does not lift an earlier regional denial",
				`gtag('consent','default',{analytics_storage:'denied',region:['ES','FR']});gtag('consent','default',{analytics_storage:'granted'});`, "", false},
			{"a regional denial gives way to an update", `gtag('consent','default',{analytics_storage:'denied',region:['ES']});`, granted, true},
			{"an empty region list is global", `gtag('consent','default',{analytics_storage:'granted',region:[]});`, "", true},
			{"an array is not a gtag call", denied, `dataLayer.push(['consent','update',{analytics_storage:'granted'}]);`, false},
			{"hostile entries", `dataLayer.push(null, 42, 'consent', {0:'consent',1:'update',2:{analytics_storage:'granted'}});` +
				`gtag('consent','update',null);gtag('consent','update',{get analytics_storage(){throw new Error('x')}});` +
				`gtag('consent','update',{analytics_storage:'yes'});`, "", false},
			{"dataLayer not an array", `window.dataLayer={push(){}, 0: {0:'consent',1:'update',2:{analytics_storage:'granted'}}, length: 1};`, "", false},
			{"dataLayer replaced later", denied, `window.dataLayer=[];` + granted, true},
			{"push replaced later without chaining ours", denied,
				`dataLayer.push=function(){return Array.prototype.push.apply(dataLayer, arguments)};` + granted, true},
			{"a consent(true) when dataLayer is not an array", `window.dataLayer="x";`, `personas.consent(true);`, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := NewEnv(t, browser, EnvOptions{TagAttrs: required, Head: gtagHead(tt.before), Pages: map[string]string{"/": variantsBody}})
				e.Open(t, "/")
				if got := testenv.Eval[string](t, e.Tab, `typeof personas.consent`); got != "function" {
					t.Fatalf("typeof personas.consent = %s", got)
				}
				if tt.after != "" {
					testenv.Eval[bool](t, e.Tab, `(() => { const gtag = function(){window.dataLayer.push(arguments)}; `+tt.after+` return true })()`)
				}
				if tt.collected {
					e.API.WaitFor(t, "the page view", pageView(t))
					return
				}
				testenv.Eval[bool](t, e.Tab, `new Promise(r => setTimeout(() => r(true), 1200))`) // a dataLayer poll
				if got := storedIn(t, e); !cmp.Equal(stored{}, got, cmpopts.EquateEmpty()) {
					t.Errorf("stored without consent: %+v", got)
				}
				if reqs := e.Quiesce(t); len(reqs) != 0 {
					t.Errorf("requests without consent:\n%s", dump(reqs))
				}
			})
		}
	})

	t.Run("dataLayer.push keeps its behaviour and return value", func(t *testing.T) {
		head := `<script>window.dataLayer=[];window.__seen=[];dataLayer.push=function(){` +
			`__seen.push(arguments.length);Array.prototype.push.apply(this,arguments);return "gtm"};</script>`
		e := NewEnv(t, browser, EnvOptions{TagAttrs: required, Head: head, Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		got := testenv.Eval[map[string]any](t, e.Tab, `(() => {
			const r = dataLayer.push({event: "a"}, {event: "b"});
			const plain = []; window.dataLayer = plain;
			return new Promise(res => setTimeout(() => {
				const n = plain.push(1, 2);
				res({r, seen: __seen, events: dataLayer === plain ? plain.length : -1, n, wrapped: plain.push !== Array.prototype.push});
			}, 1200));
		})()`)
		want := map[string]any{"r": "gtm", "seen": []any{2.0}, "events": 2.0, "n": 2.0, "wrapped": true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("push (-want +got):\n%s", diff)
		}
	})

	t.Run("granted then denied stops, drops the queue, clears, and the denial outlives a reload", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{
			TagAttrs: required, TimeoutMS: 5000,
			Head:  gtagHead(`gtag('consent','default',{analytics_storage:'granted'});`) + paintProbe("deal", "dflt"),
			Pages: map[string]string{"/": variantsBody},
		})
		e.Open(t, "/")
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.persona.type)`); got != "deal_seeker" {
			t.Fatalf("persona type %q before the denial", got)
		}
		testenv.WaitFor(t, e.Tab, `__events.length > 0 && `+visible("deal"))
		before := len(e.API.Requests())
		// A click queued (sent within 5 s) when the denial comes: it must never leave.
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("b")))
		testenv.Eval[bool](t, e.Tab, `gtag('consent','update',{analytics_storage:'denied'}); true`)
		if diff := cmp.Diff(notCollected, testenv.Eval[map[string]any](t, e.Tab, `personas.persona()`)); diff != "" {
			t.Errorf("persona() after the denial (-want +got):\n%s", diff)
		}
		testenv.WaitFor(t, e.Tab, `__events.length > 1`)
		state := testenv.Eval[map[string]any](t, e.Tab, pageState)
		want := map[string]any{"type": nil, "id": nil, "ready": true, "visitor": nil, "reasons": []any{"ok", "not_collected"}, "deal": false, "dflt": true}
		if diff := cmp.Diff(want, state); diff != "" {
			t.Errorf("page after the denial (-want +got):\n%s", diff)
		}
		if got := storedIn(t, e); !cmp.Equal(stored{Local: []string{"personas_consent=0"}}, got, cmpopts.EquateEmpty()) {
			t.Errorf("stored after the denial: %+v, want the decision alone", got)
		}
		testenv.Eval[bool](t, e.Tab, `personas.goal("g"); personas.flush().then(() => true)`)
		e.Open(t, "/") // the next page, whose dataLayer grants by default again
		if diff := cmp.Diff(notCollected, testenv.Eval[map[string]any](t, e.Tab, `personas.persona()`)); diff != "" {
			t.Errorf("persona() on the next page (-want +got):\n%s", diff)
		}
		testenv.Do(t, e.Tab, chromedp.Click(chromedp.ID("b")))
		if after := e.Quiesce(t)[before:]; len(after) != 0 {
			t.Errorf("requests after the denial:\n%s", dump(after))
		}
	})

	t.Run("consent(false) without data-consent is an opt-out; consent(true) starts afresh", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{Head: paintProbe(), Pages: map[string]string{"/": variantsBody}})
		e.Open(t, "/")
		reqs := e.API.WaitFor(t, "the page view", pageView(t))
		bodies, _ := Collected(t, reqs)
		first := bodies[0].VisitorID
		testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`)
		testenv.Eval[bool](t, e.Tab, `personas.consent(false); true`)
		if got := storedIn(t, e); !cmp.Equal(stored{Local: []string{"personas_consent=0"}}, got, cmpopts.EquateEmpty()) {
			t.Errorf("stored after consent(false): %+v, want the decision alone", got)
		}
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); got != "not_collected" {
			t.Errorf("persona() after consent(false): %q", got)
		}
		n := len(e.API.Requests())
		e.Open(t, "/")
		testenv.Eval[bool](t, e.Tab, `personas.goal("g"); personas.flush().then(() => true)`)
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); got != "not_collected" {
			t.Errorf("persona() after a reload: %q", got)
		}
		if after := e.API.Requests()[n:]; len(after) != 0 {
			t.Errorf("requests after consent(false):\n%s", dump(after))
		}
		testenv.Eval[bool](t, e.Tab, `personas.consent(true); true`)
		reqs = e.API.WaitFor(t, "a page view after consent(true)", func(rs []Recorded) bool { return len(Events(t, rs, "pageview")) == 2 })
		bodies, _ = Collected(t, reqs)
		again := bodies[len(bodies)-1].VisitorID
		if !hexID.MatchString(again) || again == first {
			t.Errorf("visitor id after consent(true) %q, want a new one (was %s)", again, first)
		}
		if got := testenv.Eval[string](t, e.Tab, `personas.id()`); got != again {
			t.Errorf("personas.id() = %q, want %q", got, again)
		}
	})

	t.Run("a denial in another document of the site stops this one", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		e.API.WaitFor(t, "the page view", pageView(t))
		testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`)
		n := len(e.API.Requests())
		// An about:blank frame shares the origin and its storage; its write fires a storage event here.
		testenv.Eval[bool](t, e.Tab, `(() => { const f = document.createElement("iframe"); document.body.appendChild(f);
			f.contentWindow.localStorage.setItem("personas_consent", "0"); return true })()`)
		testenv.WaitFor(t, e.Tab, `personas.id() === null`)
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); got != "not_collected" {
			t.Errorf("persona() after a denial elsewhere: %q", got)
		}
		testenv.Eval[bool](t, e.Tab, `personas.goal("g"); personas.flush().then(() => true)`)
		if after := e.Quiesce(t)[n:]; len(after) != 0 {
			t.Errorf("requests after a denial elsewhere:\n%s", dump(after))
		}
	})

	t.Run("consent() ignores anything but booleans", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{TagAttrs: required, Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		got := testenv.Eval[[]any](t, e.Tab, `["true", 1, {}, null, undefined, [true], new Boolean(true)].map(v => personas.consent(v))`)
		if len(got) != 7 || slices.ContainsFunc(got, func(v any) bool { return v != nil }) {
			t.Errorf("consent() returned %v", got)
		}
		testenv.Eval[bool](t, e.Tab, `personas.consent(); true`)
		if s := storedIn(t, e); !cmp.Equal(stored{}, s, cmpopts.EquateEmpty()) {
			t.Errorf("stored: %+v", s)
		}
		if reqs := e.Quiesce(t); len(reqs) != 0 {
			t.Errorf("requests:\n%s", dump(reqs))
		}
	})

	t.Run("consent queued before the script loads", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{
			TagAttrs: required, Head: `<script>(window.personas = window.personas || []).push(["goal", "x"], "junk", null, [], ["consent", "yes"], ["consent", true]);</script>`,
			Pages: map[string]string{"/": `<p>p</p>`},
		})
		e.Open(t, "/")
		reqs := e.API.WaitFor(t, "the page view", pageView(t))
		if goals := Events(t, reqs, "goal"); len(goals) != 0 {
			t.Errorf("a queued goal was sent: %+v", goals)
		}
		if got := testenv.Eval[string](t, e.Tab, `typeof personas.persona`); got != "function" {
			t.Errorf("typeof personas.persona = %s", got)
		}
	})

	t.Run("queued calls that are not a boolean consent are ignored", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{
			TagAttrs: required, Head: `<script>window.personas = [["consent", "true"], ["consent", 1], ["consent"], "consent", {0: "consent", 1: true}];</script>`,
			Pages: map[string]string{"/": `<p>p</p>`},
		})
		e.Open(t, "/")
		if got := testenv.Eval[string](t, e.Tab, `personas.persona().then(a => a.reason)`); got != "not_collected" {
			t.Errorf("persona() reason %q", got)
		}
		if reqs := e.Quiesce(t); len(reqs) != 0 {
			t.Errorf("requests:\n%s", dump(reqs))
		}
	})

	t.Run("forget without consent sends nothing", func(t *testing.T) {
		e := NewEnv(t, browser, EnvOptions{TagAttrs: required, Pages: map[string]string{"/": `<p>p</p>`}})
		e.Open(t, "/")
		testenv.Eval[bool](t, e.Tab, `personas.forget().then(() => true)`)
		testenv.Eval[bool](t, e.Tab, `personas.consent(true); true`) // forget() wins over a later consent
		s := storedIn(t, e)
		if !slices.Contains(s.Cookie, "personas_forgotten=1") || slices.ContainsFunc(s.Cookie, func(c string) bool { return strings.HasPrefix(c, "personas_id") }) {
			t.Errorf("stored after forget: %+v", s)
		}
		if reqs := e.Quiesce(t); len(reqs) != 0 {
			t.Errorf("requests:\n%s", dump(reqs))
		}
	})
}
