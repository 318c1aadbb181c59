package accounts

import (
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"

	"personas/models"
	"personas/privacy"
)

// Password policy: at least MinPasswordLength characters, a zxcvbn score of at least
// MinPasswordScore (guessed with the person's email address and the product's name as words
// an attacker would try first), and not a common password however it is written.
const (
	MinPasswordLength = 10
	MinPasswordScore  = 3
)

// Strength is how hard a password is to guess, for the form that asks for one.
type Strength struct {
	Score int    `json:"score"` // 0 (guessed at once) to 4 (very hard)
	OK    bool   `json:"ok"`    // the policy accepts it
	Hint  string `json:"hint"`  // one short, plain sentence
}

// userInputs are the words a password must not lean on: the address, its parts, the product.
func userInputs(email string) []string {
	in := []string{Product, strings.ToLower(Product), "personas"}
	if local, domain, ok := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@"); ok {
		in = append(in, email, local, domain)
		parts := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' })
		in = append(in, strings.Join(parts, ""))
		in = append(in, parts...)
		if name, _, ok := strings.Cut(domain, "."); ok {
			in = append(in, name)
		}
	}
	return in
}

// common reports whether the estimator found the password to be, as a whole, one word of
// its common-password list (with capitals, l33t or reversed).
func common(seq []*match.Match, pw string) bool {
	return len(seq) == 1 && seq[0].Pattern == "dictionary" && seq[0].DictionaryName == "passwords" &&
		seq[0].I == 0 && seq[0].J == utf8.RuneCountInString(pw)-1
}

// PasswordStrength rates a password for the person whose address is email (may be empty).
func PasswordStrength(pw, email string) Strength {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength {
		return Strength{Score: 0, Hint: "Use at least 10 characters."}
	}
	if len(pw) > privacy.MaxPasswordBytes {
		return Strength{Score: 0, Hint: "Use at most 1024 bytes."}
	}
	r := zxcvbn.PasswordStrength(pw, userInputs(email))
	st := Strength{Score: r.Score}
	switch {
	case common(r.Sequence, pw):
		st.Score = 0
		st.Hint = "This is one of the most common passwords: choose another."
	case r.Score < MinPasswordScore && leansOnInputs(r.Sequence):
		st.Hint = "Easy to guess: avoid your name, your address and the product's name."
	case r.Score < MinPasswordScore:
		st.Hint = "Easy to guess: add a few unrelated words."
	case r.Score == MinPasswordScore:
		st.Hint = "Good."
	default:
		st.Hint = "Strong."
	}
	st.OK = st.Score >= MinPasswordScore
	return st
}

func leansOnInputs(seq []*match.Match) bool {
	for _, m := range seq {
		if m.Pattern == "dictionary" && m.DictionaryName == "user_inputs" && len(m.Token) >= 4 {
			return true
		}
	}
	return false
}

// CheckPassword applies the policy to a new password; the refusal is a validation error of
// field "password" carrying the hint.
func CheckPassword(pw, email string) error {
	if st := PasswordStrength(pw, email); !st.OK {
		return models.Invalid("password", "%s", st.Hint)
	}
	return nil
}
