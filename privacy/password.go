package privacy

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1
// lane), about 40 ms on a server core.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// ErrPasswordHash is wrapped by VerifyPassword's error when the stored
// encoding is not an argon2id PHC string it accepts.
var ErrPasswordHash = errors.New("privacy: malformed password hash")

// HashPassword hashes a password with argon2id and a random salt and returns
// the PHC string, "$argon2id$v=19$m=19456,t=2,p=1$salt$hash".
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("privacy: draw password salt: %w", err)
	}
	h := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(h)), nil
}

// VerifyPassword reports whether pw matches an encoded argon2id hash, with
// the parameters the hash was made with, comparing in constant time. A
// malformed encoding is an error wrapping ErrPasswordHash, not a mismatch.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.hash)))
	return subtle.ConstantTimeCompare(got, p.hash) == 1, nil
}

// DummyVerify does the work of a VerifyPassword with the current parameters
// and throws the result away. Sign-in calls it for unknown accounts, so that
// the answer's timing does not tell which e-mail addresses have an account.
func DummyVerify(pw string) {
	var salt [argonSaltLen]byte
	got := argon2.IDKey([]byte(pw), salt[:], argonTime, argonMemory, argonThreads, argonKeyLen)
	var want [argonKeyLen]byte
	subtle.ConstantTimeCompare(got, want[:])
}

// phc is a parsed argon2id hash.
type phc struct {
	memory, time uint32
	threads      uint8
	salt, hash   []byte
}

// parsePHC parses "$argon2id$v=19$m=…,t=…,p=…$salt$hash" strictly, with
// bounds that keep a corrupt row from costing gigabytes.
func parsePHC(encoded string) (phc, error) {
	var p phc
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: not an argon2id PHC string", ErrPasswordHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: unsupported version", ErrPasswordHash)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, fmt.Errorf("%w: want m=,t=,p= parameters", ErrPasswordHash)
	}
	var vals [3]uint64
	for x, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[x], name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return p, fmt.Errorf("%w: bad parameter %s", ErrPasswordHash, strings.TrimSuffix(name, "="))
		}
		vals[x] = n
	}
	if vals[0] > 1<<21 || vals[1] > 64 || vals[2] > 64 {
		return p, fmt.Errorf("%w: parameters out of bounds", ErrPasswordHash)
	}
	p.memory, p.time, p.threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	var err error
	b64 := base64.RawStdEncoding.Strict()
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return p, fmt.Errorf("%w: bad salt", ErrPasswordHash)
	}
	if p.hash, err = b64.DecodeString(parts[5]); err != nil || len(p.hash) < 16 || len(p.hash) > 64 {
		return p, fmt.Errorf("%w: bad hash", ErrPasswordHash)
	}
	return p, nil
}
