package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/enrichment"
	"personas/models"
)

// TestEveryTemplateRenders executes every dashboard page with sample data, for each role, so
// that a broken template fails `make test`, not a user.
func TestEveryTemplateRenders(t *testing.T) {
	d, err := parseDashboard()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	stab := 0.86
	st := classifier.PersonaStats{Size: 420, Share: 0.31,
		Traits: []classifier.Trait{
			{Feature: "goal:coupon_applied", Value: 0.4, Population: 0.1, Z: 2.2},
			{Feature: "time_per_page", Value: 3.2, Population: 4.1, Z: -1.3},
			{Feature: "path:/deals", Value: 0.5, Population: 0.1, Z: 1.1},
			{Feature: "bounce_rate", Value: 0.1, Population: 0.3, Z: -0.6},
		},
		TopPaths: []classifier.Share{{Key: "/deals", Share: 0.4}, {Key: "/p/:id", Share: 0.3}},
		Channels: []classifier.Share{{Key: "campaign", Share: 0.7}},
		Devices:  []classifier.Share{{Key: "mobile", Share: 0.8}},
		Hours:    []classifier.Share{{Key: "evening", Share: 0.6}},
		Goals:    []classifier.Share{{Key: "any", Share: 0.5}, {Key: "coupon_applied", Share: 0.4}},
	}
	traits, _ := json.Marshal(st)
	pid := uuid.New()
	persona := models.Persona{ID: pid, ModelVersion: 2, Name: "Bargain <Hunter>", Type: "deal_seeker",
		Tagline: "Comes for the deals", Summary: "Arrives from campaigns.", Goals: []string{"Save money"},
		Frustrations: []string{"Expired codes"}, SuggestedActions: []string{"Show the coupon early"},
		NamedBy: "rules", Picture: enrichment.Avatar(pid.String(), "deal_seeker"), Share: 0.31, Size: 420,
		Stability: &stab, Traits: traits}
	project := models.Project{ID: uuid.New(), Name: "Demo shop", SiteKey: "pk_test", AllowedOrigins: []string{"https://shop.example"},
		ExcludedSelectors: []string{"#pay"}, SampleRate: 1, RespectGPC: true, CreatedAt: now}
	install := installView{Snippet: `<script src="x" integrity="sha384-abc"></script>`, ScriptURL: "http://x/c.js", Integrity: "sha384-abc", SiteKey: "pk_test"}
	hist := []models.DriftPoint{{ModelVersion: 1, PersonaID: pid, Share: 0.25, Size: 300},
		{ModelVersion: 2, PersonaID: pid, Share: 0.31, Size: 420, Stability: &stab}}
	drift, reading := driftChart(hist, []models.Persona{persona}, map[uuid.UUID]string{pid: persona.Name})
	model := models.ModelInfo{Version: 2, K: 4, NVisitors: 1350, TrainedAt: now, Current: true}
	key := now.Add(time.Second)
	health := healthReport([]models.IngestStat{
		{Day: now.AddDate(0, 0, -1).Truncate(24 * time.Hour), Reason: models.ReasonStored, Events: 900},
		{Day: now.AddDate(0, 0, -1).Truncate(24 * time.Hour), Reason: models.ReasonOrigin, Events: 40},
	}, now.AddDate(0, 0, -29).Truncate(24*time.Hour), 30)

	pages := []struct {
		name string
		data any
		want []string
	}{
		{"login", loginView{Next: "/", Error: "Wrong email or password."}, []string{"Sign in", "Wrong email or password."}},
		{"projects", []models.Project{project}, []string{"Demo shop"}},
		{"projects", []models.Project{}, []string{"No project yet"}},
		{"overview", overviewView{Personas: []personaCard{{Persona: persona, Avatar: avatarHTML(persona.Picture), Color: colour(0),
			Top: []traitPill{{Label: "Goal coupon applied", Words: "much higher than average", Higher: true}}, Stability: stabilityWords(&stab)}},
			Model: &model, Versions: 2, Drift: drift, DriftReading: reading, Install: install},
			[]string{"Bargain &lt;Hunter&gt;", "<svg", "31 %", "Model v2", "1,350 visitors", "stability 86 %", "Stable: kept 86 %"}},
		{"overview", overviewView{Install: install, LastRun: &models.TrainingRun{Status: "skipped", Reason: "too little data", CreatedAt: now}},
			[]string{"No personas yet", "sha384-abc", "too little data"}},
		{"persona", personaView{Persona: persona, Avatar: avatarHTML(persona.Picture), Stability: stabilityWords(&stab),
			Traits: traitChart(st.Traits, 8), Charts: []hbarChart{shareChart("Channels", st.Channels, titleCase)}},
			[]string{"named by rules", "Save money", "Expired codes", "Show the coupon early", "Coupon applied per visit", "Campaign",
				"Time per page", "24 s", "Page views of Offers and sales"}},
		{"settings", settingsView{Install: install, Retention: project.Retention.Effective(), SamplePct: "100",
			Members:    []models.Member{{UserID: uuid.New(), Email: "a@example.com", Role: models.RoleOwner}, {UserID: uuid.New(), Email: "v@example.com", Role: models.RoleViewer}},
			Roles:      []models.Role{models.RoleViewer, models.RoleEditor, models.RoleAdmin},
			PageLabels: "/p/:id = Seed packets\n"},
			[]string{"sha384-abc", "https://shop.example", "#pay"}},
		{"audit", auditView{Entries: []auditRow{{AuditEntry: models.AuditEntry{ID: 3, Action: "persona.rename", Target: "x", At: now}, Actor: "a@example.com", Details: "role: viewer"}}, Next: "3"},
			[]string{"persona.rename", "a@example.com", "cursor=3"}},
		{"deletions", deletionsPageView{Deletions: []models.Deletion{{ID: uuid.New(), Scope: "visitor", Status: "done", CreatedAt: now, FinishedAt: &now}}},
			[]string{"Type the project", "status-done"}},
		{"deletion", deletionPageView{D: models.Deletion{ID: uuid.New(), Scope: "all", Status: "running", Step: "events", CreatedAt: now, KeyDestroyedAt: &key},
			Counts: []countRow{{"events", 1200}}, ProjectID: project.ID.String()},
			[]string{"whole project", "1,200", "20 Nov 2026, 10:00 UTC", `http-equiv="refresh"`}},
		{"health", health, []string{"more than 1 %", "from a site not in the allowed origins", "940"}},
		{"health", healthReport(nil, now, 30), []string{"Nothing was offered"}},
		{"error", errorView{Status: 403, Heading: "Not allowed", Message: "Your role"}, []string{"Not allowed", "Error 403"}},
	}
	for _, role := range []models.Role{models.RoleViewer, models.RoleEditor, models.RoleOwner} {
		for _, pg := range pages {
			t.Run(string(role)+"/"+pg.name, func(t *testing.T) {
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
			})
		}
	}
}

// TestFormsFollowRoles checks that a viewer's pages carry no forms but sign-out, and an
// editor's settings carry the capture form but not the admin-only ones.
func TestFormsFollowRoles(t *testing.T) {
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
