package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"personas/internal/testserver"
	"personas/models"
)

// TestDataKeyRotationWhileServing rotates a project's data key (what `personas admin
// rotate-keys --data` runs, from another process) while the API serves and has the old key
// cached: the API must seal what it collects afterwards with the new key, or those events
// would be unreadable once the old generation is destroyed.
func TestDataKeyRotationWhileServing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "rotate@keys.example", false)
	click := func(text string) []map[string]any {
		now := time.Now().UnixMilli()
		return []map[string]any{
			{"type": "pageview", "ts": now, "url": testserver.Origin + "/p/1"},
			{"type": "click", "ts": now + 1, "url": testserver.Origin + "/p/1",
				"element": map[string]any{"tag": "button", "text": text, "classes": []string{"buy"}}},
		}
	}
	srv.Collect(t, acct.SiteKey, "visitor-before", "s1", click("Add to cart")) // the API now caches the key

	// Another process (its own Store, its own cache) rotates.
	cli := models.NewStore(srv.Pool, srv.Keys, srv.Keyring, srv.Index)
	// The API hears the notification at once; the grace only needs to cover that.
	if _, err := cli.ResealProjectData(ctx, models.RotationOptions{Grace: 500 * time.Millisecond}); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	testserver.Eventually(t, 10*time.Second, "the API hears of the rotation", func() bool {
		r := srv.Do(t, testserver.Request{Method: "GET", Path: "/metrics"})
		return strings.Contains(string(r.Body), `personas_cache_notifications_total{kind="keys_rotated"} 2`)
	})
	srv.Collect(t, acct.SiteKey, "visitor-after", "s2", click("Checkout"))

	var gens []int
	rows, err := srv.Keys.Query(ctx, `SELECT generation FROM project_keys WHERE project_id = $1`, acct.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var g int
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		gens = append(gens, g)
	}
	if len(gens) != 1 || gens[0] != 2 {
		t.Fatalf("data key generations after rotation: %v, want [2]", gens)
	}
	fresh := models.NewStore(srv.Pool, srv.Keys, srv.Keyring, srv.Index) // nothing cached: only generation 2
	for visitor, want := range map[string]string{"visitor-before": "Add to cart", "visitor-after": "Checkout"} {
		exp, err := fresh.ExportVisitor(ctx, acct.ProjectID, fresh.VisitorHash(acct.ProjectID, visitor))
		if err != nil {
			t.Fatalf("export %s after rotation: %v", visitor, err)
		}
		var texts []string
		for _, e := range exp.Events {
			if e.ElText != "" {
				texts = append(texts, e.ElText)
			}
		}
		if len(texts) != 1 || texts[0] != want {
			t.Errorf("%s: element texts %q, want [%q]", visitor, texts, want)
		}
	}
}
