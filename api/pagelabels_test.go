package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/internal/testserver"
	"personas/models"
)

// TestPageLabels: the page-label table is read and replaced whole through the API and the
// Settings form (with its CSRF token), bounded, and audited; a stranger's project is not found.
func TestPageLabels(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	owner := srv.NewAccount(t, "owner@labels.example", false)
	other := srv.NewAccount(t, "other@labels.example", false)
	p := "/v1/projects/" + owner.ProjectID.String() + "/page-labels"
	type body struct {
		Labels []models.PageLabel `json:"labels"`
	}

	r := srv.Do(t, testserver.Request{Method: "PUT", Path: p, Token: owner.Token, Body: body{Labels: []models.PageLabel{
		{PathGroup: "/p/:id", Label: " Seed packets "}, {PathGroup: "/c/:slug", Label: "Garden categories"}}}})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT page labels: %d %s", r.Status, r.Body)
	}
	want := []models.PageLabel{{PathGroup: "/c/:slug", Label: "Garden categories"}, {PathGroup: "/p/:id", Label: "Seed packets"}}
	var got body
	srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: owner.Token}).JSON(t, &got)
	if diff := cmp.Diff(want, got.Labels); diff != "" {
		t.Errorf("stored labels (-want +got):\n%s", diff)
	}

	tooMany := body{}
	for i := range models.MaxPageLabels + 1 {
		tooMany.Labels = append(tooMany.Labels, models.PageLabel{PathGroup: fmt.Sprintf("/g%d", i), Label: "G"})
	}
	for name, b := range map[string]any{
		"101 labels":      tooMany,
		"no labels field": map[string]any{},
		"label of 41":     body{Labels: []models.PageLabel{{PathGroup: "/p", Label: strings.Repeat("a", 41)}}},
		"markup":          body{Labels: []models.PageLabel{{PathGroup: "/p", Label: "<b>x</b>"}}},
		"unknown field":   map[string]any{"labels": []any{}, "extra": 1},
	} {
		if r := srv.Do(t, testserver.Request{Method: "PUT", Path: p, Token: owner.Token, Body: b}); r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, r.Status, r.Body)
		}
	}
	if r := srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: other.Token}); r.Status != http.StatusNotFound {
		t.Errorf("another tenant reads the labels: %d, want 404", r.Status)
	}
	srv.Do(t, testserver.Request{Method: "GET", Path: p, Token: owner.Token}).JSON(t, &got)
	if diff := cmp.Diff(want, got.Labels); diff != "" {
		t.Errorf("a refused PUT changed the labels (-want +got):\n%s", diff)
	}

	// The Settings form replaces the table from its textarea.
	cookie, csrf, _ := session(t, srv, owner.Email)
	form := "/projects/" + owner.ProjectID.String() + "/settings/page-labels"
	status, _ := formPost(t, srv, form, cookie, url.Values{"csrf_token": {csrf}, "page_labels": {"/blog = Gardening stories\n\n /p/:id=Seeds \n"}},
		map[string]string{"Origin": srv.URL})
	if status != http.StatusSeeOther {
		t.Fatalf("page-label form: status %d, want 303", status)
	}
	if status, _ := formPost(t, srv, form, cookie, url.Values{"csrf_token": {csrf}, "page_labels": {"/blog Gardening stories"}},
		map[string]string{"Origin": srv.URL}); status != http.StatusBadRequest {
		t.Errorf("a line without =: status %d, want 400", status)
	}
	if status, _ := formPost(t, srv, form, cookie, url.Values{"page_labels": {"/x = y"}}, map[string]string{"Origin": srv.URL}); status != http.StatusForbidden {
		t.Errorf("form without its CSRF token: status %d, want 403", status)
	}
	labels, err := srv.Store.PageLabels(context.Background(), owner.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(models.PageLabels{"/blog": "Gardening stories", "/p/:id": "Seeds"}, labels); diff != "" {
		t.Errorf("labels after the form (-want +got):\n%s", diff)
	}
	if got := labels.Label("/cart"); got != "Cart" {
		t.Errorf("unlabelled /cart reads %q, want the default Cart", got)
	}

	var audit struct {
		Entries []struct {
			Action string `json:"action"`
		} `json:"entries"`
	}
	srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + owner.ProjectID.String() + "/audit", Token: owner.Token}).JSON(t, &audit)
	n := 0
	for _, e := range audit.Entries {
		if e.Action == "page_labels.update" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d page_labels.update audit entries, want 2 (the PUT and the form)", n)
	}
}
