package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/models"
	"personas/privacy"
)

// cliEnv is the environment of `personas admin …` against a test's databases and secrets.
func cliEnv(t *testing.T, e *testenv.Env) map[string]string {
	t.Helper()
	env := map[string]string{
		"PERSONAS_DATABASE_URL": e.DataURL,
		"PERSONAS_KEYSTORE_URL": e.KeysURL,
		"PERSONAS_KEY_FILE":     filepath.Join(t.TempDir(), "keys.env"),
		"PERSONAS_LOG_FORMAT":   "json",
	}
	for k, v := range e.Secrets.Env() {
		env[k] = v
	}
	return env
}

// runCLI runs the binary in-process and returns its standard output.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut testenv.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	if err != nil {
		t.Logf("personas %s: %v; stderr:\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

func mustCLI(t *testing.T, env map[string]string, stdin string, args ...string) string {
	t.Helper()
	out, err := runCLI(t, env, stdin, args...)
	if err != nil {
		t.Fatalf("personas %s failed", strings.Join(args, " "))
	}
	return out
}

// decodeKeys decodes a JSON object of strings and checks it has exactly the keys of the contract.
func decodeKeys(t *testing.T, out string, keys ...string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(keys)
	if diff := cmp.Diff(keys, got); diff != "" {
		t.Fatalf("--json keys (-want +got):\n%s", diff)
	}
	return m
}

const bootstrapPassword = "a long admin password"

func bootstrapArgs() []string {
	return []string{"admin", "bootstrap", "--email", "Admin@CLI.example", "--password-stdin", "--project", "Shop",
		"--origin", "https://shop.example", "--json"}
}

func TestBootstrapAndCreateTokenContract(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	env := cliEnv(t, e)
	first := decodeKeys(t, mustCLI(t, env, bootstrapPassword+"\n", bootstrapArgs()...), "user_id", "token", "project_id", "site_key")
	for _, k := range []string{"user_id", "project_id"} {
		if _, err := uuid.Parse(first[k]); err != nil {
			t.Errorf("%s %q is not a UUID", k, first[k])
		}
	}
	if !strings.HasPrefix(first["token"], "psn_") || !strings.HasPrefix(first["site_key"], "pk_") {
		t.Errorf("token %q or site key %q lacks its prefix", first["token"], first["site_key"])
	}

	// Idempotent: a second run finds the user and the project and mints a new token.
	second := decodeKeys(t, mustCLI(t, env, bootstrapPassword+"\n", bootstrapArgs()...), "user_id", "token", "project_id", "site_key")
	for _, k := range []string{"user_id", "project_id", "site_key"} {
		if second[k] != first[k] {
			t.Errorf("second bootstrap: %s %q, first %q: want the same", k, second[k], first[k])
		}
	}
	if second["token"] == first["token"] {
		t.Error("second bootstrap returned the same token")
	}

	created := decodeKeys(t, mustCLI(t, env, "", "admin", "create-token", "--email", "admin@cli.example", "--json"), "user_id", "token", "token_id")
	if created["user_id"] != first["user_id"] {
		t.Errorf("create-token user_id %q, want %q", created["user_id"], first["user_id"])
	}
	if _, err := runCLI(t, env, "", "admin", "create-token", "--email", "nobody@cli.example", "--json"); err == nil {
		t.Error("create-token for an unknown email succeeded")
	}

	// Every token works against the API, as the platform admin who owns the project.
	srv := testserver.New(t, testserver.Options{Env: e, NoWorker: true})
	for _, tok := range []string{first["token"], second["token"], created["token"]} {
		r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + first["project_id"], Token: tok})
		var p struct {
			SiteKey        string   `json:"site_key"`
			Role           string   `json:"role"`
			AllowedOrigins []string `json:"allowed_origins"`
		}
		if r.Status != http.StatusOK {
			t.Fatalf("GET project with a CLI token: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &p)
		if p.SiteKey != first["site_key"] || p.Role != "owner" || !cmp.Equal(p.AllowedOrigins, []string{"https://shop.example"}) {
			t.Errorf("project as seen with the token: %+v", p)
		}
	}
	me := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/me", Token: created["token"]})
	if me.Status != http.StatusOK || !strings.Contains(string(me.Body), `"platform_admin":true`) ||
		!strings.Contains(string(me.Body), `"admin@cli.example"`) {
		t.Errorf("/v1/me: %d %s", me.Status, me.Body)
	}
	login := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/session",
		Body: map[string]string{"email": "admin@cli.example", "password": bootstrapPassword}})
	if login.Status != http.StatusOK {
		t.Errorf("login with the bootstrap password: %d %s", login.Status, login.Body)
	}
}

