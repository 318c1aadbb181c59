package api

import (
	"context"
	"fmt"
	"time"

	"personas/jobs/queue"
	"personas/models"
)

// taskRow is one background (periodic) task on the health page, in plain words.
type taskRow struct {
	ID      string // for the element id
	Name    string // what a site owner calls it
	Status  string // "last ran 2 minutes ago", "failed 3 times since …"
	Purpose string
	Problem bool // failing, never ran, or silent for too long
}

// taskInfo says what each periodic task is for, and how long it may stay silent before the page
// says that no worker seems to run it (a few of its intervals).
var taskInfo = map[string]struct {
	id, name, purpose, every string
	silent                   time.Duration
}{
	queue.TypeSafetyNet: {"training", "Automatic training",
		"Trains a project's first model once it has 100 visitors, retrains weekly and after 20 % more visitors, and resumes interrupted deletions.",
		"every minute", 10 * time.Minute},
	queue.TypeRetentionSweep: {"retention", "Expiry of old data",
		"Removes events, visitors and logs past their retention.", "every hour", 3 * time.Hour},
}

// backgroundTasks reads the periodic tasks' runs, as any worker recorded them.
func (s *Server) backgroundTasks(ctx context.Context) ([]taskRow, error) {
	ts, err := s.store.PeriodicTasks(ctx)
	if err != nil {
		return nil, err
	}
	return taskRows(ts, time.Now()), nil
}

// taskRows words each periodic task's state at now: every task the worker schedules, whether it
// ran or not.
func taskRows(ts []models.PeriodicTask, now time.Time) []taskRow {
	byTask := map[string]models.PeriodicTask{}
	for _, t := range ts {
		byTask[t.Task] = t
	}
	// A worker is running when some task started within the time it may stay silent: then a
	// task that has not run yet is only waiting for its first turn, not a problem.
	alive := false
	for _, t := range ts {
		if info, ok := taskInfo[t.Task]; ok && now.Sub(t.LastStarted) <= info.silent {
			alive = true
		}
	}
	var rows []taskRow
	for _, typ := range queue.PeriodicTaskTypes() {
		info := taskInfo[typ]
		r := taskRow{ID: info.id, Name: info.name, Purpose: info.purpose}
		t, ran := byTask[typ]
		switch {
		case !ran && alive:
			r.Status = "has not run yet since the worker started: it runs " + info.every
		case !ran:
			r.Status, r.Problem = "has not run yet: a running worker (personas worker or personas all) runs it "+info.every, true
		case t.FailingStreak > 0 && t.FailingSince != nil:
			r.Status = fmt.Sprintf("failed %s since %s", countWords(t.FailingStreak), t.FailingSince.UTC().Format("2 Jan 2006, 15:04 UTC"))
			if t.LastSuccess != nil {
				r.Status += "; it last succeeded " + agoAt(*t.LastSuccess, now)
			} else {
				r.Status += "; it never succeeded"
			}
			r.Problem = true
		case t.LastSuccess != nil:
			r.Status = "last ran " + agoAt(*t.LastSuccess, now)
			if now.Sub(*t.LastSuccess) > info.silent {
				r.Status += ", and should have run again since: is a worker running?"
				r.Problem = true
			}
		default:
			r.Status = "started " + agoAt(t.LastStarted, now) + " and has not finished yet"
		}
		rows = append(rows, r)
	}
	return rows
}

// agoAt says how long before now t was, in words.
func agoAt(t, now time.Time) string { return ago(t.Add(time.Since(now))) }

func countWords(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}
