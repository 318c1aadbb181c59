package privacy

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

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

// MaxPasswordBytes is the longest password that is ever hashed. Sign-in refuses longer ones
// before any work: argon2id reads the whole input, and nobody types more.
const MaxPasswordBytes = 1024

// ErrHashBusy is returned by HashLimiter.Do when no hashing slot came free in time.
var ErrHashBusy = errors.New("privacy: every password hashing slot is busy")

// HashLimiter bounds how many argon2id computations run at once. Each one holds 19 MiB and a
// core for about 40 ms, so an unbounded flood of sign-ins takes the memory and the CPU that
// everything else in the process needs; with a bound, the flood waits in line instead.
type HashLimiter struct {
	slots   chan struct{}
	wait    time.Duration
	running atomic.Int64
	busy    atomic.Int64
}

// DefaultHashSlots is a bound sized to the machine: half the cores the Go scheduler uses, at
// least one, so that hashing never takes every core from the request path.
func DefaultHashSlots() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// NewHashLimiter lets n computations run at once (DefaultHashSlots when n < 1); a caller waits
// at most wait for a slot (1 s when wait <= 0).
func NewHashLimiter(n int, wait time.Duration) *HashLimiter {
	if n < 1 {
		n = DefaultHashSlots()
	}
	if wait <= 0 {
		wait = time.Second
	}
	return &HashLimiter{slots: make(chan struct{}, n), wait: wait}
}

// Do runs fn, which hashes or verifies a password, once a slot is free. It returns ErrHashBusy
// without running fn when no slot came free within the limiter's wait, and ctx's error when ctx
// ended first.
func (l *HashLimiter) Do(ctx context.Context, fn func()) error {
	select {
	case l.slots <- struct{}{}:
	default:
		t := time.NewTimer(l.wait)
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-t.C:
			l.busy.Add(1)
			return ErrHashBusy
		case <-ctx.Done():
			l.busy.Add(1)
			return ctx.Err()
		}
	}
	l.running.Add(1)
	defer func() {
		l.running.Add(-1)
		<-l.slots
	}()
	fn()
	return nil
}

// Slots is how many computations may run at once.
func (l *HashLimiter) Slots() int { return cap(l.slots) }

// Running is how many computations run now.
func (l *HashLimiter) Running() int { return int(l.running.Load()) }

// Refused counts the callers that got no slot (ErrHashBusy or their context ended).
func (l *HashLimiter) Refused() int64 { return l.busy.Load() }
