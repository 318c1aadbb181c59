package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/classifier"
	"personas/models"
)

// The personas export (GET /v1/projects/{id}/personas/export?format=csv|json): what a
// marketer takes to a spreadsheet or a slide. Every persona of the current model with what its
// dashboard pages show (share, size, stability, traits in human units against all visitors,
// top pages, channels, devices, active hours, goal lifts with their 95 % intervals) and the
// share of every persona across the kept model versions.
//
// The CSV is one tidy long table: a row per figure, the persona's name, type and tagline on
// every row, so that a filter or a pivot table over section, persona and metric answers any
// question without joining files. Persona names and texts come from an LLM or from people:
// cells that a spreadsheet would read as a formula are neutralised (spreadsheetText).

// exportColumns are the CSV's columns, in order.
var exportColumns = []string{"section", "model_version", "persona_id", "persona", "type", "tagline",
	"metric", "label", "value", "unit", "text", "all_visitors", "all_visitors_text", "low", "high", "basis"}

// personasExport is the JSON export; the CSV writes the same figures as rows.
type personasExport struct {
	ProjectID    uuid.UUID       `json:"project_id"`
	Project      string          `json:"project"`
	ModelVersion *int            `json:"model_version"` // null: no model yet (personas and versions are empty)
	TrainedAt    *time.Time      `json:"trained_at"`
	NVisitors    *int64          `json:"n_visitors"` // visitors the current model was trained on
	ExportedAt   time.Time       `json:"exported_at"`
	Personas     []exportPersona `json:"personas"`
	Versions     []exportVersion `json:"versions"`
}

type exportPersona struct {
	ID          uuid.UUID     `json:"id"`
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	Tagline     string        `json:"tagline"`
	Share       float64       `json:"share"`
	Size        int64         `json:"size"`
	Stability   *float64      `json:"stability"` // null: new in this model
	Traits      []exportTrait `json:"traits"`
	TopPages    []exportShare `json:"top_pages"`
	Channels    []exportShare `json:"channels"`
	Devices     []exportShare `json:"devices"`
	ActiveHours []exportShare `json:"active_hours"`
	GoalLifts   []goalLift    `json:"goal_lifts"`
}

// exportTrait is one trait in human units, the persona's against all visitors'.
type exportTrait struct {
	Feature         string  `json:"feature"`
	Label           string  `json:"label"`
	Basis           string  `json:"basis"`
	Unit            string  `json:"unit"`
	Value           float64 `json:"value"`
	Text            string  `json:"text"`
	AllVisitors     float64 `json:"all_visitors"`
	AllVisitorsText string  `json:"all_visitors_text"`
	Z               float64 `json:"z"` // (persona − all visitors) / all visitors' standard deviation, raw feature
}

// exportShare is a key's share (a page group's of page views, a channel's of visits…).
type exportShare struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	Share float64 `json:"share"`
	Text  string  `json:"text"`
}

type exportVersion struct {
	ModelVersion int                    `json:"model_version"`
	TrainedAt    *time.Time             `json:"trained_at"`
	Current      bool                   `json:"current"`
	Personas     []exportVersionPersona `json:"personas"`
}

type exportVersionPersona struct {
	PersonaID uuid.UUID `json:"persona_id"`
	Name      string    `json:"name"`
	Share     float64   `json:"share"`
	Size      int64     `json:"size"`
	Stability *float64  `json:"stability"`
}

// unitOf names a figure's unit for the export's readers.
var unitOf = map[models.FigureKind]string{models.KindNumber: "number", models.KindCount: "count",
	models.KindSeconds: "seconds", models.KindShare: "share", models.KindDays: "days",
	models.KindPerVisit: "goals per visit", models.KindFrequency: "visits per day"}

