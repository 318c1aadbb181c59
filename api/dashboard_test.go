package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/enrichment"
	"personas/models"
)

// samplePersonas builds one persona of every type (enrichment.Types()), alternately with goal
// lifts and without (personas of models trained before lifts existed).
func samplePersonas(t *testing.T) []models.Persona {
	t.Helper()
	stab := 0.86
	var out []models.Persona
	for i, typ := range enrichment.Types() {
		st := classifier.PersonaStats{Size: 420 - 10*i, Share: 0.3 - 0.02*float64(i),
			Traits: []classifier.Trait{
				{Feature: "goal:coupon_applied", Value: 0.24, Population: 0.1, Z: 2.2},
				{Feature: "time_per_page", Value: 3.2, Population: 4.1, Z: -1.3},
				{Feature: "path:/deals", Value: 0.4, Population: 0.1, Z: 1.1},
				{Feature: "goal_rate", Value: 0.8, Population: 0.3, Z: 1.0},
				{Feature: "bounce_rate", Value: 1, Population: 0.3, Z: -0.6},
				{Feature: "visits", Value: 1.6, Population: 1.1, Z: 0.7},
			},
			TopPaths: []classifier.Share{{Key: "/deals", Share: 0.4}, {Key: "/p/:id", Share: 0.3}},
			Channels: []classifier.Share{{Key: "campaign", Share: 0.7}},
			Devices:  []classifier.Share{{Key: "mobile", Share: 0.8}},
			Hours:    []classifier.Share{{Key: "evening", Share: 0.6}},
			Goals:    []classifier.Share{{Key: "any", Share: 0.57}, {Key: "coupon_applied", Share: 0.57}},
		}
		if i%2 == 0 {
			st.GoalLifts = []classifier.GoalLift{
				{Goal: "any", Visitors: 240, Rate: 0.57, PopulationRate: 0.3, Lift: 1.9, Low: 1.7, High: 2.1},
				{Goal: "coupon_applied", Visitors: 240, Rate: 0.57, PopulationRate: 0.22, Lift: 2.6, Low: 2.2, High: 3.0},
				{Goal: "add_to_cart", Visitors: 12, Rate: 0.03, PopulationRate: 0.12, Lift: 0.25, Low: 0.15, High: 0.4},
			}
		}
		traits, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		id := uuid.New()
		p := models.Persona{ID: id, ModelVersion: 2, Name: fmt.Sprintf("Persona <%d> %s", i, typ), Type: typ,
			Tagline: "Comes for the deals", Summary: "Arrives from campaigns.", Goals: []string{"Save money"},
			Frustrations: []string{"Expired codes"}, SuggestedActions: []string{"Show the coupon early"},
			NamedBy: []string{"rules", "llm", "person"}[i%3], Picture: enrichment.Avatar(id.String(), typ), Share: st.Share,
			Size: int64(st.Size), Traits: traits}
		if i > 0 {
			p.Stability = &stab
		}
		out = append(out, p)
	}
	return out
}

// sampleDrift is a history of two versions: v1 held the current personas but the first (new
// in v2) and three that did not survive: one merged, one split, one whose visitors are unknown.
func sampleDrift(current []models.Persona) ([]models.DriftPoint, map[uuid.UUID]string, map[uuid.UUID]fate, []uuid.UUID) {
	names := map[uuid.UUID]string{}
	var hist []models.DriftPoint
	for i, p := range current {
		names[p.ID] = p.Name
		if i > 0 {
			hist = append(hist, models.DriftPoint{ModelVersion: 1, PersonaID: p.ID, Share: p.Share * 0.8, Size: p.Size})
		}
		hist = append(hist, models.DriftPoint{ModelVersion: 2, PersonaID: p.ID, Share: p.Share, Size: p.Size, Stability: p.Stability})
	}
	gone := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	names[gone[0]], names[gone[1]], names[gone[2]] = "Window Shoppers", "Night Owls", "Old Regulars"
	for i, id := range gone {
		hist = append(hist, models.DriftPoint{ModelVersion: 1, PersonaID: id, Share: 0.19 - 0.05*float64(i), Size: 190})
	}
	fates := map[uuid.UUID]fate{
		gone[0]: {Version: 2, Into: current[1].ID, Share: 0.72},
		gone[1]: {Version: 2, Into: current[2].ID, Share: 0.4},
		gone[2]: {Version: 2},
	}
	return hist, names, fates, gone
}

