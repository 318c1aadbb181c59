package testenv

// The one headless-browser helper of the project's tests: Debian's chromium driven by chromedp.
// Start a browser, open tabs with their own storage, run steps and evaluate JavaScript with
// timeouts. Without chromium a test is skipped, or fails when CI is set.

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// StepTimeout bounds every browser step and every wait in the browser.
const StepTimeout = 20 * time.Second

// Browser starts a headless Chromium for t and its subtests and stops it in t.Cleanup; opts
// add to the default flags (a window size, say). Without chromium the test is skipped, or fails
// when the CI variable is set.
func Browser(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is required in CI (apt-get install -y chromium): %v", err)
		}
		t.Skipf("no chromium (apt-get install -y chromium): %v", err)
	}
	all := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(all, opts...)...)
	ctx, cancel := chromedp.NewContext(alloc)
	// No timeout here: the first Do starts the browser, and its context owns the process.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// Tab opens a tab in a fresh browser context (its own cookies, storage and cache) of browser,
// closed in t.Cleanup. initScripts run in every document of the tab before the page's own
// scripts.
func Tab(t testing.TB, browser context.Context, initScripts ...string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	for _, src := range initScripts {
		if src == "" {
			continue
		}
		ctx, stop := context.WithTimeout(tab, StepTimeout)
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
		stop()
		if err != nil {
			t.Fatalf("add init script: %v", err)
		}
	}
	return tab
}

// Eval evaluates expr in the tab, awaits it when it is a promise, and decodes the result.
func Eval[T any](t testing.TB, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, func(p *runtime.EvaluateParams) {
		p.AwaitPromise = new(true)
	}))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Do runs browser steps in the tab with a timeout.
func Do(t testing.TB, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser steps: %v", err)
	}
}

// WaitFor polls a JavaScript condition in the tab until it is true.
func WaitFor(t testing.TB, tab context.Context, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(10*time.Millisecond),
		chromedp.WithPollingTimeout(StepTimeout))); err != nil {
		t.Fatalf("wait for %s: %v", cond, err)
	}
}

// WaitAcross polls a JavaScript condition like WaitFor, but survives the page being replaced
// while it waits (a form submission or a link): evaluation errors count as "not yet".
func WaitAcross(t testing.TB, tab context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(StepTimeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tab, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("wait for %s: %v", cond, last)
}
