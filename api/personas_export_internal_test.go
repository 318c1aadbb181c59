package api

import (
	"bytes"
	"encoding/csv"
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSpreadsheetText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"formula", `=HYPERLINK("http://evil.example","x")`, `'=HYPERLINK("http://evil.example","x")`},
		{"DDE", `=cmd|' /C calc'!A0`, `'=cmd|' /C calc'!A0`},
		{"plus", "+1+2", "'+1+2"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"line feed", "\n=1", "'\n=1"},
		{"plain name", "Evening Deal Hunters", "Evening Deal Hunters"},
		{"formula later in the text", "Deals = savings", "Deals = savings"},
		{"empty", "", ""},
		{"apostrophe already", "'quoted", "'quoted"},
		{"path", "/checkout", "/checkout"},
		{"full-width equals is no formula", "＝1+1", "＝1+1"},
		{"space then formula", " =1", " =1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spreadsheetText(tt.in); got != tt.want {
				t.Errorf("spreadsheetText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExportFilename(t *testing.T) {
	day := time.Date(2026, 12, 2, 23, 59, 0, 0, time.UTC)
	v := 3
	tests := []struct {
		name, project string
		version       *int
		format, want  string
	}{
		{"plain", "Demo shop", &v, "csv", "personas-demo-shop-v3-2026-12-02.csv"},
		{"no model", "Demo shop", nil, "json", "personas-demo-shop-no-model-2026-12-02.json"},
		{"path traversal", "../../etc/passwd", &v, "csv", "personas-etc-passwd-v3-2026-12-02.csv"},
		{"header injection", "x\"; filename=evil.exe\r\nSet-Cookie: a=b", &v, "csv", "personas-x-filename-evil-exe-set-cookie-a-b-v3-2026-12-02.csv"},
		{"only symbols", "«» ✨ ☃", &v, "csv", "personas-project-v3-2026-12-02.csv"},
		{"empty", "", &v, "csv", "personas-project-v3-2026-12-02.csv"},
		{"accents dropped", "Café Müller", &v, "csv", "personas-caf-m-ller-v3-2026-12-02.csv"},
		{"long: cut at 40 characters", strings.Repeat("ab ", 100), &v, "csv", "personas-" + strings.Repeat("ab-", 13) + "a-v3-2026-12-02.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exportFilename(personasExport{Project: tt.project, ModelVersion: tt.version, ExportedAt: day}, tt.format)
			if got != tt.want {
				t.Errorf("exportFilename(%q) = %q, want %q", tt.project, got, tt.want)
			}
			// The header it goes into parses back to the same name.
			if _, params, err := mime.ParseMediaType(mime.FormatMediaType("attachment", map[string]string{"filename": got})); err != nil || params["filename"] != got {
				t.Errorf("Content-Disposition of %q does not parse back: %v %v", got, params, err)
			}
		})
	}
}

// sampleExport is an export of one persona with the given texts.
func sampleExport(name, typ, tagline, label string) personasExport {
	v := 2
	stab := 0.9
	id := uuid.MustParse("6f1c0c3e-8a52-4f7e-9d7f-2f3c1e0a9b11")
	return personasExport{ModelVersion: &v, Personas: []exportPersona{{ID: id, Name: name, Type: typ, Tagline: tagline,
		Share: 1, Size: 40, Stability: &stab,
		Traits:    []exportTrait{{Feature: "time_per_page", Label: label, Unit: "seconds", Value: -1.5, Text: "-1 s", AllVisitors: 3, AllVisitorsText: "3 s"}},
		TopPages:  []exportShare{{Key: "/p", Label: label, Share: 1, Text: "100 %"}},
		GoalLifts: []goalLift{{Goal: name, Visitors: 4, Rate: 0.1, PopulationRate: 0.05, Lift: 2, Low: 1.2, High: 3}}}},
		Versions: []exportVersion{{ModelVersion: 2, Current: true, Personas: []exportVersionPersona{{PersonaID: id, Name: name, Share: 1, Size: 40}}}}}
}

// FuzzExportCSV writes persona texts of any content (an LLM's or a person's) into the CSV: it
// always parses back to the same number of columns, numbers stay numbers, and no text cell can
// start a formula.
func FuzzExportCSV(f *testing.F) {
	f.Add(`=HYPERLINK("http://evil.example","x")`, "deal_seeker", "Drawn in by offers, they compare prices.", "Time per page")
	f.Add("+1", "-1", "@A1", "\t=1")
	f.Add("a\"b", "line\nbreak", "\r\n", "\"=1\"")
	f.Add("Évening ☃", "", "", "")
	f.Fuzz(func(t *testing.T, name, typ, tagline, label string) {
		// Persona texts are valid UTF-8: PostgreSQL text holds nothing else.
		name, typ, tagline, label = strings.ToValidUTF8(name, "?"), strings.ToValidUTF8(typ, "?"),
			strings.ToValidUTF8(tagline, "?"), strings.ToValidUTF8(label, "?")
		body, err := exportCSV(sampleExport(name, typ, tagline, label))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
		if err != nil {
			t.Fatalf("the CSV does not parse: %v", err)
		}
		if len(recs) != 1+3+1+1+3+3 {
			t.Fatalf("%d records, want the header and 11 rows", len(recs))
		}
		for _, rec := range recs[1:] {
			for i, cell := range rec {
				col := exportColumns[i]
				switch col {
				case "model_version", "value", "all_visitors", "low", "high":
					if strings.Trim(cell, "-0123456789.") != "" {
						t.Errorf("numeric column %s = %q", col, cell)
					}
				default:
					if cell != "" && strings.ContainsRune("=+-@\t\r\n", rune(cell[0])) {
						t.Errorf("column %s = %q starts a formula", col, cell)
					}
				}
			}
			// csv's reader turns CRLF inside quotes into LF: compare without CR.
			clean := func(s string) string { return strings.ReplaceAll(s, "\r", "") }
			if clean(rec[3]) != clean(spreadsheetText(name)) || clean(rec[4]) != clean(spreadsheetText(typ)) ||
				clean(rec[5]) != clean(spreadsheetText(tagline)) {
				t.Errorf("persona cells %q %q %q, want %q %q %q", rec[3], rec[4], rec[5], spreadsheetText(name), spreadsheetText(typ), spreadsheetText(tagline))
			}
		}
	})
}
