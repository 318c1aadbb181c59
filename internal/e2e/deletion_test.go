package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"personas/internal/demodata"
	"personas/internal/residue"
	"personas/internal/testenv"
	"personas/internal/testserver"
	"personas/jobs"
	"personas/jobs/queue"
	"personas/models"
	"personas/receipt"
)

// clickText is the element text collected live; it must never reach a receipt.
const clickText = "Order the blue umbrella"

// populated is a project filled through the real paths.
type populated struct {
	testserver.Account
	Visitors []string // demo visitors imported, then the live one
	Version  int      // the model version trained
}

// populate fills a project the way a site does: live collection with element text, an
// import of the demo shop's history, business context, a training through the API, its
// persona assignments (the reclassify job and live classify calls) and an enrichment log.
func populate(t *testing.T, srv *testserver.Server, email string, seed uint64) populated {
	t.Helper()
	ctx := context.Background()
	acct := srv.NewAccount(t, email, false)
	p := populated{Account: acct}
	path := "/v1/projects/" + acct.ProjectID.String()
	vs := demodata.Generate(demodata.Config{Visitors: 120, Days: 10, End: time.Now().Add(-time.Hour), Site: testserver.Origin, Seed: seed})
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, v := range vs {
		p.Visitors = append(p.Visitors, v.ID)
		for _, l := range v.Lines {
			_ = enc.Encode(l)
		}
	}
	r := srv.Do(t, testserver.Request{Method: "POST", Path: path + "/import", Token: acct.Token, Body: body.Bytes(),
		Header: map[string]string{"Content-Type": "application/x-ndjson"}})
	if r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	live := "live-" + email
	now := time.Now().UnixMilli()
	srv.Collect(t, acct.SiteKey, live, "s-"+email, []map[string]any{
		{"type": "pageview", "ts": now - 2000, "url": testserver.Origin + "/p/42?utm_source=news"},
		{"type": "click", "ts": now - 1000, "url": testserver.Origin + "/p/42",
			"element": map[string]any{"tag": "button", "id": "buy", "classes": []string{"btn"}, "text": clickText}},
	})
	p.Visitors = append(p.Visitors, live)
	if r := srv.Do(t, testserver.Request{Method: "PUT", Path: path + "/context", Token: acct.Token,
		Body: map[string]string{"goals": "sell umbrellas", "industry": "retail"}}); r.Status != http.StatusOK && r.Status != http.StatusNoContent {
		t.Fatalf("PUT context: %d %s", r.Status, r.Body)
	}
	// The model must be trained on the live visitor too. The scheduler's automatic training
	// may already run on the imported history when the training is asked for (it then does
	// that work, and the request joins it): ask again until a model holds the live visitor.
	train := func() {
		r := srv.Do(t, testserver.Request{Method: "POST", Path: path + "/models", Token: acct.Token})
		if r.Status != http.StatusAccepted {
			t.Fatalf("POST models: %d %s", r.Status, r.Body)
		}
	}
	train()
	asked := time.Now()
	testserver.Eventually(t, 90*time.Second, "a model trained on the live visitor of "+email, func() bool {
		v, err := srv.Store.CurrentModelVersion(ctx, acct.ProjectID)
		p.Version = v
		if err == nil && scanVisitor(t, srv, acct.ProjectID, live)["model_members"] > 0 {
			return true
		}
		if time.Since(asked) > 5*time.Second {
			train()
			asked = time.Now()
		}
		return false
	})
	for _, v := range p.Visitors[:5] {
		r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/classify", Header: map[string]string{"Origin": testserver.Origin},
			Body: map[string]any{"site_key": acct.SiteKey, "visitor_id": v}})
		if r.Status != http.StatusOK {
			t.Fatalf("classify: %d %s", r.Status, r.Body)
		}
	}
	if err := srv.Store.LogEnrichment(ctx, acct.ProjectID, []models.EnrichmentLogEntry{{Deployment: "rules", Status: "ok"}}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, srv)
	testserver.Eventually(t, 30*time.Second, "every visitor of "+email+" has a persona row", func() bool {
		var missing int
		_ = srv.Pool.QueryRow(ctx, `SELECT count(*) FROM visitor_features f WHERE f.project_id = $1 AND NOT EXISTS
			(SELECT 1 FROM visitor_personas v WHERE v.project_id = f.project_id AND v.visitor_hash = f.visitor_hash)`, acct.ProjectID).Scan(&missing)
		return missing == 0
	})
	return p
}

