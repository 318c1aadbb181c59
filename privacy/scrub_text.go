package privacy

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// findEmails returns the e-mail addresses in s, in order and disjoint. Each
// is found from its '@' (or "＠", "(at)", "[at]"), extended right over a
// domain that ends in a real top-level domain and left over the local part
// (and over "user:" in "https://user:pass@host").
func findEmails(s string) []span {
	var spans []span
	floor := 0
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '@', '(', '[', 0xEF:
		default:
			continue
		}
		mStart, mEnd := atMarker(s, j)
		if mEnd == 0 {
			continue
		}
		end := domainEnd(s, mEnd)
		if end == 0 {
			continue
		}
		start := localStart(s, mStart, floor)
		if start < 0 {
			continue
		}
		spans = append(spans, span{start, end})
		floor = end
		j = end - 1
	}
	return spans
}

// atMarker returns the extent of the '@' sign or its spelled-out forms at
// s[j], with the spaces around "(at)" and "[at]"; mEnd is 0 if there is none.
func atMarker(s string, j int) (mStart, mEnd int) {
	switch {
	case s[j] == '@':
		return j, j + 1
	case strings.HasPrefix(s[j:], "＠"):
		return j, j + len("＠")
	case j+4 <= len(s) && (s[j] == '(' && s[j+3] == ')' || s[j] == '[' && s[j+3] == ']') &&
		lowerASCII(s[j+1]) == 'a' && lowerASCII(s[j+2]) == 't':
		mStart, mEnd = j, j+4
		if mStart > 0 && s[mStart-1] == ' ' {
			mStart--
		}
		if mEnd < len(s) && s[mEnd] == ' ' {
			mEnd++
		}
		return mStart, mEnd
	}
	return 0, 0
}

// dotMarker returns the end of a spelled-out dot, "(dot)" or " [dot] ", at
// s[j], or 0.
func dotMarker(s string, j int) int {
	k := j
	if k < len(s) && s[k] == ' ' {
		k++
	}
	if k+5 > len(s) || !(s[k] == '(' && s[k+4] == ')' || s[k] == '[' && s[k+4] == ']') ||
		!strings.EqualFold(s[k+1:k+4], "dot") {
		return 0
	}
	k += 5
	if k < len(s) && s[k] == ' ' {
		k++
	}
	return k
}

// domainEnd returns the end of the longest run of domain labels at s[j] whose
// last label is a top-level domain, or 0.
func domainEnd(s string, j int) int {
	best, labels := 0, 0
	for {
		st := j
		for j < len(s) {
			c := s[j]
			if c < utf8.RuneSelf {
				if !isASCIIAlnum(c) && c != '-' {
					break
				}
				j++
				continue
			}
			r, w := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
				break
			}
			j += w
		}
		if j == st {
			return best
		}
		labels++
		if labels >= 2 && isTLD(s[st:j]) {
			best = j
		}
		switch {
		case j+1 < len(s) && s[j] == '.':
			j++
		case dotMarker(s, j) > 0:
			j = dotMarker(s, j)
		default:
			return best
		}
	}
}

// isTLD reports whether a label can be a top-level domain: two letters or
// more, or an IDN "xn--" label.
func isTLD(label string) bool {
	if strings.HasPrefix(label, "xn--") && len(label) > 4 {
		return true
	}
	n := 0
	for _, r := range label {
		if !unicode.IsLetter(r) {
			return false
		}
		n++
	}
	return n >= 2
}

// localStart returns the start of the local part that ends at s[end], not
// before floor, or -1 if there is none.
func localStart(s string, end, floor int) int {
	k := end
	for k > floor {
		r, w := utf8.DecodeLastRuneInString(s[floor:k])
		if r < utf8.RuneSelf {
			c := byte(r)
			if !isASCIIAlnum(c) && strings.IndexByte("._%+-'", c) < 0 {
				break
			}
		} else if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && r != utf8.RuneError {
			break // U+FFFD stands for invalid input, which must not split an address
		}
		k -= w
	}
	for k < end {
		if ok, _ := alnumAt(s, k); ok {
			break
		}
		k++ // local parts do not start with punctuation: "'jane@…", "…jane@…"
	}
	if k == end {
		return -1
	}
	// "https://user:secret@host": the password and the user go together.
	if k > floor && s[k-1] == ':' {
		p := k - 1
		for p > floor && (isASCIIAlnum(s[p-1]) || strings.IndexByte("._~%!$&'*+,;=-", s[p-1]) >= 0) {
			p--
		}
		if p >= floor+2 && s[p-2:p] == "//" {
			k = p
		}
	}
	return k
}

