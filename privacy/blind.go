package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
)

// BlindIndex computes keyed hashes (HMAC-SHA256) that stand in for identifiers: a visitor id
// is never stored, only its hash within its project; an email is found by its hash.
type BlindIndex struct {
	key []byte
}

// NewBlindIndex builds an index keyed with at least 32 bytes.
func NewBlindIndex(key []byte) (*BlindIndex, error) {
	if len(key) < 32 {
		return nil, errors.New("blind index key must be at least 32 bytes")
	}
	return &BlindIndex{key: append([]byte(nil), key...)}, nil
}

// Sum is the HMAC of the length-prefixed parts.
func (b *BlindIndex) Sum(parts ...string) []byte {
	m := hmac.New(sha256.New, b.key)
	m.Write(lengthPrefixed(parts...))
	return m.Sum(nil)
}

// VisitorHash is the pseudonym of a visitor within a project.
func (b *BlindIndex) VisitorHash(projectID, visitorID string) []byte {
	return b.Sum("visitor", projectID, visitorID)
}

// Email is the look-up hash of an email address (trimmed and lower-cased first).
func (b *BlindIndex) Email(email string) []byte {
	return b.Sum("email", strings.ToLower(strings.TrimSpace(email)))
}
