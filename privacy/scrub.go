package privacy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Placeholders that Scrub puts where it removed personal data. They contain
// no digits and no characters that any detector starts on, so scrubbing is
// idempotent.
const (
	phEmail  = "[email]"
	phPhone  = "[phone]"
	phCard   = "[card]"
	phIBAN   = "[iban]"
	phIP     = "[ip]"
	phID     = "[id]"
	phNumber = "[number]"
	phToken  = "[token]"
)

// minNumberRun is the length of a digit run that is removed even when no
// detector recognises it: seven digits are enough to single a person out
// (a phone subscriber number, an account or a customer number).
const minNumberRun = 7

// Scrub replaces personal data in free text with typed placeholders and keeps
// the rest of the text as it is: e-mail addresses become "[email]", phone
// numbers "[phone]", Luhn-valid card numbers "[card]", mod-97-valid IBANs
// "[iban]", IPv4 and IPv6 addresses "[ip]", national identity numbers
// "[id]", secrets and long random strings "[token]", and any other run of
// seven or more digits "[number]". Prices, sizes, dates, times, years,
// versions and other short numbers are kept.
//
// Digits of every script count as digits, so full-width or Arabic-Indic
// numbers are no way around it. Invalid UTF-8 is replaced with U+FFFD first,
// so the result is always valid UTF-8. Scrub runs in time linear in the length
// of s, does not allocate when there is nothing to remove, and
// Scrub(Scrub(s)) == Scrub(s).
func Scrub(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	// A detector looks at what follows a candidate ("1.2.3.4" is no address
	// when ".5" follows), and a replacement can change that, so the text is
	// scanned again until nothing changes: that is what makes Scrub
	// idempotent. Text without personal data is scanned once.
	for range maxPasses {
		out, changed := scrubOnce(s)
		if !changed {
			break
		}
		s = out
	}
	return s
}

// maxPasses bounds the rescans; in practice the second pass finds nothing.
const maxPasses = 4

// scrubOnce scans s once and reports whether it replaced anything.
func scrubOnce(s string) (string, bool) {
	sc := scanner{s: s}
	sc.run()
	if sc.out == nil {
		return s, false
	}
	sc.out = append(sc.out, s[sc.last:]...)
	return string(sc.out), true
}

// span is a half-open byte range of the input.
type span struct{ start, end int }

// match is what a detector found: s[start:end] is replaced by ph. start may
// lie after the position the detector was called at, when a prefix such as
// "Bearer " or "password=" is kept.
type match struct {
	start, end int
	ph         string
}

// scanner walks the text once, left to right, trying the detectors at the
// start of every word and copying the text between matches.
type scanner struct {
	s      string
	out    []byte // nil until the first replacement
	last   int    // s[:last] has been written to out
	emails []span
	// tokenChecked is the end of the last token-character run examined as a
	// whole, so that a run is examined once however many words it holds.
	tokenChecked int
}

func (sc *scanner) replace(start, end int, ph string) {
	if sc.out == nil {
		sc.out = make([]byte, 0, len(sc.s)+8)
	}
	sc.out = append(sc.out, sc.s[sc.last:start]...)
	sc.out = append(sc.out, ph...)
	sc.last = end
}

func (sc *scanner) run() {
	s := sc.s
	sc.emails = findEmails(s)
	next := 0 // index of the next e-mail span
	prevAlnum := false
	for i := 0; i < len(s); {
		limit := len(s)
		if next < len(sc.emails) {
			if i == sc.emails[next].start {
				sc.replace(i, sc.emails[next].end, phEmail)
				i = sc.emails[next].end
				next++
				prevAlnum = false
				continue
			}
			limit = sc.emails[next].start
		}
		if !prevAlnum {
			if m, ok := sc.matchAt(i, limit); ok {
				sc.replace(m.start, m.end, m.ph)
				i = m.end
				prevAlnum = false
				continue
			}
		}
		if c := s[i]; c < utf8.RuneSelf && !isASCIIDigit(c) {
			prevAlnum = isASCIILetter(c)
			i++
			continue
		}
		if _, w := digitAt(s, i); w > 0 {
			// A digit run no detector claimed: long ones go anyway.
			j, n := i, 0
			for j < limit {
				_, w := digitAt(s, j)
				if w == 0 {
					break
				}
				j += w
				n++
			}
			if n >= minNumberRun {
				sc.replace(i, j, phNumber)
				prevAlnum = false
			} else {
				prevAlnum = true
			}
			i = j
			continue
		}
		alnum, w := alnumAt(s, i)
		prevAlnum = alnum
		i += w
	}
}

