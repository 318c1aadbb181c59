package privacy

import "strings"

// maxShape bounds the digits and letters an identity shape holds.
const maxShape = 20

// shapeAt matches s[i:] against a layout in which 'd' is a digit of any
// script, 'L' an ASCII letter, '*' any ASCII byte and anything else itself.
// It returns the end of the match (0 if none), the digits' values and the
// bytes that stood for 'L' and '*'.
func shapeAt(s string, i, limit int, layout string, d *[maxShape]byte, c *[4]byte) (end, nd int) {
	nc := 0
	for x := 0; x < len(layout); x++ {
		if i >= limit {
			return 0, 0
		}
		switch p := layout[x]; p {
		case 'd':
			v, w := digitAt(s, i)
			if w == 0 || nd == maxShape {
				return 0, 0
			}
			d[nd] = byte(v)
			nd++
			i += w
		case 'L', '*':
			if p == 'L' && !isASCIILetter(s[i]) || s[i] >= 0x80 || nc == len(c) {
				return 0, 0
			}
			c[nc] = s[i]
			nc++
			i++
		default:
			if s[i] != p {
				return 0, 0
			}
			i++
		}
	}
	if wordAt(s, i, limit) {
		return 0, 0
	}
	return i, nd
}

// matchDigitID recognises identity numbers that start with a digit and have
// a layout of their own (mixed separators or a letter), which the digit-group
// scanner would split.
func matchDigitID(s string, i, limit int) int {
	// Every layout is told apart by its first run of digits and what follows.
	n, j := 0, i
	for j < limit {
		_, w := digitAt(s, j)
		if w == 0 {
			break
		}
		n++
		j += w
	}
	next := byte(0)
	if j < limit {
		next = s[j]
	}
	switch {
	case n == 2 || n == 3:
		if next != '.' {
			return 0
		}
	case n == 6 || n == 8 || n == 17:
	default:
		return 0
	}
	var d [maxShape]byte
	var c [4]byte
	if end, _ := shapeAt(s, i, limit, "ddd.ddd.ddd-dd", &d, &c); end > 0 && cpfValid(d[:11]) {
		return end // Brazilian CPF
	}
	if end, _ := shapeAt(s, i, limit, "dd.dd.dd-ddd.dd", &d, &c); end > 0 && belgianValid(d[:11]) {
		return end // Belgian national register number
	}
	for _, layout := range []string{"dddddd-dddd", "dddddd+dddd"} {
		if end, _ := shapeAt(s, i, limit, layout, &d, &c); end > 0 && (luhn(d[:10]) || ddmmyy(d[:6])) {
			return end // Swedish personnummer, Danish CPR
		}
	}
	if end, _ := shapeAt(s, i, limit, "dddddddd-dddd", &d, &c); end > 0 && luhn(d[2:12]) {
		return end // Swedish personnummer with the century
	}
	if end, _ := shapeAt(s, i, limit, "dddddd*dddL", &d, &c); end > 0 && finnishValid(d[:9], c[0], c[1]) {
		return end // Finnish henkilötunnus ending in a letter
	}
	if end, _ := shapeAt(s, i, limit, "dddddd*dddd", &d, &c); end > 0 &&
		finnishValid(d[:9], c[0], '0'+d[9]) {
		return end // Finnish henkilötunnus with a century letter, ending in a digit
	}
	if end := dniAt(s, i, limit, 0, 8, &d); end > 0 {
		return end // Spanish DNI
	}
	if end, _ := shapeAt(s, i, limit, "dddddddddddddddddL", &d, &c); end > 0 && (c[0] == 'X' || c[0] == 'x') &&
		chineseIDValid(d[:17], 10) {
		return end // Chinese resident identity number ending in X
	}
	return 0
}

// dniAt matches n digits (after a numeric prefix value for the NIE), an
// optional '-' or space, and the check letter of a Spanish DNI or NIE.
func dniAt(s string, i, limit, prefix, n int, d *[maxShape]byte) int {
	j := i
	v := prefix
	for x := 0; x < n; x++ {
		if j >= limit {
			return 0
		}
		dv, w := digitAt(s, j)
		if w == 0 {
			return 0
		}
		v = v*10 + dv
		j += w
	}
	if j < limit && (s[j] == '-' || s[j] == ' ') {
		j++
	}
	if j >= limit || !isASCIILetter(s[j]) || wordAt(s, j+1, limit) {
		return 0
	}
	if "TRWAGMYFPDXBNJZSQVHLCKE"[v%23] != upperASCII(s[j]) {
		return 0
	}
	return j + 1
}

