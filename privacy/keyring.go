package privacy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ErrDecrypt is returned for any ciphertext that does not open: wrong key, wrong associated
// data, unknown key id, truncated or altered bytes. The causes are not told apart on purpose.
var ErrDecrypt = errors.New("decrypt: ciphertext does not open")

const (
	formatVersion = 1
	nonceSize     = 12
	keySize       = 32
)

// Key is one named AES-256 key.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring seals with its first key and opens with any of its keys. Ciphertext is
// version (1 byte) ‖ key id length (1 byte) ‖ key id ‖ nonce (12 bytes) ‖ GCM sealed.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
	order   []string
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// NewKeyring builds a keyring; the first key seals.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyring: no keys")
	}
	kr := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, k := range keys {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("keyring: key %d: id must be 1-32 characters of A-Z a-z 0-9 _ -", i+1)
		}
		if len(k.Secret) != keySize {
			return nil, fmt.Errorf("keyring: key %q must be %d bytes, got %d", k.ID, keySize, len(k.Secret))
		}
		if _, dup := kr.aeads[k.ID]; dup {
			return nil, fmt.Errorf("keyring: key id %q appears twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", k.ID, err)
		}
		kr.aeads[k.ID] = aead
		kr.order = append(kr.order, k.ID)
	}
	kr.primary = keys[0].ID
	return kr, nil
}

// ParseKeyring parses "k2:base64,k1:base64". Errors never contain key material.
func ParseKeyring(spec string) (*Keyring, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("keyring: empty; want id:base64[,id:base64...]")
	}
	var keys []Key
	for i, part := range strings.Split(spec, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("keyring: entry %d is not id:base64", i+1)
		}
		secret, err := decodeB64(b64)
		if err != nil {
			return nil, fmt.Errorf("keyring: entry %d (%s): secret is not base64", i+1, safeID(id))
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return NewKeyring(keys...)
}

func safeID(id string) string {
	if validKeyID(id) {
		return id
	}
	return "invalid id"
}

func decodeB64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// GenerateKeyringSpec returns a spec with one fresh random key, for development key files.
func GenerateKeyringSpec(id string) (string, error) {
	if !validKeyID(id) {
		return "", errors.New("keyring: invalid key id")
	}
	b, err := NewDataKey()
	if err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b), nil
}

// PrimaryID names the key that seals.
func (k *Keyring) PrimaryID() string { return k.primary }

// IDs lists the key ids, primary first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.order...) }

// Seal encrypts plaintext bound to ad under the primary key.
func (k *Keyring) Seal(plaintext, ad []byte) ([]byte, error) {
	aead := k.aeads[k.primary]
	id := k.primary
	out := make([]byte, 0, 2+len(id)+nonceSize+len(plaintext)+aead.Overhead())
	out = append(out, formatVersion, byte(len(id)))
	out = append(out, id...)
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: random nonce: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, ad), nil
}

// KeyID returns the id of the key that sealed ciphertext.
func (k *Keyring) KeyID(ciphertext []byte) (string, error) {
	id, _, err := splitCiphertext(ciphertext)
	return id, err
}

func splitCiphertext(ct []byte) (string, []byte, error) {
	if len(ct) < 2 || ct[0] != formatVersion {
		return "", nil, ErrDecrypt
	}
	n := int(ct[1])
	if n == 0 || len(ct) < 2+n+nonceSize+16 {
		return "", nil, ErrDecrypt
	}
	return string(ct[2 : 2+n]), ct[2+n:], nil
}

// Open decrypts ciphertext sealed by any key of the ring with the same ad.
func (k *Keyring) Open(ciphertext, ad []byte) ([]byte, error) {
	id, rest, err := splitCiphertext(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w (key %s not in the keyring)", ErrDecrypt, safeID(id))
	}
	pt, err := aead.Open(nil, rest[:nonceSize], rest[nonceSize:], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// AD builds unambiguous associated data from table, column and project id (length-prefixed),
// so a value cannot be moved to another column or tenant.
func AD(table, column, projectID string) []byte {
	return lengthPrefixed("personas-ad-v1", table, column, projectID)
}

func lengthPrefixed(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// NewDataKey returns 32 random bytes: a project data key.
func NewDataKey() ([]byte, error) {
	b := make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random data key: %w", err)
	}
	return b, nil
}

func dataKeyAD(projectID string) []byte { return AD("project_keys", "data_key", projectID) }

// WrapDataKey seals a project data key under the primary key, bound to the project id.
func (k *Keyring) WrapDataKey(dk []byte, projectID string) ([]byte, error) {
	if len(dk) != keySize {
		return nil, fmt.Errorf("wrap: data key must be %d bytes", keySize)
	}
	return k.Seal(dk, dataKeyAD(projectID))
}

// UnwrapDataKey opens a wrapped data key of projectID.
func (k *Keyring) UnwrapDataKey(wrapped []byte, projectID string) ([]byte, error) {
	dk, err := k.Open(wrapped, dataKeyAD(projectID))
	if err != nil {
		return nil, err
	}
	if len(dk) != keySize {
		return nil, ErrDecrypt
	}
	return dk, nil
}

// DataKeyring makes a one-key keyring from a project data key.
func DataKeyring(id string, dk []byte) (*Keyring, error) {
	return NewKeyring(Key{ID: id, Secret: dk})
}
