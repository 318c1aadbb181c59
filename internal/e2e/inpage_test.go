package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"personas/internal/testenv"
)

// probe, first in a page's head, records when each element marked data-probe was first
// rendered visible (window.__painted: id → performance.now()), checking every frame, and
// every personas:persona event (window.__events).
const probe = `<script>window.__painted={};window.__events=[];` +
	`document.addEventListener('personas:persona',function(e){__events.push({at:performance.now(),detail:e.detail})});` +
	`(function f(){document.querySelectorAll('[data-probe]').forEach(function(el){var s=getComputedStyle(el);` +
	`if(s.display!=='none'&&s.visibility==='visible'&&!(el.id in __painted))__painted[el.id]=performance.now()});` +
	`requestAnimationFrame(f)})();</script>`

// block is a variant element of the test page: a solid rectangle of its own colour, so a
// screenshot tells which ones were painted.
type block struct {
	ID, Attr, Value string
	Color           color.RGBA
}

const blockW, blockH = 300, 20

func (b block) html() string {
	return fmt.Sprintf(`<div id="%s" data-probe %s="%s" style="width:%dpx;height:%dpx;background:rgb(%d,%d,%d)"></div>`,
		b.ID, b.Attr, b.Value, blockW, blockH, b.Color.R, b.Color.G, b.Color.B)
}

// variants builds one show-variant per persona id and per persona type, and a default
// content hidden from every persona.
func (s *shop) variants() []block {
	var out, types []block
	var ids []string
	for i, p := range s.Personas {
		out = append(out, block{ID: "id-" + p.ID, Attr: "data-personas-show", Value: p.ID, Color: color.RGBA{250, uint8(20 * i), 0, 255}})
		ids = append(ids, p.ID)
		if !slices.ContainsFunc(types, func(b block) bool { return b.Value == p.Type }) {
			types = append(types, block{ID: "type-" + p.Type, Attr: "data-personas-show", Value: p.Type,
				Color: color.RGBA{0, 250, uint8(20 * len(types)), 255}})
		}
	}
	out = append(out, types...)
	return append(out, block{ID: "default", Attr: "data-personas-hide", Value: strings.Join(ids, " "), Color: color.RGBA{0, 0, 250, 255}})
}

func variantsPage(head string, blocks []block) page {
	var b strings.Builder
	for _, bl := range blocks {
		b.WriteString(bl.html())
	}
	b.WriteString(`<button id="b1" style="margin:8px">Apply coupon</button><a id="b2" href="#deals">See deal</a>`)
	return page{Head: probe + head, Body: b.String()}
}

// setVisitor gives the browser of tab a visitor id the way the script stores it, from a
// page of the site without the snippet.
func (s *shop) setVisitor(t testing.TB, tab context.Context, id string) {
	t.Helper()
	s.Page("/blank", page{})
	testenv.Do(t, tab, chromedp.Navigate(s.Site+"/blank"))
	testenv.Eval[bool](t, tab, `document.cookie = "personas_id=`+id+`; path=/; max-age=3600; SameSite=Lax"; true`)
}

// screenshot saves a PNG of the tab to PERSONAS_SCREENSHOTS (or a temporary directory) and
// counts, per block, the pixels of its colour.
func screenshot(t *testing.T, tab context.Context, name string, blocks []block) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, testenv.StepTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("PERSONAS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	byColor := map[color.RGBA]int{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			byColor[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}]++
		}
	}
	out := map[string]int{}
	for _, b := range blocks {
		out[b.ID] = byColor[b.Color]
	}
	return out
}

// visibleNow is a JavaScript expression: the ids of the data-probe elements rendered visible.
const visibleNow = `Array.from(document.querySelectorAll('[data-probe]')).filter(function(el){` +
	`var s=getComputedStyle(el);return s.display!=='none'&&s.visibility==='visible'}).map(function(el){return el.id})`

// timeline is a JavaScript expression: the page's resource timings, for logs.
const timeline = `performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).map(function(e){` +
	`return e.name.replace(/^https?:\/\/[^/]+/,'').slice(0,40)+' '+Math.round(e.startTime)+'-'+Math.round(e.responseEnd)}).join(', ')`

func TestInPagePersonas(t *testing.T) {
	t.Parallel()
	browser := testenv.Browser(t)
	s := newShop(t)
	blocks := s.variants()
	s.Page("/", variantsPage(s.Snippet, blocks))

	for _, c := range []struct {
		name    string
		head    string
		visitor string
		applied bool // the answer must come before the anti-flicker timeout
	}{
		// The snippet as served: a first visit on a loaded machine may take longer than
		// 300 ms, and then the default content must show and no variant ever flip.
		{"real snippet", s.Snippet, s.Visitors[0], false},
		// A site that waits longer: the variant of the visitor's persona must show.
		{"real snippet waiting 20 s", longWait(t, s.Snippet, 20000), s.Visitors[1], true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.Page("/", variantsPage(c.head, blocks))
			tab := testenv.Tab(t, browser)
			s.setVisitor(t, tab, c.visitor)
			testenv.Do(t, tab, chromedp.Navigate(s.Site+"/"))
			checkPersonaPage(t, s, tab, c.visitor, blocks, c.applied)
		})
	}

	t.Run("classify carries nothing collect does not", func(t *testing.T) {
		checkClassifyCarriesNoMore(t, s, browser, blocks)
	})
	t.Run("service unreachable", func(t *testing.T) {
		endpoint := `data-endpoint="` + s.Srv.URL + `"`
		if !strings.Contains(s.Snippet, endpoint) {
			t.Fatalf("snippet %s lacks %s", s.Snippet, endpoint)
		}
		t.Run("endpoint refuses connections", func(t *testing.T) {
			head := strings.Replace(s.Snippet, endpoint, `data-endpoint="`+closedURL(t)+`"`, 1)
			checkUnavailable(t, s, browser, head, blocks, true, false)
		})
		t.Run("endpoint never answers", func(t *testing.T) {
			head := strings.Replace(s.Snippet, endpoint, `data-endpoint="`+blackHoleURL(t)+`"`, 1)
			checkUnavailable(t, s, browser, head, blocks, true, true)
		})
		t.Run("script and endpoint unreachable", func(t *testing.T) {
			head := strings.ReplaceAll(s.Snippet, s.Srv.URL, closedURL(t))
			checkUnavailable(t, s, browser, head, blocks, false, false)
		})
	})
	// Last: the visitor deletion marks the model stale and may start a retrain.
	t.Run("forget", func(t *testing.T) {
		checkForget(t, s, browser, blocks)
	})
}

