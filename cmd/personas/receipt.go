package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"personas/privacy"
	"personas/receipt"
)

// errReceiptInvalid marks a receipt that failed verification: the message says why, loudly.
var errReceiptInvalid = errors.New("RECEIPT INVALID")

// cmdVerifyReceipt checks a signed deletion receipt offline against a trusted public key: one
// given on the command line, the one a server publishes, or the one of PERSONAS_SIGNING_KEY.
// The file must be the document exactly as the server served it: any changed byte fails.
func (e *environment) cmdVerifyReceipt(ctx context.Context, args []string) error {
	fs := e.newFlags("admin verify-receipt", "admin verify-receipt [--public-key HEX | --server URL] FILE")
	pubHex := fs.String("public-key", "", "trusted Ed25519 public key, hex (GET /v1/receipt-key shows it)")
	server := fs.String("server", "", "fetch the trusted public key from this server's /v1/receipt-key")
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files, args = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintln(e.stderr, "personas admin verify-receipt: give exactly one receipt file")
		fs.Usage()
		return errUsage
	}
	doc, err := os.ReadFile(files[0])
	if err != nil {
		return fmt.Errorf("read receipt: %w", err)
	}
	trusted, source, err := e.trustedKey(ctx, *pubHex, *server)
	if err != nil {
		return err
	}
	r, err := verifyReceiptDocument(doc, trusted)
	if err != nil {
		fmt.Fprintf(e.stderr, "RECEIPT INVALID: %s\n  file: %s\n  trusted key (%s): %s\n", err, files[0], source, hex.EncodeToString(trusted))
		return fmt.Errorf("%w: %v", errReceiptInvalid, err)
	}
	fmt.Fprintf(e.stdout, "receipt OK: signed by %s (%s)\n", hex.EncodeToString(trusted), source)
	fmt.Fprintf(e.stdout, "deletion %s of project %s, scope %s, requested %s, finished %s\n",
		r.DeletionID, r.ProjectID, r.Scope, r.RequestedAt.Format(time.RFC3339), r.FinishedAt.Format(time.RFC3339))
	if r.KeyDestroyedAt != nil {
		fmt.Fprintf(e.stdout, "project data key destroyed at %s\n", r.KeyDestroyedAt.Format(time.RFC3339))
	}
	if r.RetrainVersion != nil {
		fmt.Fprintf(e.stdout, "models retrained without the visitor: version %d\n", *r.RetrainVersion)
	} else if r.RetrainScheduled != nil {
		fmt.Fprintf(e.stdout, "retrain without the visitor scheduled for %s\n", r.RetrainScheduled.Format(time.RFC3339))
	}
	return printCounts(e.stdout, "removed", r.Removed)
}

// verifyReceiptDocument checks the signature against trusted and that the document is byte for
// byte the one the server signed and served (json.Marshal of receipt.Signed): a change
// anywhere, even outside the signed receipt, is refused.
func verifyReceiptDocument(doc []byte, trusted ed25519.PublicKey) (receipt.Receipt, error) {
	r, err := receipt.Verify(doc, trusted)
	if err != nil {
		return receipt.Receipt{}, err
	}
	var sr receipt.Signed
	_ = json.Unmarshal(doc, &sr)
	if !strings.EqualFold(sr.PublicKey, hex.EncodeToString(trusted)) {
		return receipt.Receipt{}, fmt.Errorf("the receipt names public key %q, not the trusted one", sr.PublicKey)
	}
	canonical, err := json.Marshal(sr)
	if err != nil {
		return receipt.Receipt{}, err
	}
	if !bytes.Equal(bytes.TrimRight(doc, "\r\n"), canonical) {
		return receipt.Receipt{}, errors.New("the document was altered outside the signed receipt (it is not byte for byte what the server served)")
	}
	return r, nil
}

// trustedKey picks the key to trust: --public-key, then --server, then PERSONAS_SIGNING_KEY.
func (e *environment) trustedKey(ctx context.Context, pubHex, server string) (ed25519.PublicKey, string, error) {
	switch {
	case pubHex != "" && server != "":
		return nil, "", errors.New("give --public-key or --server, not both")
	case pubHex != "":
		b, err := hex.DecodeString(strings.TrimSpace(pubHex))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, "", fmt.Errorf("--public-key must be %d bytes of hex", ed25519.PublicKeySize)
		}
		return b, "--public-key", nil
	case server != "":
		k, err := fetchReceiptKey(ctx, server)
		if err != nil {
			return nil, "", err
		}
		return k, strings.TrimRight(server, "/") + "/v1/receipt-key", nil
	}
	seed := strings.TrimSpace(e.getenv("PERSONAS_SIGNING_KEY"))
	if seed == "" {
		return nil, "", errors.New("no trusted key: give --public-key HEX or --server URL, or set PERSONAS_SIGNING_KEY")
	}
	b, err := base64.StdEncoding.DecodeString(seed)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(seed); err != nil {
			return nil, "", errors.New("PERSONAS_SIGNING_KEY: not valid base64")
		}
	}
	s, err := privacy.NewSigner(b)
	if err != nil {
		return nil, "", fmt.Errorf("PERSONAS_SIGNING_KEY: %w", err)
	}
	return s.PublicKey(), "PERSONAS_SIGNING_KEY", nil
}

func fetchReceiptKey(ctx context.Context, server string) (ed25519.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/v1/receipt-key", nil)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the receipt key: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the receipt key: status %d", resp.StatusCode)
	}
	var k struct {
		Algorithm string `json:"algorithm"`
		PublicKey string `json:"public_key"`
	}
	if err := json.Unmarshal(body, &k); err != nil || k.Algorithm != "ed25519" {
		return nil, errors.New("fetch the receipt key: the server did not answer an ed25519 key")
	}
	b, err := hex.DecodeString(k.PublicKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("fetch the receipt key: malformed public key")
	}
	return b, nil
}
