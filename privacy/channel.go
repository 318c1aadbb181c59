package privacy

import (
	"net/url"
	"strings"
)

// Channels a visit can come from, as returned by Channel.
const (
	ChannelDirect   = "direct"
	ChannelSearch   = "search"
	ChannelSocial   = "social"
	ChannelReferral = "referral"
	ChannelEmail    = "email"
	ChannelCampaign = "campaign"
)

// Channel classifies how a visit arrived from its referrer and the landing
// page URL. Campaign tags win: utm_medium=email (or a newsletter) is
// "email", any other utm_* parameter or an ad click id is "campaign". Then
// the referrer decides: none, or the page's own host, is "direct"; web mail
// is "email"; known search engines "search"; known social networks (and
// Mastodon-like instances) "social"; any other host "referral".
func Channel(referrer, pageURL string) string {
	pageHost := ""
	if u, err := url.Parse(strings.TrimSpace(pageURL)); err == nil {
		pageHost = bareHost(u.Hostname())
		if ch := campaignChannel(u.Query()); ch != "" {
			return ch
		}
	}
	ref, err := url.Parse(strings.TrimSpace(referrer))
	if err != nil {
		return ChannelDirect
	}
	host := bareHost(ref.Hostname())
	if strings.EqualFold(ref.Scheme, "android-app") {
		return appChannel(host)
	}
	switch {
	case host == "":
		return ChannelDirect
	case host == pageHost:
		return ChannelDirect // internal navigation
	case isMailHost(host):
		return ChannelEmail
	case isSearchHost(host):
		return ChannelSearch
	case isSocialHost(host):
		return ChannelSocial
	}
	return ChannelReferral
}

// campaignChannel reads the campaign tags of a landing page.
func campaignChannel(q url.Values) string {
	tagged := false
	for k, vs := range q {
		lk := strings.ToLower(k)
		switch {
		case lk == "utm_medium":
			for _, v := range vs {
				switch strings.ToLower(strings.TrimSpace(v)) {
				case "email", "e-mail", "mail", "newsletter", "e_mail":
					return ChannelEmail
				}
			}
			tagged = true
		case strings.HasPrefix(lk, "utm_"):
			tagged = true
		case lk == "gclid" || lk == "msclkid" || lk == "dclid" || lk == "gbraid" || lk == "wbraid":
			tagged = true // paid clicks
		}
	}
	if tagged {
		return ChannelCampaign
	}
	return ""
}

// bareHost lower-cases a host name and drops the prefixes that only say
// which front end of a site served the link.
func bareHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	for _, p := range []string{"www.", "m.", "mobile.", "l.", "lm.", "amp."} {
		if strings.HasPrefix(h, p) && strings.Count(h, ".") >= 2 {
			return h[len(p):]
		}
	}
	return h
}

