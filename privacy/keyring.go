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

// ErrDecrypt is wrapped by every error of Open and UnwrapDataKey: the
// ciphertext was truncated or altered, sealed for other associated data, or
// sealed under a key the keyring does not hold.
var ErrDecrypt = errors.New("privacy: cannot decrypt")

// Layout of a ciphertext: version ‖ key-id length ‖ key id ‖ nonce ‖ sealed.
const (
	sealVersion = 1
	nonceSize   = 12
	keySize     = 32
	maxKeyID    = 32
)

// Key is one AES-256 key of a keyring, with the id that ciphertexts carry
// to name it.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring seals values with AES-256-GCM under its primary key and opens
// values sealed under any of its keys, which is how keys rotate: add the new
// key first, re-seal, then drop the old one. A Keyring is safe for
// concurrent use.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
	order   []string // ids, primary first
}

// NewKeyring builds a keyring from keys; the first seals, all open. Ids are
// 1–32 characters from [A-Za-z0-9_-] and unique; secrets are 32 bytes.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("privacy: keyring needs at least one key")
	}
	k := &Keyring{primary: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, key := range keys {
		if err := checkKeyID(key.ID); err != nil {
			return nil, err
		}
		if len(key.Secret) != keySize {
			return nil, fmt.Errorf("privacy: key %q is %d bytes, want %d", key.ID, len(key.Secret), keySize)
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, fmt.Errorf("privacy: key %q appears twice", key.ID)
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, fmt.Errorf("privacy: key %q: %w", key.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("privacy: key %q: %w", key.ID, err)
		}
		k.aeads[key.ID] = aead
		k.order = append(k.order, key.ID)
	}
	return k, nil
}

// checkKeyID validates a key id without quoting it: a malformed id may be a
// pasted secret.
func checkKeyID(id string) error {
	if id == "" || len(id) > maxKeyID {
		return fmt.Errorf("privacy: key id must be 1 to %d characters, got %d", maxKeyID, len(id))
	}
	for x := 0; x < len(id); x++ {
		if c := id[x]; !isASCIIAlnum(c) && c != '-' && c != '_' {
			return fmt.Errorf("privacy: key id may hold only letters, digits, '-' and '_' (character %d is not one)", x+1)
		}
	}
	return nil
}

// ParseKeyring parses a keyring specification such as
// "k2:base64,k1:base64" (PERSONAS_ENCRYPTION_KEYS): comma-separated
// id:secret pairs, the first the primary, each secret 32 bytes in standard or
// URL-safe base64, padded or not. Errors name the entry and what is wrong
// with it, and never quote key material.
func ParseKeyring(spec string) (*Keyring, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("privacy: keyring specification is empty")
	}
	var keys []Key
	for n, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("privacy: keyring entry %d is empty", n+1)
		}
		id, secret, ok := strings.Cut(entry, ":")
		id, secret = strings.TrimSpace(id), strings.TrimSpace(secret)
		if !ok {
			return nil, fmt.Errorf("privacy: keyring entry %d is not id:base64-key", n+1)
		}
		if err := checkKeyID(id); err != nil {
			return nil, fmt.Errorf("keyring entry %d: %w", n+1, err)
		}
		if secret == "" {
			return nil, fmt.Errorf("privacy: key %q has no secret", id)
		}
		raw, err := decodeKey(secret)
		if err != nil {
			return nil, fmt.Errorf("privacy: key %q is not valid base64", id)
		}
		if len(raw) != keySize {
			return nil, fmt.Errorf("privacy: key %q is %d bytes, want %d", id, len(raw), keySize)
		}
		keys = append(keys, Key{ID: id, Secret: raw})
	}
	return NewKeyring(keys...)
}

// decodeKey decodes base64 in any of its four common forms.
func decodeKey(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var raw []byte
		if raw, err = enc.Strict().DecodeString(s); err == nil {
			return raw, nil
		}
	}
	return nil, err
}

// GenerateKeyringSpec returns a one-key specification with a fresh random
// key, for development key files: "id:base64".
func GenerateKeyringSpec(id string) (string, error) {
	if err := checkKeyID(id); err != nil {
		return "", err
	}
	secret, err := NewDataKey()
	if err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(secret), nil
}

// PrimaryID returns the id of the key that seals.
func (k *Keyring) PrimaryID() string { return k.primary }

// IDs returns the ids of the keyring's keys, the primary first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.order...) }

// Seal encrypts plaintext under the primary key, bound to ad (see AD): the
// ciphertext opens only with the same associated data. The header needs no
// authentication of its own: another key id names another key, under which
// the tag does not verify.
func (k *Keyring) Seal(plaintext, ad []byte) ([]byte, error) {
	aead := k.aeads[k.primary]
	out := make([]byte, 0, 2+len(k.primary)+nonceSize+len(plaintext)+aead.Overhead())
	out = append(out, sealVersion, byte(len(k.primary)))
	out = append(out, k.primary...)
	header := len(out)
	out = out[:header+nonceSize]
	if _, err := rand.Read(out[header:]); err != nil {
		return nil, fmt.Errorf("privacy: draw nonce: %w", err)
	}
	return aead.Seal(out, out[header:], plaintext, ad), nil
}

