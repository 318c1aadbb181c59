package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/internal/testserver"
	"personas/models"
)

type importAnswer struct {
	Accepted         int64            `json:"accepted"`
	Rejected         int64            `json:"rejected"`
	RejectedByReason map[string]int64 `json:"rejected_by_reason"`
	Errors           []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// importPost streams body to the import endpoint.
func importPost(t testing.TB, srv *testserver.Server, projectID, token string, body io.Reader) testserver.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/projects/"+projectID+"/import", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return testserver.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestImportStreamsLargeBody streams 200,000 NDJSON lines (about 200 MB, generated on the fly
// through a pipe, never held whole) with a known share of bad lines, and checks the counts,
// the reasons, the stored rows and that the heap stayed far below the body's size.
func TestImportStreamsLargeBody(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MB")
	}
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)
	_, editor := srv.Member(t, a.ProjectID, "editor@example.com", models.RoleEditor)

	const lines = 200_000
	now := time.Now()
	pad := strings.Repeat("a", 900) // referrer query: dropped by the scrubber, read by the parser
	pr, pw := io.Pipe()
	want := map[string]int64{}
	var sent atomic.Int64
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		for i := 1; i <= lines; i++ {
			ts := now.Add(-time.Duration(i%(30*24)) * time.Hour).UnixMilli()
			visitor := fmt.Sprintf("visitor-%d", i%997)
			var line string
			switch {
			case i%1000 == 1:
				line = `{"type":"pageview","ts":` // malformed
				want["malformed"]++
			case i%1000 == 2:
				line = fmt.Sprintf(`{"type":"teleport","ts":%d,"url":"https://shop.example/","visitor_id":"%s","session_id":"s"}`, ts, visitor)
				want["unknown type"]++
			case i%1000 == 3:
				old := now.Add(-61 * 24 * time.Hour).UnixMilli()
				line = fmt.Sprintf(`{"type":"pageview","ts":%d,"url":"https://shop.example/","visitor_id":"%s","session_id":"s"}`, old, visitor)
				want[models.ReasonTooOld]++
			case i%1000 == 4:
				line = fmt.Sprintf(`{"type":"pageview","ts":%d,"url":"https://shop.example/"}`, ts)
				want["visitor_id"]++
			case i%2 == 0:
				line = fmt.Sprintf(`{"type":"pageview","ts":%d,"url":"https://shop.example/p/%d?utm_source=import","referrer":"https://www.google.com/search?q=%s","visitor_id":"%s","session_id":"s%d","device":"mobile","tz":"Europe/Paris"}`,
					ts, i, pad, visitor, i%7)
				want["ok"]++
			default:
				line = fmt.Sprintf(`{"type":"click","ts":%d,"url":"https://shop.example/p/%d","referrer":"https://x.example/?%s","visitor_id":"%s","session_id":"s%d","element":{"tag":"button","classes":["buy"],"text":"Buy now"}}`,
					ts, i, pad, visitor, i%7)
				want["ok"]++
			}
			n, err := w.WriteString(line + "\n")
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
		_ = pw.CloseWithError(w.Flush())
	}()

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	r := importPost(t, srv, a.ProjectID.String(), editor, pr)
	close(stop)
	wg.Wait()
	if r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	var got importAnswer
	r.JSON(t, &got)
	if got.Accepted != want["ok"] {
		t.Errorf("accepted %d, want %d", got.Accepted, want["ok"])
	}
	if wantRejected := int64(lines) - want["ok"]; got.Rejected != wantRejected {
		t.Errorf("rejected %d, want %d", got.Rejected, wantRejected)
	}
	if got.RejectedByReason[models.ReasonTooOld] != want[models.ReasonTooOld] {
		t.Errorf("too_old %d, want %d (%v)", got.RejectedByReason[models.ReasonTooOld], want[models.ReasonTooOld], got.RejectedByReason)
	}
	if len(got.Errors) != 100 {
		t.Errorf("%d line errors listed, want the first 100", len(got.Errors))
	}
	if len(got.Errors) > 4 {
		for i, prefix := range []string{"malformed JSON", "unknown type", models.ReasonTooOld, "visitor_id is required"} {
			if e := got.Errors[i]; e.Line != i+1 || !strings.HasPrefix(e.Reason, prefix) {
				t.Errorf("error %d = line %d %q, want line %d %q…", i, e.Line, e.Reason, i+1, prefix)
			}
		}
	}
	if n := eventCount(t, srv, a.ProjectID); n != want["ok"] {
		t.Errorf("%d events in the table, want %d", n, want["ok"])
	}
	stats := ingestStats(t, srv, a.ProjectID)
	if stats[models.ReasonStored] != want["ok"] || stats[models.ReasonTooOld] != want[models.ReasonTooOld] ||
		stats[models.ReasonBadShape] != want["malformed"]+want["unknown type"]+want["visitor_id"] {
		t.Errorf("ingest_stats %v, want stored %d, too_old %d, bad_shape %d", stats, want["ok"], want[models.ReasonTooOld],
			want["malformed"]+want["unknown type"]+want["visitor_id"])
	}
	var devices, visitors int64
	if err := srv.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE device = 'mobile'), count(DISTINCT visitor_hash) FROM events WHERE project_id = $1`,
		a.ProjectID).Scan(&devices, &visitors); err != nil {
		t.Fatal(err)
	}
	if devices != lines/2-2*(lines/1000) || visitors != 997 {
		t.Errorf("%d mobile events and %d visitors, want %d and 997", devices, visitors, lines/2-2*(lines/1000))
	}
	t.Logf("streamed %d MB; peak heap %d MB", sent.Load()>>20, peak.Load()>>20)
	if sent.Load() < 150<<20 {
		t.Fatalf("only %d bytes streamed", sent.Load())
	}
	if p := peak.Load(); p > 120<<20 {
		t.Errorf("heap peaked at %d MB while streaming %d MB: the body is being held", p>>20, sent.Load()>>20)
	}
}

// TestImportAnswers covers the small cases: who may import, empty and oversized lines, and
// that line numbers and reasons come back.
func TestImportAnswers(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)
	other := srv.NewAccount(t, "other@example.com", false)
	_, viewer := srv.Member(t, a.ProjectID, "viewer@example.com", models.RoleViewer)
	_, editor := srv.Member(t, a.ProjectID, "editor@example.com", models.RoleEditor)
	pid := a.ProjectID.String()
	ts := time.Now().Add(-10 * 24 * time.Hour).UnixMilli()
	good := fmt.Sprintf(`{"type":"pageview","ts":%d,"url":"https://shop.example/a","visitor_id":"v1","session_id":"s1"}`, ts)

	for _, c := range []struct {
		name, token string
		status      int
	}{{"viewer", viewer, 403}, {"anonymous", "", 401}, {"other tenant", other.Token, 404}} {
		if r := importPost(t, srv, pid, c.token, strings.NewReader(good+"\n")); r.Status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.Status, c.status, r.Body)
		}
	}
	if n := eventCount(t, srv, a.ProjectID); n != 0 {
		t.Fatalf("refused imports stored %d events", n)
	}

	body := strings.Join([]string{
		good,
		"",
		`{"type":"goal","ts":` + fmt.Sprint(ts) + `,"name":"signup","visitor_id":"v1","session_id":"s1","extra":1}`,
		"\xff\xfe",
		`{"type":"goal","ts":` + fmt.Sprint(ts) + `,"name":"signup","visitor_id":"v1","session_id":"s1","device":"fridge"}`,
		`{"type":"goal","ts":` + fmt.Sprint(time.Now().Add(time.Hour).UnixMilli()) + `,"name":"signup","visitor_id":"v1","session_id":"s1"}`,
		`{"type":"goal","ts":` + fmt.Sprint(ts) + `,"name":"signup","visitor_id":"v1","session_id":"s1"}`,
	}, "\n")
	r := importPost(t, srv, pid, editor, strings.NewReader(body))
	if r.Status != 200 {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	var got importAnswer
	r.JSON(t, &got)
	var lines []string
	for _, e := range got.Errors {
		lines = append(lines, fmt.Sprintf("%d %s", e.Line, strings.SplitN(e.Reason, ":", 2)[0]))
	}
	wantLines := []string{"3 malformed JSON", "4 invalid UTF-8", "5 device must be desktop, mobile, tablet or other", "6 ahead"}
	if d := cmp.Diff(wantLines, lines); d != "" || got.Accepted != 2 || got.Rejected != 4 {
		t.Errorf("accepted %d rejected %d, errors (-want +got):\n%s", got.Accepted, got.Rejected, d)
	}

	long := good + "\n" + `{"type":"pageview","ts":1,"url":"https://shop.example/` + strings.Repeat("x", 20<<10) + `"}` + "\n" + good + "\n"
	r = importPost(t, srv, pid, editor, strings.NewReader(long))
	if r.Status != 400 || !strings.Contains(string(r.Body), "line 2") {
		t.Errorf("an overlong line: %d %s, want 400 naming line 2", r.Status, r.Body)
	}
	if r := importPost(t, srv, pid, editor, strings.NewReader("")); r.Status != 400 {
		t.Errorf("an empty body: %d %s, want 400", r.Status, r.Body)
	}
	var audit int
	if err := srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE project_id = $1 AND action = 'events.import'`, a.ProjectID).Scan(&audit); err != nil || audit < 1 {
		t.Errorf("imports audited %d times (%v)", audit, err)
	}
}
