package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"personas/config"
)

func printUsage(w io.Writer) {
	fmt.Fprint(w, `personas: behaviour-based personas, private by construction.

Usage:
  personas all                 API, dashboard and workers in one process (the local default)
  personas serve               API and dashboard only
  personas worker              job workers and the periodic scheduler only
  personas migrate [up|status] apply or show the database migrations (both databases)
  personas demo                create a populated demo project through the real API
  personas import --from matomo|ga4|ndjson --project ID [--server URL] [--dry-run] [--json] FILE
                               stream a Matomo, GA4 or NDJSON export to a running service's import
                               API with the token in PERSONAS_TOKEN (--server: default
                               PERSONAS_PUBLIC_URL); --dry-run reports and stores nothing
  personas admin bootstrap --email E --password-stdin --project NAME --origin URL [--json]
  personas admin create-token --email E [--name N] [--json]
  personas admin reset-password --email E [--json]
  personas admin rotate-keys [--data [--grace 45s]]
  personas admin verify-receipt [--public-key HEX | --server URL] FILE
  personas admin retention [--dry-run]
  personas version             version, commit and Go version of this binary (also --version)

Each command takes --help.

Environment (every variable has a working local default):
`)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, v := range config.Vars {
		def := v.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(tw, "  %s\t%s\tdefault: %s\n", v.Name, v.Help, def)
	}
	tw.Flush()
}
