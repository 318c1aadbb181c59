package jobs

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"personas/internal/testenv"
)

// TestHandlersTakeTodaysPayloads hands each handler a task in the bytes the binary before
// jobs/queue queued (for ids the database does not hold): each decodes it and gets as far as
// the database, where a task of a deleted row is done (or, for a deletion, not retried).
func TestHandlersTakeTodaysPayloads(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	const project = `"project_id":"6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10"`
	tests := []struct {
		name      string
		h         asynq.Handler
		typ, body string
		skipRetry bool // the handler answers asynq.SkipRetry: the row is gone, retrying cannot help
	}{
		{"train", &Trainer{Store: env.Store, Logger: logger}, "model:train", `{"v":1,` + project + `}`, false},
		{"reclassify", &Reclassifier{Store: env.Store, Logger: logger}, "visitors:reclassify", `{"v":1,` + project + `}`, false},
		{"enrich", &Enricher{Store: env.Store, Logger: logger}, "persona:enrich",
			`{"v":1,` + project + `,"persona_id":"0b6f3d0e-5a55-4d0c-9a43-7c1f7c1b2a01"}`, false},
		{"redescribe", &Enricher{Store: env.Store, Logger: logger}, "persona:enrich",
			`{"v":1,` + project + `,"persona_id":"0b6f3d0e-5a55-4d0c-9a43-7c1f7c1b2a01","keep_name":true}`, false},
		{"deletion", &Deleter{Store: env.Store, Logger: logger}, "deletion:run", `{"v":1,"deletion_id":"9a2e4c61-0f3b-4b7d-b1d2-5e6f7a8b9c0d"}`, true},
		{"retention sweep", &RetentionSweeper{Store: env.Store, Logger: logger}, "retention:sweep", `{"v":1}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.ProcessTask(ctx, asynq.NewTask(tt.typ, []byte(tt.body)))
			if err != nil && strings.Contains(err.Error(), "decode") {
				t.Fatalf("today's payload %s does not decode: %v", tt.body, err)
			}
			if tt.skipRetry {
				if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "9a2e4c61") {
					t.Errorf("ProcessTask = %v, want the unknown deletion 9a2e4c61… not retried", err)
				}
			} else if err != nil {
				t.Errorf("ProcessTask = %v, want done", err)
			}
		})
	}
	// A payload that is not one fails for good (no retry).
	err := (&Trainer{Store: env.Store, Logger: logger}).ProcessTask(ctx, asynq.NewTask("model:train", []byte(`{"v":1}`)))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("training without a project: %v, want SkipRetry", err)
	}
}