// matchIPv4 matches a dotted-quad IPv4 address that is not part of a longer
// dotted number such as a version "1.2.3.4.5".
func matchIPv4(s string, i, limit int) int {
	if i >= 2 && s[i-1] == '.' && (isASCIIAlnum(s[i-2]) || s[i-2] == ']') {
		return 0
	}
	j := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if j >= limit || s[j] != '.' {
				return 0
			}
			j++
		}
		v, n := 0, 0
		for j < limit && isASCIIDigit(s[j]) && n < 4 {
			v = v*10 + int(s[j]-'0')
			j++
			n++
		}
		if n == 0 || n > 3 || v > 255 {
			return 0
		}
	}
	if wordAt(s, j, limit) || j+1 < limit && s[j] == '.' && isASCIIDigit(s[j+1]) {
		return 0
	}
	return j
}

// matchIPv6 matches an IPv6 address, compressed ("2001:db8::1", "::1") or
// full, with an embedded IPv4 part if any.
func matchIPv6(s string, i, limit int) int {
	const maxLen = len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255")
	if i > 0 && (s[i-1] == ':' || s[i-1] == '.') {
		return 0 // inside a longer run of groups, which is no address
	}
	j, colons, double := i, 0, false
scan:
	for j < limit && j-i <= maxLen {
		switch c := s[j]; {
		case c == ':':
			colons++
			if j > i && s[j-1] == ':' {
				double = true
			}
		case c == '.' || isASCIIDigit(c) || isHexLetter(c):
		default:
			break scan
		}
		j++
	}
	if j-i > maxLen || colons < 2 || !double && colons < 7 {
		return 0
	}
	cand := s[i:j]
	for try := 0; try < 2; try++ {
		if a, err := netip.ParseAddr(cand); err == nil && a.Is6() {
			end := i + len(cand)
			if wordAt(s, end, limit) || !plausibleIPv6(cand) {
				return 0
			}
			return end
		}
		if strings.HasSuffix(cand, ".") || strings.HasSuffix(cand, ":") && !strings.HasSuffix(cand, "::") {
			cand = cand[:len(cand)-1]
			continue
		}
		break
	}
	return 0
}

// plausibleIPv6 keeps words that happen to parse, such as "add::", as text:
// an address has a decimal digit or at least three groups.
func plausibleIPv6(a string) bool {
	if strings.ContainsAny(a, "0123456789") {
		return true
	}
	groups := 0
	for _, g := range strings.Split(a, ":") {
		if g != "" {
			groups++
		}
	}
	return groups >= 3
}

// matchIBAN matches an IBAN, compact or in groups separated by single
// spaces, whose length fits its country and whose mod-97 check holds.
func matchIBAN(s string, i, limit int) int {
	if i+4 > limit || !isASCIILetter(s[i]) || !isASCIILetter(s[i+1]) || !isASCIIDigit(s[i+2]) || !isASCIIDigit(s[i+3]) {
		return 0
	}
	want := ibanLength(upperASCII(s[i]), upperASCII(s[i+1]))
	var buf [34]byte
	var ends, counts [12]int
	n, chunks := 0, 0
	j := i
	for chunks < len(ends) {
		st := j
		for j < limit && isASCIIAlnum(s[j]) && n < len(buf) {
			buf[n] = upperASCII(s[j])
			n++
			j++
		}
		if j == st || wordAt(s, j, limit) {
			break
		}
		ends[chunks], counts[chunks] = j, n
		chunks++
		if j+1 < limit && s[j] == ' ' && isASCIIAlnum(s[j+1]) {
			j++
			continue
		}
		break
	}
	for c := chunks - 1; c >= 0; c-- {
		l := counts[c]
		if l < 15 || want != 0 && l != want {
			continue
		}
		if ibanValid(buf[:l]) {
			return ends[c]
		}
	}
	return 0
}