// waitIdle waits until no task is pending, active or waiting to retry (scheduled ones, such as
// a debounced retrain, may wait).
func waitIdle(t *testing.T, srv *testserver.Server) {
	t.Helper()
	in := asynq.NewInspectorFromRedisClient(srv.Redis)
	busy := ""
	deadline := time.Now().Add(60 * time.Second)
	for {
		busy = ""
		for _, q := range []string{queue.QueueCritical, queue.QueueDefault, queue.QueueLow} {
			info, err := in.GetQueueInfo(q)
			if err != nil && (errors.Is(err, asynq.ErrQueueNotFound) || strings.Contains(err.Error(), "does not exist")) {
				continue
			}
			if err != nil {
				busy += err.Error()
			} else if info.Pending+info.Active+info.Retry > 0 {
				busy += fmt.Sprintf(" %s: %d pending, %d active, %d retry;", q, info.Pending, info.Active, info.Retry)
				for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){in.ListRetryTasks, in.ListActiveTasks} {
					ts, _ := list(q)
					for _, ti := range ts {
						busy += fmt.Sprintf(" [%s %s]", ti.Type, ti.LastErr)
					}
				}
			}
		}
		if busy == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task queues not idle within a minute:%s", busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scanProject(t *testing.T, srv *testserver.Server, id uuid.UUID) residue.Counts {
	t.Helper()
	c, err := residue.Project(context.Background(), srv.Pool, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func scanVisitor(t *testing.T, srv *testserver.Server, id uuid.UUID, visitor string) residue.Counts {
	t.Helper()
	c, err := residue.Visitor(context.Background(), srv.Pool, id, srv.Store.VisitorHash(id, visitor))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deleteAndWait asks for a deletion through the API and waits until it is done.
func deleteAndWait(t *testing.T, srv *testserver.Server, a testserver.Account, body map[string]string) models.Deletion {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/projects/" + a.ProjectID.String() + "/deletions", Token: a.Token, Body: body})
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST deletions %v: %d %s", body, r.Status, r.Body)
	}
	var acc struct {
		ID uuid.UUID `json:"id"`
	}
	r.JSON(t, &acc)
	var d models.Deletion
	testserver.Eventually(t, 60*time.Second, "deletion "+acc.ID.String()+" done", func() bool {
		var err error
		d, err = srv.Store.Deletion(context.Background(), acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == models.DeletionFailed {
			t.Fatalf("deletion failed: %s", d.Error)
		}
		return d.Status == models.DeletionDone
	})
	return d
}

// receiptOf fetches a deletion's signed receipt, verifies it with the server's public key and
// checks it holds no personal data.
func receiptOf(t *testing.T, srv *testserver.Server, a testserver.Account, d models.Deletion, personal []string) (receipt.Receipt, []byte) {
	t.Helper()
	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + a.ProjectID.String() + "/deletions/" + d.ID.String() + "/receipt", Token: a.Token})
	if r.Status != http.StatusOK {
		t.Fatalf("GET receipt: %d %s", r.Status, r.Body)
	}
	rc, err := receipt.Verify(r.Body, srv.Signer.PublicKey())
	if err != nil {
		t.Fatalf("the server's own receipt does not verify: %v\n%s", err, r.Body)
	}
	low := strings.ToLower(string(r.Body))
	for _, s := range append(personal, a.Email, clickText, "http://", "https://", "shop.example", "/p/42") {
		if strings.Contains(low, strings.ToLower(s)) {
			t.Errorf("the receipt contains %q:\n%s", s, r.Body)
		}
	}
	return rc, r.Body
}

// tableCounts keeps the receipt's table counts (other stores are named "store:thing").
func tableCounts(removed map[string]int64) residue.Counts {
	out := residue.Counts{}
	for k, n := range removed {
		if !strings.Contains(k, ":") && n != 0 {
			out[k] = n
		}
	}
	return out
}

func equalCounts(t *testing.T, what string, got, want residue.Counts) {
	t.Helper()
	for _, k := range append(got.Names(), want.Names()...) {
		if got[k] != want[k] {
			t.Errorf("%s: %s = %d, want %d\n got: %v\nwant: %v", what, k, got[k], want[k], got, want)
			return
		}
	}
}

// TestDeletionScopes populates two projects through the real paths, deletes in one of them
// with each scope, and proves with the residue scanner that exactly the right rows went: the
// other project is untouched, for a visitor the other visitors are untouched, and the signed
// receipt's counts are what the scanner saw removed.
func TestDeletionScopes(t *testing.T) {
	for _, scope := range []string{models.ScopeVisitor, models.ScopePersonas, models.ScopeAll} {
		t.Run(scope, func(t *testing.T) {
			srv := testserver.New(t, testserver.Options{})
			a := populate(t, srv, "a-"+scope+"@example.com", 1)
			b := populate(t, srv, "b-"+scope+"@example.com", 2)
			// The live visitor clicked, was classified and trained on: it is everywhere.
			victim, bystander := a.Visitors[len(a.Visitors)-1], a.Visitors[0]
			beforeA, beforeB := scanProject(t, srv, a.ProjectID), scanProject(t, srv, b.ProjectID)
			victimBefore, bystanderBefore := scanVisitor(t, srv, a.ProjectID, victim), scanVisitor(t, srv, a.ProjectID, bystander)
			for _, table := range []string{"events", "visitor_features", "visitor_personas", "model_members"} {
				if victimBefore[table] == 0 {
					t.Fatalf("the victim has no %s rows to delete: %v", table, victimBefore)
				}
			}
			for _, table := range []string{"events", "visitor_features", "visitor_personas", "model_members", "persona_models",
				"personas", "persona_history", "training_runs", "enrichment_log", "business_context", "ingest_stats", "audit_log", "memberships"} {
				if beforeA[table] == 0 {
					t.Fatalf("project A has no %s rows: the test would prove nothing: %v", table, beforeA)
				}
			}

			body := map[string]string{"scope": scope}
			if scope == models.ScopeVisitor {
				body["visitor_id"] = victim
			}
			d := deleteAndWait(t, srv, a.Account, body)
			waitIdle(t, srv)
			afterA, afterB := scanProject(t, srv, a.ProjectID), scanProject(t, srv, b.ProjectID)
			equalCounts(t, "project B after the deletion", afterB, beforeB)

			removed := beforeA.Removed(afterA)
			// The request itself adds its proof row and its audit entry.
			if n := -removed["deletion_requests"]; n != 1 {
				t.Errorf("deletion_requests grew by %d, want 1 (the proof)", n)
			}
			delete(removed, "deletion_requests")
			want := residue.Counts{}
			switch scope {
			case models.ScopeVisitor:
				if removed["audit_log"] != -1 {
					t.Errorf("audit_log changed by %d, want one entry more (the request)", -removed["audit_log"])
				}
				delete(removed, "audit_log")
				for k, n := range victimBefore {
					if k != "deletion_requests" && n > 0 {
						want[k] = n
					}
				}
				if left := scanVisitor(t, srv, a.ProjectID, victim).Left(); len(left) > 0 {
					t.Errorf("the erased visitor still has rows: %v", left)
				}
				equalCounts(t, "another visitor of the project", scanVisitor(t, srv, a.ProjectID, bystander), bystanderBefore)
			case models.ScopePersonas:
				if removed["audit_log"] != -1 {
					t.Errorf("audit_log changed by %d, want one entry more (the request)", -removed["audit_log"])
				}
				delete(removed, "audit_log")
				for _, k := range models.CascadeTables(scope) {
					want[k] = beforeA[k]
					if afterA[k] != 0 {
						t.Errorf("%s still holds %d rows of the project", k, afterA[k])
					}
				}
				if p, err := srv.Store.Project(context.Background(), a.ProjectID); err != nil || p.ModelVersion != nil {
					t.Errorf("after a personas deletion the project still names model %v (%v)", p.ModelVersion, err)
				}
			case models.ScopeAll:
				if left := afterA.Left(); len(left) > 0 {
					t.Errorf("rows of the deleted project left: %v", left)
				}
				for k, n := range beforeA {
					if k != "deletion_requests" && n > 0 {
						want[k] = n
					}
				}
				if d.KeyDestroyedAt == nil {
					t.Error("a project deletion without a destroyed key")
				}
			}
			equalCounts(t, "rows removed from project A", removed, want)

			rc, _ := receiptOf(t, srv, a.Account, d, a.Visitors)
			got := tableCounts(rc.Removed)
			if scope != models.ScopeVisitor {
				// The scanner saw the audit log before the request's own entry; the cascade removed it too.
				want["audit_log"] += map[bool]int64{true: 1}[scope == models.ScopeAll]
			}
			equalCounts(t, "receipt counts against the scanner", got, want)
			if rc.Scope != scope || rc.DeletionID != d.ID || rc.ProjectID != a.ProjectID {
				t.Errorf("receipt names %s/%s/%s", rc.Scope, rc.DeletionID, rc.ProjectID)
			}
			if scope == models.ScopeVisitor && rc.VisitorHash != hex.EncodeToString(srv.Store.VisitorHash(a.ProjectID, victim)) {
				t.Errorf("receipt visitor hash %q, want the blinded hash", rc.VisitorHash)
			}
			if scope == models.ScopeAll && (rc.KeyDestroyedAt == nil || !rc.KeyDestroyedAt.Equal(*d.KeyDestroyedAt)) {
				t.Errorf("receipt key_destroyed_at %v, deletion row %v", rc.KeyDestroyedAt, d.KeyDestroyedAt)
			}
		})
	}
}

func signedDoc(t *testing.T, srv *testserver.Server, d models.Deletion) []byte {
	t.Helper()
	b, err := json.Marshal(receipt.Document(d, srv.Signer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCryptoShreddingReachesBackups takes a pg_dump of the data database holding two
// projects, deletes one with scope all, restores the dump into a new database and points a
// store at it with the current key store: the deleted project's ciphertexts no longer open,
// the other project's do.
func TestCryptoShreddingReachesBackups(t *testing.T) {
	for _, tool := range []string{"pg_dump", "psql"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: scripts/services.sh installs PostgreSQL with its client tools", tool)
		}
	}
	srv := testserver.New(t, testserver.Options{})
	ctx := context.Background()
	var accts []testserver.Account
	for _, e := range []string{"shred@example.com", "keep@example.com"} {
		a := srv.NewAccount(t, e, false)
		accts = append(accts, a)
		now := time.Now().UnixMilli()
		srv.Collect(t, a.SiteKey, "v-"+e, "s-"+e, []map[string]any{{"type": "click", "ts": now, "url": testserver.Origin + "/",
			"element": map[string]any{"tag": "button", "text": clickText}}})
		if r := srv.Do(t, testserver.Request{Method: "PUT", Path: "/v1/projects/" + a.ProjectID.String() + "/context", Token: a.Token,
			Body: map[string]string{"goals": "sell umbrellas"}}); r.Status >= 300 {
			t.Fatalf("PUT context: %d %s", r.Status, r.Body)
		}
	}
	dump := t.TempDir() + "/data.sql"
	if out, err := exec.Command("pg_dump", "--no-owner", "-f", dump, srv.DataURL).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	d := deleteAndWait(t, srv, accts[0], map[string]string{"scope": "all"})
	if d.KeyDestroyedAt == nil {
		t.Fatal("deletion row does not say when the key was destroyed")
	}
	rc, _ := receiptOf(t, srv, accts[0], d, nil)
	if rc.KeyDestroyedAt == nil || !rc.KeyDestroyedAt.Equal(*d.KeyDestroyedAt) {
		t.Errorf("receipt key_destroyed_at %v, want %v", rc.KeyDestroyedAt, d.KeyDestroyedAt)
	}

	restoredURL := restore(t, srv.DataURL, dump)
	pool := testenv.Pool(t, restoredURL)
	restored := models.NewStore(pool, srv.Keys, srv.Keyring, srv.Index) // the current key store
	for i, a := range accts {
		var text, bc []byte
		if err := pool.QueryRow(ctx, `SELECT el_text_enc FROM events WHERE project_id = $1 AND el_text_enc IS NOT NULL LIMIT 1`, a.ProjectID).Scan(&text); err != nil {
			t.Fatalf("restored dump lacks the events of project %d: %v", i, err)
		}
		if err := pool.QueryRow(ctx, `SELECT context_enc FROM business_context WHERE project_id = $1`, a.ProjectID).Scan(&bc); err != nil {
			t.Fatalf("restored dump lacks the business context of project %d: %v", i, err)
		}
		pt, errText := restored.OpenProject(ctx, a.ProjectID, "events", "el_text", text)
		pb, errBC := restored.OpenProject(ctx, a.ProjectID, "business_context", "context", bc)
		if i == 0 {
			if errText == nil || errBC == nil || !errors.Is(errText, models.ErrKeyDestroyed) {
				t.Errorf("deleted project's backup still opens: text %q (%v), context %q (%v)", pt, errText, pb, errBC)
			}
			continue
		}
		if errText != nil || string(pt) != clickText || errBC != nil || !strings.Contains(string(pb), "sell umbrellas") {
			t.Errorf("kept project's backup does not open: text %q (%v), context %q (%v)", pt, errText, pb, errBC)
		}
	}
}

// restore loads a plain pg_dump into a new database on the same server, dropped at cleanup.
func restore(t *testing.T, fromURL, dump string) string {
	t.Helper()
	name := "restore_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
	admin, err := pgx.Connect(context.Background(), testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testenv.PostgresURL())
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	u := strings.Replace(testenv.PostgresURL(), "/postgres?", "/"+name+"?", 1)
	cmd := exec.Command("psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", dump, u)
	cmd.Env = append(os.Environ(), "PGOPTIONS=--client-min-messages=warning")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	return u
}

// TestErasureReachesTheModel erases several visitors the current model was trained on: the
// model is marked stale, one debounced retrain builds a version without them (their hashes
// are not among its members), and the re-signed receipts name that version.
func TestErasureReachesTheModel(t *testing.T) {
	srv := testserver.New(t, testserver.Options{RetrainDelay: 3 * time.Second})
	ctx := context.Background()
	a := populate(t, srv, "retrain@example.com", 3)
	v1 := a.Version
	victims := a.Visitors[10:14]
	var ids []models.Deletion
	for _, v := range victims {
		ids = append(ids, deleteAndWait(t, srv, a.Account, map[string]string{"scope": "visitor", "visitor_id": v}))
	}
	models1, err := srv.Store.Models(ctx, a.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range models1 {
		if m.Version == v1 && m.StaleSince == nil {
			t.Errorf("model %d is not stale after its visitors were erased", v1)
		}
	}
	var v2 int
	testserver.Eventually(t, 90*time.Second, "the debounced retrain published", func() bool {
		v2, _ = srv.Store.CurrentModelVersion(ctx, a.ProjectID)
		return v2 > v1
	})
	waitIdle(t, srv)
	if v2 != v1+1 {
		t.Errorf("%d erasures caused %d retrains (version %d → %d), want one", len(victims), v2-v1, v1, v2)
	}
	members, err := srv.Store.ModelMembers(ctx, a.ProjectID, v2)
	if err != nil || len(members) == 0 {
		t.Fatalf("members of version %d: %v (%d)", v2, err, len(members))
	}
	for _, v := range victims {
		if _, ok := members[string(srv.Store.VisitorHash(a.ProjectID, v))]; ok {
			t.Errorf("erased visitor %s is a member of the retrained version %d", v, v2)
		}
	}
	if _, ok := members[string(srv.Store.VisitorHash(a.ProjectID, a.Visitors[0]))]; !ok {
		t.Error("a visitor that was not erased is missing from the retrained version")
	}
	for _, d := range ids {
		var rc receipt.Receipt
		testserver.Eventually(t, 30*time.Second, "receipt re-signed with the retrain", func() bool {
			fresh, _ := srv.Store.Deletion(ctx, d.ID)
			var err error
			rc, err = receipt.Verify(signedDoc(t, srv, fresh), srv.Signer.PublicKey())
			if err != nil {
				t.Fatalf("receipt of %s: %v", d.ID, err)
			}
			return rc.RetrainVersion != nil
		})
		if *rc.RetrainVersion != v2 || rc.RetrainScheduled == nil {
			t.Errorf("receipt names retrain %d (scheduled %v), want version %d", *rc.RetrainVersion, rc.RetrainScheduled, v2)
		}
		receiptOf(t, srv, a.Account, d, a.Visitors)
	}
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// BenchmarkDeletion measures a project deletion of 1,000,000 events (inserted with CopyFrom)
// while another project's collection runs, with that collection's p99 before and during, and
// the latency of visitor erasures (request path and cascade). Figures: docs/perf.md ("Deletion").
func BenchmarkDeletion(b *testing.B) {
	const events = 1_000_000
	srv := testserver.New(b, testserver.Options{NoWorker: true})
	ctx := context.Background()
	big := srv.NewAccount(b, "big@example.com", false)
	live := srv.NewAccount(b, "live@example.com", false)
	start := time.Now().Add(-30 * 24 * time.Hour).UTC()
	if err := srv.Store.EnsurePartitions(ctx, start, time.Now().Add(24*time.Hour)); err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Pool.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"project_id", "ts", "visitor_hash", "session_hash", "type", "path"},
		pgx.CopyFromSlice(events, func(i int) ([]any, error) {
			h := []byte(fmt.Sprintf("v%06d", i%20000))
			return []any{big.ProjectID, start.Add(time.Duration(i) * 2500 * time.Millisecond), h, h, "pageview", "/p/:id"}, nil
		})); err != nil {
		b.Fatal(err)
	}
	del := &jobs.Deleter{Store: srv.Store, Redis: srv.Redis, Client: srv.Jobs, Signer: srv.Signer, Logger: srv.Logger, BatchSize: 5000}

	// Collection of the other project: 4 clients, 10 events a request.
	var mu sync.Mutex
	var lat []time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				evs := make([]map[string]any, 10)
				for j := range evs {
					evs[j] = map[string]any{"type": "pageview", "ts": time.Now().UnixMilli(), "url": testserver.Origin + "/p/1"}
				}
				t0 := time.Now()
				srv.Collect(b, live.SiteKey, fmt.Sprintf("c%d-%d", c, i%500), "s", evs)
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}(c)
	}
	window := func(d time.Duration) []time.Duration {
		mu.Lock()
		lat = lat[:0]
		mu.Unlock()
		time.Sleep(d)
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), lat...)
	}
	before := window(5 * time.Second)
	d, err := srv.Store.CreateDeletion(ctx, big.ProjectID, models.ScopeAll, nil, nil, "api")
	if err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	t0 := time.Now()
	b.ResetTimer()
	if err := del.Run(ctx, d.ID); err != nil {
		b.Fatal(err)
	}
	took := time.Since(t0)
	b.StopTimer()
	mu.Lock()
	during := append([]time.Duration(nil), lat...)
	mu.Unlock()
	close(stop)
	wg.Wait()
	fin, _ := srv.Store.Deletion(ctx, d.ID)
	if fin.Counts["events"] != events {
		b.Fatalf("deleted %d events, want %d", fin.Counts["events"], events)
	}
	b.ReportMetric(took.Seconds(), "s/project-deletion")
	b.ReportMetric(float64(p99(before).Microseconds())/1000, "ms-ingest-p99-before")
	b.ReportMetric(float64(p99(during).Microseconds())/1000, "ms-ingest-p99-during")
	b.Logf("1M-event project deleted in %s; collect p99 before %s (%d req), during %s (%d req)",
		took, p99(before), len(before), p99(during), len(during))

	// Visitor erasures: 200 visitors of 50 events each in a third project.
	vp := srv.NewAccount(b, "visitors@example.com", false)
	if _, err := srv.Pool.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"project_id", "ts", "visitor_hash", "session_hash", "type", "path"},
		pgx.CopyFromSlice(200*50, func(i int) ([]any, error) {
			h := srv.Store.VisitorHash(vp.ProjectID, fmt.Sprintf("vis-%d", i%200))
			return []any{vp.ProjectID, start.Add(time.Duration(i) * time.Minute), h, h, "pageview", "/"}, nil
		})); err != nil {
		b.Fatal(err)
	}
	var reqLat, cascadeLat []time.Duration
	for i := 0; i < 200; i++ {
		t0 := time.Now()
		r := srv.Do(b, testserver.Request{Method: "POST", Path: "/v1/projects/" + vp.ProjectID.String() + "/deletions", Token: vp.Token,
			Body: map[string]string{"scope": "visitor", "visitor_id": fmt.Sprintf("vis-%d", i)}})
		reqLat = append(reqLat, time.Since(t0))
		var acc struct {
			ID uuid.UUID `json:"id"`
		}
		r.JSON(b, &acc)
		t1 := time.Now()
		if err := del.Run(ctx, acc.ID); err != nil {
			b.Fatal(err)
		}
		cascadeLat = append(cascadeLat, time.Since(t1))
	}
	b.ReportMetric(float64(p99(reqLat).Microseconds())/1000, "ms-visitor-request-p99")
	b.ReportMetric(float64(p99(cascadeLat).Microseconds())/1000, "ms-visitor-cascade-p99")
	b.Logf("visitor erasure p99: request %s, cascade %s (200 visitors, 50 events each)", p99(reqLat), p99(cascadeLat))
}
