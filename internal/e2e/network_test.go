package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// request is one request the page made, as the network domain reported it.
type request struct {
	ID      network.RequestID
	Seq     int // order of requestWillBeSent
	URL     string
	Method  string
	Type    network.ResourceType
	Body    []byte
	Headers map[string]string // as sent over the wire (requestWillBeSentExtraInfo), lower-case names
	Status  int64             // 0 until a response arrived
}

// recorder keeps the requests and console output of one tab.
type recorder struct {
	mu      sync.Mutex
	reqs    []*request
	byID    map[network.RequestID]*request
	headers map[network.RequestID]map[string]string // extra info that came first
	console []chromedp.ConsoleMessage
}

// record listens to the tab's network and console; call it before navigating.
func record(t testing.TB, tab context.Context) *recorder {
	t.Helper()
	r := &recorder{byID: map[network.RequestID]*request{}, headers: map[network.RequestID]map[string]string{}}
	err := chromedp.Listen(tab, func(ev any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			q := &request{ID: ev.RequestID, Seq: len(r.reqs), URL: ev.Request.URL, Method: ev.Request.Method, Type: ev.Type,
				Headers: r.headers[ev.RequestID]}
			for _, e := range ev.Request.PostDataEntries {
				q.Body = append(q.Body, e.Bytes...)
			}
			r.reqs = append(r.reqs, q)
			r.byID[ev.RequestID] = q
		case *network.EventRequestWillBeSentExtraInfo:
			h := map[string]string{}
			for k, v := range ev.Headers {
				h[strings.ToLower(k)] = fmt.Sprint(v)
			}
			if q := r.byID[ev.RequestID]; q != nil {
				q.Headers = h
			} else {
				r.headers[ev.RequestID] = h
			}
		case *network.EventResponseReceived:
			if q := r.byID[ev.RequestID]; q != nil {
				q.Status = ev.Response.Status
			}
		case *runtime.EventConsoleAPICalled:
			m := chromedp.ConsoleMessage{Type: chromedp.ConsoleType(ev.Type)}
			for _, a := range ev.Args {
				m.Text += string(a.Value) + a.Description + " "
			}
			r.console = append(r.console, m)
		case *runtime.EventExceptionThrown:
			r.console = append(r.console, chromedp.ConsoleMessage{Type: chromedp.ConsoleException, Text: exceptionText(ev.ExceptionDetails)})
		case *log.EventEntryAdded:
			r.console = append(r.console, chromedp.ConsoleMessage{Type: chromedp.ConsoleType(ev.Entry.Level), Text: ev.Entry.Text,
				Source: string(ev.Entry.Source)})
		}
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return r
}

// Requests returns copies of the requests so far whose URL contains part.
func (r *recorder) Requests(part string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if strings.Contains(q.URL, part) {
			out = append(out, *q)
		}
	}
	return out
}

// Len is the number of requests so far: a mark for Since.
func (r *recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// Since returns the requests made after mark.
func (r *recorder) Since(mark int) []request {
	return slices.DeleteFunc(r.Requests(""), func(q request) bool { return q.Seq < mark })
}

// Console returns what the page wrote to the console (console API calls and uncaught
// exceptions), and separately the browser's own log entries.
func (r *recorder) Console() (page, browser []chromedp.ConsoleMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.console {
		if m.Source != "" {
			browser = append(browser, m)
		} else {
			page = append(page, m)
		}
	}
	return page, browser
}

// bodies fills in request bodies the events left out (the network domain may omit them).
func bodies(t testing.TB, tab context.Context, reqs []request) {
	t.Helper()
	for i := range reqs {
		if reqs[i].Method != "POST" || len(reqs[i].Body) > 0 {
			continue
		}
		res, err := chromedp.Call(tab, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: reqs[i].ID})
		if err != nil {
			t.Fatalf("post data of %s: %v", reqs[i].URL, err)
		}
		reqs[i].Body = res.PostData
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}
