package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testserver"
	"personas/models"
	"personas/receipt"
)

func postDeletion(t *testing.T, srv *testserver.Server, token string, pid uuid.UUID, body map[string]string) testserver.Response {
	t.Helper()
	return srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + pid.String() + "/deletions", Token: token, Body: body})
}

func waitDeletion(t *testing.T, srv *testserver.Server, id uuid.UUID) models.Deletion {
	t.Helper()
	var d models.Deletion
	testserver.Eventually(t, 60*time.Second, "deletion "+id.String()+" done", func() bool {
		var err error
		d, err = srv.Store.Deletion(context.Background(), id)
		return err == nil && d.Status == models.DeletionDone
	})
	return d
}

// TestProjectDeletionAccess deletes a whole project and checks who sees what afterwards: the
// requester still reads the deletion and its receipt, members lose the project (404) but
// keep their accounts and tokens, and strangers never see the deletion.
func TestProjectDeletionAccess(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{})
	owner := srv.NewAccount(t, "owner@example.com", false)
	other := srv.NewAccount(t, "stranger@example.com", false)
	adminID, adminTok := srv.Member(t, owner.ProjectID, "admin@example.com", models.RoleAdmin)
	_, viewerTok := srv.Member(t, owner.ProjectID, "viewer@example.com", models.RoleViewer)
	pid := owner.ProjectID

	for _, tt := range []struct {
		name  string
		token string
		body  map[string]string
		want  int
	}{
		{"admin may not delete the project", adminTok, map[string]string{"scope": "all"}, http.StatusForbidden},
		{"viewer may not delete a visitor", viewerTok, map[string]string{"scope": "visitor", "visitor_id": "v1"}, http.StatusForbidden},
		{"visitor scope needs a visitor id", owner.Token, map[string]string{"scope": "visitor"}, http.StatusBadRequest},
		{"unknown scope", owner.Token, map[string]string{"scope": "everything"}, http.StatusBadRequest},
		{"another tenant's token", other.Token, map[string]string{"scope": "personas"}, http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := postDeletion(t, srv, tt.token, pid, tt.body); r.Status != tt.want {
				t.Errorf("status %d, want %d: %s", r.Status, tt.want, r.Body)
			}
		})
	}

	r := postDeletion(t, srv, owner.Token, pid, map[string]string{"scope": "all"})
	if r.Status != http.StatusAccepted {
		t.Fatalf("owner's project deletion: %d %s", r.Status, r.Body)
	}
	var acc struct {
		ID     uuid.UUID `json:"id"`
		Status string    `json:"status"`
	}
	r.JSON(t, &acc)
	if acc.Status != "queued" {
		t.Errorf("accepted with status %q, want queued", acc.Status)
	}
	d := waitDeletion(t, srv, acc.ID)
	dpath := "/v1/projects/" + pid.String() + "/deletions/" + d.ID.String()

	r = srv.Do(t, testserver.Request{Method: "GET", Path: dpath, Token: owner.Token})
	var view struct {
		Status         string           `json:"status"`
		Counts         map[string]int64 `json:"counts"`
		KeyDestroyedAt *time.Time       `json:"key_destroyed_at"`
		HasReceipt     bool             `json:"has_receipt"`
	}
	r.JSON(t, &view)
	if r.Status != http.StatusOK || view.Status != "done" || view.KeyDestroyedAt == nil || !view.HasReceipt || view.Counts["projects"] != 1 {
		t.Errorf("requester's GET deletion after the project is gone: %d %s", r.Status, r.Body)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: dpath + "/receipt", Token: owner.Token})
	if r.Status != http.StatusOK {
		t.Fatalf("requester's GET receipt: %d %s", r.Status, r.Body)
	}
	rc, err := receipt.Verify(r.Body, srv.Signer.PublicKey())
	if err != nil || rc.KeyDestroyedAt == nil || rc.Removed["memberships"] != 3 {
		t.Errorf("receipt %s: %v", r.Body, err)
	}

	for _, who := range []struct {
		name, token string
	}{{"owner", owner.Token}, {"admin", adminTok}, {"viewer", viewerTok}, {"stranger", other.Token}} {
		if r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + pid.String(), Token: who.token}); r.Status != http.StatusNotFound {
			t.Errorf("%s GET the deleted project: %d, want 404", who.name, r.Status)
		}
		if r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects", Token: who.token}); r.Status != http.StatusOK {
			t.Errorf("%s's token stopped working after the project was deleted: %d %s", who.name, r.Status, r.Body)
		}
	}
	for _, who := range []struct {
		name, token string
	}{{"admin member", adminTok}, {"stranger", other.Token}} {
		for _, p := range []string{dpath, dpath + "/receipt"} {
			if r := srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: who.token}); r.Status != http.StatusNotFound {
				t.Errorf("%s GET %s: %d, want 404", who.name, p, r.Status)
			}
		}
	}
	if _, err := srv.Store.User(context.Background(), adminID); err != nil {
		t.Errorf("the admin's account went with the project: %v", err)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + other.ProjectID.String(), Token: other.Token})
	if r.Status != http.StatusOK {
		t.Errorf("another project after the deletion: %d", r.Status)
	}
}

// TestForget runs a visitor's own erasure from the site: allowed origin only, answered 202,
// run as a visitor deletion with origin "site" and no requesting user.
func TestForget(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{})
	a := srv.NewAccount(t, "forget@example.com", false)
	srv.Collect(t, a.SiteKey, "visitor-1", "s1", []map[string]any{{"type": "pageview", "ts": time.Now().UnixMilli(), "url": testserver.Origin + "/"}})
	body := map[string]string{"site_key": a.SiteKey, "visitor_id": "visitor-1"}
	if r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/forget", Body: body,
		Header: map[string]string{"Origin": "https://evil.example"}}); r.Status != http.StatusForbidden {
		t.Errorf("forget from another origin: %d, want 403", r.Status)
	}
	if r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/forget", Body: map[string]string{"site_key": "pk_nope", "visitor_id": "x"},
		Header: map[string]string{"Origin": testserver.Origin}}); r.Status != http.StatusForbidden {
		t.Errorf("forget with an unknown site key: %d, want 403", r.Status)
	}
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/forget", Body: body, Header: map[string]string{"Origin": testserver.Origin}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("forget: %d %s", r.Status, r.Body)
	}
	var acc struct {
		ID uuid.UUID `json:"id"`
	}
	r.JSON(t, &acc)
	d := waitDeletion(t, srv, acc.ID)
	if d.Scope != models.ScopeVisitor || d.Origin != "site" || d.RequestedBy != nil || d.Counts["events"] != 1 || d.Counts["visitor_features"] != 1 {
		t.Errorf("forget ran as %s from %s by %v with counts %v", d.Scope, d.Origin, d.RequestedBy, d.Counts)
	}
}