// matchAt tries the detectors at i, the start of a word, and returns the
// first that matches within s[:limit].
func (sc *scanner) matchAt(i, limit int) (match, bool) {
	s := sc.s
	c := s[i]
	switch {
	case isASCIILetter(c):
		if m, ok := sc.matchLetterWord(i, limit); ok {
			return m, true
		}
	case '0' <= c && c <= '9' || c >= utf8.RuneSelf:
		if _, w := digitAt(s, i); w == 0 {
			return match{}, false
		}
		if m, ok := sc.matchDigitWord(i, limit); ok {
			return m, true
		}
	case c == '+' || c == '(':
		if i+1 < limit {
			if _, w := digitAt(s, i+1); w > 0 || c == '+' && s[i+1] == '(' || c == '(' && s[i+1] == '+' {
				return matchGroups(s, i, limit)
			}
		}
	case c == ':':
		if i+1 < limit && s[i+1] == ':' {
			if end := matchIPv6(s, i, limit); end > 0 {
				return match{i, end, phIP}, true
			}
		}
	}
	return match{}, false
}

func (sc *scanner) matchLetterWord(i, limit int) (match, bool) {
	s := sc.s
	end, digits := i, false
	for end < limit && isASCIIAlnum(s[end]) {
		digits = digits || isASCIIDigit(s[end])
		end++
	}
	next := byte(0)
	if end < limit {
		next = s[end]
	}
	if !digits && end-i < 20 && strings.IndexByte("=:\"'_-+/.", next) < 0 {
		// A plain word: only "Bearer …", "Basic …" and "QQ 12 34 56 C" can
		// start with one.
		if next != ' ' {
			return match{}, false
		}
		switch end - i {
		case 2:
			if e := niAt(s, i, limit); e > 0 {
				return match{i, e, phID}, true
			}
		case 5, 6:
			return matchSecret(s, i, limit)
		}
		return match{}, false
	}
	if m, ok := matchSecret(s, i, limit); ok {
		return m, true
	}
	if end := matchPrefixedKey(s, i, limit); end > 0 {
		return match{i, end, phToken}, true
	}
	if end := matchJWT(s, i, limit); end > 0 {
		return match{i, end, phToken}, true
	}
	if end := matchIBAN(s, i, limit); end > 0 {
		return match{i, end, phIBAN}, true
	}
	if end := matchLetterID(s, i, limit); end > 0 {
		return match{i, end, phID}, true
	}
	if end := sc.matchToken(i, limit); end > 0 {
		return match{i, end, phToken}, true
	}
	if next == ':' && isHexLetter(s[i]) {
		if end := matchIPv6(s, i, limit); end > 0 {
			return match{i, end, phIP}, true
		}
	}
	return match{}, false
}

func (sc *scanner) matchDigitWord(i, limit int) (match, bool) {
	s := sc.s
	if s[i] < utf8.RuneSelf {
		end, letters := i, false
		for end < limit && isASCIIAlnum(s[end]) {
			letters = letters || !isASCIIDigit(s[end])
			end++
		}
		next := byte(0)
		if end < limit {
			next = s[end]
		}
		if letters || end-i >= minTokenLen || strings.IndexByte("-_+/=", next) >= 0 {
			if end := sc.matchToken(i, limit); end > 0 {
				return match{i, end, phToken}, true
			}
		}
		if next == '.' && !letters && end-i <= 3 {
			if end := matchIPv4(s, i, limit); end > 0 {
				return match{i, end, phIP}, true
			}
		}
		if next == ':' {
			if end := matchIPv6(s, i, limit); end > 0 {
				return match{i, end, phIP}, true
			}
		}
	}
	if end := matchDigitID(s, i, limit); end > 0 {
		return match{i, end, phID}, true
	}
	return matchGroups(s, i, limit)
}

func isASCIILetter(c byte) bool {
	c |= 0x20
	return 'a' <= c && c <= 'z'
}

func isASCIIDigit(c byte) bool { return '0' <= c && c <= '9' }

func isASCIIAlnum(c byte) bool { return isASCIIDigit(c) || isASCIILetter(c) }

func isHexLetter(c byte) bool { return 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// alnumAt reports whether the character at s[i] is part of a word (a letter,
// digit or combining mark of any script) and its width in bytes.
func alnumAt(s string, i int) (bool, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return isASCIIAlnum(c), 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r), w
}

// wordAt reports whether a word character sits at s[i], false past limit.
func wordAt(s string, i, limit int) bool {
	if i >= limit {
		return false
	}
	ok, _ := alnumAt(s, i)
	return ok
}

// digitAt returns the value of the decimal digit at s[i], of any script,
// and its width in bytes; the width is 0 when there is no digit.
func digitAt(s string, i int) (int, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		if '0' <= c && c <= '9' {
			return int(c - '0'), 1
		}
		return 0, 0
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	if !unicode.IsDigit(r) {
		return 0, 0
	}
	return digitValue(r), w
}

// digitValue returns the value of a Unicode decimal digit: every range of
// the Nd category is made of whole blocks of ten that start at zero.
func digitValue(r rune) int {
	for _, rg := range unicode.Nd.R16 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	return 0
}
