package receipt

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"personas/models"
	"personas/privacy"
)

// Receipt is the signed proof of a finished deletion. It holds no personal data: the visitor
// appears only as its blinded hash.
type Receipt struct {
	Version          int              `json:"version"`
	DeletionID       uuid.UUID        `json:"deletion_id"`
	ProjectID        uuid.UUID        `json:"project_id"`
	Scope            string           `json:"scope"`
	VisitorHash      string           `json:"visitor_hash,omitempty"`
	Origin           string           `json:"origin"`
	RequestedAt      time.Time        `json:"requested_at"`
	StartedAt        *time.Time       `json:"started_at"`
	FinishedAt       time.Time        `json:"finished_at"`
	Removed          map[string]int64 `json:"removed"`
	KeyDestroyedAt   *time.Time       `json:"key_destroyed_at,omitempty"`
	RetrainScheduled *time.Time       `json:"retrain_scheduled_for,omitempty"`
	RetrainVersion   *int             `json:"retrain_version,omitempty"`
	SignerKeyID      string           `json:"signer_key_id"`
}

// Build assembles the receipt of a finished deletion.
func Build(d models.Deletion, finished time.Time, retrainAt *time.Time, signer *privacy.Signer) Receipt {
	r := Receipt{Version: 1, DeletionID: d.ID, ProjectID: d.ProjectID, Scope: d.Scope, Origin: d.Origin,
		RequestedAt: d.CreatedAt.UTC(), StartedAt: d.StartedAt, FinishedAt: finished, Removed: d.Counts,
		KeyDestroyedAt: d.KeyDestroyedAt, RetrainScheduled: retrainAt, RetrainVersion: d.RetrainVersion,
		SignerKeyID: signer.KeyID()}
	if len(d.VisitorHash) > 0 {
		r.VisitorHash = hex.EncodeToString(d.VisitorHash)
	}
	if r.Removed == nil {
		r.Removed = map[string]int64{}
	}
	return r
}

// Sign serialises a receipt canonically (encoding/json sorts map keys) and signs it.
func Sign(r Receipt, signer *privacy.Signer) ([]byte, []byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, nil, fmt.Errorf("encode receipt: %w", err)
	}
	return body, signer.Sign(body), nil
}

// Signed is the receipt document served and verified offline: the receipt exactly as
// signed, and a detached Ed25519 signature over its bytes.
type Signed struct {
	Receipt   json.RawMessage `json:"receipt"`
	Signature string          `json:"signature"` // hex
	PublicKey string          `json:"public_key"`
	Algorithm string          `json:"algorithm"`
}

// Document is the signed receipt of a finished deletion as served: the receipt as stored, its
// signature and the public key that checks it.
func Document(d models.Deletion, pub ed25519.PublicKey) Signed {
	return Signed{Receipt: d.Receipt, Signature: hex.EncodeToString(d.Signature),
		PublicKey: hex.EncodeToString(pub), Algorithm: "ed25519"}
}

// Verify checks a signed receipt against a trusted public key.
func Verify(doc []byte, trusted ed25519.PublicKey) (Receipt, error) {
	var sr Signed
	if err := json.Unmarshal(doc, &sr); err != nil {
		return Receipt{}, fmt.Errorf("not a signed receipt: %w", err)
	}
	sig, err := hex.DecodeString(sr.Signature)
	if err != nil {
		return Receipt{}, errors.New("signature is not hex")
	}
	if sr.Algorithm != "ed25519" {
		return Receipt{}, fmt.Errorf("unknown algorithm %q", sr.Algorithm)
	}
	if !privacy.Verify(trusted, sr.Receipt, sig) {
		return Receipt{}, errors.New("signature does not match the receipt and the trusted key")
	}
	var r Receipt
	if err := json.Unmarshal(sr.Receipt, &r); err != nil {
		return Receipt{}, fmt.Errorf("decode receipt: %w", err)
	}
	return r, nil
}

// Resign adds the retrain version to the receipts of erasures it completed, and signs
// them again.
func Resign(ctx context.Context, store *models.Store, signer *privacy.Signer, projectID uuid.UUID) error {
	ids, err := store.ReceiptsAwaitingResign(ctx, projectID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		d, err := store.Deletion(ctx, id)
		if err != nil {
			return err
		}
		var r Receipt
		if err := json.Unmarshal(d.Receipt, &r); err != nil {
			return fmt.Errorf("decode receipt %s: %w", id, err)
		}
		r.RetrainVersion = d.RetrainVersion
		body, sig, err := Sign(r, signer)
		if err != nil {
			return err
		}
		if err := store.UpdateReceipt(ctx, id, body, sig); err != nil {
			return err
		}
	}
	return nil
}

// Signer signs receipts: the server's Ed25519 key (PERSONAS_SIGNING_KEY). The jobs that finish
// deletions hold one without reaching into privacy.
type Signer = privacy.Signer
