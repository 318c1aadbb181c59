package privacy

import (
	"net/url"
	"sort"
	"strings"
)

// ScrubURL cleans a page URL or referrer: userinfo and fragment dropped, query parameters
// dropped except utm_* and allowKeys (values scrubbed), personal data in path segments replaced,
// scheme and host lower-cased. It returns "" for anything that is not an absolute http(s) URL.
func ScrubURL(raw string, allowKeys []string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 8192 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" || u.Opaque != "" {
		return ""
	}
	host := strings.ToLower(u.Host)
	if strings.ContainsAny(host, "@ /\\") {
		return ""
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	segs := strings.Split(u.Path, "/")
	for i, seg := range segs {
		if i == 0 {
			continue
		}
		b.WriteByte('/')
		if seg == "" {
			continue
		}
		b.WriteString(url.PathEscape(Scrub(seg)))
	}
	if len(segs) <= 1 {
		b.WriteByte('/')
	}
	q := u.Query()
	allowed := map[string]bool{}
	for _, k := range allowKeys {
		allowed[k] = true
	}
	var keys []string
	for k := range q {
		if strings.HasPrefix(strings.ToLower(k), "utm_") || allowed[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(strings.ToLower(k)))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(Scrub(q.Get(k))))
	}
	return b.String()
}

const (
	maxPathSegments = 8
	maxPathBytes    = 256
)

// NormalizePath lower-cases a path and replaces ids in it by ":id" (numbers, UUIDs, hashes,
// slugs mixing letters and digits, emails, scrubber placeholders), so pages group: "/p/42" →
// "/p/:id". At most 8 segments and 256 bytes; no trailing slash; "" becomes "/".
func NormalizePath(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			continue
		}
		if len(out) == maxPathSegments {
			break
		}
		if isIDSegment(seg) {
			seg = ":id"
		}
		out = append(out, seg)
	}
	res := "/" + strings.Join(out, "/")
	if len(res) > maxPathBytes {
		res = res[:maxPathBytes]
		if i := strings.LastIndexByte(res, '/'); i > 0 {
			res = res[:i]
		}
	}
	return res
}

func isIDSegment(seg string) bool {
	if strings.ContainsAny(seg, "@[]%") || len(seg) > 64 {
		return true
	}
	var digits, letters, hex int
	for _, r := range seg {
		switch {
		case r >= '0' && r <= '9':
			digits++
			hex++
		case r >= 'a' && r <= 'f':
			letters++
			hex++
		case r >= 'g' && r <= 'z':
			letters++
		}
	}
	n := len(seg)
	switch {
	case digits == n: // 42
		return true
	case n == 36 && strings.Count(seg, "-") == 4: // UUID
		return true
	case hex == n && n >= 8 && digits > 0: // hex hashes
		return true
	case digits > 0 && letters > 0 && n >= 8 && digits*4 >= n: // a1b2c3d4e5, order ids
		return true
	case digits >= 5: // sku-123456
		return true
	}
	return false
}

// PathGroup is the first segment of a normalised path: "/p/:id" → "/p"; "/" stays "/".
func PathGroup(normalized string) string {
	s := strings.TrimPrefix(normalized, "/")
	if s == "" {
		return "/"
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return "/" + s
}

var (
	searchHosts = []string{"google.", "bing.com", "duckduckgo.com", "yahoo.", "baidu.com", "yandex.", "ecosia.org",
		"qwant.com", "search.brave.com", "startpage.com", "ask.com", "naver.com", "seznam.cz", "kagi.com"}
	socialHosts = []string{"facebook.com", "fb.com", "instagram.com", "t.co", "twitter.com", "x.com", "linkedin.com",
		"lnkd.in", "reddit.com", "pinterest.", "tiktok.com", "youtube.com", "youtu.be", "mastodon.", "threads.net",
		"bsky.app", "snapchat.com", "tumblr.com", "whatsapp.com", "telegram.org", "t.me", "vk.com", "news.ycombinator.com"}
	mailHosts = []string{"mail.google.com", "outlook.live.com", "outlook.office.com", "mail.yahoo.com", "mail.proton.me",
		"webmail.", "mail.aol.com", "mail.zoho.com"}
)

func hostMatches(host string, list []string) bool {
	host = strings.TrimPrefix(host, "www.")
	for _, h := range list {
		if strings.HasSuffix(h, ".") { // a brand on any TLD: "google." matches google.com, news.google.co.uk
			if strings.HasPrefix(host, h) || strings.Contains(host, "."+h) {
				return true
			}
			continue
		}
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

// Channel classifies how a visit arrived: direct, search, social, referral, email or campaign.
func Channel(referrer, pageURL string) string {
	if pu, err := url.Parse(pageURL); err == nil {
		q := pu.Query()
		medium := strings.ToLower(q.Get("utm_medium"))
		switch {
		case medium == "email" || medium == "e-mail" || medium == "newsletter" || medium == "mail":
			return "email"
		case medium == "social" || medium == "social-media":
			return "social"
		case medium == "organic":
			return "search"
		}
		for k := range q {
			if strings.HasPrefix(strings.ToLower(k), "utm_") {
				return "campaign"
			}
		}
		if referrer == "" {
			return "direct"
		}
		ru, err := url.Parse(referrer)
		if err != nil || ru.Host == "" {
			return "direct"
		}
		rh, ph := strings.ToLower(ru.Hostname()), strings.ToLower(pu.Hostname())
		if strings.TrimPrefix(rh, "www.") == strings.TrimPrefix(ph, "www.") {
			return "direct"
		}
		switch {
		case hostMatches(rh, mailHosts):
			return "email"
		case hostMatches(rh, searchHosts):
			return "search"
		case hostMatches(rh, socialHosts):
			return "social"
		}
		return "referral"
	}
	return "direct"
}

// DeviceClass reduces a user agent (and screen width, when known) to desktop, mobile, tablet,
// bot or other. The user agent itself is never stored.
func DeviceClass(userAgent string, screenWidth int) string {
	ua := strings.ToLower(userAgent)
	for _, b := range []string{"bot", "crawler", "spider", "slurp", "bingpreview", "facebookexternalhit",
		"curl/", "wget/", "python-requests", "go-http-client", "httpclient", "headlesschrome/", "phantomjs", "lighthouse"} {
		if strings.Contains(ua, b) && !(b == "headlesschrome/" && screenWidth > 0) {
			return "bot"
		}
	}
	switch {
	case strings.Contains(ua, "ipad") || strings.Contains(ua, "tablet") || strings.Contains(ua, "kindle") ||
		strings.Contains(ua, "silk/") || (strings.Contains(ua, "android") && !strings.Contains(ua, "mobile")):
		return "tablet"
	case strings.Contains(ua, "mobi") || strings.Contains(ua, "iphone") || strings.Contains(ua, "ipod") ||
		strings.Contains(ua, "windows phone"):
		return "mobile"
	case strings.Contains(ua, "windows") || strings.Contains(ua, "macintosh") || strings.Contains(ua, "x11") ||
		strings.Contains(ua, "cros") || strings.Contains(ua, "linux"):
		if screenWidth > 0 && screenWidth < 600 {
			return "mobile"
		}
		return "desktop"
	}
	switch {
	case screenWidth <= 0:
		return "other"
	case screenWidth < 600:
		return "mobile"
	case screenWidth < 1024:
		return "tablet"
	}
	return "desktop"
}
