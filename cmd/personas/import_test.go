package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"personas/api"
	"personas/internal/testserver"
)

// shiftedFixture copies a file of ingest/testdata into dir with its time stamps moved so that
// its first visit happened three days ago, and returns its path.
func shiftedFixture(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../ingest/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	delta := time.Now().Add(-3*24*time.Hour).Unix() - 1795000000
	shift := func(scale int64) func(string) string {
		return func(s string) string {
			v, _ := strconv.ParseInt(s, 10, 64)
			return strconv.FormatInt(v+delta*scale, 10)
		}
	}
	out := regexp.MustCompile(`\b17\d{14}\b`).ReplaceAllStringFunc(string(b), shift(1_000_000))
	out = regexp.MustCompile(`\b17\d{8}\b`).ReplaceAllStringFunc(out, shift(1))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportCommand runs `personas import` against a service in the test: a dry run reports
// and stores nothing, the import stores the accepted events, --json prints the service's
// report, and its progress is plain lines when the output is not a terminal. Errors say what
// is wrong: no token, an unknown format, a missing file, a file the service refuses.
func TestImportCommand(t *testing.T) {
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	a := srv.NewAccount(t, "owner@example.com", false)
	dir := t.TempDir()
	matomo := shiftedFixture(t, dir, "matomo-visits.json")
	ga4 := shiftedFixture(t, dir, "ga4-events.jsonl")
	env := map[string]string{"PERSONAS_TOKEN": a.Token}
	getenv := func(k string) string { return env[k] }
	personas := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"import"}, args...), getenv, nil, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	events := func() int64 {
		var n int64
		if err := srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE project_id = $1`, a.ProjectID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	project := a.ProjectID.String()

	out, _, err := personas("--from", "matomo", "--project", project, "--server", srv.URL, "--dry-run", matomo)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	size, _ := os.Stat(matomo)
	for _, want := range []string{
		"  check matomo-visits.json (dry run): 0/" + thousands(int(size.Size())) + " bytes (0 %)\n",
		"  check matomo-visits.json (dry run): done, " + thousands(int(size.Size())) + "/" + thousands(int(size.Size())) + " bytes in ",
		"5 visits read: 16 events would be stored (dry run: nothing was stored), 4 rejected, 2 skipped (no counterpart here)\n",
		"  rejected as bad_shape: 3\n  rejected as too_old: 1\n",
		"  visit 2: action 3: the goal's name is empty or holds personal data\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r") {
		t.Errorf("progress redrawn with carriage returns into a buffer:\n%q", out)
	}
	if n := events(); n != 0 {
		t.Fatalf("the dry run stored %d events", n)
	}

	// Flags after the file work too; the server comes from PERSONAS_PUBLIC_URL.
	env["PERSONAS_PUBLIC_URL"] = srv.URL
	out, _, err = personas("--from", "matomo", "--project", project, matomo)
	if err != nil || !strings.Contains(out, "5 visits read: 16 events stored, 4 rejected, 2 skipped") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if n := events(); n != 16 {
		t.Fatalf("%d events stored, want 16", n)
	}
	out, errOut, err := personas("--from", "ga4", "--project", project, ga4, "--json")
	if err != nil {
		t.Fatalf("ga4 --json: %v\n%s", err, errOut)
	}
	var rep api.ImportReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Format != "ga4" || rep.Accepted != 9 || rep.Rejected != 3 || rep.Records != 14 {
		t.Fatalf("--json printed %q (%v), want the report of 14 lines, 9 accepted, 3 rejected", out, err)
	}
	if !strings.Contains(errOut, "import ga4-events.jsonl: done") {
		t.Errorf("with --json the progress goes to stderr: %q", errOut)
	}

	notMatomo := filepath.Join(dir, "not-matomo.json")
	if err := os.WriteFile(notMatomo, []byte(`{"result":"error","message":"token_auth is invalid"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no token", map[string]string{}, []string{"--from", "matomo", "--project", project, matomo}, "set PERSONAS_TOKEN"},
		{"unknown format", env, []string{"--from", "csv", "--project", project, matomo}, `unknown format "csv"`},
		{"no project", env, []string{"--from", "matomo", matomo}, "--project must be the project's id"},
		{"missing file", env, []string{"--from", "matomo", "--project", project, filepath.Join(dir, "nope.json")}, "no such file"},
		{"not a Matomo file", env, []string{"--from", "matomo", "--project", project, notMatomo}, "Matomo's error answer"},
		{"wrong token", map[string]string{"PERSONAS_TOKEN": "psn_wrong", "PERSONAS_PUBLIC_URL": srv.URL}, []string{"--from", "matomo", "--project", project, matomo}, "HTTP 401"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"import"}, tt.args...), func(k string) string { return tt.env[k] }, nil, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
	var usage bytes.Buffer
	if err := run(context.Background(), []string{"import", "--from", "matomo"}, getenv, nil, &usage, &usage); err != errUsage ||
		!strings.Contains(usage.String(), "the file to import is missing") {
		t.Errorf("no file: %v %q, want a usage error", err, usage.String())
	}
	if n := events(); n != 25 {
		t.Errorf("%d events stored at the end, want 25 (the failed runs stored nothing)", n)
	}
}
