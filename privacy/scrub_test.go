package privacy_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"personas/privacy"
)

// scrubCase is one line of the corpus: in must scrub to exactly want.
type scrubCase struct{ name, in, want string }

// piiCorpus holds personal data in many formats and countries, each inside a
// sentence so that the words around it are checked as kept.
var piiCorpus = []scrubCase{
	// E-mail addresses.
	{"email plain", "Write to jane.doe@example.com today", "Write to [email] today"},
	{"email plus tag", "Write to jane.doe+x@mail.example", "Write to [email]"},
	{"email subdomain", "cc: j_smith@eu.mail.corp.co.uk.", "cc: [email]."},
	{"email upper case", "JANE.DOE@EXAMPLE.ORG", "[email]"},
	{"email in angle brackets", "From: Jane <jane@example.com>", "From: Jane <[email]>"},
	{"email mailto", "mailto:jane@example.com?subject=hi", "mailto:[email]?subject=hi"},
	{"email query value", "/signup?email=jane@example.com&x=1", "/signup?email=[email]&x=1"},
	{"email in quotes", `"o'brien@example.ie"`, `"[email]"`},
	{"email unicode local", "jürgen.müller@beispiel.de schrieb", "[email] schrieb"},
	{"email unicode domain", "contact: pierre@société.fr", "contact: [email]"},
	{"email punycode tld", "x@example.xn--p1ai", "[email]"},
	{"email fullwidth at", "jane＠example.com", "[email]"},
	{"email spelled at", "jane (at) example.com", "[email]"},
	{"email spelled at and dot", "jane [at] example [dot] com", "[email]"},
	{"email digits local", "0612345678@sms.example.net", "[email]"},
	{"email two in a row", "a@x.io,b@y.io", "[email],[email]"},
	{"url credentials", "https://bob:hunter2@example.com/x", "https://[email]/x"},
	// Phone numbers.
	{"phone UK international", "Call +44 20 7946 0958 now", "Call [phone] now"},
	{"phone UK international trunk", "+44 (0)20 7946 0958", "[phone]"},
	{"phone US international", "Call +1 (415) 555-2671.", "Call [phone]."},
	{"phone US dashes", "call 415-555-2671 today", "call [phone] today"},
	{"phone US parens", "(415) 555-2671", "[phone]"},
	{"phone US dots", "415.555.2671", "[phone]"},
	{"phone US spaces", "tel 415 555 2671", "tel [phone]"},
	{"phone US toll free", "1-800-555-0199", "[phone]"},
	{"phone FR spaces", "Appelez le 06 12 34 56 78 svp", "Appelez le [phone] svp"},
	{"phone FR dots", "06.12.34.56.78", "[phone]"},
	{"phone FR compact", "0612345678", "[phone]"},
	{"phone FR no-break spaces", "06\u00a012\u00a034\u00a056\u00a078", "[phone]"},
	{"phone FR narrow spaces", "06\u202f12\u202f34\u202f56\u202f78", "[phone]"},
	{"phone FR international", "+33 6 12 34 56 78", "[phone]"},
	{"phone FR international compact", "+33612345678", "[phone]"},
	{"phone FR 0033", "0033 6 12 34 56 78", "[phone]"},
	{"phone DE", "Tel. 030 1234567", "Tel. [phone]"},
	{"phone DE slash", "089/1234567", "[phone]"},
	{"phone DE mobile", "0151 12345678", "[phone]"},
	{"phone DE international", "+49 30 1234567", "[phone]"},
	{"phone DE international trunk", "+49 (0)30 1234567", "[phone]"},
	{"phone UK mobile", "07700 900123", "[phone]"},
	{"phone UK London", "020 7946 0958", "[phone]"},
	{"phone UK Manchester", "0161 496 0000", "[phone]"},
	{"phone ES mobile", "Llama al 612 34 56 78", "Llama al [phone]"},
	{"phone ES threes", "655 123 456", "[phone]"},
	{"phone ES landline", "91 234 56 78", "[phone]"},
	{"phone IT", "02 1234 5678", "[phone]"},
	{"phone NL", "06-12345678", "[phone]"},
	{"phone BE", "0470 12 34 56", "[phone]"},
	{"phone CH", "044 668 18 00", "[phone]"},
	{"phone JP", "03-1234-5678", "[phone]"},
	{"phone JP mobile", "090-1234-5678", "[phone]"},
	{"phone AU", "(02) 9876 5432", "[phone]"},
	{"phone AU mobile", "0412 345 678", "[phone]"},
	{"phone BR", "(11) 91234-5678", "[phone]"},
	{"phone IN", "98765 43210", "[phone]"},
	{"phone IN international", "+91 98765 43210", "[phone]"},
	{"phone country code in parentheses", "(+33) 6 12 34 56 78", "[phone]"},
	{"phone US dots international", "+1.415.555.2671", "[phone]"},
	{"phone in JSON", `{"phone":"+1 415 555 2671"}`, `{"phone":"[phone]"}`},
	{"phone tel link", "tel:+33612345678", "tel:[phone]"},
	{"phone en dash", "415–555–2671", "[phone]"},
	{"phone full-width digits", "０６１２３４５６７８", "[phone]"},
	{"phone Arabic-Indic digits", "رقمي ٠٦١٢٣٤٥٦٧٨", "رقمي [phone]"},
	{"phone Devanagari digits", "फ़ोन ९८७६५ ४३२१०", "फ़ोन [phone]"},
	// Payment cards.
	{"card visa spaces", "Pay 4111 1111 1111 1111 now", "Pay [card] now"},
	{"card visa dashes", "4111-1111-1111-1111", "[card]"},
	{"card visa compact", "4111111111111111", "[card]"},
	{"card amex", "3782 822463 10005", "[card]"},
	{"card mastercard", "5555 5555 5555 4444", "[card]"},
	{"card discover", "6011 1111 1111 1117", "[card]"},
	{"card jcb", "3530111333300000", "[card]"},
	{"card diners 14", "3056 9309 0259 04", "[card]"},
	{"card 19 digits", "6221 2600 0000 0000 019", "[card]"},
	{"card invalid luhn", "4111 1111 1111 1112", "[number]"},
	// IBANs.
	{"iban FR spaces", "IBAN FR76 3000 6000 0112 3456 7890 189 merci", "IBAN [iban] merci"},
	{"iban FR compact", "FR7630006000011234567890189", "[iban]"},
	{"iban DE", "DE89 3704 0044 0532 0130 00", "[iban]"},
	{"iban DE compact", "DE89370400440532013000.", "[iban]."},
	{"iban GB", "GB29 NWBK 6016 1331 9268 19", "[iban]"},
	{"iban ES", "ES91 2100 0418 4502 0005 1332", "[iban]"},
	{"iban IT", "IT60 X054 2811 1010 0000 0123 456", "[iban]"},
	{"iban NL", "NL91ABNA0417164300", "[iban]"},
	{"iban BE", "BE68 5390 0754 7034", "[iban]"},
	{"iban CH", "CH93 0076 2011 6238 5295 7", "[iban]"},
	{"iban NO shortest", "NO93 8601 1117 947", "[iban]"},
	{"iban MT with letters", "MT84MALT011000012345MTLCAST001S", "[iban]"},
	{"iban lower case", "fr7630006000011234567890189", "[iban]"},
	{"iban invalid checksum keeps no account number", "GB29 NWBK 6016 1331 9268 18", "GB29 NWBK [number] 18"},
	// IP addresses.
	{"ipv4", "from 192.168.1.1 at", "from [ip] at"},
	{"ipv4 port", "203.0.113.7:8080", "[ip]:8080"},
	{"ipv4 cidr", "10.0.0.0/8", "[ip]/8"},
	{"ipv6 compressed", "client 2001:db8::1 said", "client [ip] said"},
	{"ipv6 full", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[ip]"},
	{"ipv6 loopback", "bound to ::1", "bound to [ip]"},
	{"ipv6 link local", "fe80::1ff:fe23:4567:890a", "[ip]"},
	{"ipv6 mapped ipv4", "::ffff:192.0.2.128", "[ip]"},
	{"ipv6 bracketed", "[2001:db8::1]:443", "[[ip]]:443"},
	// National identity numbers.
	{"id US SSN", "SSN 123-45-6789 on file", "SSN [id] on file"},
	{"id US SSN spaces", "123 45 6789", "[id]"},
	{"id UK NI spaces", "NI QQ 12 34 56 C", "NI [id]"},
	{"id UK NI compact", "AB123456D", "[id]"},
	{"id UK NHS", "NHS 401 023 2137", "NHS [id]"},
	{"id FR NIR spaces", "NIR 1 85 05 78 006 084 91", "NIR [id]"},
	{"id FR NIR compact", "269074912345686", "[id]"},
	{"id ES DNI", "DNI 12345678Z", "DNI [id]"},
	{"id ES DNI dash", "87654321-X", "[id]"},
	{"id ES NIE", "NIE X1234567L", "NIE [id]"},
	{"id ES NIE Y", "Y7654321G", "[id]"},
	{"id IT codice fiscale", "CF RSSMRA85T10A562S", "CF [id]"},
	{"id CA SIN", "SIN 046 454 286", "SIN [id]"},
	{"id BR CPF", "CPF 529.982.247-25", "CPF [id]"},
	{"id BE national number", "85.07.30-033.28", "[id]"},
	{"id BE born after 2000", "01.02.03-123.45", "[id]"},
	{"id SE personnummer", "811218-9876", "[id]"},
	{"id SE personnummer century", "19640823-3234", "[id]"},
	{"id DK CPR", "CPR 010190-1234", "CPR [id]"},
	{"id FI henkilötunnus", "131052-308T", "[id]"},
	{"id CN resident", "11010519491231002X", "[id]"},
	{"id CN resident digits", "440304199001011233", "[id]"},
	{"id IN Aadhaar", "2345 6789 0124", "[id]"},
	// Other long numbers.
	{"number seven digits", "order 1234567", "order [number]"},
	{"number in word", "ref:AB12345678cd", "ref:AB[number]cd"},
	{"number grouped", "account 1234 5678 9012", "account [number]"},
	{"number compact date", "20251123", "[number]"},
	{"number hash sign", "#98765432", "#[number]"},
	{"number full-width", "会員番号１２３４５６７８", "会員番号[number]"},
	// Secrets and tokens.
	{"token bearer jwt", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "Authorization: Bearer [token]"},
	{"token bare jwt", "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U;", "t=[token];"},
	{"token bearer opaque", "Bearer 8f14e45fceea167a5a36", "Bearer [token]"},
	{"token basic", "Basic dXNlcjpwYXNzd29yZDEyMw==", "Basic [token]"},
	{"token openai", "key sk-proj-abcdefghijklmnop1234 ok", "key [token] ok"},
	{"token stripe", "sk_live_51HxYzAbCdEfGhIjKlMn", "[token]"},
	{"token github", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "[token]"},
	{"token slack", "xoxb-123456789012-abcdefghijklmnop", "[token]"},
	{"token aws", "AKIAIOSFODNN7EXAMPLE", "[token]"},
	{"token md5 hex", "hash 5f4dcc3b5aa765d61d8327deb882cf99 end", "hash [token] end"},
	{"token sha1 hex", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "[token]"},
	{"token base64", "sess=Zm9vYmFyMTIzNDU2Nzg5MGFiY2RlZg==", "sess=[token]"},
	{"token uuid", "id 550e8400-e29b-41d4-a716-446655440000", "id [token]"},
	{"token in path", "/reset/9b2f4c1d8e7a6b5c4d3e2f1a0b9c8d7e/confirm", "/reset/[token]/confirm"},
	{"secret password", "password=hunter2", "password=[token]"},
	{"secret json", `{"api_key":"abc123"}`, `{"api_key":"[token]"}`},
	{"secret colon", "PIN: 4821", "PIN: [token]"},
	{"secret at sentence end", "My PIN: 4821.", "My PIN: [token]."},
	{"secret query", "?token=abc&page=2", "?token=[token]&page=2"},
	// Mixed.
	{"mixed sentence", "Jane (jane@example.com, +33 6 12 34 56 78) paid with 4111 1111 1111 1111 from 192.168.0.1",
		"Jane ([email], [phone]) paid with [card] from [ip]"},
}

// keepCorpus holds text without personal data that must come back as is.
var keepCorpus = []string{
	"3 items for 49.90 €, size 42",
	"on 2025-11-23 at 10:30",
	"iPhone 15",
	"Total: 1 299,00 € TTC",
	"Prix 12 345 678,00 €",
	"Price $1,234,567.89",
	"Sale ends 23/11/2025 at 18:00",
	"Delivered 23.11.2025",
	"2025-11-23T10:30:45Z",
	"Opening hours 09:00–18:00",
	"Windows 10.0.19045.3803",
	"version 1.2.3.4.5",
	"v2.14.0-rc.1",
	"Chrome/120.0.6099.109",
	"Size 42 43 44 45 46",
	"Seasons 2023 2024 2025",
	"Screen 1920x1080",
	"Room 101, floor 3, building B",
	"Order #A-10234 shipped",
	"5 stars (1,234 reviews)",
	"Add to cart",
	"Forgot password?",
	"Change password: click here",
	"Bearer of good news",
	"Basic plan",
	"Basic information",
	"std::vector and a::b",
	"Rated 4.5/5 by 300 customers",
	"Call us!",
	"ISBN 978-3-16-148410-0",
	"https://example.com/products/summer-sale-2025/shoes",
	"/api/v1/users/me/orders",
	"ThisIsAVeryLongCamelCaseName2",
	"internationalization123456",
	"ZIP 75001 Paris",
	"Postcode SW1A 1AA",
	"Bonjour à tous, ça va ?",
	"日本語のテキスト 2025年",
	"Ünïcödé wörds",
	"emoji 👍🏽 ok",
	"10:30:45",
	"1.5 kg, 250 ml",
	"-12.5 °C",
	"50% off",
	"me@home",
	"@handle on social",
}

func TestScrubPII(t *testing.T) {
	t.Parallel()
	if len(piiCorpus) < 80 {
		t.Fatalf("corpus has %d cases, want at least 80", len(piiCorpus))
	}
	for _, tt := range piiCorpus {
		t.Run(tt.name, func(t *testing.T) {
			if got := privacy.Scrub(tt.in); got != tt.want {
				t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestScrubKeepsText(t *testing.T) {
	t.Parallel()
	for _, in := range keepCorpus {
		t.Run(in, func(t *testing.T) {
			if got := privacy.Scrub(in); got != in {
				t.Errorf("Scrub(%q) = %q, want it unchanged", in, got)
			}
		})
	}
}

func TestScrubInvalidUTF8(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"lone continuation byte", "a\x80b", "a\uFFFDb"},
		{"truncated rune before phone", "\xe2\x82 06 12 34 56 78", "\uFFFD [phone]"},
		{"invalid inside email", "jane\xff@example.com", "[email]"},
		{"invalid inside digits", "1234\xff5678", "1234\uFFFD5678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := privacy.Scrub(tt.in)
			if got != tt.want {
				t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Scrub(%q) = %q is not valid UTF-8", tt.in, got)
			}
		})
	}
}

// TestScrubProperties checks, on every corpus line and on their
// concatenation, what FuzzScrub checks on random input.
func TestScrubProperties(t *testing.T) {
	t.Parallel()
	var all []string
	for _, c := range piiCorpus {
		all = append(all, c.in)
	}
	all = append(all, keepCorpus...)
	all = append(all, strings.Join(all, " "), strings.Join(all, ""))
	for _, in := range all {
		checkScrubProperties(t, in)
	}
}

// checkScrubProperties fails t if Scrub(in) is not valid UTF-8, is not a
// fixed point, or keeps a run of seven digits.
func checkScrubProperties(t *testing.T, in string) {
	t.Helper()
	once := privacy.Scrub(in)
	if !utf8.ValidString(once) {
		t.Errorf("Scrub(%q) = %q is not valid UTF-8", short(in), short(once))
	}
	if twice := privacy.Scrub(once); twice != once {
		t.Errorf("Scrub is not idempotent on %q:\nonce  %q\ntwice %q", short(in), short(once), short(twice))
	}
	if run := longestDigitRun(once); run >= 7 {
		t.Errorf("Scrub(%q) = %q keeps a run of %d digits", short(in), short(once), run)
	}
}

// short cuts long fuzz and stress inputs down for failure messages.
func short(s string) string {
	if len(s) <= 160 {
		return s
	}
	return s[:80] + "…" + s[len(s)-80:]
}

// longestDigitRun counts the longest run of decimal digits of any script.
func longestDigitRun(s string) int {
	best, n := 0, 0
	for _, r := range s {
		if unicode.IsDigit(r) {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

func TestScrubLinearTime(t *testing.T) {
	t.Parallel()
	// Inputs built to make a backtracking matcher quadratic; each must be
	// scrubbed with a bounded number of allocations and must not change
	// length wildly. Time is measured by BenchmarkScrubHostile, not here.
	hostile := []string{
		strings.Repeat("a.", 50000),
		strings.Repeat("1 ", 50000),
		strings.Repeat("1-", 50000),
		strings.Repeat("a@", 50000),
		strings.Repeat("@a.", 50000),
		strings.Repeat("a-", 50000),
		strings.Repeat("0:", 50000),
		strings.Repeat("(1) ", 25000),
		strings.Repeat("x", 100000) + "@example.com",
		strings.Repeat("ab", 50000),
		strings.Repeat("a1", 50000),
	}
	for _, in := range hostile {
		checkScrubProperties(t, in)
	}
}
