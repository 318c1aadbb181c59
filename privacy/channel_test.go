package privacy_test

import (
	"testing"

	"personas/privacy"
)

func TestChannel(t *testing.T) {
	t.Parallel()
	const page = "https://shop.example.com/products/shoes"
	tests := []struct{ name, referrer, page, want string }{
		{"no referrer", "", page, "direct"},
		{"unparseable referrer", "::not a url", page, "direct"},
		{"same host", "https://shop.example.com/cart", page, "direct"},
		{"same host with www", "https://www.shop.example.com/", page, "direct"},
		{"utm email", "", page + "?utm_medium=email&utm_source=newsletter", "email"},
		{"utm email upper case", "https://www.google.com/", page + "?UTM_MEDIUM=Email", "email"},
		{"utm newsletter", "", page + "?utm_medium=newsletter", "email"},
		{"utm campaign", "https://www.facebook.com/", page + "?utm_source=fb&utm_medium=cpc", "campaign"},
		{"utm campaign only", "", page + "?utm_campaign=black-friday", "campaign"},
		{"google ads click", "https://www.google.com/", page + "?gclid=abc", "campaign"},
		{"gmail", "https://mail.google.com/", page, "email"},
		{"outlook", "https://outlook.live.com/mail/0/", page, "email"},
		{"webmail", "https://webmail.example.net/", page, "email"},
		{"gmail app", "android-app://com.google.android.gm", page, "email"},
		{"google", "https://www.google.com/", page, "search"},
		{"google uk", "https://www.google.co.uk/", page, "search"},
		{"google brazil", "https://www.google.com.br/search?q=x", page, "search"},
		{"google fr", "https://google.fr", page, "search"},
		{"google lookalike", "https://google.evil-example.com/", page, "referral"},
		{"bing", "https://www.bing.com/search?q=shoes", page, "search"},
		{"duckduckgo", "https://duckduckgo.com/", page, "search"},
		{"yahoo", "https://search.yahoo.com/", page, "search"},
		{"baidu", "https://www.baidu.com/link?url=x", page, "search"},
		{"yandex", "https://yandex.ru/", page, "search"},
		{"ecosia", "https://www.ecosia.org/", page, "search"},
		{"qwant", "https://www.qwant.com/", page, "search"},
		{"brave search", "https://search.brave.com/search?q=x", page, "search"},
		{"google app", "android-app://com.google.android.googlequicksearchbox/https/www.google.com", page, "search"},
		{"facebook", "https://www.facebook.com/", page, "social"},
		{"facebook link shim", "https://l.facebook.com/l.php?u=x", page, "social"},
		{"facebook mobile", "https://m.facebook.com/", page, "social"},
		{"facebook app", "android-app://com.facebook.katana", page, "social"},
		{"instagram", "https://l.instagram.com/", page, "social"},
		{"t.co", "https://t.co/abc", page, "social"},
		{"twitter", "https://twitter.com/someone", page, "social"},
		{"x", "https://x.com/", page, "social"},
		{"linkedin", "https://www.linkedin.com/feed/", page, "social"},
		{"reddit", "https://old.reddit.com/r/shoes", page, "social"},
		{"pinterest fr", "https://fr.pinterest.fr/", page, "social"},
		{"tiktok", "https://www.tiktok.com/", page, "social"},
		{"youtube", "https://www.youtube.com/watch?v=x", page, "social"},
		{"mastodon", "https://mastodon.social/@someone", page, "social"},
		{"fediverse instance", "https://fosstodon.social/", page, "social"},
		{"bluesky", "https://bsky.app/profile/x", page, "social"},
		{"other site", "https://blog.example.org/review", page, "referral"},
		{"other app", "android-app://com.example.reader", page, "referral"},
		{"bad page url", "https://www.bing.com/", "%zz", "search"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := privacy.Channel(tt.referrer, tt.page); got != tt.want {
				t.Errorf("Channel(%q, %q) = %q, want %q", tt.referrer, tt.page, got, tt.want)
			}
		})
	}
}

func TestDeviceClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ua    string
		width int
		want  string
	}{
		{"chrome windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", 1920, "desktop"},
		{"safari mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", 1440, "desktop"},
		{"firefox linux", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", 1366, "desktop"},
		{"chromebook", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", 1280, "desktop"},
		{"iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", 390, "mobile"},
		{"android phone", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", 412, "mobile"},
		{"samsung browser", "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36", 384, "mobile"},
		{"opera mini", "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54", 240, "mobile"},
		{"ipad", "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", 820, "tablet"},
		{"ipad as mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", 820, "tablet"},
		{"android tablet", "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", 800, "tablet"},
		{"kindle", "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/537.36 (KHTML, like Gecko) Silk/3.68 like Chrome/39.0.2171.93 Safari/537.36", 800, "tablet"},
		{"googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 0, "bot"},
		{"googlebot smartphone", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 412, "bot"},
		{"bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 0, "bot"},
		{"headless chrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", 800, "bot"},
		{"curl", "curl/8.4.0", 0, "bot"},
		{"python", "python-requests/2.31.0", 0, "bot"},
		{"facebook preview", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 0, "bot"},
		{"gptbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)", 0, "bot"},
		{"smart tv", "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36", 1920, "other"},
		{"playstation", "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)", 1920, "other"},
		{"unknown narrow", "SomeBrowser/1.0", 360, "mobile"},
		{"unknown medium", "SomeBrowser/1.0", 900, "tablet"},
		{"unknown wide", "SomeBrowser/1.0", 1600, "desktop"},
		{"nothing known", "", 0, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := privacy.DeviceClass(tt.ua, tt.width); got != tt.want {
				t.Errorf("DeviceClass(%q, %d) = %q, want %q", tt.ua, tt.width, got, tt.want)
			}
		})
	}
}