// ingestClick stores one click with element text through the real group commit.
func ingestClick(t *testing.T, st *models.Store, projectID uuid.UUID, visitorID, text string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := models.NewIngester(st, models.IngesterConfig{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { defer close(done); in.Run(ctx) }()
	defer func() { cancel(); <-done }()
	now := st.Now().UTC()
	err := in.Submit(ctx, &models.Batch{ProjectID: projectID, Day: now, Dropped: map[string]int64{}, Events: []models.Event{{
		ProjectID: projectID, TS: now, VisitorHash: st.VisitorHash(projectID, visitorID),
		SessionHash: st.VisitorHash(projectID, "s-"+visitorID), Type: "click", Path: "/", PathGroup: "/",
		Channel: "direct", Device: "desktop", ElTag: "button", ElText: text, ElAttrs: map[string]string{"title": text},
	}}})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

// readable checks that a store opens every kind of sealed value of the fixture.
func readable(t *testing.T, st *models.Store, projectID, userID uuid.UUID) error {
	t.Helper()
	ctx := context.Background()
	u, err := st.User(ctx, userID)
	if err != nil {
		return err
	}
	if u.Email != "admin@cli.example" {
		t.Fatalf("email %q after rotation", u.Email)
	}
	ms, err := st.Members(ctx, projectID)
	if err != nil {
		return err
	}
	if len(ms) != 2 || ms[1].Email != "member@cli.example" {
		t.Fatalf("members after rotation: %+v", ms)
	}
	bc, err := st.GetBusinessContext(ctx, projectID)
	if err != nil {
		return err
	}
	if bc.Goals != "sell umbrellas" {
		t.Fatalf("business context after rotation: %+v", bc)
	}
	exp, err := st.ExportVisitor(ctx, projectID, st.VisitorHash(projectID, "visitor-1"))
	if err != nil {
		return err
	}
	if len(exp.Events) != 1 || exp.Events[0].ElText != "Buy now" || exp.Events[0].ElAttrs["title"] != "Buy now" {
		t.Fatalf("events after rotation: %+v", exp.Events)
	}
	return nil
}

func storeWith(t *testing.T, e *testenv.Env, spec string) *models.Store {
	t.Helper()
	kr, err := privacy.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	return models.NewStore(e.Pool, e.Keys, kr, e.Index)
}

func TestRotateKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := testenv.New(t)
	env := cliEnv(t, e)
	boot := decodeKeys(t, mustCLI(t, env, bootstrapPassword+"\n", bootstrapArgs()...), "user_id", "token", "project_id", "site_key")
	pid, uid := uuid.MustParse(boot["project_id"]), uuid.MustParse(boot["user_id"])
	if _, err := e.Store.AddMember(ctx, pid, "member@cli.example", models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.SetBusinessContext(ctx, pid, uid, models.BusinessContext{Goals: "sell umbrellas"}); err != nil {
		t.Fatal(err)
	}
	ingestClick(t, e.Store, pid, "visitor-1", "Buy now")
	old := e.Secrets.EncryptionKeys
	if err := readable(t, storeWith(t, e, old), pid, uid); err != nil {
		t.Fatalf("before rotation: %v", err)
	}

	k2, err := privacy.GenerateKeyringSpec("k2")
	if err != nil {
		t.Fatal(err)
	}
	env["PERSONAS_ENCRYPTION_KEYS"] = k2 + "," + old
	mustCLI(t, env, "", "admin", "rotate-keys")
	var stale int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM users
		WHERE substring(email_enc from 3 for get_byte(email_enc, 1)) <> 'k2'::bytea`).Scan(&stale); err != nil || stale != 0 {
		t.Errorf("%d emails not sealed under k2 after rotate-keys (%v)", stale, err)
	}
	if err := e.Keys.QueryRow(ctx, `SELECT count(*) FROM project_keys WHERE kek_id <> 'k2'`).Scan(&stale); err != nil || stale != 0 {
		t.Errorf("%d project keys not wrapped by k2 after rotate-keys (%v)", stale, err)
	}
	// The old key removed, everything opens; the old key alone opens nothing any more.
	if err := readable(t, storeWith(t, e, k2), pid, uid); err != nil {
		t.Fatalf("with k1 removed: %v", err)
	}
	if _, err := storeWith(t, e, old).GetBusinessContext(ctx, pid); err == nil {
		t.Error("the old key alone still opens the project's data: the project key was not re-wrapped")
	}
	env["PERSONAS_ENCRYPTION_KEYS"] = k2
	decodeKeys(t, mustCLI(t, env, "", "admin", "create-token", "--email", "admin@cli.example", "--json"), "user_id", "token", "token_id")

	// --data: fresh project data keys; the old generations are gone and the data still reads.
	var sealedBefore []byte
	if err := e.Pool.QueryRow(ctx, `SELECT context_enc FROM business_context WHERE project_id = $1`, pid).Scan(&sealedBefore); err != nil {
		t.Fatal(err)
	}
	gens := func() []int {
		rows, err := e.Keys.Query(ctx, `SELECT generation FROM project_keys WHERE project_id = $1 ORDER BY generation`, pid)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var g int
			if err := rows.Scan(&g); err != nil {
				t.Fatal(err)
			}
			out = append(out, g)
		}
		return out
	}
	before := gens()
	mustCLI(t, env, "", "admin", "rotate-keys", "--data", "--grace", "200ms") // no instance runs here
	after := gens()
	if len(after) != 1 || len(before) != 1 || after[0] <= before[0] {
		t.Fatalf("data key generations %v before, %v after rotate-keys --data: want one newer generation only", before, after)
	}
	var sealedAfter []byte
	if err := e.Pool.QueryRow(ctx, `SELECT context_enc FROM business_context WHERE project_id = $1`, pid).Scan(&sealedAfter); err != nil {
		t.Fatal(err)
	}
	if string(sealedAfter) == string(sealedBefore) {
		t.Error("business context ciphertext unchanged by rotate-keys --data")
	}
	for _, col := range models.EncryptedColumns {
		var n int
		q := `SELECT count(*) FROM ` + col.Table + ` WHERE project_id = $1 AND ` + col.Column + ` IS NOT NULL
			AND substring(` + col.Column + ` from 3 for get_byte(` + col.Column + `, 1)) <> $2::bytea`
		if err := e.Pool.QueryRow(ctx, q, pid, []byte("p"+strconv.Itoa(after[0]))).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s.%s: %d values not under the new data key (%v)", col.Table, col.Column, n, err)
		}
	}
	if err := readable(t, storeWith(t, e, k2), pid, uid); err != nil {
		t.Fatalf("after rotate-keys --data: %v", err)
	}
	// Run again: it is safe to repeat (a resumed or second rotation).
	mustCLI(t, env, "", "admin", "rotate-keys", "--data", "--grace", "200ms") // no instance runs here
	if err := readable(t, storeWith(t, e, k2), pid, uid); err != nil {
		t.Fatalf("after a second rotate-keys --data: %v", err)
	}
}
