package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/internal/testserver"
	"personas/models"
)

// finishedReceipt runs a personas deletion on a test server and returns the receipt document
// as served.
func finishedReceipt(t *testing.T, srv *testserver.Server, a testserver.Account) []byte {
	t.Helper()
	p := "/v1/projects/" + a.ProjectID.String() + "/deletions"
	r := srv.Do(t, testserver.Request{Method: "POST", Path: p, Token: a.Token, Body: map[string]string{"scope": "personas"}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST deletions: %d %s", r.Status, r.Body)
	}
	var acc struct {
		ID uuid.UUID `json:"id"`
	}
	r.JSON(t, &acc)
	testserver.Eventually(t, 30*time.Second, "deletion done", func() bool {
		d, err := srv.Store.Deletion(context.Background(), acc.ID)
		return err == nil && d.Status == models.DeletionDone
	})
	r = srv.Do(t, testserver.Request{Method: "GET", Path: p + "/" + acc.ID.String() + "/receipt", Token: a.Token})
	if r.Status != http.StatusOK {
		t.Fatalf("GET receipt: %d %s", r.Status, r.Body)
	}
	return r.Body
}

func TestVerifyReceipt(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{})
	a := srv.NewAccount(t, "receipts@example.com", false)
	doc := finishedReceipt(t, srv, a)
	other := finishedReceipt(t, srv, a)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", doc)
	pub := hex.EncodeToString(srv.Signer.PublicKey())
	seedEnv := map[string]string{"PERSONAS_SIGNING_KEY": base64.StdEncoding.EncodeToString(srv.Secrets.SigningKey)}

	// Tampered copies: a byte of the signed receipt, a byte outside it, and the signature of
	// another receipt from the same server.
	var sr, so map[string]any
	_ = json.Unmarshal(doc, &sr)
	_ = json.Unmarshal(other, &so)
	i := bytes.Index(doc, []byte(`"scope":"personas"`))
	if i < 0 {
		t.Fatalf("receipt lacks its scope: %s", doc)
	}
	flipped := bytes.Clone(doc)
	flipped[i+len(`"scope":"p`)] = 'P'
	outside := bytes.Replace(doc, []byte(`"algorithm":"ed25519"`), []byte(`"algorithm":"ed25519" `), 1)
	swapped := bytes.Replace(doc, []byte(sr["signature"].(string)), []byte(so["signature"].(string)), 1)
	otherPub, _, _ := ed25519.GenerateKey(nil)

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr bool
	}{
		{"public key flag", []string{"--public-key", pub, good}, nil, false},
		{"file before flag", []string{good, "--public-key", pub}, nil, false},
		{"key from the server", []string{"--server", srv.URL, good}, nil, false},
		{"key from PERSONAS_SIGNING_KEY", []string{good}, seedEnv, false},
		{"one changed byte", []string{"--public-key", pub, write("flipped.json", flipped)}, nil, true},
		{"changed outside the signed part", []string{"--public-key", pub, write("outside.json", outside)}, nil, true},
		{"swapped signature", []string{"--server", srv.URL, write("swapped.json", swapped)}, nil, true},
		{"another server's key", []string{"--public-key", hex.EncodeToString(otherPub), good}, nil, true},
		{"no trusted key", []string{good}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			err := run(context.Background(), append([]string{"admin", "verify-receipt"}, tt.args...), getenv,
				strings.NewReader(""), &stdout, &stderr)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted a bad receipt:\n%s", stdout.String())
				}
				if tt.name != "no trusted key" && (!errors.Is(err, errReceiptInvalid) || !strings.Contains(stderr.String(), "RECEIPT INVALID")) {
					t.Errorf("error %v, stderr %q: want a loud RECEIPT INVALID", err, stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected the server's receipt: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), "receipt OK") || !strings.Contains(stdout.String(), "scope personas") {
				t.Errorf("output %q: want the verdict and what was deleted", stdout.String())
			}
		})
	}
}
