package api

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"personas/jobs/queue"
	"personas/models"
)

func TestTaskRows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	tests := []struct {
		name          string
		tasks         []models.PeriodicTask
		training      string
		trainingIssue bool
		retention     string
	}{
		{"nothing ran", nil, "has not run yet: a running worker (personas worker or personas all) runs it every minute", true,
			"has not run yet: a running worker (personas worker or personas all) runs it every hour"},
		{"both fine", []models.PeriodicTask{
			{Task: queue.TypeSafetyNet, LastStarted: *at(2 * time.Minute), LastSuccess: at(2 * time.Minute), Successes: 50},
			{Task: queue.TypeRetentionSweep, LastStarted: *at(50 * time.Minute), LastSuccess: at(50 * time.Minute), Successes: 3},
		}, "last ran 2 minutes ago", false, "last ran 50 minutes ago"},
		{"failing since", []models.PeriodicTask{
			{Task: queue.TypeSafetyNet, LastStarted: *at(time.Minute), LastSuccess: at(2 * time.Hour), LastFailure: at(time.Minute),
				FailingSince: at(3 * time.Minute), FailingStreak: 3, Failures: 7, Successes: 100},
		}, "failed 3 times since 1 Dec 2026, 19:57 UTC; it last succeeded 2 hours ago", true,
			"has not run yet since the worker started: it runs every hour"},
		{"failed once, never succeeded", []models.PeriodicTask{
			{Task: queue.TypeSafetyNet, LastStarted: *at(time.Minute), LastFailure: at(time.Minute), FailingSince: at(time.Minute),
				FailingStreak: 1, Failures: 1},
		}, "failed once since 1 Dec 2026, 19:59 UTC; it never succeeded", true,
			"has not run yet since the worker started: it runs every hour"},
		{"silent worker", []models.PeriodicTask{
			{Task: queue.TypeSafetyNet, LastStarted: *at(3 * time.Hour), LastSuccess: at(3 * time.Hour), Successes: 9},
			{Task: queue.TypeRetentionSweep, LastStarted: *at(5 * time.Hour), LastSuccess: at(5 * time.Hour), Successes: 3},
		}, "last ran 3 hours ago, and should have run again since: is a worker running?", true,
			"last ran 5 hours ago, and should have run again since: is a worker running?"},
		{"first run still going", []models.PeriodicTask{
			{Task: queue.TypeSafetyNet, LastStarted: *at(30 * time.Second)},
		}, "started just now and has not finished yet", false,
			"has not run yet since the worker started: it runs every hour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := taskRows(tt.tasks, now)
			if len(rows) != 2 || rows[0].Name != "Automatic training" || rows[1].Name != "Expiry of old data" {
				t.Fatalf("rows %+v, want automatic training, then expiry", rows)
			}
			// The hourly expiry waiting for its first turn while a worker runs is no problem; it
			// is one when nothing shows a worker at all.
			got := []any{rows[0].Status, rows[0].Problem, rows[1].Status, rows[1].Problem}
			want := []any{tt.training, tt.trainingIssue, tt.retention, tt.retention != "last ran 50 minutes ago" && tt.retention != "has not run yet since the worker started: it runs every hour"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