// Open decrypts a ciphertext made by Seal with any key of the keyring. Every
// failure wraps ErrDecrypt.
func (k *Keyring) Open(ciphertext, ad []byte) ([]byte, error) {
	id, header, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: no key %q in the keyring", ErrDecrypt, id)
	}
	rest := ciphertext[header:]
	if len(rest) < nonceSize+aead.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext truncated", ErrDecrypt)
	}
	plain, err := aead.Open(nil, rest[:nonceSize], rest[nonceSize:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (altered, or other associated data)", ErrDecrypt)
	}
	return plain, nil
}

// Reseal opens a ciphertext and seals it again under the primary key, for
// key rotation. It returns the ciphertext unchanged, and false, when it is
// already sealed under the primary key.
func (k *Keyring) Reseal(ciphertext, ad []byte) ([]byte, bool, error) {
	id, err := k.KeyID(ciphertext)
	if err != nil {
		return nil, false, err
	}
	if id == k.primary {
		return ciphertext, false, nil
	}
	plain, err := k.Open(ciphertext, ad)
	if err != nil {
		return nil, false, err
	}
	out, err := k.Seal(plain, ad)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// KeyID returns the id of the key a ciphertext was sealed under, so that
// rotation can find what still needs re-sealing. Malformed headers wrap
// ErrDecrypt.
func (k *Keyring) KeyID(ciphertext []byte) (string, error) {
	id, _, err := parseHeader(ciphertext)
	return id, err
}

// parseHeader reads the version and key id and returns the header length.
func parseHeader(c []byte) (id string, n int, err error) {
	if len(c) < 2 {
		return "", 0, fmt.Errorf("%w: ciphertext truncated", ErrDecrypt)
	}
	if c[0] != sealVersion {
		return "", 0, fmt.Errorf("%w: unknown ciphertext version %d", ErrDecrypt, c[0])
	}
	l := int(c[1])
	if l == 0 || l > maxKeyID {
		return "", 0, fmt.Errorf("%w: bad key id length %d", ErrDecrypt, l)
	}
	if len(c) < 2+l {
		return "", 0, fmt.Errorf("%w: ciphertext truncated", ErrDecrypt)
	}
	return string(c[2 : 2+l]), 2 + l, nil
}

// AD builds the associated data of an encrypted column value: a format tag,
// the table, the column and the project id, each length-prefixed so that no
// two different triples give the same bytes. A value sealed for one column of
// one project opens nowhere else.
func AD(table, column, projectID string) []byte {
	return appendParts(nil, "personas-ad-v1", table, column, projectID)
}

// appendParts appends each part as a 4-byte big-endian length and its bytes.
func appendParts(dst []byte, parts ...string) []byte {
	for _, p := range parts {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
		dst = append(dst, p...)
	}
	return dst
}

// NewDataKey returns a fresh random 256-bit key, for a project's data key.
func NewDataKey() ([]byte, error) {
	dk := make([]byte, keySize)
	if _, err := rand.Read(dk); err != nil {
		return nil, fmt.Errorf("privacy: draw data key: %w", err)
	}
	return dk, nil
}

// dataKeyAD binds a wrapped data key to its project.
func dataKeyAD(projectID string) []byte { return AD("project_keys", "data_key", projectID) }

// WrapDataKey seals a project's data key under the keyring's primary key,
// bound to the project, for storage in the key store.
func (k *Keyring) WrapDataKey(dk []byte, projectID string) ([]byte, error) {
	if len(dk) != keySize {
		return nil, fmt.Errorf("privacy: data key is %d bytes, want %d", len(dk), keySize)
	}
	return k.Seal(dk, dataKeyAD(projectID))
}

// UnwrapDataKey opens a data key wrapped by WrapDataKey for the same project.
func (k *Keyring) UnwrapDataKey(wrapped []byte, projectID string) ([]byte, error) {
	dk, err := k.Open(wrapped, dataKeyAD(projectID))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key of project %s: %w", projectID, err)
	}
	if len(dk) != keySize {
		return nil, fmt.Errorf("unwrap data key of project %s: %w: %d bytes", projectID, ErrDecrypt, len(dk))
	}
	return dk, nil
}

// DataKeyring returns a keyring holding one project data key, so project
// data is sealed and opened exactly like account data. id names the data key
// version in the ciphertexts.
func DataKeyring(id string, dk []byte) (*Keyring, error) {
	return NewKeyring(Key{ID: id, Secret: dk})
}