// TestEveryTemplateRenders executes every dashboard page with sample data, for each role, so
// that a broken template fails `make test`, not a user: personas of every type, with goal lifts
// and without, a drift chart with vanished, merged and new personas, grouped audit entries.
func TestEveryTemplateRenders(t *testing.T) {
	t.Parallel()
	d, err := parseDashboard()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	personas := samplePersonas(t)
	apiDocs, err := buildAPIDocs()
	if err != nil {
		t.Fatal(err)
	}
	project := models.Project{ID: uuid.New(), Name: "Demo shop", SiteKey: "pk_test", AllowedOrigins: []string{"https://shop.example"},
		ExcludedSelectors: []string{"#pay"}, SampleRate: 1, RespectGPC: true, CreatedAt: now}
	install := installView{Snippet: `<script src="x" integrity="sha384-abc"></script>`, ScriptURL: "http://x/c.js", Integrity: "sha384-abc", SiteKey: "pk_test",
		FirstParty: `<script src="/_p/c.js" data-api="/_p"></script>`, FirstPartyGuide: "docs/deploy.md", PublicURL: "http://x"}
	hist, names, fates, _ := sampleDrift(personas)
	drift, reading := driftChart(hist, personas, names, fates)
	firstOnly, firstReading := driftChart(hist[:1], personas[:1], names, nil)
	model := models.ModelInfo{Version: 2, K: len(personas), NVisitors: 1350, TrainedAt: now, Current: true}
	key := now.Add(time.Second)
	health := healthReport([]models.IngestStat{
		{Day: now.AddDate(0, 0, -1).Truncate(24 * time.Hour), Reason: models.ReasonStored, Events: 900},
		{Day: now.AddDate(0, 0, -1).Truncate(24 * time.Hour), Reason: models.ReasonOrigin, Events: 40},
	}, now.AddDate(0, 0, -29).Truncate(24*time.Hour), 30)
	cards, azure := personaCards(personas, models.PageLabels{"/deals": "Seed packet deals"}.Label)
	actor := uuid.New()
	auditNames := auditNamer{users: map[uuid.UUID]string{actor: "a@example.com"}, personas: names}
	audit := auditView{Actions: auditFilter([]string{"custom.thing"}, "events.import"), Action: "events.import", Next: "3",
		Entries: []auditRow{
			auditWords(models.AuditGroup{AuditEntry: models.AuditEntry{ID: 9, ActorID: &actor, Action: "events.import", Target: project.ID.String(),
				Details: map[string]any{"accepted": 12345.0, "rejected": 2.0}, At: now}, Count: 32, First: now.Add(-4 * time.Minute)}, project, auditNames),
			auditWords(models.AuditGroup{AuditEntry: models.AuditEntry{ID: 5, ActorID: &actor, Action: "persona.rename", Target: personas[0].ID.String(), At: now},
				Count: 1, First: now}, project, auditNames),
			auditWords(models.AuditGroup{AuditEntry: models.AuditEntry{ID: 4, Action: "custom.thing", Details: map[string]any{"why": "x"}, At: now},
				Count: 1, First: now}, project, auditNames),
		}}

	type pageCase struct {
		name string
		data any
		want []string
	}
	pages := []pageCase{
		{"login", loginView{Next: "/", Error: "Wrong email or password."}, []string{"Sign in", "Wrong email or password."}},
		{"projects", []models.Project{project}, []string{"Demo shop"}},
		{"projects", []models.Project{}, []string{"No project yet"}},
		{"overview", overviewView{Personas: cards, AzureNote: azure, Model: &model, Versions: 2, Drift: drift, DriftReading: reading, Install: install},
			[]string{"Persona &lt;0&gt;", "<svg", "Model v2", "1,350 visitors", "stability 86 %", "Stable: kept 86 %",
				"Reaches coupon applied 2.6× as often as all visitors (57 % vs 22 %; 95 % interval 2.2–3.0×)",
				"Window Shoppers", "merged into " + template.HTMLEscapeString(personas[1].Name), "Page views of Seed packet deals", "Night Owls", "split up", "Old Regulars", "gone in v2", "new in v2"}},
		{"overview", overviewView{Personas: cards[:1], Model: &model, Versions: 1, Drift: firstOnly, DriftReading: firstReading, Install: install},
			[]string{"This is the first model"}},
		{"overview", overviewView{Install: install, LastRun: &models.TrainingRun{Status: "skipped", Reason: "too little data", CreatedAt: now}},
			[]string{"No personas yet", "sha384-abc", "too little data"}},
		{"settings", settingsView{Install: install, Retention: project.Retention.Effective(), SamplePct: "100",
			Members:    []models.Member{{UserID: uuid.New(), Email: "a@example.com", Role: models.RoleOwner}, {UserID: uuid.New(), Email: "v@example.com", Role: models.RoleViewer}},
			Roles:      []models.Role{models.RoleViewer, models.RoleEditor, models.RoleAdmin},
			PageLabels: "/p/:id = Seed packets\n"},
			[]string{"sha384-abc", "https://shop.example", "#pay"}},
		{"audit", audit, []string{"Imported 12,345 events (32 batches); 2 lines rejected", "a@example.com",
			"Renamed the persona now called Persona &lt;0&gt;", "custom.thing", `value="custom.thing"`, "action=events.import&amp;cursor=3",
			`<option value="events.import" selected>`}},
		{"audit", auditView{Actions: auditFilter(nil, "")}, []string{"Nothing has been recorded yet."}},
		{"deletions", deletionsPageView{Deletions: []models.Deletion{{ID: uuid.New(), Scope: "visitor", Status: "done", CreatedAt: now, FinishedAt: &now}}},
			[]string{"Type the project", "status-done"}},
		{"deletion", deletionPageView{D: models.Deletion{ID: uuid.New(), Scope: "all", Status: "running", Step: "events", CreatedAt: now, KeyDestroyedAt: &key},
			Counts: []countRow{{"events", 1200}}, ProjectID: project.ID.String()},
			[]string{"whole project", "1,200", "20 Nov 2026, 10:00 UTC", `http-equiv="refresh"`}},
		{"health", health, []string{"more than 1 %", "from a site not in the allowed origins", "940", "on the day they happened"}},
		{"health", healthReport(nil, now, 30), []string{"Nothing was offered"}},
		{"apidocs", apiDocs, []string{"API reference", `id="op-getProject"`, `href="#schema-Project"`, "/v1/openapi.yaml"}},
		{"error", errorView{Status: 403, Heading: "Not allowed", Message: "Your role"}, []string{"Not allowed", "Error 403"}},
	}
	for i, pe := range personas {
		want := []string{"Save money", "Expired codes", "Show the coupon early", "Campaign", "Bounce rate", "Visits", `id="trait-amounts"`}
		if i%2 == 0 {
			want = append(want, "Reaches add to cart less often than all visitors: 0.3× as often (3 % vs 12 %; 95 % interval 0.2–0.4×)", `id="goal-lines"`)
		} else {
			want = append(want, `id="goal-chart"`, "coupon applied")
		}
		pages = append(pages, pageCase{"persona", personaPageView(pe, models.PageLabels{"/deals": "Offers and sales"}.Label), want})
	}
	for _, role := range []models.Role{models.RoleViewer, models.RoleEditor, models.RoleOwner} {
		for i, pg := range pages {
			t.Run(fmt.Sprintf("%s/%s/%d", role, pg.name, i), func(t *testing.T) {
				p := page{Title: pg.name, Nav: pg.name, User: models.User{Email: "me@example.com"}, CSRF: "tok",
					Project: &project, Role: role, Notice: "Saved.", Data: pg.data}
				var buf bytes.Buffer
				if err := d.pages[pg.name].ExecuteTemplate(&buf, "layout", p); err != nil {
					t.Fatalf("execute %s: %v", pg.name, err)
				}
				out := buf.String()
				for _, w := range pg.want {
					if !strings.Contains(out, w) {
						t.Errorf("page %s (%s) lacks %q", pg.name, role, w)
					}
				}
				if strings.Contains(out, "ZgotmplZ") {
					t.Errorf("page %s has an unsafe value replaced by ZgotmplZ", pg.name)
				}
				if pg.name == "persona" || pg.name == "overview" {
					// A goal is stated once: never as a per-visit trait ("Goal coupon applied 24 %");
					// a top page once: in the pages chart, not again as a trait.
					bads := []string{"Goal coupon applied", "Goals per visit"}
					if pg.name == "persona" {
						bads = append(bads, "Views of /deals")
					}
					for _, bad := range bads {
						if strings.Contains(out, bad) {
							t.Errorf("page %s shows the goal trait %q", pg.name, bad)
						}
					}
				}
			})
		}
	}
}

