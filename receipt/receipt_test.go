package receipt_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"personas/internal/testenv"
	"personas/models"
	"personas/privacy"
	"personas/receipt"
)

// goldenSigner is the key the receipts in testdata were signed with: seed bytes 1, 2, …, 32.
func goldenSigner(t *testing.T) *privacy.Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	s, err := privacy.NewSigner(seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func at(s string) time.Time {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

// goldenCases are the deletions behind testdata/*.json, the finish time and the retrain
// scheduled, as the code before the receipt package signed them (jobs.BuildReceipt and
// jobs.SignReceipt, served as json.Marshal of jobs.SignedReceipt plus a newline).
var goldenCases = []struct {
	file      string
	deletion  models.Deletion
	retrainAt *time.Time
}{
	{"testdata/visitor.json", models.Deletion{ID: uuid.MustParse("0b6f3d0e-5a55-4d0c-9a43-7c1f7c1b2a01"),
		ProjectID: uuid.MustParse("6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10"), Scope: models.ScopeVisitor,
		VisitorHash: []byte{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02}, Origin: "api",
		Counts:         map[string]int64{"events": 12, "visitor_features": 1, "visitor_personas": 1, "model_members": 2},
		RetrainVersion: ptr(4), CreatedAt: at("2026-03-02T10:00:00.123456Z"), StartedAt: ptr(at("2026-03-02T10:00:01.5Z"))},
		ptr(at("2026-03-02T16:00:02Z"))},
	{"testdata/all.json", models.Deletion{ID: uuid.MustParse("9a2e4c61-0f3b-4b7d-b1d2-5e6f7a8b9c0d"),
		ProjectID: uuid.MustParse("6f1c2b7e-3c9d-4e8a-8f35-2d7a0c4b9e10"), Scope: models.ScopeAll, Origin: "cli",
		Counts:         map[string]int64{"events": 1000000, "projects": 1, "memberships": 2, "audit_log": 7, "redis:asynq_tasks": 3},
		KeyDestroyedAt: ptr(at("2026-03-02T11:00:00.25Z")), CreatedAt: at("2026-03-02T10:59:59Z"), StartedAt: ptr(at("2026-03-02T11:00:00Z"))},
		nil},
}

const goldenFinished = "2026-03-02T11:00:03.75Z"

// TestGoldenReceiptsVerify: receipts signed by the code before this package verify, and the
// package builds and signs the same deletions to the same bytes (format and signature
// unchanged).
func TestGoldenReceiptsVerify(t *testing.T) {
	signer := goldenSigner(t)
	for _, gc := range goldenCases {
		t.Run(gc.file, func(t *testing.T) {
			doc, err := os.ReadFile(gc.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := receipt.Verify(doc, signer.PublicKey())
			if err != nil {
				t.Fatalf("a receipt signed by the previous code does not verify: %v", err)
			}
			want := receipt.Build(gc.deletion, at(goldenFinished), gc.retrainAt, signer)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("verified receipt differs from the deletion it was built from (-want +got):\n%s", diff)
			}
			body, sig, err := receipt.Sign(want, signer)
			if err != nil {
				t.Fatal(err)
			}
			d := gc.deletion
			d.Receipt, d.Signature = body, sig
			again, err := json.Marshal(receipt.Document(d, signer.PublicKey()))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(again, '\n'), doc) {
				t.Errorf("the same deletion signs to other bytes now:\n got: %s\nwant: %s", again, doc)
			}
		})
	}
}

// TestVerifyRefuses: a document that is not what was signed, or not checked by the trusted
// key, is refused with a reason.
func TestVerifyRefuses(t *testing.T) {
	signer := goldenSigner(t)
	doc, err := os.ReadFile("testdata/all.json")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := privacy.NewSigner(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	tests := []struct {
		name    string
		doc     string
		key     ed25519.PublicKey
		wantErr string
	}{
		{"counts changed", strings.Replace(string(doc), `"events":1000000`, `"events":1000001`, 1), signer.PublicKey(), "signature does not match"},
		{"another key", string(doc), other.PublicKey(), "signature does not match"},
		{"not JSON", "receipt", signer.PublicKey(), "not a signed receipt"},
		{"signature not hex", strings.Replace(string(doc), `"signature":"34`, `"signature":"zz`, 1), signer.PublicKey(), "not hex"},
		{"other algorithm", strings.Replace(string(doc), `"algorithm":"ed25519"`, `"algorithm":"rsa"`, 1), signer.PublicKey(), "unknown algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := receipt.Verify([]byte(tt.doc), tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Verify = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestBuild: the receipt names the visitor only by its hash in hex, has an empty (never null)
// removed map, and carries the signer's key id.
func TestBuild(t *testing.T) {
	signer := goldenSigner(t)
	d := models.Deletion{ID: uuid.New(), ProjectID: uuid.New(), Scope: models.ScopePersonas, Origin: "api",
		CreatedAt: at("2026-03-02T10:00:00+01:00")}
	r := receipt.Build(d, at(goldenFinished), nil, signer)
	if r.Removed == nil || len(r.Removed) != 0 {
		t.Errorf("removed = %v, want an empty map", r.Removed)
	}
	if r.VisitorHash != "" || r.SignerKeyID != signer.KeyID() || r.Version != 1 {
		t.Errorf("receipt %+v: want no visitor hash, key id %s, version 1", r, signer.KeyID())
	}
	if r.RequestedAt.Location() != time.UTC || !r.RequestedAt.Equal(d.CreatedAt) {
		t.Errorf("requested_at = %v, want %v in UTC", r.RequestedAt, d.CreatedAt)
	}
	body, _, err := receipt.Sign(r, signer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"removed":{}`)) {
		t.Errorf("signed body %s: want removed as {}", body)
	}
}

// TestResign: a finished visitor erasure whose retrain has since been published gets a receipt
// naming that version, signed again; receipts already naming it, and other scopes, stay.
func TestResign(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	signer := goldenSigner(t)
	u, _, err := env.Store.EnsureUser(ctx, "resign@example.com", "", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.Store.CreateProject(ctx, u.ID, "Resign", []string{"https://shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	finish := func(scope string, hash []byte) models.Deletion {
		t.Helper()
		d, err := env.Store.CreateDeletion(ctx, p.ID, scope, hash, &u.ID, "api")
		if err != nil {
			t.Fatal(err)
		}
		body, sig, err := receipt.Sign(receipt.Build(d, env.Store.Now().UTC(), ptr(env.Store.Now().UTC().Add(time.Hour)), signer), signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Store.FinishDeletion(ctx, d.ID, body, sig, env.Store.Now()); err != nil {
			t.Fatal(err)
		}
		return d
	}
	erased := finish(models.ScopeVisitor, env.Store.VisitorHash(p.ID, "erased"))
	pending := finish(models.ScopeVisitor, env.Store.VisitorHash(p.ID, "pending"))
	personas := finish(models.ScopePersonas, nil)
	before := map[uuid.UUID][]byte{}
	for _, d := range []models.Deletion{erased, pending, personas} {
		fresh, err := env.Store.Deletion(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		before[d.ID] = fresh.Receipt
	}
	// The retrain that replaced the erased visitor's models is version 7; the other erasure
	// still waits for its retrain.
	if _, err := env.Pool.Exec(ctx, `UPDATE deletion_requests SET retrain_version = 7 WHERE id = $1`, erased.ID); err != nil {
		t.Fatal(err)
	}
	if err := receipt.Resign(ctx, env.Store, signer, p.ID); err != nil {
		t.Fatal(err)
	}
	for _, d := range []models.Deletion{erased, pending, personas} {
		fresh, err := env.Store.Deletion(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		r, err := receipt.Verify(mustMarshal(t, receipt.Document(fresh, signer.PublicKey())), signer.PublicKey())
		if err != nil {
			t.Fatalf("receipt of %s after Resign: %v", d.Scope, err)
		}
		if d.ID == erased.ID {
			if r.RetrainVersion == nil || *r.RetrainVersion != 7 {
				t.Errorf("re-signed receipt names retrain %v, want 7", r.RetrainVersion)
			}
			if r.RetrainScheduled == nil {
				t.Error("re-signed receipt lost when the retrain was scheduled")
			}
			continue
		}
		if !bytes.Equal(fresh.Receipt, before[d.ID]) {
			t.Errorf("receipt of a %s deletion without a retrain changed:\n got: %s\nwant: %s", d.Scope, fresh.Receipt, before[d.ID])
		}
	}
	// A second run finds nothing to do.
	ids, err := env.Store.ReceiptsAwaitingResign(ctx, p.ID)
	if err != nil || len(ids) != 0 {
		t.Errorf("after Resign, receipts awaiting re-signing: %v (%v), want none", ids, err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
