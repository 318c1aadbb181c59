package privacy_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"personas/privacy"
)

func TestHashPassword(t *testing.T) {
	t.Parallel()
	h, err := privacy.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Errorf("HashPassword = %q, want %s", h, phc)
	}
	again, _ := privacy.HashPassword("correct horse battery staple")
	if again == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	tests := []struct {
		name, pw string
		want     bool
	}{
		{"right", "correct horse battery staple", true},
		{"wrong", "correct horse battery stapler", false},
		{"case", "Correct horse battery staple", false},
		{"empty", "", false},
		{"prefix", "correct horse", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := privacy.VerifyPassword(h, tt.pw)
			if err != nil || ok != tt.want {
				t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
			}
		})
	}
}

func TestVerifyPasswordOtherParameters(t *testing.T) {
	t.Parallel()
	// Hashes made with other parameters (older, or tuned later) still verify.
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte("pw"), salt, 1, 64, 2, 24)
	b64 := base64.RawStdEncoding
	encoded := "$argon2id$v=19$m=64,t=1,p=2$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(sum)
	if ok, err := privacy.VerifyPassword(encoded, "pw"); err != nil || !ok {
		t.Errorf("VerifyPassword = %v, %v; want true", ok, err)
	}
	if ok, err := privacy.VerifyPassword(encoded, "pW"); err != nil || ok {
		t.Errorf("VerifyPassword of a wrong password = %v, %v; want false", ok, err)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	t.Parallel()
	good, err := privacy.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", with(1, "argon2i")},
		{"no leading dollar", strings.TrimPrefix(good, "$")},
		{"old version", with(2, "v=16")},
		{"missing parameter", with(3, "m=19456,t=2")},
		{"parameters out of order", with(3, "t=2,m=19456,p=1")},
		{"zero memory", with(3, "m=0,t=2,p=1")},
		{"huge memory", with(3, "m=4194304,t=2,p=1")},
		{"huge time", with(3, "m=19456,t=1000,p=1")},
		{"negative", with(3, "m=-1,t=2,p=1")},
		{"trailing garbage", with(3, "m=19456,t=2,p=1x")},
		{"salt not base64", with(4, "!!!!")},
		{"salt too short", with(4, "AAAA")},
		{"hash not base64", with(5, "***")},
		{"hash too short", with(5, "AAAA")},
		{"extra field", good + "$x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := privacy.VerifyPassword(tt.encoded, "pw")
			if ok || !errors.Is(err, privacy.ErrPasswordHash) {
				t.Errorf("VerifyPassword(%q) = %v, %v; want false, ErrPasswordHash", tt.encoded, ok, err)
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	t.Parallel()
	// Its timing is the point and is not asserted here (see
	// BenchmarkVerifyPassword); it must accept any input.
	for _, pw := range []string{"", "pw", strings.Repeat("x", 10000)} {
		privacy.DummyVerify(pw)
	}
}

func BenchmarkVerifyPassword(b *testing.B) {
	h, _ := privacy.HashPassword("pw")
	b.Run("known user", func(b *testing.B) {
		for b.Loop() {
			privacy.VerifyPassword(h, "wrong")
		}
	})
	b.Run("unknown user", func(b *testing.B) {
		for b.Loop() {
			privacy.DummyVerify("wrong")
		}
	})
}

func TestBlindIndex(t *testing.T) {
	t.Parallel()
	key := []byte(strings.Repeat("k", 32))
	idx, err := privacy.NewBlindIndex(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := privacy.NewBlindIndex([]byte(strings.Repeat("K", 32)))

	// The format is pinned: stored hashes must survive a refactoring.
	m := hmac.New(sha256.New, key)
	for _, p := range []string{"visitor", "p1", "v1"} {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
		m.Write([]byte(p))
	}
	if got, want := hex.EncodeToString(idx.VisitorHash("p1", "v1")), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("VisitorHash = %s, want %s", got, want)
	}

	hx := func(b []byte) string { return hex.EncodeToString(b) }
	tests := []struct {
		name      string
		a, b      string
		wantEqual bool
	}{
		{"deterministic", hx(idx.VisitorHash("p1", "v1")), hx(idx.VisitorHash("p1", "v1")), true},
		{"per project", hx(idx.VisitorHash("p1", "v1")), hx(idx.VisitorHash("p2", "v1")), false},
		{"per visitor", hx(idx.VisitorHash("p1", "v1")), hx(idx.VisitorHash("p1", "v2")), false},
		{"boundaries", hx(idx.VisitorHash("p1", "v1")), hx(idx.VisitorHash("p1v", "1")), false},
		{"per key", hx(idx.VisitorHash("p1", "v1")), hx(other.VisitorHash("p1", "v1")), false},
		{"email normalised", hx(idx.Email(" Jane@Example.COM\n")), hx(idx.Email("jane@example.com")), true},
		{"emails differ", hx(idx.Email("jane@example.com")), hx(idx.Email("john@example.com")), false},
		{"purposes differ", hx(idx.Email("x")), hx(idx.Sum("visitor", "x")), false},
		{"sum parts", hx(idx.Sum("ab", "c")), hx(idx.Sum("a", "bc")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.a == tt.b) != tt.wantEqual {
				t.Errorf("%s vs %s: equal = %v, want %v", tt.a, tt.b, tt.a == tt.b, tt.wantEqual)
			}
		})
	}
	if n := len(idx.Email("x")); n != 32 {
		t.Errorf("hash is %d bytes, want 32", n)
	}

	// The index keeps its own copy of the key.
	before := idx.Email("jane@example.com")
	key[0] = 'X'
	if hx(idx.Email("jane@example.com")) != hx(before) {
		t.Error("changing the caller's key slice changed the index")
	}
	if _, err := privacy.NewBlindIndex(make([]byte, 31)); err == nil {
		t.Error("NewBlindIndex accepted a 31-byte key")
	}
}

func TestSigner(t *testing.T) {
	t.Parallel()
	// RFC 8032, section 7.1, test 1.
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	wantPub := "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	wantSig := "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
	s, err := privacy.NewSigner(seed)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(s.PublicKey()); got != wantPub {
		t.Errorf("PublicKey = %s, want %s", got, wantPub)
	}
	sig := s.Sign(nil)
	if got := hex.EncodeToString(sig); got != wantSig {
		t.Errorf("Sign = %s, want %s", got, wantSig)
	}
	sum := sha256.Sum256(s.PublicKey())
	if got, want := s.KeyID(), hex.EncodeToString(sum[:])[:16]; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}

	receipt := []byte(`{"deletion":"d1","events":42}`)
	rsig := s.Sign(receipt)
	other, _ := privacy.NewSigner(make([]byte, 32))
	tampered := append([]byte(nil), receipt...)
	tampered[len(tampered)-3] = '3'
	tests := []struct {
		name string
		pub  []byte
		msg  []byte
		sig  []byte
		want bool
	}{
		{"valid", s.PublicKey(), receipt, rsig, true},
		{"tampered receipt", s.PublicKey(), tampered, rsig, false},
		{"other key", other.PublicKey(), receipt, rsig, false},
		{"signature of another message", s.PublicKey(), receipt, sig, false},
		{"short signature", s.PublicKey(), receipt, rsig[:63], false},
		{"empty signature", s.PublicKey(), receipt, nil, false},
		{"short public key", s.PublicKey()[:31], receipt, rsig, false},
		{"nil public key", nil, receipt, rsig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := privacy.Verify(tt.pub, tt.msg, tt.sig); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := privacy.NewSigner(make([]byte, n)); err == nil {
			t.Errorf("NewSigner accepted a %d-byte seed", n)
		}
	}
}
