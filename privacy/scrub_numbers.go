package privacy

import "unicode/utf8"

// Separator kinds between groups of digits.
const (
	sepNone  byte = iota
	sepSpace      // ASCII, no-break, figure, thin and narrow no-break spaces
	sepDash       // hyphen-minus and the Unicode hyphens and en dash
	sepDot
	sepSlash
	sepParen // around a parenthesised group: "(415) ", "+44 (0)20"
)

// sepAt returns the kind and width of a digit-group separator at s[i].
func sepAt(s string, i int) (byte, int) {
	switch c := s[i]; c {
	case ' ':
		return sepSpace, 1
	case '-':
		return sepDash, 1
	case '.':
		return sepDot, 1
	case '/':
		return sepSlash, 1
	default:
		if c < utf8.RuneSelf {
			return sepNone, 0
		}
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	switch r {
	case '\u00a0', '\u2007', '\u2009', '\u202f':
		return sepSpace, w
	case '\u2010', '\u2011', '\u2012', '\u2013':
		return sepDash, w
	}
	return sepNone, 0
}

// Bounds of a digit-group sequence: nothing personal is longer, and they keep
// the look-ahead from each word constant, so scanning stays linear.
const (
	maxGroups    = 10
	maxSeqDigits = 24
)

// group is one run of digits in a sequence such as "+1 (415) 555-2671".
type group struct {
	end   int  // offset just past the group (past its ')' if parenthesised)
	n     int  // digits in the group
	sep   byte // kind of separator before it
	paren bool // written in parentheses
}

// groupSeq is a sequence of digit groups joined by single separators, with
// the digits' values gathered for checksums.
type groupSeq struct {
	plus bool // written with a leading '+'
	g    [maxGroups]group
	k    int
	d    [maxSeqDigits]byte
	nd   int
}

// scanGroups reads the digit groups that start at s[i]. Separators must be
// consistent: the first may differ from the others ("030/123 4567",
// "(415) 555-2671"), the rest must agree, and a slash only comes first, so a
// date followed by a number ("01/12/2025 12") does not run into one long
// sequence.
func scanGroups(s string, i, limit int) groupSeq {
	var q groupSeq
	j := i
	openParen := false // "(+33) 6 12 34 56 78": the country code in parentheses
	if s[j] == '(' && j+1 < limit && s[j+1] == '+' {
		openParen = true
		j++
	}
	if s[j] == '+' {
		q.plus = true
		j++
	}
	var firstSep, restSep byte
	sep := sepNone
	for q.k < maxGroups && j < limit {
		paren := q.k == 0 && openParen
		if s[j] == '(' && !paren {
			paren = true
			j++
		}
		n := 0
		for j < limit {
			v, w := digitAt(s, j)
			if w == 0 {
				break
			}
			if q.nd+n >= maxSeqDigits {
				return q
			}
			q.d[q.nd+n] = byte(v)
			n++
			j += w
		}
		if n == 0 {
			return q
		}
		if paren {
			if j >= limit || s[j] != ')' {
				return q
			}
			j++
			sep = sepParen
		} else if wordAt(s, j, limit) {
			return q // glued to letters: "78abc" is not part of a number
		}
		q.g[q.k] = group{end: j, n: n, sep: sep, paren: paren}
		q.nd += n
		q.k++
		if j >= limit {
			return q
		}
		if paren {
			// "(415) 555", "(0)20", "(11) 91234-5678"
			if kind, w := sepAt(s, j); (kind == sepSpace || kind == sepDash) && j+w < limit {
				if _, dw := digitAt(s, j+w); dw > 0 {
					j += w
				}
			}
			if _, dw := digitAt(s, j); dw == 0 {
				return q
			}
			continue
		}
		kind, w := sepAt(s, j)
		if kind == sepNone || j+w >= limit {
			return q
		}
		nx := j + w
		if kind == sepSpace && s[nx] == '(' {
			if nx+1 < limit {
				if _, dw := digitAt(s, nx+1); dw > 0 {
					j, sep = nx, sepParen
					continue
				}
			}
			return q
		}
		if _, dw := digitAt(s, nx); dw == 0 {
			return q
		}
		switch {
		case firstSep == sepNone:
			firstSep = kind
		case kind == sepSlash:
			return q
		case restSep == sepNone:
			restSep = kind
		case kind != restSep:
			return q
		}
		j, sep = nx, kind
	}
	return q
}

// matchGroups classifies the longest prefix of the digit groups at s[i] that
// some detector accepts.
func matchGroups(s string, i, limit int) (match, bool) {
	q := scanGroups(s, i, limit)
	nd := q.nd
	for k := q.k; k >= 1; k-- {
		if ph := q.classify(k, nd); ph != "" {
			return match{i, q.g[k-1].end, ph}, true
		}
		nd -= q.g[k-1].n
	}
	return match{}, false
}

// classify names what the first k groups, holding nd digits, are, or returns
// "" for an ordinary number.
func (q *groupSeq) classify(k, nd int) string {
	d := q.d[:nd]
	if q.plus {
		if 8 <= nd && nd <= 15 {
			return phPhone // E.164 allows at most 15 digits
		}
		return ""
	}
	if nd >= 10 && d[0] == 0 && d[1] == 0 && d[2] != 0 && nd-2 <= 15 {
		return phPhone // "0044 20 7946 0958": the international prefix
	}
	if q.years(k) {
		return ""
	}
	sep := q.uniformSep(k)
	plain := k == 1 || sep == sepSpace || sep == sepDash
	if 13 <= nd && nd <= 19 && plain && luhn(d) {
		return phCard
	}
	if q.nanp(k) {
		return phPhone // before identity numbers: "943 476 5919" is also a valid NHS number
	}
	if q.isID(k, nd, sep) {
		return phID
	}
	if q.isPhone(k, nd) {
		return phPhone
	}
	if nd >= 9 && k >= 2 && (sep == sepSpace || sep == sepDash) && q.minGroup(1, k) >= 3 && !q.years(k) {
		return phNumber // "1234 5678 9012", an account or a member number
	}
	return ""
}

// uniformSep returns the separator used between all of the first k groups,
// or sepNone if they differ or there are none.
func (q *groupSeq) uniformSep(k int) byte {
	if k < 2 {
		return sepNone
	}
	sep := q.g[1].sep
	for _, g := range q.g[2:k] {
		if g.sep != sep {
			return sepNone
		}
	}
	return sep
}

// shape reports whether the first groups have exactly the given lengths.
func (q *groupSeq) shape(k int, ns ...int) bool {
	if k != len(ns) {
		return false
	}
	for x, n := range ns {
		if q.g[x].n != n {
			return false
		}
	}
	return true
}

// minGroup returns the smallest group length among groups [from, k).
func (q *groupSeq) minGroup(from, k int) int {
	m := maxSeqDigits
	for _, g := range q.g[from:k] {
		m = min(m, g.n)
	}
	return m
}

// years reports whether the first k groups are all years 1900–2099, as in a
// list of seasons, which is not personal.
func (q *groupSeq) years(k int) bool {
	off := 0
	for _, g := range q.g[:k] {
		if g.n != 4 {
			return false
		}
		c := int(q.d[off])*10 + int(q.d[off+1])
		if c != 19 && c != 20 {
			return false
		}
		off += 4
	}
	return true
}

// isID recognises national identity numbers written as digit groups.
func (q *groupSeq) isID(k, nd int, sep byte) bool {
	d := q.d[:nd]
	switch {
	case q.shape(k, 3, 2, 4) && (sep == sepDash || sep == sepSpace):
		// US social security number: no area 000 or 666, no zero group or serial.
		area := num(d[0:3])
		return area != 0 && area != 666 && num(d[3:5]) != 0 && num(d[5:9]) != 0
	case q.shape(k, 3, 3, 3) && (sep == sepDash || sep == sepSpace):
		return luhn(d) // Canadian social insurance number
	case q.shape(k, 3, 3, 4) && sep == sepSpace:
		return nhsValid(d) // NHS number
	case q.shape(k, 4, 4, 4) && (sep == sepDash || sep == sepSpace):
		return d[0] >= 2 && verhoeff(d) // Aadhaar
	case k == 1 && nd == 18:
		return chineseIDValid(d, d[17])
	}
	if (nd == 13 || nd == 15) && (k == 1 || sep == sepSpace) {
		return nirValid(d)
	}
	return false
}

// isPhone recognises national phone number layouts: the first groups of the
// sequence are the whole number.
func (q *groupSeq) isPhone(k, nd int) bool {
	d0 := q.d[0]
	switch {
	case d0 == 0: // trunk prefix: most of Europe, the UK, Japan, Australia
		switch {
		case k == 1:
			return nd == 10 || nd == 11
		case k == 5:
			return q.minGroup(0, k) == 2 && q.g[4].n == 2 && nd == 10 // "06 12 34 56 78"
		case k <= 4:
			return 9 <= nd && nd <= 12 && q.minGroup(0, k) >= 2
		}
	case q.g[0].paren: // "(11) 91234-5678"
		return 2 <= k && k <= 4 && 9 <= nd && nd <= 12
	case d0 >= 6 && nd == 9: // Spanish and similar 9-digit numbers
		return q.shape(k, 3, 3, 3) || q.shape(k, 3, 2, 2, 2) || q.shape(k, 2, 3, 2, 2)
	case d0 >= 6 && q.shape(k, 5, 5): // India "98765 43210"
		return true
	}
	return false
}

// nanp recognises a North American number, "(415) 555-2671",
// "415.555.2671", "1-800-555-0199": area code and exchange start with 2–9.
func (q *groupSeq) nanp(k int) bool {
	switch {
	case q.shape(k, 3, 3, 4):
		return q.d[0] >= 2 && q.d[3] >= 2
	case q.shape(k, 1, 3, 3, 4):
		return q.d[0] == 1 && q.d[1] >= 2 && q.d[4] >= 2
	}
	return false
}

// num returns the value of a few digits.
func num(d []byte) int {
	n := 0
	for _, v := range d {
		n = n*10 + int(v)
	}
	return n
}

// luhn reports whether digits pass the Luhn check (cards, SIN, personnummer).
func luhn(d []byte) bool {
	sum := 0
	double := false
	for x := len(d) - 1; x >= 0; x-- {
		v := int(d[x])
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// mod97 returns the value of digits modulo 97.
func mod97(d []byte) int {
	r := 0
	for _, v := range d {
		r = (r*10 + int(v)) % 97
	}
	return r
}

// nirValid checks a French social security number (NIR): sex, year, month,
// and on 15 digits the key 97 − (first 13 mod 97).
func nirValid(d []byte) bool {
	switch d[0] {
	case 1, 2, 3, 4, 7, 8:
	default:
		return false
	}
	m := num(d[3:5])
	if !(1 <= m && m <= 12 || 20 <= m && m <= 42 || m >= 50) {
		return false
	}
	if len(d) == 15 {
		return 97-mod97(d[:13]) == num(d[13:15])
	}
	return true
}

// nhsValid checks the modulus-11 digit of an NHS number.
func nhsValid(d []byte) bool {
	sum := 0
	for x := 0; x < 9; x++ {
		sum += int(d[x]) * (10 - x)
	}
	c := 11 - sum%11
	if c == 11 {
		c = 0
	}
	return c != 10 && c == int(d[9])
}

// verhoeff checks the Verhoeff check digit (Aadhaar).
func verhoeff(d []byte) bool {
	mul := [10][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
		{3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8},
		{5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2},
		{7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
		{9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	perm := [8][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
		{8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0},
		{4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5},
		{7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
	c := byte(0)
	for x := 0; x < len(d); x++ {
		c = mul[c][perm[x%8][d[len(d)-1-x]]]
	}
	return c == 0
}

// chineseIDValid checks the ISO 7064 mod 11-2 digit of a Chinese resident
// identity number; check is 10 for a trailing X.
func chineseIDValid(d []byte, check byte) bool {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for x, w := range weights {
		sum += int(d[x]) * w
	}
	return byte((12-sum%11)%11) == check
}