// matchLetterID recognises identity numbers that start with a letter.
func matchLetterID(s string, i, limit int) int {
	if end := niAt(s, i, limit); end > 0 {
		return end
	}
	var d [maxShape]byte
	switch s[i] &^ 0x20 {
	case 'X', 'Y', 'Z': // Spanish NIE
		if end := dniAt(s, i+1, limit, int(s[i]&^0x20-'X'), 7, &d); end > 0 {
			return end
		}
	}
	return codiceFiscaleAt(s, i, limit)
}

// niAt matches a UK National Insurance number, "QQ 12 34 56 C" or
// "QQ123456C".
func niAt(s string, i, limit int) int {
	j := i
	for x := 0; x < 2; x++ {
		if j >= limit || !isASCIILetter(s[j]) {
			return 0
		}
		j++
	}
	space := func() {
		if j < limit && s[j] == ' ' {
			j++
		}
	}
	for x := 0; x < 3; x++ {
		space()
		for y := 0; y < 2; y++ {
			if j >= limit || !isASCIIDigit(s[j]) {
				return 0
			}
			j++
		}
	}
	space()
	if j >= limit {
		return 0
	}
	if c := s[j] &^ 0x20; c < 'A' || c > 'D' || wordAt(s, j+1, limit) {
		return 0
	}
	return j + 1
}

// codiceFiscaleAt matches an Italian fiscal code, "RSSMRA85T10A562S", with
// its check letter; omocodia letters may stand for digits.
func codiceFiscaleAt(s string, i, limit int) int {
	const layout = "LLLLLLNNLNNLNNNL"
	if i+len(layout) > limit || wordAt(s, i+len(layout), limit) {
		return 0
	}
	odd := [36]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
		2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}
	sum := 0
	for x := 0; x < len(layout); x++ {
		c := s[i+x]
		var v int // 0–9 for digits, 10–35 for letters
		switch {
		case isASCIIDigit(c):
			if layout[x] != 'N' {
				return 0
			}
			v = int(c - '0')
		case isASCIILetter(c):
			v = int(c&^0x20-'A') + 10
		default:
			return 0
		}
		if x == len(layout)-1 {
			if v < 10 || v-10 != sum%26 {
				return 0
			}
			break
		}
		if x%2 == 0 {
			sum += odd[v]
		} else if v < 10 {
			sum += v
		} else {
			sum += v - 10
		}
	}
	return i + len(layout)
}

// cpfValid checks the two check digits of a Brazilian CPF.
func cpfValid(d []byte) bool {
	same := true
	for _, v := range d[1:] {
		same = same && v == d[0]
	}
	if same {
		return false
	}
	for n := 9; n <= 10; n++ {
		sum := 0
		for x := 0; x < n; x++ {
			sum += int(d[x]) * (n + 1 - x)
		}
		if (sum*10)%11%10 != int(d[n]) {
			return false
		}
	}
	return true
}

// belgianValid checks the mod-97 key of a Belgian national number, for
// people born before and after 2000.
func belgianValid(d []byte) bool {
	n := num(d[:9])
	key := num(d[9:11])
	return 97-n%97 == key || 97-(2000000000+n)%97 == key
}

// ddmmyy reports whether six digits form a plausible day, month and year.
func ddmmyy(d []byte) bool {
	day, month := num(d[0:2]), num(d[2:4])
	return 1 <= day && day <= 31 && 1 <= month && month <= 12
}

// finnishValid checks a Finnish personal identity code: date, century sign
// and the check character of DDMMYYNNN mod 31.
func finnishValid(d []byte, century, check byte) bool {
	if strings.IndexByte("+-ABCDEFYXWVU", upperASCII(century)) < 0 || !ddmmyy(d[:6]) {
		return false
	}
	return "0123456789ABCDEFHJKLMNPRSTUVWXY"[num(d[:9])%31] == upperASCII(check)
}
