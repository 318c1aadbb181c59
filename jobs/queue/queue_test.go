package queue_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"personas/internal/testenv"
	"personas/jobs/queue"
)

var (
	projectID  = uuid.MustParse("6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10")
	personaID  = uuid.MustParse("0b6f3d0e-5a55-4d0c-9a43-7c1f7c1b2a01")
	deletionID = uuid.MustParse("9a2e4c61-0f3b-4b7d-b1d2-5e6f7a8b9c0d")
)

// TestTaskBytes: every constructor makes the task type and payload bytes the binary before this
// package queued, so tasks already in Redis and tasks of a new binary are the same.
func TestTaskBytes(t *testing.T) {
	must := func(t *asynq.Task, err error) *asynq.Task {
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		name        string
		task        *asynq.Task
		wantType    string
		wantPayload string
	}{
		{"deletion", must(queue.NewDeletion(deletionID)), "deletion:run", `{"v":1,"deletion_id":"9a2e4c61-0f3b-4b7d-b1d2-5e6f7a8b9c0d"}`},
		{"train", must(queue.NewTrain(projectID)), "model:train", `{"v":1,"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10"}`},
		{"retrain", must(queue.NewRetrain(projectID, time.Hour)), "model:train", `{"v":1,"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10"}`},
		{"reclassify", must(queue.NewReclassify(projectID)), "visitors:reclassify", `{"v":1,"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10"}`},
		{"enrich", must(queue.NewEnrich(projectID, personaID)), "persona:enrich",
			`{"v":1,"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10","persona_id":"0b6f3d0e-5a55-4d0c-9a43-7c1f7c1b2a01"}`},
		{"redescribe", must(queue.NewRedescribe(projectID, personaID)), "persona:enrich",
			`{"v":1,"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10","persona_id":"0b6f3d0e-5a55-4d0c-9a43-7c1f7c1b2a01","keep_name":true}`},
		{"retention sweep", must(queue.NewRetentionSweep()), "retention:sweep", `{"v":1}`},
		{"safety net", must(queue.NewSafetyNet()), "maintenance:safety-net", `{"v":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.task.Type() != tt.wantType || string(tt.task.Payload()) != tt.wantPayload {
				t.Errorf("task %s %s, want %s %s", tt.task.Type(), tt.task.Payload(), tt.wantType, tt.wantPayload)
			}
		})
	}
}

// TestOldPayloadsDecode: payloads in the bytes queued today decode into the payload types.
func TestOldPayloadsDecode(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		into    any
		want    any
	}{
		{"deletion", `{"v":1,"deletion_id":"9a2e4c61-0f3b-4b7d-b1d2-5e6f7a8b9c0d"}`, &queue.DeletionPayload{},
			&queue.DeletionPayload{Version: 1, DeletionID: deletionID}},
		{"project", `{"v":1,"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10"}`, &queue.ProjectPayload{},
			&queue.ProjectPayload{Version: 1, ProjectID: projectID}},
		{"enrich", `{"v":1,"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10","persona_id":"0b6f3d0e-5a55-4d0c-9a43-7c1f7c1b2a01"}`,
			&queue.EnrichPayload{}, &queue.EnrichPayload{Version: 1, ProjectID: projectID, PersonaID: personaID}},
		{"redescribe", `{"v":1,"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10","persona_id":"0b6f3d0e-5a55-4d0c-9a43-7c1f7c1b2a01","keep_name":true}`,
			&queue.EnrichPayload{}, &queue.EnrichPayload{Version: 1, ProjectID: projectID, PersonaID: personaID, KeepName: true}},
		{"retention sweep", `{"v":1}`, &queue.RetentionSweepPayload{}, &queue.RetentionSweepPayload{Version: 1}},
		{"safety net", `{"v":1}`, &queue.SafetyNetPayload{}, &queue.SafetyNetPayload{Version: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tt.payload), tt.into); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.into); diff != "" {
				t.Errorf("decoded payload (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEnqueueOptions enqueues each task type through the Client and reads back from Redis the
// queue, retries, timeout and id each constructor set.
func TestEnqueueOptions(t *testing.T) {
	rdb, _ := testenv.Redis(t)
	ctx := context.Background()
	c := queue.NewClient(rdb)
	in := asynq.NewInspectorFromRedisClient(rdb)
	type want struct {
		Type     string
		Queue    string
		MaxRetry int
		Timeout  time.Duration
		State    asynq.TaskState
	}
	find := func(t *testing.T, q, typ string, state asynq.TaskState) *asynq.TaskInfo {
		t.Helper()
		list := in.ListPendingTasks
		if state == asynq.TaskStateScheduled {
			list = in.ListScheduledTasks
		}
		tasks, err := list(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range tasks {
			if ti.Type == typ {
				return ti
			}
		}
		t.Fatalf("no %s task %s in queue %s", state, typ, q)
		return nil
	}
	tests := []struct {
		name    string
		enqueue func() error
		want    want
	}{
		{"deletion", func() error { return c.EnqueueDeletion(ctx, deletionID) },
			want{"deletion:run", "critical", 25, 30 * time.Minute, asynq.TaskStatePending}},
		{"train", func() error { return c.EnqueueTrain(ctx, projectID) },
			want{"model:train", "default", 2, 20 * time.Minute, asynq.TaskStatePending}},
		{"retrain", func() error { return c.EnqueueRetrain(ctx, personaID, time.Hour) },
			want{"model:train", "default", 5, 20 * time.Minute, asynq.TaskStateScheduled}},
		{"reclassify", func() error { return c.EnqueueReclassify(ctx, projectID) },
			want{"visitors:reclassify", "low", 25, 30 * time.Minute, asynq.TaskStatePending}},
		{"enrich", func() error { return c.EnqueueEnrich(ctx, projectID, personaID) },
			want{"persona:enrich", "default", 1, 3 * time.Minute, asynq.TaskStatePending}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.enqueue(); err != nil {
				t.Fatal(err)
			}
			ti := find(t, tt.want.Queue, tt.want.Type, tt.want.State)
			got := want{ti.Type, ti.Queue, ti.MaxRetry, ti.Timeout, ti.State}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("enqueued task (-want +got):\n%s", diff)
			}
			if tt.name == "deletion" && (ti.ID != "deletion:"+deletionID.String() || ti.Retention != 24*time.Hour) {
				t.Errorf("deletion task id %q retention %s, want the row's id and 24h", ti.ID, ti.Retention)
			}
			// Enqueued again: unique or the same id, so still one task and no error.
			if err := tt.enqueue(); err != nil {
				t.Errorf("second enqueue: %v, want the duplicate to count as enqueued", err)
			}
		})
	}
	for q, n := range map[string]int{"critical": 1, "default": 3, "low": 1} {
		info, err := in.GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Pending + info.Scheduled; got != n {
			t.Errorf("queue %s holds %d tasks, want %d (each enqueued twice, kept once)", q, got, n)
		}
	}
}

// TestPeriodicTaskTypes: the scheduler's tasks in the order reports list them.
func TestPeriodicTaskTypes(t *testing.T) {
	if diff := cmp.Diff([]string{"maintenance:safety-net", "retention:sweep"}, queue.PeriodicTaskTypes()); diff != "" {
		t.Errorf("PeriodicTaskTypes (-want +got):\n%s", diff)
	}
}
