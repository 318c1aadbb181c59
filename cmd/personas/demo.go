package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"personas/api"
	"personas/internal/demodata"
	"personas/jobs"
	"personas/models"
)

// The demo account: for local use only, documented in the README.
const (
	demoEmail    = "demo@personas.local"
	demoPassword = "personas-demo"
	demoProject  = "Demo shop"
	demoOrigin   = "https://shop.example"
	demoCSV      = "../shared/data/online_shoppers_intention.csv"
)

// cmdDemo builds a populated demo project through the real HTTP handlers of an in-process
// server on the configured databases: history through the import API, the last two days
// through the collect API, two trainings (so that the drift chart and stability figures have
// something to show) and enrichment. A second run finds the account and project and adds no
// traffic.
func (e *environment) cmdDemo(ctx context.Context, args []string) error {
	fs := e.newFlags("demo", "demo [-visitors N] [-days N] [-csv FILE]")
	visitors := fs.Int("visitors", 2000, "synthetic visitors to generate")
	days := fs.Int("days", 28, "days of history")
	csvPath := fs.String("csv", demoCSV, "real sessions to add when the file exists (UCI online shoppers)")
	csvRows := fs.Int("csv-rows", 1200, "sessions taken from the CSV file")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	start := time.Now()
	a, err := e.load(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	a.limitMemory() // the demo trains in this process
	if err := a.schemaCurrent(ctx); err != nil {
		return fmt.Errorf("%w (run `personas migrate` first)", err)
	}
	// The in-process server logs only warnings: the demo's own output is its progress.
	quiet := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	out := e.stdout

	fmt.Fprintln(out, "Personas demo")
	u, created, err := a.store.EnsureUser(ctx, demoEmail, demoPassword, false)
	if err != nil {
		return fmt.Errorf("demo account: %w", err)
	}
	if !created {
		if err := a.store.SetPassword(ctx, u.ID, demoPassword); err != nil {
			return fmt.Errorf("demo account: %w", err)
		}
	}
	p, err := a.store.ProjectByName(ctx, u.ID, demoProject)
	if errors.Is(err, models.ErrNotFound) {
		p, err = a.store.CreateProject(ctx, u.ID, demoProject, []string{demoOrigin})
	}
	if err != nil {
		return fmt.Errorf("demo project: %w", err)
	}
	if err := a.store.SetBusinessContext(ctx, p.ID, u.ID, models.BusinessContext{Industry: "Online retail (home and garden)",
		Goals: "Grow repeat purchases; lower support contacts about orders.", Audience: "Private customers in Europe, mostly on mobile in the evening."}); err != nil {
		return fmt.Errorf("demo business context: %w", err)
	}
	fmt.Fprintf(out, "  account %s, project %q (%s)\n", demoEmail, demoProject, p.ID)

	stored, err := storedEvents(ctx, a.store, p.ID)
	if err != nil {
		return err
	}
	var bought map[string]bool // the real sessions' Revenue, held out of the data
	if stored > 0 {
		fmt.Fprintf(out, "  the project already holds %d events: no traffic added\n", stored)
	} else {
		if bought, err = e.demoTraffic(ctx, a, quiet, u.ID, p, *visitors, *days, *csvPath, *csvRows); err != nil {
			return err
		}
	}
	if _, err := a.store.CurrentModelVersion(ctx, p.ID); errors.Is(err, models.ErrNotFound) {
		if err := demoTrain(ctx, a, quiet, p.ID, out, "train"); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if err := demoEnrich(ctx, a, quiet, p.ID, out); err != nil {
		return err
	}
	if len(bought) > 0 {
		if err := demoPurchases(ctx, a, p.ID, bought, out); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\nDemo ready in %s.\n  Dashboard: %s/projects/%s\n  Sign in:   %s / %s  (local use only)\n",
		time.Since(start).Round(100*time.Millisecond), a.cfg.PublicURL, p.ID, demoEmail, demoPassword)
	return nil
}

// storedEvents counts the events the project ever stored (its delivery counters).
func storedEvents(ctx context.Context, store *models.Store, projectID uuid.UUID) (int64, error) {
	now := store.Now().UTC()
	stats, err := store.IngestStats(ctx, projectID, now.AddDate(0, 0, -400), now)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range stats {
		if s.Reason == models.ReasonStored {
			n += s.Events
		}
	}
	return n, nil
}

// demoTraffic sends the generated traffic through an in-process server: history older than a
// week, a first training, the rest of the history, the last two days as collect requests. It
// returns, per real session's visitor id, whether the session bought (held out of the traffic).
func (e *environment) demoTraffic(ctx context.Context, a *app, logger *slog.Logger, userID uuid.UUID, p models.Project,
	visitors, days int, csvPath string, csvRows int) (map[string]bool, error) {
	out := e.stdout
	end := time.Now().UTC().Add(-10 * time.Minute)
	vs := demodata.Generate(demodata.Config{Visitors: visitors, Days: days, End: end, Site: demoOrigin, Seed: 2026})
	var lines []demodata.Line
	for _, v := range vs {
		lines = append(lines, v.Lines...)
	}
	var bought map[string]bool
	if f, err := os.Open(csvPath); err == nil {
		var extra []demodata.Line
		extra, bought, err = csvVisitors(f, csvRows, days, end)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", csvPath, err)
		}
		lines = append(lines, extra...)
		fmt.Fprintf(out, "  %d synthetic visitors and %d real sessions from %s\n", visitors, csvRows, csvPath)
	} else {
		fmt.Fprintf(out, "  %d synthetic visitors (no %s)\n", visitors, csvPath)
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].TS < lines[j].TS })
	weekAgo := end.Add(-7 * 24 * time.Hour).UnixMilli()
	recent := end.Add(-40 * time.Hour).UnixMilli() // collect accepts events up to 48 hours old
	var older, middle, live []demodata.Line
	for _, l := range lines {
		switch {
		case l.TS < weekAgo:
			older = append(older, l)
		case l.TS < recent:
			middle = append(middle, l)
		default:
			live = append(live, l)
		}
	}

	srv, stop, err := demoServer(ctx, a, logger)
	if err != nil {
		return nil, err
	}
	defer stop()
	_, token, err := a.store.CreateToken(ctx, userID, "demo", 1)
	if err != nil {
		return nil, err
	}
	defer func() {
		if pr, err := a.store.AuthenticateToken(context.WithoutCancel(ctx), token); err == nil {
			_ = a.store.RevokeToken(context.WithoutCancel(ctx), pr, pr.TokenID)
		}
	}()
	c := &demoClient{base: srv, token: token, http: &http.Client{Timeout: 5 * time.Minute}}
	if err := c.importLines(ctx, p.ID, older, newBar(out, "import history (weeks 1-3)", len(older))); err != nil {
		return nil, err
	}
	if err := demoTrain(ctx, a, logger, p.ID, out, "train the first model"); err != nil {
		return nil, err
	}
	if err := c.importLines(ctx, p.ID, middle, newBar(out, "import history (last week)", len(middle))); err != nil {
		return nil, err
	}
	if err := c.collect(ctx, p.SiteKey, live, newBar(out, "collect the last two days", len(live))); err != nil {
		return nil, err
	}
	return bought, demoTrain(ctx, a, logger, p.ID, out, "retrain with the new visitors")
}

