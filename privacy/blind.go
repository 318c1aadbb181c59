package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// minIndexKey is the shortest blind-index key NewBlindIndex accepts.
const minIndexKey = 32

// BlindIndex computes keyed hashes (HMAC-SHA256) that stand in for
// identifiers: a visitor id is never stored, only its hash within its
// project, and an account is found by the hash of its e-mail address while
// the address itself stays encrypted. Without the key the hashes cannot be
// recomputed from guesses. A BlindIndex is safe for concurrent use.
type BlindIndex struct {
	key  []byte
	macs sync.Pool // of keyed HMACs: classify and collect hash a visitor id per request
}

// NewBlindIndex returns an index keyed with key (PERSONAS_INDEX_KEY), which
// must be at least 32 bytes. The key is copied.
func NewBlindIndex(key []byte) (*BlindIndex, error) {
	if len(key) < minIndexKey {
		return nil, fmt.Errorf("privacy: blind index key is %d bytes, want at least %d", len(key), minIndexKey)
	}
	b := &BlindIndex{key: append([]byte(nil), key...)}
	b.macs.New = func() any { return hmac.New(sha256.New, b.key) }
	return b, nil
}

// Sum returns the HMAC-SHA256 of the parts, each length-prefixed so that
// ("ab", "c") and ("a", "bc") hash differently. Callers put a purpose first
// ("visitor", "email") so that hashes of different kinds never collide.
func (b *BlindIndex) Sum(parts ...string) []byte {
	m := b.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(appendParts(nil, parts...))
	sum := m.Sum(nil)
	b.macs.Put(m)
	return sum
}

// VisitorHash returns the pseudonym of a visitor within a project: the same
// visitor id gives unrelated hashes in two projects.
func (b *BlindIndex) VisitorHash(projectID, visitorID string) []byte {
	return b.Sum("visitor", projectID, visitorID)
}

// Email returns the look-up hash of an e-mail address, trimmed and
// lower-cased first so that "Jane@Example.com " finds "jane@example.com".
func (b *BlindIndex) Email(email string) []byte {
	return b.Sum("email", strings.ToLower(strings.TrimSpace(email)))
}