// longWait returns the snippet with another anti-flicker timeout: the script's
// data-anti-flicker attribute and the style rule's delay, as collector/doc.go describes.
func longWait(t *testing.T, snippet string, ms int) string {
	t.Helper()
	out := strings.Replace(snippet, "personas-reveal 0s 300ms", fmt.Sprintf("personas-reveal 0s %dms", ms), 1)
	out = strings.Replace(out, "<script ", fmt.Sprintf(`<script data-anti-flicker="%d" `, ms), 1)
	if strings.Count(out, fmt.Sprint(ms)) != 2 {
		t.Fatalf("cannot set the anti-flicker timeout in the snippet %s", snippet)
	}
	return out
}

// checkPersonaPage checks a loaded page against the API: the answer, the attributes, the
// event, and which variants were ever painted. When mustApply is false, an answer after the
// anti-flicker timeout is accepted if the default content shows instead and nothing flips.
func checkPersonaPage(t *testing.T, s *shop, tab context.Context, visitor string, blocks []block, mustApply bool) {
	t.Helper()
	got := testenv.Eval[answer](t, tab, `personas.persona()`)
	if id := testenv.Eval[string](t, tab, `personas.id()`); id != visitor {
		t.Fatalf("personas.id() = %q, want the stored visitor id %q", id, visitor)
	}
	want := s.Classify(t, visitor)
	if got.Persona == nil || want.Persona == nil {
		t.Fatalf("persona() = %+v, API = %+v; want a persona from both", got, want)
	}
	if diff := cmp.Diff(*want.Persona, *got.Persona); diff != "" || got.Reason != "ok" || got.ModelVersion == nil || *got.ModelVersion != s.Version {
		t.Errorf("persona() differs from POST /v1/classify (-api +page):\n%s\nreason %q, model %v", diff, got.Reason, got.ModelVersion)
	}
	p := *got.Persona

	attrs := testenv.Eval[[]string](t, tab, `[document.documentElement.getAttribute('data-persona-type'), document.documentElement.getAttribute('data-persona-id')]`)
	if diff := cmp.Diff([]string{p.Type, p.ID}, attrs); diff != "" {
		t.Errorf("<html> data-persona-type/id (-want +got):\n%s", diff)
	}

	applied := testenv.Eval[bool](t, tab, `document.querySelector('[data-personas-match]') !== null`)
	shown := []string{"default"}
	switch {
	case applied:
		shown = []string{"id-" + p.ID, "type-" + p.Type}
	case mustApply:
		t.Fatalf("the answer did not apply to the variants; timeline: %s", testenv.Eval[string](t, tab, timeline))
	default:
		t.Logf("the answer came after the anti-flicker timeout: the default content stays")
	}
	slices.Sort(shown)
	visible := testenv.Eval[[]string](t, tab, visibleNow)
	slices.Sort(visible)
	if diff := cmp.Diff(shown, visible); diff != "" {
		t.Errorf("visible variants after the answer (-want +got):\n%s", diff)
	}
	pixels := screenshot(t, tab, "inpage-"+strings.ReplaceAll(t.Name(), "/", "-"), blocks)
	for _, b := range blocks {
		n := pixels[b.ID]
		if on := slices.Contains(shown, b.ID); on && n < blockW*blockH*9/10 || !on && n != 0 {
			t.Errorf("screenshot: %d pixels of %s (%s=%q), want shown %v", n, b.ID, b.Attr, b.Value, on)
		}
	}

	// Activity after the answer must not bring a second answer.
	testenv.Do(t, tab, chromedp.Click(chromedp.ID("b1")))
	testenv.Eval[bool](t, tab, `personas.goal("coupon_applied"); personas.flush().then(() => true)`)
	painted := testenv.Eval[map[string]float64](t, tab, `__painted`)
	for id := range painted {
		if !slices.Contains(shown, id) {
			t.Errorf("%s was painted at %.0f ms for persona %s (%s)", id, painted[id], p.ID, p.Type)
		}
	}
	events := testenv.Eval[[]struct {
		At     float64 `json:"at"`
		Detail answer  `json:"detail"`
	}](t, tab, `__events`)
	if len(events) != 1 || events[0].Detail.Persona == nil || *events[0].Detail.Persona != p {
		t.Errorf("personas:persona events = %+v, want exactly one with persona %+v", events, p)
	} else {
		t.Logf("answer event at %.0f ms after navigation start; %s", events[0].At, testenv.Eval[string](t, tab, timeline))
	}
}