// TestFormsFollowRoles checks that a viewer's pages carry no forms but sign-out, and an
// editor's settings carry the capture form but not the admin-only ones.
func TestFormsFollowRoles(t *testing.T) {
	t.Parallel()
	d, err := parseDashboard()
	if err != nil {
		t.Fatal(err)
	}
	project := models.Project{ID: uuid.New(), Name: "P"}
	v := settingsView{Roles: []models.Role{models.RoleViewer}}
	tests := []struct {
		role          models.Role
		forms         int
		capture, adms bool
	}{
		{models.RoleViewer, 1, false, false},
		{models.RoleEditor, 4, true, false},
		{models.RoleAdmin, 6, true, true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		p := page{User: models.User{Email: "x@example.com"}, Project: &project, Role: tt.role, Data: v}
		if err := d.pages["settings"].ExecuteTemplate(&buf, "layout", p); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if got := strings.Count(out, "<form"); got != tt.forms {
			t.Errorf("%s: %d forms, want %d", tt.role, got, tt.forms)
		}
		if got := strings.Contains(out, `id="capture-form"`); got != tt.capture {
			t.Errorf("%s: capture form shown = %v, want %v", tt.role, got, tt.capture)
		}
		if got := strings.Contains(out, `id="access-form"`); got != tt.adms {
			t.Errorf("%s: access form shown = %v, want %v", tt.role, got, tt.adms)
		}
	}
}

func TestHealthWarning(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		dropped int64
		warn    bool
	}{{"none", 0, false}, {"one percent", 10, false}, {"above", 11, true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stats := []models.IngestStat{{Day: from, Reason: models.ReasonStored, Events: 1000 - tt.dropped}}
			if tt.dropped > 0 {
				stats = append(stats, models.IngestStat{Day: from, Reason: models.ReasonRate, Events: tt.dropped})
			}
			v := healthReport(stats, from, 30)
			if (v.Warning != "") != tt.warn {
				t.Errorf("warning %q with %d of 1000 dropped; want a warning: %v", v.Warning, tt.dropped, tt.warn)
			}
			if v.Received != 1000 || v.Dropped != tt.dropped {
				t.Errorf("received %d dropped %d, want 1000 and %d", v.Received, v.Dropped, tt.dropped)
			}
		})
	}
}
