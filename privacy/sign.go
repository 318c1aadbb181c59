package privacy

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Signer signs deletion receipts with Ed25519 (PERSONAS_SIGNING_KEY), so
// that anyone holding the public key can check that a deletion ran and what
// it removed. A Signer is safe for concurrent use.
type Signer struct {
	priv ed25519.PrivateKey
}

// NewSigner returns a signer for a 32-byte Ed25519 seed.
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("privacy: signing key must be a %d-byte Ed25519 seed, got %d bytes", ed25519.SeedSize, len(seed))
	}
	return &Signer{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// Sign returns the Ed25519 signature of msg.
func (s *Signer) Sign(msg []byte) []byte { return ed25519.Sign(s.priv, msg) }

// PublicKey returns the key that verifies the signer's signatures.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// KeyID names the public key in receipts: the first 16 hex digits of its
// SHA-256.
func (s *Signer) KeyID() string {
	sum := sha256.Sum256(s.PublicKey())
	return hex.EncodeToString(sum[:8])
}

// Verify reports whether sig is a valid signature of msg by pub. Keys and
// signatures of the wrong size are invalid rather than a panic.
func Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
}
