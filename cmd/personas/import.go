package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"personas/api"
)

// cmdImport streams a file to a running service's import API (POST /v1/projects/{id}/import)
// with an API token, like any other client: the import goes through the same authentication,
// role check, privacy pass and audit log as a request of the dashboard's users would, and the
// service may run on another machine. The file is sent as it is read, never held whole; the
// progress shown is the share of the file sent.
func (e *environment) cmdImport(ctx context.Context, args []string) error {
	fs := e.newFlags("import", "import --from matomo|ga4|ndjson --project ID [--server URL] [--dry-run] [--json] FILE")
	from := fs.String("from", "ndjson", "the file's format: matomo (Live.getLastVisitsDetails, format=JSON), ga4 (BigQuery events_ rows as JSON lines) or ndjson")
	project := fs.String("project", "", "the project's id")
	server := fs.String("server", "", "the service's URL (default PERSONAS_PUBLIC_URL, or http://localhost:8080)")
	dryRun := fs.Bool("dry-run", false, "read and check the whole file and report, storing nothing")
	asJSON := fs.Bool("json", false, "print the service's report as JSON")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, `Usage: personas import --from matomo|ga4|ndjson --project ID [--server URL] [--dry-run] [--json] FILE

Streams FILE to the service's import API with the API token in PERSONAS_TOKEN (an editor's or
higher; create one with "personas admin create-token --email E"). Every event goes through the
same privacy pass as collect; IP addresses, user agents and user ids in the file are never
stored, and the file's visitor ids are replaced by keyed hashes. Run with --dry-run first: it
reports what would be accepted and rejected, by reason, and stores nothing.

`)
		fs.PrintDefaults()
	}
	var file string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			fmt.Fprintf(e.stderr, "unexpected argument %q\n", fs.Arg(0))
			fs.Usage()
			return errUsage
		}
		file, args = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" {
		fmt.Fprintln(e.stderr, "import: the file to import is missing")
		fs.Usage()
		return errUsage
	}
	switch *from {
	case "matomo", "ga4", "ndjson":
	default:
		return fmt.Errorf("import: unknown format %q: use matomo, ga4 or ndjson", *from)
	}
	if _, err := uuid.Parse(*project); err != nil {
		return errors.New("import: --project must be the project's id (a UUID)")
	}
	token := strings.TrimSpace(e.getenv("PERSONAS_TOKEN"))
	if token == "" {
		return errors.New("import: set PERSONAS_TOKEN to an API token (personas admin create-token --email E)")
	}
	base := *server
	if base == "" {
		base = e.getenv("PERSONAS_PUBLIC_URL")
	}
	if base == "" {
		base = "http://localhost:8080"
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	q := url.Values{"format": {*from}}
	if *dryRun {
		q.Set("dry_run", "true")
	}
	endpoint := strings.TrimRight(base, "/") + "/v1/projects/" + *project + "/import?" + q.Encode()
	label := "import " + fi.Name()
	if *dryRun {
		label = "check " + fi.Name() + " (dry run)"
	}
	progress := e.stdout
	if *asJSON {
		progress = e.stderr // stdout is the report's
	}
	b := newBarFor(progress, label, "bytes", int(fi.Size()), isTerminal(progress), time.Now)
	body := &countingReader{r: f, bar: b}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if *from == "matomo" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	b.done()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("import: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var apiErr struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &apiErr) == nil && apiErr.Error.Message != "" {
			return fmt.Errorf("import: %s (%s, HTTP %d)", apiErr.Error.Message, apiErr.Error.Code, resp.StatusCode)
		}
		return fmt.Errorf("import: HTTP %d", resp.StatusCode)
	}
	if *asJSON {
		_, err := e.stdout.Write(append(raw, '\n'))
		return err
	}
	var rep api.ImportReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("import: the answer is not a report: %w", err)
	}
	printImportReport(e.stdout, &rep)
	return nil
}

func printImportReport(w io.Writer, rep *api.ImportReport) {
	verb := "stored"
	if rep.DryRun {
		verb = "would be stored (dry run: nothing was stored)"
	}
	unit := "lines"
	if rep.Format == "matomo" {
		unit = "visits"
	}
	fmt.Fprintf(w, "%s %s read: %s events %s, %s rejected, %s skipped (no counterpart here)\n",
		thousands(int(rep.Records)), unit, thousands(int(rep.Accepted)), verb, thousands(int(rep.Rejected)), thousands(int(rep.Skipped)))
	reasons := make([]string, 0, len(rep.RejectedByReason))
	for r := range rep.RejectedByReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  rejected as %s: %s\n", r, thousands(int(rep.RejectedByReason[r])))
	}
	for i, e := range rep.Errors {
		if i == 10 {
			fmt.Fprintf(w, "  … and more (--json lists the first %d)\n", len(rep.Errors))
			break
		}
		fmt.Fprintf(w, "  %s %d: %s\n", strings.TrimSuffix(unit, "s"), e.Line, e.Reason)
	}
}

// countingReader advances a progress bar as the file is read.
type countingReader struct {
	r   io.Reader
	bar *bar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.add(n)
	return n, err
}
