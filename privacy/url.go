package privacy

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// ScrubURL reduces a page URL or referrer to what analytics needs: scheme,
// host and path, with the query parameters that say where a visit came from.
// It drops the user information and the fragment, keeps only the utm_*
// parameters and the allow-listed keys (compared without regard to case)
// with their values scrubbed, scrubs personal data out of the path
// segments (an e-mail address becomes "[email]"), lower-cases the scheme and
// host and drops a default port. Unparseable input and schemes other than
// http and https give "". Outside an internationalised host name the result
// is ASCII: other bytes are percent-encoded.
func ScrubURL(raw string, allowKeys []string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Opaque != "" || u.Hostname() == "" || !utf8.ValidString(u.Host) {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host := strings.ToLower(u.Host)
	if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	var b strings.Builder
	b.Grow(len(raw))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	for x, seg := range strings.Split(u.EscapedPath(), "/") {
		if x > 0 {
			b.WriteByte('/')
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			dec = seg
		}
		if scrubbed := Scrub(dec); scrubbed != dec {
			writeEscaped(&b, scrubbed, escPath)
		} else {
			writeEscaped(&b, seg, escRaw)
		}
	}
	sep := byte('?')
	for _, pair := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || !keepQueryKey(key, allowKeys) {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		writeEscaped(&b, Scrub(key), escQuery)
		b.WriteByte('=')
		writeEscaped(&b, Scrub(val), escQuery)
	}
	return b.String()
}

// keepQueryKey reports whether a query parameter survives ScrubURL.
func keepQueryKey(key string, allowKeys []string) bool {
	if key == "" {
		return false
	}
	if len(key) > 4 && strings.EqualFold(key[:4], "utm_") {
		return true
	}
	for _, k := range allowKeys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// Escaping modes of writeEscaped.
const (
	escPath  = iota // a decoded path segment: encode '/', '?', '#', '%' and the rest
	escQuery        // a decoded query key or value: also encode '&', '=' and '+'
	escRaw          // an already escaped segment: only non-ASCII bytes are encoded
)

// writeEscaped writes s percent-encoded for its place in a URL. Brackets
// stay, so placeholders read "[email]" rather than "%5Bemail%5D".
func writeEscaped(b *strings.Builder, s string, mode int) {
	const hex = "0123456789ABCDEF"
	for x := 0; x < len(s); x++ {
		c := s[x]
		keep := c > ' ' && c < 0x7f
		switch mode {
		case escPath:
			keep = keep && strings.IndexByte("/?#%\"<>\\^`{|}", c) < 0
		case escQuery:
			keep = keep && strings.IndexByte("/?#%\"<>\\^`{|}&=+", c) < 0
		case escRaw:
			keep = keep && strings.IndexByte("?#\"<>\\^`{|}", c) < 0
		}
		if keep {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// Bounds of a normalised path, so that a crafted URL cannot make a path
// group of unbounded size.
const (
	maxPathSegments = 8
	maxPathBytes    = 256
)

// NormalizePath turns a page path into the form events are grouped by:
// identifiers become ":id" (numbers, UUIDs, hex hashes of eight characters or
// more, slugs mixing letters and digits like "a1b2c3d4e5", and any segment
// holding personal data, such as an e-mail address), segments are
// percent-decoded and lower-cased, empty and "." segments dropped, the
// trailing slash removed ("/" stays), and the result is cut to 8 segments
// and 256 bytes. A query string or fragment is ignored, and so is the scheme
// and host of a full URL. NormalizePath(NormalizePath(p)) ==
// NormalizePath(p).
func NormalizePath(p string) string {
	if !utf8.ValidString(p) {
		p = strings.ToValidUTF8(p, "\uFFFD")
	}
	if k := strings.IndexAny(p, "?#"); k >= 0 {
		p = p[:k]
	}
	if k := strings.Index(p, "://"); k >= 0 {
		rest := p[k+3:]
		if s := strings.IndexByte(rest, '/'); s >= 0 {
			p = rest[s:]
		} else {
			p = "/"
		}
	}
	var segs []string
	for _, seg := range strings.Split(p, "/") {
		if dec, err := url.PathUnescape(seg); err == nil && utf8.ValidString(dec) {
			// Re-encode what would change the path's meaning if decoded again.
			seg = strings.ReplaceAll(strings.ReplaceAll(dec, "%", "%25"), "/", "%2f")
		}
		switch {
		case seg == "" || seg == ".":
			continue
		case seg == "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			continue
		case isIDSegment(seg):
			seg = ":id"
		default:
			seg = strings.ToLower(seg)
		}
		segs = append(segs, seg)
	}
	if len(segs) > maxPathSegments {
		segs = segs[:maxPathSegments]
	}
	// Whole segments only: a cut one could read as something else next time.
	size := 0
	for x, seg := range segs {
		if size+1+len(seg) > maxPathBytes {
			if x == 0 {
				return "/:id" // one huge segment is no page name
			}
			segs = segs[:x]
			break
		}
		size += 1 + len(seg)
	}
	return "/" + strings.Join(segs, "/")
}

// isIDSegment reports whether a path segment names one thing rather than a
// kind of page.
func isIDSegment(seg string) bool {
	letters, digits, hexOnly, transitions := 0, 0, true, 0
	alnum := true
	prevDigit := false
	for x := 0; x < len(seg); x++ {
		c := seg[x]
		switch {
		case isASCIIDigit(c):
			digits++
		case isASCIILetter(c):
			letters++
			hexOnly = hexOnly && isHexLetter(c)
		default:
			alnum = false
			hexOnly = false
		}
		if x > 0 && isASCIIAlnum(c) && isASCIIAlnum(seg[x-1]) && isASCIIDigit(c) != prevDigit {
			transitions++
		}
		prevDigit = isASCIIDigit(c)
	}
	switch {
	case digits > 0 && letters == 0 && alnum: // "/p/42"
		return true
	case isUUID(seg):
		return true
	case alnum && hexOnly && digits > 0 && len(seg) >= 8: // hashes
		return true
	case alnum && digits > 0 && letters > 0 && (transitions >= 2 && len(seg) >= 6 || len(seg) >= 16):
		return true // "a1b2c3d4e5", generated keys
	}
	return Scrub(seg) != seg // an e-mail address, a phone number, a token
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for x := 0; x < len(s); x++ {
		c := s[x]
		if x == 8 || x == 13 || x == 18 || x == 23 {
			if c != '-' {
				return false
			}
		} else if !isASCIIDigit(c) && !isHexLetter(c) {
			return false
		}
	}
	return true
}

// PathGroup returns the first segment of a normalised path, the coarse
// section of a site an event belongs to: "/p/:id" gives "/p", "/" gives "/".
func PathGroup(normalized string) string {
	rest := strings.TrimPrefix(normalized, "/")
	if k := strings.IndexByte(rest, '/'); k >= 0 {
		rest = rest[:k]
	}
	return "/" + rest
}