// ibanValid checks the ISO 13616 mod-97 of an upper-case IBAN.
func ibanValid(b []byte) bool {
	r := 0
	for x := 0; x < len(b); x++ {
		c := b[(x+4)%len(b)]
		switch {
		case isASCIIDigit(c):
			r = (r*10 + int(c-'0')) % 97
		case 'A' <= c && c <= 'Z':
			r = (r*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return r == 1
}

// ibanLength returns the IBAN length of a country, or 0 if unknown.
func ibanLength(a, b byte) int {
	const table = "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27DK18DO28" +
		"EE20EG29ES24FI18FK18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27" +
		"JO30KW30KZ20LB28LC32LI21LT20LU20LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18" +
		"NO15OM23PK24PL28PS29PT25QA29RO24RS22RU33SA24SC31SD18SE24SI19SK24SM27SO23ST25SV28" +
		"TL23TN24TR26UA29VA22VG24XK20YE30"
	for x := 0; x+4 <= len(table); x += 4 {
		if table[x] == a && table[x+1] == b {
			return int(table[x+2]-'0')*10 + int(table[x+3]-'0')
		}
	}
	return 0
}

func isTokenChar(c byte) bool {
	return isASCIIAlnum(c) || c == '-' || c == '_' || c == '+' || c == '/' || c == '='
}

// minTokenLen is the length from which a random-looking string is taken
// for a secret (a session id, an API key, a hash).
const minTokenLen = 24

// matchToken matches a long random-looking string at s[i]: first the whole
// run of base64 and URL-safe characters (once per run), then the
// letters-and-digits word alone.
func (sc *scanner) matchToken(i, limit int) int {
	s := sc.s
	if i >= sc.tokenChecked {
		end := i
		for end < limit && isTokenChar(s[end]) {
			if s[end] == '=' {
				// Base64 padding ends a token; "sess=…" is a key and its value.
				for end < limit && s[end] == '=' {
					end++
				}
				break
			}
			end++
		}
		sc.tokenChecked = end
		if end-i >= minTokenLen && !wordAt(s, end, limit) {
			if start, e := randomPart(s, i, end); start == i && e > 0 {
				return e
			}
		}
	}
	end := i
	for end < limit && isASCIIAlnum(s[end]) {
		end++
	}
	if end-i >= minTokenLen && !wordAt(s, end, limit) && looksRandom(s[i:end]) {
		return end
	}
	return 0
}

// randomPart finds the random-looking part of a run of token characters: the
// plain words at either end of a path ("orders/…/edit") are not part of it.
// It returns e == 0 if the part does not look random.
func randomPart(s string, i, end int) (start, e int) {
	start, e = i, end
	for e > start && !isASCIIAlnum(s[e-1]) && s[e-1] != '=' {
		e--
	}
	if strings.IndexByte(s[start:e], '/') >= 0 {
		for {
			k := strings.IndexByte(s[start:e], '/')
			if k < 0 || !plainSegment(s[start:start+k]) {
				break
			}
			start += k + 1
		}
		for {
			k := strings.LastIndexByte(s[start:e], '/')
			if k < 0 || !plainSegment(s[start+k+1:e]) {
				break
			}
			e = start + k
		}
	}
	if e-start < minTokenLen || !looksRandom(s[start:e]) {
		return start, 0
	}
	return start, e
}

// plainSegment reports whether a path segment reads like a word or a plain
// number rather than part of a random string.
func plainSegment(seg string) bool {
	transitions := 0
	for x := 1; x < len(seg); x++ {
		if isASCIIDigit(seg[x]) != isASCIIDigit(seg[x-1]) && isASCIIAlnum(seg[x]) && isASCIIAlnum(seg[x-1]) {
			transitions++
		}
	}
	return transitions < 2
}

// looksRandom reports whether a string of token characters reads like
// generated data rather than words: letters and digits interleave. Slugs
// and identifiers ("summer-sale-2025", "ThisIsALongName2") change class
// rarely; base64, hex and random ids change often.
func looksRandom(t string) bool {
	letters, digits, ld, classChanges := 0, 0, 0, 0
	prev := byte(0) // 0 none, 1 digit, 2 lower, 3 upper
	for x := 0; x < len(t); x++ {
		c := t[x]
		var cl byte
		switch {
		case isASCIIDigit(c):
			cl = 1
			digits++
		case 'a' <= c && c <= 'z':
			cl = 2
			letters++
		case 'A' <= c && c <= 'Z':
			cl = 3
			letters++
		default:
			prev = 0
			continue
		}
		if prev != 0 && cl != prev {
			classChanges++
			if cl == 1 || prev == 1 {
				ld++
			}
		}
		prev = cl
	}
	n := letters + digits
	return n >= minTokenLen && letters > 0 && digits > 0 && ld >= 3 && classChanges*6 >= n
}

// matchPrefixedKey matches API keys that announce themselves by a prefix:
// OpenAI and Stripe "sk-…", GitHub "ghp_…", Slack "xoxb-…", AWS "AKIA…".
func matchPrefixedKey(s string, i, limit int) int {
	prefixes := [...]string{
		"sk-", "sk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-",
		"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xapp-", "AKIA", "ASIA", "AIza", "npm_",
		"hf_", "shpat_", "shpss_", "pypi-", "SG.", "whsec_", "sq0atp-", "dop_v1_",
	}
	for _, p := range prefixes {
		if !strings.HasPrefix(s[i:limit], p) {
			continue
		}
		j := i + len(p)
		for j < limit && (isASCIIAlnum(s[j]) || s[j] == '-' || s[j] == '_' || s[j] == '.') {
			j++
		}
		for j > i+len(p) && !isASCIIAlnum(s[j-1]) {
			j--
		}
		if j-i-len(p) >= 16 && !wordAt(s, j, limit) {
			return j
		}
	}
	return 0
}

// matchJWT matches a JSON Web Token: three base64url parts, the first a JSON
// object ("eyJ").
func matchJWT(s string, i, limit int) int {
	if !strings.HasPrefix(s[i:limit], "eyJ") {
		return 0
	}
	j := i
	for part, minLen := 0, 10; part < 3; part++ {
		st := j
		for j < limit && (isASCIIAlnum(s[j]) || s[j] == '-' || s[j] == '_') {
			j++
		}
		if j-st < minLen {
			return 0
		}
		if part < 2 {
			if j >= limit || s[j] != '.' {
				return 0
			}
			j++
		}
		minLen = 2
		if part == 1 {
			minLen = 0 // unsigned tokens end with a dot
		}
	}
	if wordAt(s, j, limit) {
		return 0
	}
	return j
}

// matchSecret matches credentials announced by a word: "Bearer …",
// "Basic …", and values of keys such as password=, token=, "api_key": "…".
// The announcing word is kept; only the value is replaced.
func matchSecret(s string, i, limit int) (match, bool) {
	j := i
	for j < limit && j-i <= 20 && (isASCIILetter(s[j]) || s[j] == '_' || s[j] == '-') {
		j++
	}
	var w [21]byte
	n := copy(w[:], s[i:j])
	for x := range n {
		w[x] = lowerASCII(w[x])
	}
	switch string(w[:n]) {
	case "bearer", "basic":
		k := j
		for k < limit && s[k] == ' ' {
			k++
		}
		if k == j {
			return match{}, false
		}
		e := k
		for e < limit && (isTokenChar(s[e]) || s[e] == '.' || s[e] == '~') {
			e++
		}
		if e-k >= 8 && !wordAt(s, e, limit) && (e-k >= 20 || strings.ContainsAny(s[k:e], "0123456789")) {
			return match{k, e, phToken}, true
		}
	case "password", "passwd", "pwd", "pass", "passcode", "passphrase", "secret", "client_secret",
		"token", "access_token", "refresh_token", "id_token", "auth_token", "authtoken", "api_key",
		"apikey", "api-key", "x-api-key", "key", "private_key", "session", "sessionid", "session_id",
		"sid", "otp", "pin", "cvv", "cvc", "ssn", "signature", "sig":
		k := j
		if k < limit && (s[k] == '"' || s[k] == '\'') {
			k++
		}
		if k >= limit || s[k] != '=' && s[k] != ':' {
			return match{}, false
		}
		colon := s[k] == ':'
		k++
		for colon && k < limit && s[k] == ' ' {
			k++
		}
		if k < limit && (s[k] == '"' || s[k] == '\'') {
			k++
		}
		e := k
		for e < limit {
			c := s[e]
			if c <= ' ' || strings.IndexByte("&\"',;<>[]{}()", c) >= 0 {
				break
			}
			if c >= utf8.RuneSelf {
				r, _ := utf8.DecodeRuneInString(s[e:])
				if unicode.IsSpace(r) {
					break
				}
			}
			e++
		}
		for e > k && strings.IndexByte(".:!?", s[e-1]) >= 0 {
			e-- // the end of the sentence, not of the secret
		}
		if e == k || colon && e-k < 12 && !strings.ContainsAny(s[k:e], "0123456789") {
			return match{}, false
		}
		return match{k, e, phToken}, true
	}
	return match{}, false
}
