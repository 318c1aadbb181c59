package api_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testserver"
	"personas/models"
)

// getPage reads a dashboard page with a session cookie.
func getPage(t *testing.T, srv *testserver.Server, path string, cookie *http.Cookie) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func hashes(from, to int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		out = append(out, []byte(fmt.Sprintf("visitor-%04d", i)))
	}
	return out
}

// publish makes a version of personas from explicit memberships: clusters in order.
func publish(t *testing.T, srv *testserver.Server, projectID uuid.UUID, personas []models.PublishedPersona, members [][][]byte) int {
	t.Helper()
	ctx := context.Background()
	run, err := srv.Store.CreateTrainingRun(ctx, projectID, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := models.Publication{ProjectID: projectID, RunID: run.ID, Blob: []byte("not read by the dashboard"), K: len(personas),
		Metrics: []byte("{}")}
	total := 0
	for _, m := range members {
		total += len(m)
	}
	for c, m := range members {
		pub.Members = append(pub.Members, m...)
		for range m {
			pub.Labels = append(pub.Labels, c)
		}
		personas[c].Cluster = c
		personas[c].Size = int64(len(m))
		personas[c].Share = float64(len(m)) / float64(total)
		personas[c].Traits = []byte("{}")
	}
	pub.Personas = personas
	v, err := srv.Store.PublishModel(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newPersona(name string) models.PublishedPersona {
	return models.PublishedPersona{ID: uuid.New(), New: true, Naming: models.Naming{Name: name, Type: "other", NamedBy: "rules"}}
}

// TestOverviewDriftShowsVanishedPersonas publishes two versions in which one persona merges
// into another and one is new, and reads the overview: every persona with a segment in the
// drift chart has a legend entry, the merge is named, and the reading does not say "held steady".
func TestOverviewDriftShowsVanishedPersonas(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@example.com", false)
	stay, other, merged := newPersona("Deal Hunters"), newPersona("Researchers"), newPersona("Window Shoppers")
	publish(t, srv, owner.ProjectID, []models.PublishedPersona{stay, other, merged}, [][][]byte{hashes(0, 60), hashes(60, 100), hashes(100, 140)})
	ts, err := srv.Store.PersonaTransitions(context.Background(), owner.ProjectID, 1, 1, []uuid.UUID{stay.ID, merged.ID})
	if err != nil || len(ts) != 2 || ts[0].Visitors+ts[1].Visitors != 100 {
		t.Fatalf("transitions of two personas of v1 to v1: %v (%v), want each to itself", ts, err)
	}
	stay2, other2, fresh := stay, other, newPersona("Newcomers")
	stay2.New, other2.New = false, false
	st := 1.0
	stay2.Stability, other2.Stability = &st, &st
	// Window Shoppers' 40 visitors: 30 to Deal Hunters, 10 to Researchers.
	publish(t, srv, owner.ProjectID, []models.PublishedPersona{stay2, other2, fresh},
		[][][]byte{append(hashes(0, 60), hashes(100, 130)...), append(hashes(60, 100), hashes(130, 140)...), hashes(200, 230)})
	ts, err = srv.Store.PersonaTransitions(context.Background(), owner.ProjectID, 1, 2, []uuid.UUID{merged.ID, stay.ID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[[2]uuid.UUID]int64{}
	for _, tr := range ts {
		got[[2]uuid.UUID{tr.From, tr.To}] = tr.Visitors
	}
	if got[[2]uuid.UUID{merged.ID, stay.ID}] != 30 || got[[2]uuid.UUID{merged.ID, other.ID}] != 10 || got[[2]uuid.UUID{stay.ID, stay.ID}] != 60 || len(got) != 3 {
		t.Fatalf("transitions %v", got)
	}

	cookie, _, _ := session(t, srv, owner.Email)
	status, body := getPage(t, srv, "/projects/"+owner.ProjectID.String(), cookie)
	if status != http.StatusOK {
		t.Fatalf("overview: %d", status)
	}
	drift := body[strings.Index(body, `id="drift"`):]
	segments := map[string]bool{}
	for _, m := range regexp.MustCompile(`<rect [^>]*data-key="([^"]+)"`).FindAllStringSubmatch(drift, -1) {
		segments[m[1]] = true
	}
	legend := map[string]string{}
	for _, m := range regexp.MustCompile(`<li data-key="([^"]+)">(.*?)</li>`).FindAllStringSubmatch(drift, -1) {
		legend[m[1]] = m[2]
	}
	if len(segments) != 4 {
		t.Errorf("%d personas in the drift chart, want 4 (three in v1, three in v2, two shared)", len(segments))
	}
	for k := range segments {
		if _, ok := legend[k]; !ok {
			t.Errorf("persona %s has a segment but no legend entry", k)
		}
	}
	if l := legend[merged.ID.String()]; !strings.Contains(l, "Window Shoppers") || !strings.Contains(l, "merged into Deal Hunters in v2 (75 % of its visitors)") {
		t.Errorf("legend of the merged persona: %q", l)
	}
	if l := legend[fresh.ID.String()]; !strings.Contains(l, "new in v2") {
		t.Errorf("legend of the new persona: %q", l)
	}
	reading := regexp.MustCompile(`id="drift-reading">([^<]*)<`).FindStringSubmatch(drift)
	if reading == nil || strings.Contains(reading[1], "held steady") ||
		!strings.Contains(reading[1], "Window Shoppers (29 % of visitors in v1) merged into Deal Hunters in v2") ||
		!strings.Contains(reading[1], "New persona in v2: Newcomers") {
		t.Errorf("drift reading %q", reading)
	}
}

// TestImportCountsByEventDay: imported history is counted on the days it happened, live
// collection on the day it arrives.
func TestImportCountsByEventDay(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@example.com", false)
	now := time.Now().UTC()
	var lines []string
	for d, n := range map[int]int{3: 5, 10: 7, 20: 2} {
		at := now.AddDate(0, 0, -d)
		for i := range n {
			lines = append(lines, fmt.Sprintf(`{"visitor_id":"v%d-%d","session_id":"s","type":"pageview","ts":%d,"url":"https://shop.example/p/%d"}`,
				d, i, at.UnixMilli(), i))
		}
	}
	lines = append(lines, `{"visitor_id":"bad"}`)
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + owner.ProjectID.String() + "/import", Token: owner.Token,
		Body: strings.Join(lines, "\n"), Header: map[string]string{"Content-Type": "application/x-ndjson"}})
	if r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	srv.Collect(t, owner.SiteKey, "live", "s1", []map[string]any{{"type": "pageview", "ts": now.UnixMilli(), "url": "https://shop.example/"}})
	stats, err := srv.Store.IngestStats(context.Background(), owner.ProjectID, now.AddDate(0, 0, -29), now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, s := range stats {
		got[s.Day.Format(time.DateOnly)+" "+s.Reason] += s.Events
	}
	day := func(d int) string { return now.AddDate(0, 0, -d).Format(time.DateOnly) }
	want := map[string]int64{day(3) + " stored": 5, day(10) + " stored": 7, day(20) + " stored": 2,
		day(0) + " stored": 1, day(0) + " " + models.ReasonBadShape: 1}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d events, want %d (all: %v)", k, got[k], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("ingest stats %v, want %v", got, want)
	}
}

// TestAuditPageGroupsAndFilters: an import in many batches is one line, consecutive identical
// actions collapse with a count, a pause or another action between them does not, actors and
// targets are named, the filter accepts only the actions it offers.
func TestAuditPageGroupsAndFilters(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@example.com", false)
	ctx := context.Background()
	exID, _ := srv.Member(t, owner.ProjectID, "leaver@example.com", models.RoleEditor)
	if err := srv.Store.RemoveMember(ctx, owner.ProjectID, exID); err != nil {
		t.Fatal(err)
	}
	admin := srv.NewAccount(t, "platform@example.com", true)
	pid := publishOne(t, srv, owner.ProjectID, "Deal Hunters")
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	insert := func(at time.Time, actor *uuid.UUID, action, target, details string) {
		t.Helper()
		if _, err := srv.Pool.Exec(ctx, `INSERT INTO audit_log (project_id, actor_id, action, target, details, at) VALUES ($1, $2, $3, $4, $5, $6)`,
			owner.ProjectID, actor, action, target, details, at); err != nil {
			t.Fatal(err)
		}
	}
	me := owner.UserID
	// Oldest first: 450 import batches (more than one read of the store), a rename by a former
	// member, two renames of the same persona, a pause of two hours, another rename.
	for i := range 450 {
		insert(base.Add(time.Duration(i)*time.Second), &me, "events.import", owner.ProjectID.String(), fmt.Sprintf(`{"accepted": %d, "rejected": 1}`, 100+i%2))
	}
	insert(base.Add(10*time.Minute), &exID, "persona.rename", pid.String(), `{}`)
	insert(base.Add(11*time.Minute), &me, "persona.rename", pid.String(), `{}`)
	insert(base.Add(12*time.Minute), &me, "persona.rename", pid.String(), `{}`)
	insert(base.Add(140*time.Minute), &me, "persona.rename", pid.String(), `{}`)
	insert(base.Add(141*time.Minute), &me, "member.add", exID.String(), `{"role": "viewer"}`)
	// An import, a retrain, an import: the retrain separates them, with a filter too.
	insert(base.Add(150*time.Minute), &me, "events.import", owner.ProjectID.String(), `{"accepted": 7, "rejected": 0}`)
	insert(base.Add(151*time.Minute), &me, "model.train", uuid.NewString(), `{}`)
	insert(base.Add(152*time.Minute), &me, "events.import", owner.ProjectID.String(), `{"accepted": 9, "rejected": 0}`)
	insert(base.Add(153*time.Minute), &admin.UserID, "deletion.create", uuid.NewString(), `{"scope": "personas"}`)
	insert(base.Add(154*time.Minute), nil, "persona.enrich", uuid.NewString(), `{}`)

	cookie, _, _ := session(t, srv, owner.Email)
	path := "/projects/" + owner.ProjectID.String() + "/audit"
	status, body := getPage(t, srv, path, cookie)
	if status != http.StatusOK {
		t.Fatalf("audit page: %d", status)
	}
	rows := regexp.MustCompile(`<tr data-action="([^"]+)" data-count="(\d+)"><td[^>]*>[^<]*</td><td>([^<]*)</td><td>(?:<a [^>]*>)?([^<]*)`).FindAllStringSubmatch(body, -1)
	type row struct{ action, count, actor, what string }
	var got []row
	for _, m := range rows {
		got = append(got, row{m[1], m[2], m[3], m[4]})
	}
	want := []row{
		{"persona.enrich", "1", "the service", "Asked for a new description of a persona no longer stored"},
		{"deletion.create", "1", "platform@example.com (platform admin)", "Asked to delete the personas and models"},
		{"events.import", "1", "owner@example.com", "Imported 9 events"},
		{"model.train", "1", "owner@example.com", "Started a retrain"},
		{"events.import", "1", "owner@example.com", "Imported 7 events"},
		{"member.add", "1", "owner@example.com", "Added leaver@example.com (former member) as viewer"},
		{"persona.rename", "1", "owner@example.com", "Renamed the persona now called Deal Hunters"},
		{"persona.rename", "2", "owner@example.com", "Renamed the persona now called Deal Hunters (2 times)"},
		{"persona.rename", "1", "leaver@example.com (former member)", "Renamed the persona now called Deal Hunters"},
		{"events.import", "450", "owner@example.com", "Imported 45,225 events (450 batches); 450 lines rejected"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit rows\n got %v\nwant %v", got, want)
	}
	if strings.Contains(body, exID.String()) || strings.Contains(body, owner.ProjectID.String()+"</td>") {
		t.Error("the audit page shows raw ids")
	}

	status, body = getPage(t, srv, path+"?action=persona.rename", cookie)
	if status != http.StatusOK || strings.Count(body, `<tr data-action="persona.rename"`) != 3 || strings.Contains(body, `data-action="events.import"`) {
		t.Errorf("filtered by persona.rename: %d, %d rename rows", status, strings.Count(body, `<tr data-action="persona.rename"`))
	}
	status, body = getPage(t, srv, path+"?action=events.import", cookie)
	if status != http.StatusOK || strings.Count(body, `<tr data-action="events.import" data-count="1"`) != 2 ||
		strings.Count(body, `<tr data-action="events.import" data-count="450"`) != 1 || strings.Contains(body, `data-action="model.train"`) {
		t.Errorf("filtered by events.import: %d, want the two single imports the retrain separates and the group of 450", status)
	}
	for _, hostile := range []string{"nope", "events.import' OR 1=1 --", "<script>", strings.Repeat("a", 5000), "persona.rename\x00"} {
		req := path + "?action=" + urlQueryEscape(hostile)
		if status, _ := getPage(t, srv, req, cookie); status != http.StatusBadRequest {
			t.Errorf("action %q: status %d, want 400", hostile, status)
		}
	}
	for _, cursor := range []string{"x", "-1", "0", "99999999999999999999"} {
		if status, _ := getPage(t, srv, path+"?cursor="+cursor, cookie); status != http.StatusBadRequest {
			t.Errorf("cursor %q: status %d, want 400", cursor, status)
		}
	}

	// Pages of groups: one group a page walks the log without losing or repeating an entry.
	var total, pages int
	cursor := ""
	for {
		groups, next, err := srv.Store.AuditGroups(ctx, owner.ProjectID, "", cursor, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			total += g.Count
		}
		pages++
		if next == "" || pages > 20 {
			break
		}
		cursor = next
	}
	if total != 460 || pages != 10 {
		t.Errorf("walked %d entries in %d pages, want 460 in 10", total, pages)
	}
}

func publishOne(t *testing.T, srv *testserver.Server, projectID uuid.UUID, name string) uuid.UUID {
	t.Helper()
	a, b := newPersona(name), newPersona("Others")
	publish(t, srv, projectID, []models.PublishedPersona{a, b}, [][][]byte{hashes(0, 60), hashes(60, 120)})
	return a.ID
}

func urlQueryEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// BenchmarkPersonaTransitions measures where a vanished persona's visitors (40,000) went
// between two versions of 200,000 members each: the query the overview runs (once per pair of
// versions, then cached) when a persona did not survive a retrain.
func BenchmarkPersonaTransitions(b *testing.B) {
	srv := testserver.New(b, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(b, "owner@example.com", false)
	const n = 200_000
	ctx := context.Background()
	var gone uuid.UUID
	for v := range 2 {
		run, err := srv.Store.CreateTrainingRun(ctx, owner.ProjectID, nil)
		if err != nil {
			b.Fatal(err)
		}
		k := 5 - v
		pub := models.Publication{ProjectID: owner.ProjectID, RunID: run.ID, Blob: []byte("x"), K: k, Metrics: []byte("{}")}
		for i := range n {
			h := sha256.Sum256([]byte(fmt.Sprintf("visitor-%08d", i))) // visitor hashes are HMACs: uniform
			pub.Members = append(pub.Members, h[:])
			pub.Labels = append(pub.Labels, (i*7+v)%k)
		}
		for c := range k {
			pub.Personas = append(pub.Personas, models.PublishedPersona{ID: uuid.New(), New: true, Cluster: c, Share: 1 / float64(k),
				Size: n / int64(k), Traits: []byte("{}"), Naming: models.Naming{Name: fmt.Sprint("P", v, c), Type: "other", NamedBy: "rules"}})
		}
		if _, err := srv.Store.PublishModel(ctx, pub); err != nil {
			b.Fatal(err)
		}
		if v == 0 {
			gone = pub.Personas[4].ID // five personas in v1, four in v2: the last is asked about
		}
	}
	if _, err := srv.Pool.Exec(ctx, "VACUUM ANALYZE model_members"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		ts, err := srv.Store.PersonaTransitions(ctx, owner.ProjectID, 1, 2, []uuid.UUID{gone})
		if err != nil || len(ts) == 0 {
			b.Fatalf("%d transitions (%v)", len(ts), err)
		}
	}
}
