package accounts_test

import (
	"strings"
	"testing"

	"personas/accounts"
)

func TestPasswordStrength(t *testing.T) {
	tests := []struct {
		name, pw, email string
		ok              bool
		hint            string
	}{
		{"too short", "Tr0ub4dor", "", false, "at least 10"},
		{"common", "1234567890", "", false, "most common"},
		{"common with capitals", "Qwertyuiop", "", false, "most common"},
		{"common l33t", "p4ssw0rd12", "", false, "guess"},
		{"the address", "jane.doe@example.test", "jane.doe@example.test", false, "guess"},
		{"the product", "personas2026", "", false, "guess"},
		{"name and year", "janedoe1990", "jane.doe@example.test", false, "guess"},
		{"a passphrase", "correct horse battery staple", "", true, "Strong"},
		{"random", "v8#Lq2!mZr0x", "", true, ""},
		{"long but repeated", strings.Repeat("ab", 10), "", false, "guess"},
		{"too long", strings.Repeat("x9!", 400), "", false, "at most 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := accounts.PasswordStrength(tt.pw, tt.email)
			if st.OK != tt.ok || !strings.Contains(st.Hint, tt.hint) || st.Score < 0 || st.Score > 4 {
				t.Errorf("PasswordStrength(%q) = %+v, want ok %v with a hint containing %q", tt.pw, st, tt.ok, tt.hint)
			}
			if st.OK != (st.Score >= accounts.MinPasswordScore) {
				t.Errorf("ok %v disagrees with score %d", st.OK, st.Score)
			}
			if err := accounts.CheckPassword(tt.pw, tt.email); (err == nil) != tt.ok {
				t.Errorf("CheckPassword(%q) = %v, want ok %v", tt.pw, err, tt.ok)
			}
		})
	}
}

func TestQRSVG(t *testing.T) {
	svg, err := accounts.QRSVG("otpauth://totp/Personas:jane@example.test?secret=JBSWY3DPEHPK3PXP&issuer=Personas")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `) || !strings.HasSuffix(svg, "</svg>") {
		t.Errorf("not an SVG document: %.120s", svg)
	}
	for _, bad := range []string{"<script", "href", "otpauth", "secret"} {
		if strings.Contains(svg, bad) {
			t.Errorf("the SVG holds %q", bad)
		}
	}
	a, _ := accounts.QRSVG("a")
	b, _ := accounts.QRSVG("b")
	if a == b {
		t.Error("two contents give the same QR code")
	}
}
