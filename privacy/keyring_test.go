package privacy_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/privacy"
)

// secret returns a 32-byte key filled with b, and its standard base64.
func secret(b byte) ([]byte, string) {
	k := bytes.Repeat([]byte{b}, 32)
	return k, base64.StdEncoding.EncodeToString(k)
}

func mustKeyring(t *testing.T, spec string) *privacy.Keyring {
	t.Helper()
	k, err := privacy.ParseKeyring(spec)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	_, s1 := secret(1)
	k := mustKeyring(t, "k1:"+s1)
	ad := privacy.AD("events", "text", "p1")
	for _, pt := range [][]byte{nil, []byte("x"), []byte("Jane's text"), bytes.Repeat([]byte{0}, 4096)} {
		c, err := k.Seal(pt, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if want := 2 + len("k1") + 12 + len(pt) + 16; len(c) != want {
			t.Errorf("ciphertext of %d bytes is %d bytes, want %d", len(pt), len(c), want)
		}
		if c[0] != 1 || c[1] != 2 || string(c[2:4]) != "k1" {
			t.Errorf("header = %x, want version 1, id length 2, id k1", c[:4])
		}
		got, err := k.Open(c, ad)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open(Seal(%q)) = %q", pt, got)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	t.Parallel()
	_, s1 := secret(1)
	k := mustKeyring(t, "k1:"+s1)
	seen := map[string]bool{}
	for range 100 {
		c, err := k.Seal([]byte("same"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(c)] {
			t.Fatal("two seals of the same plaintext gave the same ciphertext")
		}
		seen[string(c)] = true
	}
}

// TestOpenRefusesMovedValues seals one value per row of the table and opens
// it with every other row's associated data: only its own opens.
func TestOpenRefusesMovedValues(t *testing.T) {
	t.Parallel()
	_, s1 := secret(1)
	k := mustKeyring(t, "k1:"+s1)
	rows := []struct{ table, column, project string }{
		{"users", "email", ""},
		{"events", "text", "p1"},
		{"events", "text", "p2"},
		{"events", "attrs", "p1"},
		{"business_context", "notes", "p1"},
		{"project_keys", "data_key", "p1"},
		{"eventst", "ext", "p1"}, // same bytes run together as "events"+"text"
	}
	sealed := make([][]byte, len(rows))
	for i, r := range rows {
		var err error
		if sealed[i], err = k.Seal([]byte("value"), privacy.AD(r.table, r.column, r.project)); err != nil {
			t.Fatal(err)
		}
	}
	for i, from := range rows {
		for j, to := range rows {
			t.Run(from.table+"."+from.column+"/"+from.project+" to "+to.table+"."+to.column+"/"+to.project, func(t *testing.T) {
				_, err := k.Open(sealed[i], privacy.AD(to.table, to.column, to.project))
				switch {
				case i == j && err != nil:
					t.Errorf("Open with its own AD: %v", err)
				case i != j && !errors.Is(err, privacy.ErrDecrypt):
					t.Errorf("Open with another row's AD: err = %v, want ErrDecrypt", err)
				}
			})
		}
	}
}

func TestOpenRefusesDamage(t *testing.T) {
	t.Parallel()
	_, s1 := secret(1)
	k := mustKeyring(t, "k1:"+s1)
	ad := privacy.AD("events", "text", "p1")
	c, err := k.Seal([]byte("some text"), ad)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(c) {
		if _, err := k.Open(c[:n], ad); !errors.Is(err, privacy.ErrDecrypt) {
			t.Errorf("Open of the first %d bytes: err = %v, want ErrDecrypt", n, err)
		}
	}
	for i := range len(c) {
		for _, bit := range []byte{0x01, 0x80} {
			d := bytes.Clone(c)
			d[i] ^= bit
			if _, err := k.Open(d, ad); !errors.Is(err, privacy.ErrDecrypt) {
				t.Errorf("Open with byte %d xor %#x: err = %v, want ErrDecrypt", i, bit, err)
			}
		}
	}
	if _, err := k.Open(append(bytes.Clone(c), 0), ad); !errors.Is(err, privacy.ErrDecrypt) {
		t.Errorf("Open with a byte appended: err = %v, want ErrDecrypt", err)
	}
}

func TestOpenUnknownKey(t *testing.T) {
	t.Parallel()
	_, s1 := secret(1)
	_, s2 := secret(2)
	tests := []struct{ name, sealSpec, openSpec string }{
		{"other id", "k1:" + s1, "k2:" + s2},
		{"same id, other secret", "k1:" + s1, "k1:" + s2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := mustKeyring(t, tt.sealSpec).Seal([]byte("x"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mustKeyring(t, tt.openSpec).Open(c, nil); !errors.Is(err, privacy.ErrDecrypt) {
				t.Errorf("Open: err = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	_, s1 := secret(1)
	_, s2 := secret(2)
	ad := privacy.AD("users", "email", "")
	old := mustKeyring(t, "k1:"+s1)
	both := mustKeyring(t, "k2:"+s2+", k1:"+s1)
	next := mustKeyring(t, "k2:"+s2)

	c1, err := old.Seal([]byte("jane@example.com"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := both.KeyID(c1); err != nil || id != "k1" {
		t.Errorf("KeyID = %q, %v; want k1", id, err)
	}
	if got, err := both.Open(c1, ad); err != nil || string(got) != "jane@example.com" {
		t.Errorf("Open under k2,k1 = %q, %v", got, err)
	}
	c2, changed, err := both.Reseal(c1, ad)
	if err != nil || !changed {
		t.Fatalf("Reseal = %v, %v; want a change", changed, err)
	}
	if id, _ := both.KeyID(c2); id != "k2" || both.PrimaryID() != "k2" {
		t.Errorf("re-sealed under %q, primary %q; want k2", id, both.PrimaryID())
	}
	if got, err := next.Open(c2, ad); err != nil || string(got) != "jane@example.com" {
		t.Errorf("Open under k2 alone = %q, %v", got, err)
	}
	if _, err := next.Open(c1, ad); !errors.Is(err, privacy.ErrDecrypt) {
		t.Errorf("old ciphertext under k2 alone: err = %v, want ErrDecrypt", err)
	}
	if c3, changed, err := both.Reseal(c2, ad); err != nil || changed || !bytes.Equal(c3, c2) {
		t.Errorf("Reseal of a current ciphertext changed it (%v, %v)", changed, err)
	}
	if diff := cmp.Diff([]string{"k2", "k1"}, both.IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
}

func TestKeyIDMalformed(t *testing.T) {
	t.Parallel()
	_, s1 := secret(1)
	k := mustKeyring(t, "k1:"+s1)
	for _, c := range [][]byte{nil, {1}, {2, 2, 'k', '1'}, {1, 0}, {1, 33}, {1, 5, 'k'}} {
		if _, err := k.KeyID(c); !errors.Is(err, privacy.ErrDecrypt) {
			t.Errorf("KeyID(%x): err = %v, want ErrDecrypt", c, err)
		}
	}
}

func TestParseKeyringForms(t *testing.T) {
	t.Parallel()
	raw, _ := secret(0xfb) // 0xfb… encodes with '+', '/' in standard base64
	_, a := secret(0xa)
	_, b := secret(0xb)
	_, c := secret(0xc)
	tests := []struct {
		name, spec string
		primary    string
		ids        []string
	}{
		{"standard", "k1:" + base64.StdEncoding.EncodeToString(raw), "k1", []string{"k1"}},
		{"standard unpadded", "k1:" + base64.RawStdEncoding.EncodeToString(raw), "k1", []string{"k1"}},
		{"url-safe", "k1:" + base64.URLEncoding.EncodeToString(raw), "k1", []string{"k1"}},
		{"url-safe unpadded", "k1:" + base64.RawURLEncoding.EncodeToString(raw), "k1", []string{"k1"}},
		{"spaces around entries and colons", " k-2_b : " + a + " ,\tk1:" + b + "\n", "k-2_b", []string{"k-2_b", "k1"}},
		{"three keys", "c:" + c + ",b:" + b + ",a:" + a, "c", []string{"c", "b", "a"}},
		{"longest id", strings.Repeat("x", 32) + ":" + a, strings.Repeat("x", 32), []string{strings.Repeat("x", 32)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := privacy.ParseKeyring(tt.spec)
			if err != nil {
				t.Fatalf("ParseKeyring: %v", err)
			}
			if k.PrimaryID() != tt.primary {
				t.Errorf("PrimaryID = %q, want %q", k.PrimaryID(), tt.primary)
			}
			if diff := cmp.Diff(tt.ids, k.IDs()); diff != "" {
				t.Errorf("IDs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseKeyringErrors(t *testing.T) {
	t.Parallel()
	_, good := secret(7)
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 16))
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 33))
	tests := []struct{ name, spec, want string }{
		{"empty", "", "empty"},
		{"blank", "  \t ", "empty"},
		{"lone comma", ",", "entry 1 is empty"},
		{"trailing comma", "k1:" + good + ",", "entry 2 is empty"},
		{"double comma", "k1:" + good + ",,k2:" + good, "entry 2 is empty"},
		{"no colon", good, "entry 1 is not id:base64-key"},
		{"no id", ":" + good, "key id must be 1 to 32 characters"},
		{"id too long", strings.Repeat("k", 33) + ":" + good, "key id must be 1 to 32 characters"},
		{"id with space", "k 1:" + good, "character 2"},
		{"id with dot", "k.1:" + good, "character 2"},
		{"id not ASCII", "clé:" + good, "character 3"},
		{"no secret", "k1:", `key "k1" has no secret`},
		{"not base64", "k1:" + strings.Repeat("!", 44), `key "k1" is not valid base64`},
		{"base64 with spaces inside", "k1:" + good[:20] + " " + good[20:], `key "k1" is not valid base64`},
		{"hex instead of base64", "k1:" + strings.Repeat("ab", 32), `key "k1" is 48 bytes, want 32`},
		{"short key", "k1:" + short, `key "k1" is 16 bytes, want 32`},
		{"long key", "k1:" + long, `key "k1" is 33 bytes, want 32`},
		{"duplicate id", "k1:" + good + ",k1:" + good, `key "k1" appears twice`},
		{"second entry bad", "k2:" + good + ",k1:" + short, `key "k1" is 16 bytes`},
		{"secret with colon", "k1:" + good + ":x", `key "k1" is not valid base64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := privacy.ParseKeyring(tt.spec)
			if err == nil {
				t.Fatalf("ParseKeyring(%q) succeeded, want an error", tt.spec)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseKeyring error = %q, want it to say %q", err, tt.want)
			}
			for _, s := range []string{good, short, long, good[:12], strings.Repeat("ab", 8)} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q quotes key material", err)
				}
			}
		})
	}
}

func TestNewKeyringErrors(t *testing.T) {
	t.Parallel()
	k, _ := secret(1)
	tests := []struct {
		name string
		keys []privacy.Key
	}{
		{"no keys", nil},
		{"empty id", []privacy.Key{{ID: "", Secret: k}}},
		{"bad id", []privacy.Key{{ID: "a/b", Secret: k}}},
		{"short secret", []privacy.Key{{ID: "k1", Secret: k[:31]}}},
		{"nil secret", []privacy.Key{{ID: "k1"}}},
		{"duplicate", []privacy.Key{{ID: "k1", Secret: k}, {ID: "k1", Secret: k}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := privacy.NewKeyring(tt.keys...); err == nil {
				t.Error("NewKeyring succeeded, want an error")
			}
		})
	}
}

func TestGenerateKeyringSpec(t *testing.T) {
	t.Parallel()
	a, err := privacy.GenerateKeyringSpec("dev")
	if err != nil {
		t.Fatal(err)
	}
	b, err := privacy.GenerateKeyringSpec("dev")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two generated specs are equal")
	}
	k := mustKeyring(t, a)
	if k.PrimaryID() != "dev" {
		t.Errorf("PrimaryID = %q, want dev", k.PrimaryID())
	}
	if _, err := privacy.GenerateKeyringSpec("no good"); err == nil {
		t.Error("GenerateKeyringSpec accepted an invalid id")
	}
}

func TestAD(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b [3]string
	}{
		{"shifted boundary", [3]string{"ab", "c", "p"}, [3]string{"a", "bc", "p"}},
		{"into the project", [3]string{"t", "cp", "1"}, [3]string{"t", "c", "p1"}},
		{"empty parts", [3]string{"", "x", ""}, [3]string{"x", "", ""}},
		{"other project", [3]string{"events", "text", "p1"}, [3]string{"events", "text", "p2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := privacy.AD(tt.a[0], tt.a[1], tt.a[2])
			y := privacy.AD(tt.b[0], tt.b[1], tt.b[2])
			if bytes.Equal(x, y) {
				t.Errorf("AD%q and AD%q are both %x", tt.a, tt.b, x)
			}
		})
	}
	if !bytes.Equal(privacy.AD("t", "c", "p"), privacy.AD("t", "c", "p")) {
		t.Error("AD is not deterministic")
	}
}

func TestDataKeys(t *testing.T) {
	t.Parallel()
	_, s1 := secret(1)
	_, s2 := secret(2)
	kek := mustKeyring(t, "k1:"+s1)
	dk, err := privacy.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := privacy.NewDataKey()
	if len(dk) != 32 || bytes.Equal(dk, other) {
		t.Fatalf("NewDataKey gave %d bytes, or the same key twice", len(dk))
	}
	wrapped, err := kek.WrapDataKey(dk, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, dk) {
		t.Fatal("wrapped key contains the data key")
	}
	got, err := kek.UnwrapDataKey(wrapped, "p1")
	if err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("UnwrapDataKey = %x, %v; want the data key", got, err)
	}
	if _, err := kek.UnwrapDataKey(wrapped, "p2"); !errors.Is(err, privacy.ErrDecrypt) {
		t.Errorf("unwrap for another project: err = %v, want ErrDecrypt", err)
	}
	if _, err := mustKeyring(t, "k2:"+s2).UnwrapDataKey(wrapped, "p1"); !errors.Is(err, privacy.ErrDecrypt) {
		t.Errorf("unwrap without the key: err = %v, want ErrDecrypt", err)
	}
	// A value sealed with AD("project_keys", "data_key", p) that is not 32
	// bytes is refused too.
	odd, _ := kek.Seal([]byte("short"), privacy.AD("project_keys", "data_key", "p1"))
	if _, err := kek.UnwrapDataKey(odd, "p1"); !errors.Is(err, privacy.ErrDecrypt) {
		t.Errorf("unwrap of a 5-byte key: err = %v, want ErrDecrypt", err)
	}
	if _, err := kek.WrapDataKey(dk[:16], "p1"); err == nil {
		t.Error("WrapDataKey accepted a 16-byte key")
	}

	// Project data is sealed under the data key like account data is under
	// the keyring, and a destroyed data key leaves it unreadable.
	pk, err := privacy.DataKeyring("d1", got)
	if err != nil {
		t.Fatal(err)
	}
	ad := privacy.AD("events", "text", "p1")
	c, err := pk.Seal([]byte("clicked Buy"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := pk.KeyID(c); id != "d1" {
		t.Errorf("KeyID = %q, want d1", id)
	}
	if pt, err := pk.Open(c, ad); err != nil || string(pt) != "clicked Buy" {
		t.Errorf("Open = %q, %v", pt, err)
	}
	replaced, _ := privacy.DataKeyring("d1", other)
	if _, err := replaced.Open(c, ad); !errors.Is(err, privacy.ErrDecrypt) {
		t.Errorf("Open under a new data key: err = %v, want ErrDecrypt", err)
	}
	if _, err := privacy.DataKeyring("d1", dk[:8]); err == nil {
		t.Error("DataKeyring accepted an 8-byte key")
	}
}

func BenchmarkSeal(b *testing.B) {
	k, _ := privacy.NewKeyring(privacy.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	pt := []byte(strings.Repeat("a", 100))
	ad := privacy.AD("events", "text", "p1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(pt, ad); err != nil {
			b.Fatal(err)
		}
	}
}
