package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"personas/config"
	"personas/internal/testenv"
)

// testEnv is the environment of one run of the binary: fresh databases, own Redis DB, secrets.
func testEnv(t *testing.T, dataURL, keysURL, redisURL string) map[string]string {
	t.Helper()
	port := testenv.FreePort(t)
	env := map[string]string{
		"PERSONAS_DATABASE_URL":     dataURL,
		"PERSONAS_KEYSTORE_URL":     keysURL,
		"PERSONAS_REDIS_URL":        redisURL,
		"PERSONAS_HTTP_ADDR":        "127.0.0.1:" + strconv.Itoa(port),
		"PERSONAS_PUBLIC_URL":       "http://127.0.0.1:" + strconv.Itoa(port),
		"PERSONAS_KEY_FILE":         filepath.Join(t.TempDir(), "keys.env"),
		"PERSONAS_SHUTDOWN_TIMEOUT": "10s",
		"PERSONAS_LOG_FORMAT":       "json",
	}
	for k, v := range testenv.NewSecrets(t).Env() {
		env[k] = v
	}
	return env
}

type running struct {
	cancel context.CancelFunc
	done   chan error
	out    *testenv.Buffer
	base   string
}

// start runs `personas args...` in-process until stop.
func start(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), out: &testenv.Buffer{}, base: env["PERSONAS_PUBLIC_URL"]}
	go func() {
		r.done <- run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), r.out, r.out)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not stop within 30 s; output:\n%s", r.out.String())
		return nil
	}
}

func get(url string) (int, string) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitStatus(t *testing.T, url string, want int, within time.Duration, r *running) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body := get(url)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: status %d (%s), want %d within %s; output:\n%s", url, code, body, want, within, r.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, nil, &out, &out); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, v := range config.Vars {
		if !strings.Contains(out.String(), v.Name) {
			t.Errorf("--help does not list %s", v.Name)
		}
	}
	for _, cmd := range []string{"serve", "worker", "all", "migrate", "admin bootstrap", "demo", "import --from matomo|ga4|ndjson"} {
		if !strings.Contains(out.String(), "personas "+cmd) {
			t.Errorf("--help does not mention %q", cmd)
		}
	}
	for _, sub := range [][]string{{"serve", "--help"}, {"worker", "-h"}, {"migrate", "--help"}, {"admin", "bootstrap", "--help"}, {"import", "--help"}} {
		var o bytes.Buffer
		if err := run(context.Background(), sub, func(string) string { return "" }, nil, &o, &o); err != nil {
			t.Errorf("%v: %v", sub, err)
		}
		if !strings.Contains(o.String(), "Usage: personas") {
			t.Errorf("%v printed no usage: %q", sub, o.String())
		}
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, nil, &out, &out)
	if !errors.Is(err, errUsage) {
		t.Fatalf("err = %v, want a usage error", err)
	}
}

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct{ variable, value string }{
		{"PERSONAS_HTTP_ADDR", "nonsense"},
		{"PERSONAS_DATABASE_URL", "mysql://localhost/x"},
		{"PERSONAS_REDIS_URL", "localhost:6379"},
		{"PERSONAS_ENCRYPTION_KEYS", "k1:not-base64!"},
	}
	for _, tt := range tests {
		t.Run(tt.variable, func(t *testing.T) {
			env := testEnv(t, "postgres://postgres@127.0.0.1:5432/x?sslmode=disable", "postgres://postgres@127.0.0.1:5432/x_keys?sslmode=disable", "redis://127.0.0.1:6379/0")
			env[tt.variable] = tt.value
			var out bytes.Buffer
			err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, nil, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Fatalf("serve with %s=%q: err %v does not name the variable", tt.variable, tt.value, err)
			}
		})
	}
}

func TestMigrateFromEmptyThenServe(t *testing.T) {
	t.Parallel()
	// Empty databases (not from the migrated template): migrate creates both and applies all.
	name := fmt.Sprintf("personas_t_%d", time.Now().UnixNano())
	base := "postgres://postgres@127.0.0.1:5432/"
	dataURL, keysURL := base+name+"?sslmode=disable", base+name+"_keys?sslmode=disable"
	t.Cleanup(func() { dropDatabases(t, name, name+"_keys") })
	_, redisURL := testenv.Redis(t)
	env := testEnv(t, dataURL, keysURL, redisURL)
	get := func(k string) string { return env[k] }

	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "status"}, get, nil, &out, &out); err == nil {
		t.Fatalf("migrate status on a missing database succeeded: %s", out.String())
	}

	// A server on an empty (older) schema refuses to serve.
	out.Reset()
	if err := run(context.Background(), []string{"migrate", "up"}, get, nil, &out, &out); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "data schema at version") {
		t.Errorf("migrate up printed %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"migrate", "status"}, get, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "(up to date)") != 2 {
		t.Errorf("migrate status after up: %q", out.String())
	}
	// With a read URL (here the primary itself stands in for a standby) the service serves too.
	env["PERSONAS_DATABASE_READ_URL"] = dataURL
	r := start(t, env, "serve")
	body := waitStatus(t, r.base+"/readyz", http.StatusOK, 30*time.Second, r)
	if !strings.Contains(body, `"schema":"ok"`) {
		t.Errorf("readyz body %s", body)
	}
}