// demoServer starts the API on a loopback port of its own, with the real handlers and the
// group-commit ingester, and returns its URL and a stop function.
func demoServer(ctx context.Context, a *app, logger *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo server: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	svc := a.service()
	svc.Logger = logger
	ingester := svc.Ingester()
	srv := svc.API(ingester, api.Config{PublicURL: a.cfg.PublicURL, RatePerClient: -1, RatePerSite: -1}, nil)
	var wg sync.WaitGroup
	ictx, stopIngest := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(2)
	go func() { defer wg.Done(); ingester.Run(ictx) }()
	go func() { defer wg.Done(); _ = srv.Serve(ctx, ln, 10*time.Second); stopIngest() }()
	return "http://" + ln.Addr().String(), func() { cancel(); wg.Wait() }, nil
}

// demoClient calls the in-process server.
type demoClient struct {
	base, token string
	http        *http.Client
}

func (c *demoClient) post(ctx context.Context, path, contentType string, body []byte, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if c.token != "" && header == nil {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// importLines posts NDJSON to the import API in chunks.
func (c *demoClient) importLines(ctx context.Context, projectID uuid.UUID, lines []demodata.Line, bar *bar) error {
	const chunk = 5000
	for i := 0; i < len(lines); i += chunk {
		var buf bytes.Buffer
		for _, l := range lines[i:min(i+chunk, len(lines))] {
			b, _ := json.Marshal(l)
			buf.Write(b)
			buf.WriteByte('\n')
		}
		status, body, err := c.post(ctx, "/v1/projects/"+projectID.String()+"/import", "application/x-ndjson", buf.Bytes(), nil)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("import: status %d: %s", status, body)
		}
		bar.add(min(chunk, len(lines)-i))
	}
	bar.done()
	return nil
}

// userAgents make the collect API derive each line's device class.
var userAgents = map[string]string{
	"desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
	"mobile":  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
	"tablet":  "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
}

// collect sends the lines as the browser script would: per visitor and session, from the
// site's origin, at most 100 events a request, four requests at a time.
func (c *demoClient) collect(ctx context.Context, siteKey string, lines []demodata.Line, bar *bar) error {
	type key struct{ visitor, session string }
	groups := map[key][]demodata.Line{}
	var order []key
	for _, l := range lines {
		k := key{l.VisitorID, l.SessionID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], l)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, k := range order {
		ls := groups[k]
		for i := 0; i < len(ls); i += 100 {
			part := ls[i:min(i+100, len(ls))]
			g.Go(func() error {
				events := make([]map[string]any, len(part))
				for j, l := range part {
					ev := map[string]any{"type": l.Type, "ts": l.TS}
					if l.URL != "" {
						ev["url"] = l.URL
					}
					if l.Referrer != "" {
						ev["referrer"] = l.Referrer
					}
					if l.Element != nil {
						ev["element"] = l.Element
					}
					if l.DurationMS != nil {
						ev["duration_ms"] = *l.DurationMS
					}
					if l.ScrollDepth != nil {
						ev["scroll_depth"] = *l.ScrollDepth
					}
					if l.Name != "" {
						ev["name"] = l.Name
					}
					events[j] = ev
				}
				body, _ := json.Marshal(map[string]any{"site_key": siteKey, "visitor_id": k.visitor, "session_id": k.session,
					"context": map[string]any{"lang": "en-GB", "tz": "UTC", "screen": []int{1440, 900}}, "events": events})
				ua := userAgents[part[0].Device]
				if ua == "" {
					ua = userAgents["desktop"]
				}
				status, b, err := c.post(gctx, "/v1/collect", "text/plain", body, map[string]string{"Origin": demoOrigin, "User-Agent": ua})
				if err != nil {
					return fmt.Errorf("collect: %w", err)
				}
				if status != http.StatusNoContent {
					return fmt.Errorf("collect: status %d: %s", status, b)
				}
				bar.add(len(part))
				return nil
			})
		}
	}
	err := g.Wait()
	bar.done()
	return err
}

// demoTrain trains in-process (no worker needed) and prints what came out.
func demoTrain(ctx context.Context, a *app, logger *slog.Logger, projectID uuid.UUID, out io.Writer, what string) error {
	b := newBar(out, what, 1)
	tr := &jobs.Trainer{Store: a.store, Client: a.jobs, Signer: a.signer, Logger: logger}
	if _, err := a.store.CreateTrainingRun(ctx, projectID, nil); err != nil {
		return err
	}
	v, err := tr.Train(ctx, projectID)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	b.add(1)
	b.done()
	if v == 0 {
		return fmt.Errorf("%s: the data allowed no model", what)
	}
	info, err := a.store.ModelInfo(ctx, projectID, v)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    model v%d: %d personas from %d visitors\n", v, info.K, info.NVisitors)
	return nil
}

// demoEnrich names and describes every persona: Azure OpenAI when configured, the rules
// otherwise.
func demoEnrich(ctx context.Context, a *app, logger *slog.Logger, projectID uuid.UUID, out io.Writer) error {
	ps, _, err := a.store.Personas(ctx, projectID)
	if err != nil {
		return err
	}
	how := "rule-based namer (set AZURE_OPENAI_* to use Azure OpenAI)"
	if a.cfg.Azure.Endpoint != "" {
		how = "Azure OpenAI"
	}
	b := newBar(out, "describe the personas with the "+how, len(ps))
	en := &jobs.Enricher{Store: a.store, Enricher: a.enricher(), Logger: logger}
	for _, p := range ps {
		if err := en.Enrich(ctx, projectID, p.ID); err != nil {
			return fmt.Errorf("describe persona %s: %w", p.ID, err)
		}
		b.add(1)
	}
	b.done()
	if ps, _, err = a.store.Personas(ctx, projectID); err != nil {
		return err
	}
	for _, p := range ps {
		fmt.Fprintf(out, "    %-32s %-15s %5.1f %%  (named by %s)\n", p.Name, p.Type, p.Share*100, p.NamedBy)
	}
	return nil
}

// demoPurchases prints, per persona of the current model, how many of its real sessions (the
// UCI rows) bought: Revenue was held out of the data, so this is what the personas tell about
// buying by behaviour alone.
func demoPurchases(ctx context.Context, a *app, projectID uuid.UUID, bought map[string]bool, out io.Writer) error {
	version, err := a.store.CurrentModelVersion(ctx, projectID)
	if err != nil {
		return err
	}
	members, err := a.store.ModelMembers(ctx, projectID, version)
	if err != nil {
		return err
	}
	clusters, err := a.store.PersonaIDsByCluster(ctx, projectID, version)
	if err != nil {
		return err
	}
	type count struct{ sessions, bought int }
	per := map[uuid.UUID]count{}
	var all count
	for vid, b := range bought {
		c, ok := members[string(a.store.VisitorHash(projectID, vid))]
		if !ok {
			continue
		}
		n := per[clusters[c]]
		n.sessions++
		all.sessions++
		if b {
			n.bought++
			all.bought++
		}
		per[clusters[c]] = n
	}
	if all.sessions == 0 {
		return nil
	}
	ps, _, err := a.store.Personas(ctx, projectID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  real sessions that bought (Revenue held out of the data): %.1f %% of %d\n",
		100*float64(all.bought)/float64(all.sessions), all.sessions)
	for _, p := range ps {
		if n := per[p.ID]; n.sessions > 0 {
			fmt.Fprintf(out, "    %-32s %5.1f %% of %d\n", p.Name, 100*float64(n.bought)/float64(n.sessions), n.sessions)
		}
	}
	return nil
}

// csvVisitors turns sessions of the UCI online shoppers data set into import lines: page
// counts and durations per page type become page views and leaves, the traffic type a channel,
// returning visitors a second visit. Revenue is held out: no goal, no cart or checkout page comes
// from it (personas told who bought would "explain" buying by leakage); it is returned per
// visitor id instead, to measure how the personas trained without it differ in buying.
func csvVisitors(r io.Reader, rows, days int, end time.Time) ([]demodata.Line, map[string]bool, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"Administrative", "Administrative_Duration", "Informational", "Informational_Duration",
		"ProductRelated", "ProductRelated_Duration", "TrafficType", "VisitorType", "Weekend", "Revenue"} {
		if _, ok := col[need]; !ok {
			return nil, nil, fmt.Errorf("column %s missing", need)
		}
	}
	rng := rand.New(rand.NewPCG(2026, 12330))
	var out []demodata.Line
	bought := map[string]bool{}
	for i := 0; i < rows; i++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		num := func(k string) float64 { v, _ := strconv.ParseFloat(rec[col[k]], 64); return v }
		vid := fmt.Sprintf("uci-%05d-%08x", i, rng.Uint32())
		bought[vid] = strings.EqualFold(rec[col["Revenue"]], "TRUE")
		channel := []string{"direct", "search", "campaign", "social", "email", "referral"}[int(num("TrafficType"))%6]
		device := "desktop"
		if rng.Float64() < 0.45 {
			device = "mobile"
		}
		visits := 1
		if rec[col["VisitorType"]] == "Returning_Visitor" {
			visits = 2
		}
		for v := 0; v < visits; v++ {
			day := end.Add(-time.Duration(rng.Int64N(int64(days-1)*24)) * time.Hour).Truncate(24 * time.Hour)
			if strings.EqualFold(rec[col["Weekend"]], "TRUE") {
				for day.Weekday() != time.Saturday && day.Weekday() != time.Sunday {
					day = day.Add(-24 * time.Hour)
				}
			}
			t := day.Add(time.Duration(8+rng.IntN(14))*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
			if t.After(end) {
				t = end.Add(-time.Duration(1+rng.IntN(600)) * time.Minute)
			}
			sid := fmt.Sprintf("s%d-%x", v, rng.Uint32())
			ref, query := "", ""
			switch channel {
			case "search":
				ref = "https://www.google.com/"
			case "social":
				ref = "https://www.instagram.com/"
			case "referral":
				ref = "https://blog.example/"
			case "campaign":
				query = "?utm_source=newsletter&utm_medium=cpc&utm_campaign=spring"
			case "email":
				query = "?utm_medium=email&utm_source=crm"
			}
			first := true
			page := func(path string, seconds float64) {
				url := demoOrigin + path
				l := demodata.Line{Type: "pageview", TS: t.UnixMilli(), URL: url, VisitorID: vid, SessionID: sid, Device: device}
				if first {
					l.URL += query
					l.Referrer = ref
					first = false
				}
				out = append(out, l)
				d := int64(min(max(seconds, 2), 1800) * 1000)
				sc := 0.2 + rng.Float64()*0.7
				t = t.Add(time.Duration(d) * time.Millisecond)
				out = append(out, demodata.Line{Type: "leave", TS: t.UnixMilli(), URL: url, DurationMS: &d, ScrollDepth: &sc,
					VisitorID: vid, SessionID: sid, Device: device})
				t = t.Add(time.Second)
			}
			for _, kind := range []struct {
				count, duration string
				path            func() string
			}{
				{"Administrative", "Administrative_Duration", func() string { return "/account" }},
				{"Informational", "Informational_Duration", func() string { return fmt.Sprintf("/help/%d", 1+rng.IntN(30)) }},
				{"ProductRelated", "ProductRelated_Duration", func() string { return fmt.Sprintf("/p/%d", 1+rng.IntN(60)) }},
			} {
				n := min(int(num(kind.count)), 25) / visits
				per := num(kind.duration) / max(num(kind.count), 1)
				for j := 0; j < n; j++ {
					page(kind.path(), per)
				}
			}
			if first {
				page("/", 5)
			}
		}
	}
	return out, bought, nil
}
