package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"personas/models"
)

func (e *environment) cmdAdmin(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "Usage: personas admin bootstrap|create-token|reset-password|rotate-keys|verify-receipt|retention [flags]")
		return errUsage
	}
	switch args[0] {
	case "bootstrap":
		return e.cmdBootstrap(ctx, args[1:])
	case "create-token":
		return e.cmdCreateToken(ctx, args[1:])
	case "reset-password":
		return e.cmdResetPassword(ctx, args[1:])
	case "rotate-keys":
		return e.cmdRotateKeys(ctx, args[1:])
	case "verify-receipt":
		return e.cmdVerifyReceipt(ctx, args[1:])
	case "retention":
		return e.cmdRetention(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(e.stdout, "Usage: personas admin bootstrap|create-token|reset-password|rotate-keys|verify-receipt|retention [flags]")
		return nil
	default:
		fmt.Fprintf(e.stderr, "personas admin: unknown command %q\n", args[0])
		return errUsage
	}
}

func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return false, errUsage
	}
	return false, nil
}

// bootstrapResult is the --json output of `admin bootstrap`: a contract other tools rely on.
type bootstrapResult struct {
	UserID    string `json:"user_id"`
	Token     string `json:"token"`
	ProjectID string `json:"project_id"`
	SiteKey   string `json:"site_key"`
}

func (e *environment) cmdBootstrap(ctx context.Context, args []string) error {
	fs := e.newFlags("admin bootstrap", "admin bootstrap --email E --password-stdin --project NAME --origin URL [--json]")
	email := fs.String("email", "", "email of the platform admin (created if missing)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	project := fs.String("project", "", "name of the project to create (or find)")
	var origins multiFlag
	fs.Var(&origins, "origin", "allowed origin of the project's site (repeatable)")
	asJSON := fs.Bool("json", false, "print {user_id, token, project_id, site_key} as JSON")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *email == "" || *project == "" {
		fmt.Fprintln(e.stderr, "personas admin bootstrap: --email and --project are required")
		fs.Usage()
		return errUsage
	}
	password := ""
	if *pwStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return errors.New("--password-stdin: standard input held no password")
		}
	}
	a, err := e.load(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	if _, _, err := a.migrate(ctx); err != nil {
		return err
	}
	u, created, err := a.store.EnsureUser(ctx, *email, password, true)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if !created {
		if err := a.store.SetPlatformAdmin(ctx, u.ID, true); err != nil {
			return err
		}
		if password != "" {
			if err := a.store.SetPassword(ctx, u.ID, password); err != nil {
				return fmt.Errorf("set password: %w", err)
			}
		}
	}
	p, err := a.store.ProjectByName(ctx, u.ID, *project)
	if errors.Is(err, models.ErrNotFound) {
		p, err = a.store.CreateProject(ctx, u.ID, *project, origins)
		if err == nil {
			_ = a.store.Audit(ctx, p.ID, u.ID, "project.create", p.ID.String(), map[string]any{"via": "bootstrap"})
		}
	} else if err == nil && len(origins) > 0 {
		merged := append(append([]string{}, p.AllowedOrigins...), origins...)
		p, err = a.store.UpdateSettings(ctx, p.ID, models.Settings{AllowedOrigins: &merged})
	}
	if err != nil {
		return fmt.Errorf("create project: %w", err)
	}
	_, secret, err := a.store.CreateToken(ctx, u.ID, "bootstrap "+time.Now().UTC().Format(time.RFC3339), 0)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	_ = a.store.Audit(ctx, models.AccountScope, u.ID, "token.create", "bootstrap", nil)
	res := bootstrapResult{UserID: u.ID.String(), Token: secret, ProjectID: p.ID.String(), SiteKey: p.SiteKey}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintf(e.stdout, "user:     %s\nproject:  %s (%s)\nsite key: %s\ntoken:    %s   (shown once)\n",
		res.UserID, p.Name, res.ProjectID, res.SiteKey, res.Token)
	return nil
}

func (e *environment) cmdCreateToken(ctx context.Context, args []string) error {
	fs := e.newFlags("admin create-token", "admin create-token --email E [--name N] [--days D] [--json]")
	email := fs.String("email", "", "email of an existing user")
	name := fs.String("name", "cli", "token name")
	days := fs.Int("days", 90, "days until the token expires (0: never)")
	asJSON := fs.Bool("json", false, "print {user_id, token, token_id} as JSON")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(e.stderr, "personas admin create-token: --email is required")
		return errUsage
	}
	a, err := e.load(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	u, err := a.store.UserByEmail(ctx, *email)
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return errors.New("no user with that email")
		}
		return err
	}
	t, secret, err := a.store.CreateToken(ctx, u.ID, *name, *days)
	if err != nil {
		return err
	}
	_ = a.store.Audit(ctx, models.AccountScope, u.ID, "token.create", t.ID.String(), map[string]any{"via": "cli"})
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(map[string]string{"user_id": u.ID.String(), "token": secret, "token_id": t.ID.String()})
	}
	fmt.Fprintf(e.stdout, "token: %s   (shown once)\n", secret)
	return nil
}

func (e *environment) cmdRotateKeys(ctx context.Context, args []string) error {
	fs := e.newFlags("admin rotate-keys", "admin rotate-keys [--data [--grace 45s]]")
	data := fs.Bool("data", false, "also re-seal all project data under fresh project data keys")
	grace := fs.Duration("grace", models.RotationGrace,
		"with --data: how long instances get to start sealing with the new keys before the old ones are destroyed; longer than their key cache (30 s)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	a, err := e.load(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	users, err := a.store.ResealUsers(ctx)
	if err != nil {
		return err
	}
	n, err := a.store.RewrapProjectKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "re-sealed %d account emails and re-wrapped %d project keys under %s\n", users, n, a.store.PrimaryKeyID())
	if *data {
		if *grace < models.DefaultKeyCacheTTL {
			fmt.Fprintf(e.stderr, "warning: --grace %s is shorter than an instance's key cache (%s): a running instance that missed the notification could still seal with a key being destroyed; use it only with no instance running\n", *grace, models.DefaultKeyCacheTTL)
		}
		fmt.Fprintf(e.stdout, "new data keys made; waiting %s for every instance to seal with them before the old ones are destroyed\n", *grace)
		res, err := a.store.ResealProjectData(ctx, models.RotationOptions{Grace: *grace})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "re-sealed project data under fresh data keys: %v\n", res)
	}
	return nil
}

func (e *environment) cmdRetention(ctx context.Context, args []string) error {
	fs := e.newFlags("admin retention", "admin retention [--dry-run]")
	dry := fs.Bool("dry-run", false, "only show what would be removed")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	a, err := e.load(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	counts, err := a.store.SweepExpired(ctx, a.store.Now(), *dry)
	if err != nil {
		return err
	}
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	return printCounts(e.stdout, verb, counts)
}

func printCounts(w io.Writer, verb string, counts map[string]int64) error {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if table, ok := strings.CutSuffix(k, "_partitions"); ok {
			fmt.Fprintf(w, "%s %d whole daily partitions of %s\n", verb, counts[k], table)
			continue
		}
		fmt.Fprintf(w, "%s %d rows from %s\n", verb, counts[k], k)
	}
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
