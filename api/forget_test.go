package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"personas/internal/testserver"
	"personas/models"
)

// TestForgetUnknownVisitorRecordsNothing: POST /v1/forget for a visitor the project holds
// nothing of answers 202 exactly like a known visitor's (same status, same fields), but stores
// no deletion request, so forged calls cannot grow the two-year deletion log. A visitor known by
// any of its rows (events, aggregates, assignment) still gets a visitor deletion that runs and
// holds a signed receipt.
func TestForgetUnknownVisitorRecordsNothing(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{})
	acct := srv.NewAccount(t, "forget-unknown@example.com", false)
	ctx := context.Background()
	pid := acct.ProjectID
	collect := func(t *testing.T, visitor string) {
		srv.Collect(t, acct.SiteKey, visitor, "s1", []map[string]any{{"type": "pageview", "ts": time.Now().UnixMilli(), "url": testserver.Origin + "/"}})
	}
	exec := func(t *testing.T, sql string, args ...any) {
		if _, err := srv.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, visitor string)
		known   bool
	}{
		{"never seen", func(*testing.T, string) {}, false},
		{"known by its events and aggregates", collect, true},
		{"known by its events alone", func(t *testing.T, v string) {
			collect(t, v)
			exec(t, `DELETE FROM visitor_features WHERE project_id = $1 AND visitor_hash = $2`, pid, srv.Store.VisitorHash(pid, v))
		}, true},
		{"known by its persona assignment alone", func(t *testing.T, v string) {
			exec(t, `INSERT INTO visitor_personas (project_id, visitor_hash, confidence, model_version) VALUES ($1, $2, 0.5, 1)`,
				pid, srv.Store.VisitorHash(pid, v))
		}, true},
		{"already forgotten", func(t *testing.T, v string) {
			collect(t, v)
			r := forget(t, srv, acct.SiteKey, v)
			waitDeletion(t, srv, r.ID)
		}, false},
	}
	var knownShape []string
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			visitor := fmt.Sprintf("visitor-%d", i)
			tt.prepare(t, visitor)
			before := deletionCount(t, srv, pid)
			r := forget(t, srv, acct.SiteKey, visitor)
			if r.ID == uuid.Nil || r.Status != models.DeletionQueued {
				t.Fatalf("answer id %s status %q, want an id and queued", r.ID, r.Status)
			}
			if knownShape == nil {
				knownShape = r.fields
			} else if diff := cmp.Diff(knownShape, r.fields); diff != "" {
				t.Errorf("answer fields differ between visitors (-first +this):\n%s", diff)
			}
			after := deletionCount(t, srv, pid)
			if !tt.known {
				if after != before {
					t.Errorf("deletion requests %d → %d for a visitor the project holds nothing of, want no new record", before, after)
				}
				if _, err := srv.Store.Deletion(ctx, r.ID); err == nil {
					t.Errorf("the answered id %s was stored", r.ID)
				}
				return
			}
			if after != before+1 {
				t.Fatalf("deletion requests %d → %d for a known visitor, want one more", before, after)
			}
			d := waitDeletion(t, srv, r.ID)
			if d.Scope != models.ScopeVisitor || d.Origin != "site" {
				t.Errorf("ran as %s from %s", d.Scope, d.Origin)
			}
			if rc := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + pid.String() + "/deletions/" + d.ID.String() + "/receipt",
				Token: acct.Token}); rc.Status != http.StatusOK {
				t.Errorf("receipt of the visitor deletion: %d %s", rc.Status, rc.Body)
			}
		})
	}
	t.Run("300 forged calls", func(t *testing.T) {
		before := deletionCount(t, srv, pid)
		for i := range 300 {
			forget(t, srv, acct.SiteKey, fmt.Sprintf("forged-%d", i))
		}
		if after := deletionCount(t, srv, pid); after != before {
			t.Errorf("300 forged forgets left %d deletion requests, want none", after-before)
		}
	})
}

type forgetAnswer struct {
	ID     uuid.UUID `json:"id"`
	Status string    `json:"status"`
	fields []string
}

func forget(t *testing.T, srv *testserver.Server, siteKey, visitor string) forgetAnswer {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/forget", Body: map[string]string{"site_key": siteKey, "visitor_id": visitor},
		Header: map[string]string{"Origin": testserver.Origin, "Content-Type": "text/plain"}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("forget %s: %d %s, want 202", visitor, r.Status, r.Body)
	}
	var a forgetAnswer
	r.JSON(t, &a)
	var m map[string]json.RawMessage
	r.JSON(t, &m)
	for k := range m {
		a.fields = append(a.fields, k)
	}
	sort.Strings(a.fields)
	return a
}

func deletionCount(t *testing.T, srv *testserver.Server, projectID uuid.UUID) int {
	t.Helper()
	var n int
	if err := srv.Pool.QueryRow(context.Background(), `SELECT count(*) FROM deletion_requests WHERE project_id = $1`, projectID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
