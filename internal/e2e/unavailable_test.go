package e2e

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"personas/internal/testenv"
)

// closedURL returns the URL of a loopback port that nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return u
}

// blackHoleURL returns the URL of a loopback port that accepts connections and never
// answers, until the test ends.
func blackHoleURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// visible is a JavaScript expression: is the element with this id rendered visible now?
func visible(id string) string {
	return `(function(){var s=getComputedStyle(document.getElementById('` + id + `'));` +
		`return s.display!=='none'&&s.visibility==='visible'})()`
}

// checkUnavailable loads the page of a site whose Personas service cannot be reached, and
// checks that the default content shows, that no variant is ever painted, and that the page's
// console gets at most one debug line. hangs says that requests never get an answer, so the
// anti-flicker timeout must reveal the default content while the answer is still pending.
func checkUnavailable(t *testing.T, s *shop, browser context.Context, head string, blocks []block, scriptLoads, hangs bool) {
	t.Helper()
	s.Page("/", variantsPage(head, blocks))
	tab := testenv.Tab(t, browser)
	rec := record(t, tab)
	testenv.Do(t, tab, chromedp.Navigate(s.Site+"/"))
	testenv.WaitFor(t, tab, visible("default"))
	testenv.WaitFor(t, tab, `'default' in __painted`)
	t.Logf("default content painted at %.0f ms", testenv.Eval[map[string]float64](t, tab, `__painted`)["default"])

	if got := testenv.Eval[bool](t, tab, `typeof window.personas === 'object'`); got != scriptLoads {
		t.Fatalf("window.personas defined = %v, want %v", got, scriptLoads)
	}
	if scriptLoads && hangs {
		state := testenv.Eval[string](t, tab, `Promise.race([personas.persona().then(() => 'settled'), new Promise(r => setTimeout(() => r('pending')))])`)
		if state != "pending" {
			t.Errorf("persona() is %s when the default content shows, want pending: the timeout, not an answer, must reveal it", state)
		}
	}
	if scriptLoads {
		// A service that never answers is given up after 10 s: the promise still settles.
		a := testenv.Eval[answer](t, tab, `personas.persona()`)
		if a.Persona != nil || a.Reason != "unavailable" {
			t.Errorf("persona() = %+v, want no persona, reason unavailable", a)
		}
	}
	if attrs := testenv.Eval[string](t, tab, `String(document.documentElement.getAttribute('data-persona-type'))`); attrs != "null" {
		t.Errorf("data-persona-type = %q without an answer", attrs)
	}
	if painted := testenv.Eval[map[string]float64](t, tab, `__painted`); len(painted) != 1 {
		t.Errorf("painted = %v, want only the default content", painted)
	}

	page, browserLog := rec.Console()
	for _, m := range browserLog {
		t.Logf("browser log (not the page's): %s", m)
	}
	switch {
	case len(page) > 1:
		t.Errorf("page console: %v, want at most one debug line", page)
	case len(page) == 1 && (page[0].Type != chromedp.ConsoleDebug || !strings.Contains(page[0].Text, "personas:")):
		t.Errorf("page console: %v, want only a personas debug line", page)
	case len(page) == 1:
		t.Logf("page console: %s", page[0])
	}
}
