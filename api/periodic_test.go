package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"personas/internal/testserver"
	"personas/jobs/queue"
	"personas/models"
)

// TestPeriodicTasksReported records runs of the periodic tasks as a worker (another process)
// would, and checks that /metrics counts the failures by task type with the last success's
// time, and that a viewer's health page says in plain words how automatic training is doing.
func TestPeriodicTasksReported(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@periodic.example", false)
	_, viewer := srv.Member(t, owner.ProjectID, "viewer@periodic.example", models.RoleViewer)
	ctx := context.Background()
	started := time.Now().Add(-3 * time.Minute)
	for i := 0; i < 3; i++ {
		if err := srv.Store.RecordPeriodicRun(ctx, queue.TypeSafetyNet, started.Add(time.Duration(i)*time.Minute), errors.New("boom")); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Store.RecordPeriodicRun(ctx, queue.TypeRetentionSweep, started, nil); err != nil {
		t.Fatal(err)
	}
	sweptAt := time.Now()

	metric := func(name, task string) (float64, bool) {
		t.Helper()
		r := srv.Do(t, testserver.Request{Method: "GET", Path: "/metrics"})
		if r.Status != http.StatusOK {
			t.Fatalf("/metrics: %d", r.Status)
		}
		prefix := fmt.Sprintf("%s{task=%q} ", name, task)
		for _, line := range strings.Split(string(r.Body), "\n") {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				var f float64
				if _, err := fmt.Sscan(v, &f); err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f, true
			}
		}
		return 0, false
	}
	health := func() string {
		t.Helper()
		r := srv.Do(t, testserver.Request{Method: "GET", Path: "/projects/" + owner.ProjectID.String() + "/health", Token: viewer})
		if r.Status != http.StatusOK {
			t.Fatalf("health page as a viewer: %d", r.Status)
		}
		return string(r.Body)
	}
	for _, m := range []struct {
		name, task string
		want       float64
	}{
		{"personas_periodic_task_failures_total", queue.TypeSafetyNet, 3},
		{"personas_periodic_task_failures_since_success", queue.TypeSafetyNet, 3},
		{"personas_periodic_task_failures_total", queue.TypeRetentionSweep, 0},
		{"personas_periodic_task_failures_since_success", queue.TypeRetentionSweep, 0},
	} {
		if got, ok := metric(m.name, m.task); !ok || got != m.want {
			t.Errorf("%s{task=%q} = %v (present %v), want %v", m.name, m.task, got, ok, m.want)
		}
	}
	if _, ok := metric("personas_periodic_task_last_success_timestamp_seconds", queue.TypeSafetyNet); ok {
		t.Error("a last-success time for the safety net, which never succeeded")
	}
	if got, ok := metric("personas_periodic_task_last_success_timestamp_seconds", queue.TypeRetentionSweep); !ok ||
		got < float64(sweptAt.Add(-5*time.Second).Unix()) || got > float64(sweptAt.Add(5*time.Second).Unix()) {
		t.Errorf("retention sweep's last success at %v (present %v), want about %d", got, ok, sweptAt.Unix())
	}
	ts, err := srv.Store.PeriodicTasks(ctx)
	if err != nil || len(ts) != 2 || ts[0].Task != queue.TypeSafetyNet || ts[0].FailingSince == nil {
		t.Fatalf("periodic tasks %+v (%v), want the safety net failing and the sweep", ts, err)
	}
	page := health()
	for _, want := range []string{
		"Background tasks",
		"<strong>Automatic training</strong> failed 3 times since " + ts[0].FailingSince.UTC().Format("2 Jan 2006, 15:04 UTC") + "; it never succeeded.",
		"<strong>Expiry of old data</strong> last ran just now.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the health page lacks %q", want)
		}
	}

	if err := srv.Store.RecordPeriodicRun(ctx, queue.TypeSafetyNet, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := metric("personas_periodic_task_failures_total", queue.TypeSafetyNet); got != 3 {
		t.Errorf("after a success, failures_total = %v, want 3 (a counter)", got)
	}
	if got, _ := metric("personas_periodic_task_failures_since_success", queue.TypeSafetyNet); got != 0 {
		t.Errorf("after a success, failures_since_success = %v, want 0", got)
	}
	if page := health(); !strings.Contains(page, "<strong>Automatic training</strong> last ran just now.") {
		t.Error("after a success, the health page does not say that automatic training last ran just now")
	}
}