func TestRefusesToServeAnOlderSchema(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("personas_old_%d", time.Now().UnixNano())
	base := "postgres://postgres@127.0.0.1:5432/"
	dataURL, keysURL := base+name+"?sslmode=disable", base+name+"_keys?sslmode=disable"
	t.Cleanup(func() { dropDatabases(t, name, name+"_keys") })
	for _, n := range []string{name, name + "_keys"} {
		psql(t, "CREATE DATABASE "+n)
	}
	_, redisURL := testenv.Redis(t)
	env := testEnv(t, dataURL, keysURL, redisURL)
	r := start(t, env, "serve")
	select {
	case err := <-r.done:
		r.done <- err
		if err == nil || !strings.Contains(err.Error(), "personas migrate") {
			t.Fatalf("serve on an unmigrated database: err %v, want a refusal naming `personas migrate`", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve kept running on an unmigrated database; output:\n%s", r.out.String())
	}
}

// TestReadyFlipsWhenRedisStarts starts the service while its Redis (a private server on a free
// port) is down: /readyz answers 200 (collect and classify need only PostgreSQL) and reports
// Redis unreachable in its body and in /metrics, the log says why, and once Redis starts the
// body and the gauge say so and the worker starts, without a restart.
func TestReadyFlipsWhenRedisStarts(t *testing.T) {
	t.Parallel()
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not installed: run scripts/services.sh")
	}
	e := testenv.New(t)
	port := testenv.FreePort(t)
	env := testEnv(t, e.DataURL, e.KeysURL, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	r := start(t, env, "all")
	body := waitStatus(t, r.base+"/readyz", http.StatusOK, 20*time.Second, r)
	if !strings.Contains(body, `"redis":"unreachable"`) || !strings.Contains(body, `"postgres":"ok"`) || !strings.Contains(body, `"ready":true`) {
		t.Errorf("readyz while Redis is down: %s", body)
	}
	if _, m := get(r.base + "/metrics"); !strings.Contains(m, `personas_dependency_up{dependency="redis"} 0`) {
		t.Errorf("/metrics while Redis is down lacks personas_dependency_up{dependency=\"redis\"} 0")
	}
	cmd := exec.Command(redisServer, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, b := get(r.base + "/readyz"); strings.Contains(b, `"redis":"ok"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz does not report Redis up after it started; output:\n%s", r.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, m := get(r.base + "/metrics"); !strings.Contains(m, `personas_dependency_up{dependency="redis"} 1`) {
		t.Errorf("/metrics once Redis is up lacks personas_dependency_up{dependency=\"redis\"} 1")
	}
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(r.out.String(), "worker started") {
		if time.Now().After(deadline) {
			t.Fatalf("worker did not start after Redis came up; output:\n%s", r.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(r.out.String(), "Redis unreachable, retrying") {
		t.Errorf("the log does not say Redis was unreachable:\n%s", r.out.String())
	}
	limit := int64(config.TrainMemoryLimit)
	if os.Getenv("GOMEMLIMIT") != "" {
		limit = debug.SetMemoryLimit(-1) // the operator's limit stands
	}
	if want := fmt.Sprintf(`"msg":"memory limit","bytes":%d`, limit); !strings.Contains(r.out.String(), want) || debug.SetMemoryLimit(-1) != limit {
		t.Errorf("the worker process does not run under, and log, its soft memory limit (%s; in force %d):\n%s", want, debug.SetMemoryLimit(-1), r.out.String())
	}
	if err := r.stop(t); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestMetricsExposeLatencyHistogram(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	_, redisURL := testenv.Redis(t)
	env := testEnv(t, e.DataURL, e.KeysURL, redisURL)
	r := start(t, env, "serve")
	waitStatus(t, r.base+"/readyz", http.StatusOK, 30*time.Second, r)
	if code, _ := get(r.base + "/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	code, body := get(r.base + "/metrics")
	if code != 200 {
		t.Fatalf("metrics %d", code)
	}
	for _, want := range []string{
		`personas_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200",le="0.005"}`,
		`personas_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`personas_db_pool_max_connections`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(r.out.String(), "PERSONAS_INDEX_KEY=") || strings.Contains(r.out.String(), env["PERSONAS_INDEX_KEY"]) {
		t.Error("a secret reached the log")
	}
}

func psql(t *testing.T, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func dropDatabases(t *testing.T, names ...string) {
	for _, n := range names {
		psql(t, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	_ = os.RemoveAll(binDir())
	os.Exit(code)
}