// exportPersonas answers the export as CSV (the default) or JSON. A project without a model
// answers 200 with an empty export (the CSV's header row; JSON model_version null), as GET
// …/personas answers an empty list: a scheduled export does not fail before the first model.
func (s *Server) exportPersonas(c *gin.Context) {
	format := c.DefaultQuery("format", "csv")
	if format != "csv" && format != "json" {
		s.fail(c, models.Invalid("format", "csv or json"))
		return
	}
	exp, err := s.personasExport(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	name := exportFilename(exp, format)
	var body []byte
	ctype := "application/json; charset=utf-8"
	if format == "csv" {
		ctype = "text/csv; charset=utf-8; header=present"
		body, err = exportCSV(exp)
	} else {
		body, err = json.MarshalIndent(exp, "", "  ")
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, ctype, body)
}

// personasExport gathers the export of the project's current model.
func (s *Server) personasExport(c *gin.Context) (personasExport, error) {
	pj := projectFrom(c)
	exp := personasExport{ProjectID: pj.ID, Project: pj.Name, ExportedAt: s.store.Now().UTC().Truncate(time.Second),
		Personas: []exportPersona{}, Versions: []exportVersion{}}
	ps, version, err := s.store.Personas(c, pj.ID)
	if err != nil {
		return exp, err
	}
	ms, err := s.store.Models(c, pj.ID)
	if err != nil {
		return exp, err
	}
	hist, err := s.store.PersonaHistory(c, pj.ID)
	if err != nil {
		return exp, err
	}
	names, err := s.store.PersonaNames(c, pj.ID)
	if err != nil {
		return exp, err
	}
	labels, err := s.store.PageLabels(c, pj.ID)
	if err != nil {
		return exp, err
	}
	trained := map[int]*time.Time{}
	for _, m := range ms {
		at := m.TrainedAt.UTC()
		trained[m.Version] = &at
		if version > 0 && m.Version == version {
			n := m.NVisitors
			exp.NVisitors, exp.TrainedAt = &n, &at
		}
	}
	if version > 0 {
		exp.ModelVersion = &version
	}
	for _, p := range ps {
		exp.Personas = append(exp.Personas, s.exportPersona(pj.ID, p, labels.Label))
	}
	for _, pt := range hist {
		if n := len(exp.Versions); n == 0 || exp.Versions[n-1].ModelVersion != pt.ModelVersion {
			exp.Versions = append(exp.Versions, exportVersion{ModelVersion: pt.ModelVersion, TrainedAt: trained[pt.ModelVersion],
				Current: pt.ModelVersion == version, Personas: []exportVersionPersona{}})
		}
		v := &exp.Versions[len(exp.Versions)-1]
		v.Personas = append(v.Personas, exportVersionPersona{PersonaID: pt.PersonaID, Name: names[pt.PersonaID],
			Share: round4(pt.Share), Size: pt.Size, Stability: finiteOrNil(pt.Stability)})
	}
	return exp, nil
}

// exportPersona is one persona's figures, as its page states them: each goal once (its goal
// lifts; the per-visit goal traits are left out), and pages, channels, devices and hours as
// the persona page's share charts rather than again as traits.
func (s *Server) exportPersona(projectID uuid.UUID, p models.Persona, pageLabel models.PageLabeler) exportPersona {
	st := personaStats(p)
	out := exportPersona{ID: p.ID, Name: p.Name, Type: p.Type, Tagline: p.Tagline, Share: round4(p.Share), Size: p.Size,
		Stability: finiteOrNil(p.Stability), Traits: []exportTrait{},
		TopPages: exportShares(st.TopPaths, pageLabel), Channels: exportShares(st.Channels, titleCase),
		Devices: exportShares(st.Devices, titleCase), ActiveHours: exportShares(st.Hours, hourLabel),
		GoalLifts: s.personaAnswer(projectID, p).GoalsLift}
	charted := map[string]bool{}
	for kind, shares := range map[string][]classifier.Share{"path": st.TopPaths, "channel": st.Channels, "device": st.Devices, "hours": st.Hours} {
		for _, sh := range shares {
			charted[kind+":"+sh.Key] = true
		}
	}
	for _, t := range st.Traits {
		if !finite(t.Value) || !finite(t.Population) || !finite(t.Z) || goalFeature(t.Feature) || charted[t.Feature] {
			continue
		}
		v, all := models.FeatureFigure(t.Feature, t.Value, pageLabel), models.FeatureFigure(t.Feature, t.Population, pageLabel)
		if !finite(v.Value) || !finite(all.Value) {
			continue
		}
		out.Traits = append(out.Traits, exportTrait{Feature: t.Feature, Label: traitLabel(t.Feature, pageLabel), Basis: v.Basis,
			Unit: unitOf[v.Kind], Value: round4(v.Value), Text: v.Text, AllVisitors: round4(all.Value), AllVisitorsText: all.Text,
			Z: round4(t.Z)})
	}
	return out
}

func exportShares(shares []classifier.Share, label func(string) string) []exportShare {
	out := []exportShare{}
	for _, sh := range shares {
		if finite(sh.Share) {
			out = append(out, exportShare{Key: sh.Key, Label: label(sh.Key), Share: round4(sh.Share), Text: pct(sh.Share)})
		}
	}
	return out
}

func finiteOrNil(v *float64) *float64 {
	if v == nil || !finite(*v) {
		return nil
	}
	r := round4(*v)
	return &r
}

// exportRow is one CSV row, by column name.
type exportRow struct {
	section, metric, label, unit, text, allText, basis string
	version                                            int
	persona                                            *exportPersona // the current persona the row is about, if any
	personaID                                          uuid.UUID
	personaName                                        string
	value, all, low, high                              *float64
}

// exportCSV writes the export as one long table (exportColumns), UTF-8 with a byte-order mark
// so that Excel reads it as UTF-8, CRLF line ends (RFC 4180).
func exportCSV(exp personasExport) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if err := w.Write(exportColumns); err != nil {
		return nil, err
	}
	f := func(v float64) *float64 { return &v }
	current := map[uuid.UUID]*exportPersona{}
	var rows []exportRow
	for i := range exp.Personas {
		p := &exp.Personas[i]
		current[p.ID] = p
		r := func(section, metric, label string) exportRow {
			return exportRow{section: section, metric: metric, label: label, version: *exp.ModelVersion, persona: p}
		}
		share := r("persona", "share", "Share of visitors")
		share.value, share.unit, share.text, share.basis = f(p.Share), "share", pct(p.Share), "share of the visitors the model was trained on"
		size := r("persona", "size", "Visitors")
		size.value, size.unit, size.text, size.basis = f(float64(p.Size)), "visitors", models.Thousands(p.Size), "visitors the model was trained on"
		stab := r("persona", "stability", "Stability")
		stab.unit, stab.basis, stab.text = "share", "share of its visitors kept since the previous model", "new in this model"
		if p.Stability != nil {
			stab.value, stab.text = f(*p.Stability), pct(*p.Stability)
		}
		rows = append(rows, share, size, stab)
		for _, t := range p.Traits {
			row := r("trait", t.Feature, t.Label)
			row.value, row.unit, row.text, row.all, row.allText, row.basis = f(t.Value), t.Unit, t.Text, f(t.AllVisitors), t.AllVisitorsText, t.Basis
			rows = append(rows, row)
		}
		for _, list := range []struct {
			section, basis string
			shares         []exportShare
		}{{"top_page", "share of their page views", p.TopPages}, {"channel", "share of their visits", p.Channels},
			{"device", "share of their visits", p.Devices}, {"active_hours", "share of their activity", p.ActiveHours}} {
			for _, sh := range list.shares {
				row := r(list.section, sh.Key, sh.Label)
				row.value, row.unit, row.text, row.basis = f(sh.Share), "share", sh.Text, list.basis
				rows = append(rows, row)
			}
		}
		for _, g := range p.GoalLifts {
			name := goalName(g.Goal)
			reached := r("goal_reached", g.Goal, "Reached "+name)
			reached.value, reached.unit, reached.text, reached.all, reached.allText = f(g.Rate), "share", pct(g.Rate), f(g.PopulationRate), pct(g.PopulationRate)
			reached.basis = "share of the persona's visitors who reached it, against all visitors"
			lift := r("goal_lift", g.Goal, "Lift on "+name)
			lift.value, lift.unit, lift.text, lift.low, lift.high = f(g.Lift), "ratio", times(g.Lift), f(g.Low), f(g.High)
			lift.basis = "the persona's rate divided by all visitors' rate; low and high bound it with 95 % confidence"
			visitors := r("goal_visitors", g.Goal, "Visitors who reached "+name)
			visitors.value, visitors.unit, visitors.text, visitors.basis = f(float64(g.Visitors)), "visitors", models.Thousands(int64(g.Visitors)), "the persona's visitors who reached it"
			rows = append(rows, reached, lift, visitors)
		}
	}
	for _, v := range exp.Versions {
		for _, pt := range v.Personas {
			base := exportRow{section: "history", version: v.ModelVersion, persona: current[pt.PersonaID], personaID: pt.PersonaID, personaName: pt.Name}
			share, size, stab := base, base, base
			share.metric, share.label, share.value, share.unit, share.text, share.basis = "share", "Share of visitors", f(pt.Share), "share", pct(pt.Share), "share of the visitors this version was trained on"
			size.metric, size.label, size.value, size.unit, size.text, size.basis = "size", "Visitors", f(float64(pt.Size)), "visitors", models.Thousands(pt.Size), "visitors this version was trained on"
			stab.metric, stab.label, stab.unit, stab.basis, stab.text = "stability", "Stability", "share", "share of its visitors kept since the previous version", "new in this version"
			if pt.Stability != nil {
				stab.value, stab.text = f(*pt.Stability), pct(*pt.Stability)
			}
			rows = append(rows, share, size, stab)
		}
	}
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	for _, r := range rows {
		id, name, typ, tagline := r.personaID, r.personaName, "", ""
		if r.persona != nil {
			id, name, typ, tagline = r.persona.ID, r.persona.Name, r.persona.Type, r.persona.Tagline
		}
		// Numbers are written by strconv (digits, a point, a leading minus): never a formula.
		// Every other cell may hold text from an LLM or a person.
		rec := []string{r.section, strconv.Itoa(r.version), id.String(), name, typ, tagline, r.metric, r.label,
			num(r.value), r.unit, r.text, num(r.all), r.allText, num(r.low), num(r.high), r.basis}
		for i, cell := range rec {
			if col := exportColumns[i]; col != "model_version" && col != "value" && col != "all_visitors" && col != "low" && col != "high" {
				rec[i] = spreadsheetText(cell)
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// spreadsheetText neutralises a text cell that a spreadsheet would run as a formula (one that
// starts with =, +, -, @, a tab or a line break, as OWASP's CSV injection advice lists): a
// leading apostrophe makes it text, and shows as nothing in the cell.
func spreadsheetText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r\n", rune(s[0])) {
		return "'" + s
	}
	return s
}

// exportFilename names the download: personas-<project>-v<version>-<date>.<format>, the
// project's name reduced to ASCII letters, digits and dashes.
func exportFilename(exp personasExport, format string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(exp.Project) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug == "" {
		slug = "project"
	}
	v := "no-model"
	if exp.ModelVersion != nil {
		v = "v" + strconv.Itoa(*exp.ModelVersion)
	}
	return "personas-" + slug + "-" + v + "-" + exp.ExportedAt.Format(time.DateOnly) + "." + format
}