// hostIs reports whether host is one of the domains or a subdomain of one.
func hostIs(host string, domains ...string) bool {
	for _, d := range domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// brandHost reports whether host is brand's site under any country domain:
// "google.com", "google.co.uk", "news.google.fr" but not "google.evil.com".
func brandHost(host, brand string) bool {
	labels := strings.Split(host, ".")
	for x, l := range labels {
		if l != brand {
			continue
		}
		rest := labels[x+1:]
		if len(rest) == 0 || len(rest) > 2 {
			return false
		}
		for _, r := range rest {
			if len(r) > 3 || len(r) < 2 {
				return false
			}
		}
		return true
	}
	return false
}

func isMailHost(host string) bool {
	switch {
	case hostIs(host, "mail.google.com", "outlook.live.com", "outlook.office.com", "outlook.office365.com",
		"mail.yahoo.com", "mail.proton.me", "mail.protonmail.com", "mail.aol.com", "mail.yandex.ru",
		"e.mail.ru", "mail.zoho.com", "app.fastmail.com", "mail.gmx.net", "web.de", "mail.orange.fr",
		"webmail.free.fr", "icloud.com"):
		return true
	case strings.HasPrefix(host, "webmail.") || strings.HasPrefix(host, "mail.") || strings.Contains(host, ".mail."):
		return true
	}
	return false
}

func isSearchHost(host string) bool {
	for _, b := range []string{"google", "bing", "yahoo", "yandex", "baidu", "naver", "seznam", "sogou"} {
		if brandHost(host, b) {
			return true
		}
	}
	return hostIs(host, "duckduckgo.com", "ecosia.org", "qwant.com", "search.brave.com", "startpage.com",
		"ask.com", "search.aol.com", "ya.ru", "so.com", "kagi.com", "you.com", "mojeek.com",
		"presearch.com", "search.yahoo.co.jp", "perplexity.ai", "lilo.org", "metager.de")
}

func isSocialHost(host string) bool {
	switch {
	case hostIs(host, "facebook.com", "fb.com", "fb.me", "messenger.com", "instagram.com", "t.co", "twitter.com",
		"x.com", "linkedin.com", "lnkd.in", "reddit.com", "redd.it", "pin.it", "tiktok.com", "youtube.com",
		"youtu.be", "threads.net", "bsky.app", "snapchat.com", "vk.com", "weibo.com", "tumblr.com",
		"quora.com", "wa.me", "whatsapp.com", "t.me", "telegram.org", "discord.com", "twitch.tv",
		"xing.com", "ok.ru", "line.me", "flipboard.com", "news.ycombinator.com"):
		return true
	case brandHost(host, "pinterest"):
		return true
	case strings.HasPrefix(host, "mastodon.") || strings.HasPrefix(host, "mstdn.") ||
		strings.HasSuffix(host, ".social") || strings.Contains(host, "mastodon"):
		return true // the fediverse has many hosts; these name themselves
	}
	return false
}

// appChannel classifies Android app referrers, "android-app://package".
func appChannel(pkg string) string {
	switch {
	case pkg == "com.google.android.gm" || strings.Contains(pkg, "mail") || strings.Contains(pkg, "outlook"):
		return ChannelEmail
	case pkg == "com.google.android.googlequicksearchbox" || strings.Contains(pkg, "search"):
		return ChannelSearch
	case strings.HasPrefix(pkg, "com.facebook.") || strings.HasPrefix(pkg, "com.instagram.") ||
		strings.HasPrefix(pkg, "com.twitter.") || strings.HasPrefix(pkg, "com.linkedin.") ||
		strings.HasPrefix(pkg, "com.reddit.") || strings.HasPrefix(pkg, "com.pinterest") ||
		strings.HasPrefix(pkg, "com.zhiliaoapp.") || strings.HasPrefix(pkg, "org.joinmastodon."):
		return ChannelSocial
	case pkg == "":
		return ChannelDirect
	}
	return ChannelReferral
}

// Device classes, as returned by DeviceClass.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceBot     = "bot"
	DeviceOther   = "other"
)

// DeviceClass reduces a user agent and the screen width in CSS pixels (0 if
// unknown) to a device class, so that the user agent itself need not be
// kept. Crawlers, monitors and automation are "bot"; TVs and consoles
// "other". iPads that present themselves as a Mac are told by their screen
// width; an unknown user agent is classified by width alone.
func DeviceClass(userAgent string, screenWidth int) string {
	ua := strings.ToLower(userAgent)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(ua, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("bot", "crawl", "spider", "slurp", "headless", "phantomjs", "lighthouse", "pingdom",
		"facebookexternalhit", "curl/", "wget/", "python-requests", "python-urllib", "aiohttp",
		"go-http-client", "axios/", "node-fetch", "java/", "okhttp", "httpclient", "scrapy",
		"puppeteer", "playwright", "selenium", "webdriver", "preview", "monitor", "uptime",
		"gptbot", "chatgpt", "claude", "perplexity", "feedfetcher", "archiver", "validator"):
		return DeviceBot
	case has("smart-tv", "smarttv", "tizen", "web0s", "webos tv", "hbbtv", "playstation", "xbox",
		"nintendo", "appletv", "apple tv", "roku", "crkey", "aftb", "bravia"):
		return DeviceOther
	case has("ipad", "tablet", "kindle", "silk/", "playbook", "sm-t", "nexus 7", "nexus 9", "nexus 10"):
		return DeviceTablet
	case has("android") && !has("mobile"):
		return DeviceTablet // Android tablets leave "Mobile" out
	case has("mobi", "iphone", "ipod", "windows phone", "blackberry", "bb10", "opera mini", "iemobile", "kaios"):
		return DeviceMobile
	case has("macintosh") && (screenWidth == 768 || screenWidth == 810 || screenWidth == 820 ||
		screenWidth == 834 || screenWidth == 1024):
		return DeviceTablet // iPadOS asks for the desktop site but keeps an iPad's width
	case has("windows nt", "macintosh", "x11", "linux", "cros", "mac os x"):
		return DeviceDesktop
	}
	switch {
	case screenWidth <= 0:
		return DeviceOther
	case screenWidth < 768:
		return DeviceMobile
	case screenWidth < 1024:
		return DeviceTablet
	}
	return DeviceDesktop
}
