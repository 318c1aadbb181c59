package config

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Var describes one environment variable: its name, default and meaning, for --help.
type Var struct {
	Name    string
	Default string
	Help    string
	Secret  bool
}

// Vars lists every variable the service reads, in the order `personas --help` shows them.
var Vars = []Var{
	{"PERSONAS_ENV", "development", "development or production; production refuses development secrets", false},
	{"PERSONAS_HTTP_ADDR", ":8080", "address the HTTP server listens on", false},
	{"PERSONAS_PUBLIC_URL", "http://localhost:8080", "external base URL of the service (collector snippet, links)", false},
	{"PERSONAS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/personas?sslmode=disable", "PostgreSQL data database; several hosts (postgres://h1:5432,h2:5432/personas?target_session_attrs=read-write) follow a failover to the new primary", false},
	{"PERSONAS_DATABASE_READ_URL", "(none: reports read the primary)", "PostgreSQL standby for the dashboard's reports, which may be a moment stale (events per day, drift); e.g. every node with target_session_attrs=prefer-standby", false},
	{"PERSONAS_DATABASE_MAX_CONNS", "max(8, 4 x GOMAXPROCS)", "connections in the data database pool", false},
	{"PERSONAS_KEYSTORE_URL", "(database URL with database name + _keys)", "PostgreSQL key store holding the wrapped project keys", false},
	{"PERSONAS_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for the job queues: redis[s]://[user:pass@]host:port/db, redis[s]+cluster://[user:pass@]h1:p1,h2:p2,... (Redis Cluster), redis[s]+sentinel://[user:pass@]s1:p1,s2:p2,.../master[?db=N&sentinel_username=...&sentinel_password=...] (Sentinel)", true},
	{"PERSONAS_ENCRYPTION_KEYS", "(development key file)", "key-encryption keys \"id:base64,...\"; the first wraps, all unwrap", true},
	{"PERSONAS_INDEX_KEY", "(development key file)", "base64 key (>= 32 bytes) of the blind indexes", true},
	{"PERSONAS_SIGNING_KEY", "(development key file)", "base64 Ed25519 seed (32 bytes) that signs deletion receipts", true},
	{"PERSONAS_TRUSTED_PROXIES", "(none)", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client", false},
	{"PERSONAS_RATE_PER_CLIENT", "200", "collect, classify and forget: requests per second per client address (burst twice that); -1 turns the limit off", false},
	{"PERSONAS_RATE_PER_SITE", "5000", "collect: requests per second per site key (burst twice that); -1 turns the limit off", false},
	{"PERSONAS_KEY_FILE", ".keys/dev.env", "development only: where missing secrets are created (mode 0600)", false},
	{"PERSONAS_LOG_LEVEL", "info", "debug, info, warn or error", false},
	{"PERSONAS_LOG_FORMAT", "text", "text or json", false},
	{"PERSONAS_SHUTDOWN_TIMEOUT", "20s", "how long shutdown waits for in-flight requests and running tasks", false},
	{"PERSONAS_SMTP_URL", "", "SMTP relay for invitations and reset links: smtp://user:pass@host:port (STARTTLS) or smtps://… (implicit TLS); empty: links are shown to the admin instead", true},
	{"PERSONAS_SMTP_FROM", "", "sender address of the service's mail, e.g. Personas <noreply@example.com>; required with PERSONAS_SMTP_URL", false},
	{"PERSONAS_INVITE_TTL", "168h", "how long an invitation link works, from 1h to 720h", false},
	{"PERSONAS_OIDC_ISSUER", "", "OpenID Connect issuer URL for single sign-on (https; http only on loopback); empty: no single sign-on", false},
	{"PERSONAS_OIDC_CLIENT_ID", "", "OpenID Connect client id; required with PERSONAS_OIDC_ISSUER", false},
	{"PERSONAS_OIDC_CLIENT_SECRET", "", "OpenID Connect client secret (empty for a public client: PKCE is always used)", true},
	{"PERSONAS_OIDC_ALLOWED_DOMAINS", "(any)", "comma-separated email domains single sign-on accepts, e.g. example.com,example.org", false},
	{"AZURE_OPENAI_ENDPOINT", "", "Azure OpenAI resource endpoint; empty: personas are named by the rule-based namer", false},
	{"AZURE_OPENAI_API_KEY", "", "Azure OpenAI API key", true},
	{"AZURE_OPENAI_DEPLOYMENT", "", "Azure OpenAI chat deployment name", false},
	{"AZURE_OPENAI_API_VERSION", "2024-10-21", "Azure OpenAI API version (structured outputs need 2024-08-01-preview or later)", false},
}

// Config is the parsed configuration.
type Config struct {
	Env         string
	HTTPAddr    string
	PublicURL   string
	DatabaseURL string
	KeystoreURL string
	// ReadDatabaseURL, when set, serves the report queries that may be stale (models.Store's
	// read pool); empty: they read the primary.
	ReadDatabaseURL string
	RedisURL        string
	// Redis is RedisURL parsed: one server, a cluster or a Sentinel-watched master.
	Redis           Redis
	EncryptionKeys  string
	IndexKey        []byte
	SigningKey      []byte
	KeyFile         string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	Azure           Azure

	// SMTPURL names the mail relay (empty: no mail); it holds a password, never log it.
	SMTPURL string
	// SMTPFrom is the sender of the service's mail.
	SMTPFrom string
	// InviteTTL is how long an invitation link works.
	InviteTTL time.Duration
	// OIDC is the single sign-on provider; zero when single sign-on is off.
	OIDC OIDC

	// DatabaseMaxConns is the size of the data database's connection pool.
	DatabaseMaxConns int32
	// TrustedProxies are the networks whose X-Forwarded-For gives the client address.
	TrustedProxies []netip.Prefix
	// RatePerClient and RatePerSite limit the public endpoints in requests per second (burst
	// twice that); a negative value turns the limit off.
	RatePerClient, RatePerSite float64
	// MemoryLimit is the soft memory limit of a process that trains (TrainMemoryLimit; the
	// runtime's GOMEMLIMIT overrides it, see LimitMemory).
	MemoryLimit int64

	// DevKeysCreated is true when this load wrote new development secrets to KeyFile.
	DevKeysCreated bool
}

// Azure is the Azure OpenAI configuration used by enrichment.
type Azure struct {
	Endpoint, APIKey, Deployment, APIVersion string
}

// OIDC is the OpenID Connect configuration of single sign-on.
type OIDC struct {
	Issuer, ClientID, ClientSecret string
	// AllowedDomains are the lower-case email domains accepted; empty accepts any.
	AllowedDomains []string
}

// Enabled reports whether single sign-on is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// Production reports whether the service runs with PERSONAS_ENV=production.
func (c Config) Production() bool { return c.Env == "production" }

// VarError is a configuration error about one variable.
type VarError struct {
	Name string
	Err  error
}

func (e *VarError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *VarError) Unwrap() error { return e.Err }

// Load reads the configuration through getenv. It may create the development key file.
func Load(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Env:       get("PERSONAS_ENV", "development"),
		HTTPAddr:  get("PERSONAS_HTTP_ADDR", ":8080"),
		PublicURL: strings.TrimRight(get("PERSONAS_PUBLIC_URL", "http://localhost:8080"), "/"),
		DatabaseURL: get("PERSONAS_DATABASE_URL",
			"postgres://postgres@127.0.0.1:5432/personas?sslmode=disable"),
		RedisURL:  get("PERSONAS_REDIS_URL", "redis://127.0.0.1:6379/0"),
		KeyFile:   get("PERSONAS_KEY_FILE", filepath.Join(".keys", "dev.env")),
		LogLevel:  get("PERSONAS_LOG_LEVEL", "info"),
		LogFormat: get("PERSONAS_LOG_FORMAT", "text"),
		Azure: Azure{
			Endpoint:   get("AZURE_OPENAI_ENDPOINT", ""),
			APIKey:     get("AZURE_OPENAI_API_KEY", ""),
			Deployment: get("AZURE_OPENAI_DEPLOYMENT", ""),
			APIVersion: get("AZURE_OPENAI_API_VERSION", "2024-10-21"),
		},
		SMTPURL:  get("PERSONAS_SMTP_URL", ""),
		SMTPFrom: get("PERSONAS_SMTP_FROM", ""),
		OIDC: OIDC{
			Issuer:       get("PERSONAS_OIDC_ISSUER", ""), // exactly as the provider names itself
			ClientID:     get("PERSONAS_OIDC_CLIENT_ID", ""),
			ClientSecret: get("PERSONAS_OIDC_CLIENT_SECRET", ""),
		},
	}
	var errs []error
	bad := func(name string, err error) { errs = append(errs, &VarError{name, err}) }

	if c.Env != "development" && c.Env != "production" {
		bad("PERSONAS_ENV", fmt.Errorf("must be development or production, not %q", c.Env))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("PERSONAS_HTTP_ADDR", fmt.Errorf("want host:port, e.g. :8080 (%v)", err))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("PERSONAS_PUBLIC_URL", errors.New("want an absolute http(s) URL"))
	}
	if err := checkPostgresURL(c.DatabaseURL); err != nil {
		bad("PERSONAS_DATABASE_URL", err)
	}
	c.ReadDatabaseURL = get("PERSONAS_DATABASE_READ_URL", "")
	if c.ReadDatabaseURL != "" {
		if err := checkURL(c.ReadDatabaseURL, "postgres", "postgresql"); err != nil {
			bad("PERSONAS_DATABASE_READ_URL", err)
		} else if !sameDatabaseName(c.ReadDatabaseURL, c.DatabaseURL) {
			bad("PERSONAS_DATABASE_READ_URL", errors.New("must name the database of PERSONAS_DATABASE_URL (a standby of it)"))
		}
	}
	var err error
	if c.Redis, err = ParseRedisURL(c.RedisURL); err != nil {
		bad("PERSONAS_REDIS_URL", err)
	}
	c.KeystoreURL = get("PERSONAS_KEYSTORE_URL", "")
	if c.KeystoreURL == "" && len(errs) == 0 {
		c.KeystoreURL = KeystoreURLFor(c.DatabaseURL)
	} else if c.KeystoreURL != "" {
		if err := checkPostgresURL(c.KeystoreURL); err != nil {
			bad("PERSONAS_KEYSTORE_URL", err)
		} else if sameDatabase(c.KeystoreURL, c.DatabaseURL) {
			bad("PERSONAS_KEYSTORE_URL", errors.New("must name another database than PERSONAS_DATABASE_URL: a backup of the data must hold no key"))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("PERSONAS_LOG_LEVEL", fmt.Errorf("must be debug, info, warn or error, not %q", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("PERSONAS_LOG_FORMAT", fmt.Errorf("must be text or json, not %q", c.LogFormat))
	}
	d, err := time.ParseDuration(get("PERSONAS_SHUTDOWN_TIMEOUT", "20s"))
	if err != nil || d <= 0 {
		bad("PERSONAS_SHUTDOWN_TIMEOUT", errors.New("want a positive duration such as 20s"))
	}
	c.ShutdownTimeout = d
	c.MemoryLimit = TrainMemoryLimit
	if c.DatabaseMaxConns, err = parseMaxConns(get("PERSONAS_DATABASE_MAX_CONNS", "")); err != nil {
		bad("PERSONAS_DATABASE_MAX_CONNS", err)
	}
	if c.TrustedProxies, err = ParseCIDRs(get("PERSONAS_TRUSTED_PROXIES", "")); err != nil {
		bad("PERSONAS_TRUSTED_PROXIES", err)
	}
	if c.RatePerClient, err = parseRate(get("PERSONAS_RATE_PER_CLIENT", "200")); err != nil {
		bad("PERSONAS_RATE_PER_CLIENT", err)
	}
	if c.RatePerSite, err = parseRate(get("PERSONAS_RATE_PER_SITE", "5000")); err != nil {
		bad("PERSONAS_RATE_PER_SITE", err)
	}
	if c.Azure.Endpoint != "" {
		if err := checkURL(c.Azure.Endpoint, "https", "http"); err != nil {
			bad("AZURE_OPENAI_ENDPOINT", err)
		}
		if c.Azure.APIKey == "" {
			bad("AZURE_OPENAI_API_KEY", errors.New("required when AZURE_OPENAI_ENDPOINT is set"))
		}
		if c.Azure.Deployment == "" {
			bad("AZURE_OPENAI_DEPLOYMENT", errors.New("required when AZURE_OPENAI_ENDPOINT is set"))
		}
	}
	if c.SMTPURL != "" {
		if err := checkSMTPURL(c.SMTPURL); err != nil {
			bad("PERSONAS_SMTP_URL", err)
		}
		if c.SMTPFrom == "" {
			bad("PERSONAS_SMTP_FROM", errors.New("required when PERSONAS_SMTP_URL is set"))
		}
	}
	if c.SMTPFrom != "" {
		if a, err := mail.ParseAddress(c.SMTPFrom); err != nil || !strings.Contains(a.Address, "@") {
			bad("PERSONAS_SMTP_FROM", errors.New("want an email address such as Personas <noreply@example.com>"))
		}
	}
	ttl, err := time.ParseDuration(get("PERSONAS_INVITE_TTL", "168h"))
	if err != nil || ttl < time.Hour || ttl > 720*time.Hour {
		bad("PERSONAS_INVITE_TTL", errors.New("want a duration from 1h to 720h, such as 168h"))
	}
	c.InviteTTL = ttl
	if c.OIDC.Issuer != "" {
		if err := checkIssuer(c.OIDC.Issuer); err != nil {
			bad("PERSONAS_OIDC_ISSUER", err)
		}
		if c.OIDC.ClientID == "" {
			bad("PERSONAS_OIDC_CLIENT_ID", errors.New("required when PERSONAS_OIDC_ISSUER is set"))
		}
	} else if c.OIDC.ClientID != "" || c.OIDC.ClientSecret != "" {
		bad("PERSONAS_OIDC_ISSUER", errors.New("required when PERSONAS_OIDC_CLIENT_ID or PERSONAS_OIDC_CLIENT_SECRET is set"))
	}
	if c.OIDC.AllowedDomains, err = ParseDomains(get("PERSONAS_OIDC_ALLOWED_DOMAINS", "")); err != nil {
		bad("PERSONAS_OIDC_ALLOWED_DOMAINS", err)
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if err := c.loadSecrets(getenv); err != nil {
		return c, err
	}
	return c, nil
}

// DefaultMaxConns is the data pool's size unless PERSONAS_DATABASE_MAX_CONNS says otherwise:
// collect's committers, classify's reads, the sign-in checks and the workers share it, and
// pgx's own default (4, or the number of CPUs) queues them behind each other.
func DefaultMaxConns() int32 { return int32(max(8, 4*runtime.GOMAXPROCS(0))) }

func parseMaxConns(v string) (int32, error) {
	if v == "" {
		return DefaultMaxConns(), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, fmt.Errorf("want a number of connections from 1 to 10000, not %q", v)
	}
	return int32(n), nil
}

// parseRate reads a limit in requests per second: a positive number, or -1 for none.
func parseRate(v string) (float64, error) {
	r, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil || math.IsNaN(r) || math.IsInf(r, 0):
		return 0, fmt.Errorf("want requests per second (a positive number) or -1 for no limit, not %q", v)
	case r == -1:
		return -1, nil
	case r <= 0 || r > 1e7:
		return 0, fmt.Errorf("want requests per second from above 0 to 10000000, or -1 for no limit, not %q", v)
	}
	return r, nil
}

// ParseCIDRs reads a comma-separated list of networks ("10.0.0.0/8, 192.168.1.7"); a bare
// address is a network of one.
func ParseCIDRs(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (c *Config) loadSecrets(getenv func(string) string) error {
	secrets := map[string]string{}
	for _, n := range []string{"PERSONAS_ENCRYPTION_KEYS", "PERSONAS_INDEX_KEY", "PERSONAS_SIGNING_KEY"} {
		secrets[n] = strings.TrimSpace(getenv(n))
	}
	var missing []string
	for _, n := range []string{"PERSONAS_ENCRYPTION_KEYS", "PERSONAS_INDEX_KEY", "PERSONAS_SIGNING_KEY"} {
		if secrets[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 && c.Production() {
		var errs []error
		for _, n := range missing {
			errs = append(errs, &VarError{n, errors.New("required in production (development key files are refused)")})
		}
		return errors.Join(errs...)
	}
	if len(missing) > 0 {
		file, created, err := loadOrCreateKeyFile(c.KeyFile)
		if err != nil {
			return &VarError{"PERSONAS_KEY_FILE", err}
		}
		c.DevKeysCreated = created
		for _, n := range missing {
			secrets[n] = file[n]
		}
	}
	c.EncryptionKeys = secrets["PERSONAS_ENCRYPTION_KEYS"]
	var errs []error
	var err error
	if c.IndexKey, err = decodeKey(secrets["PERSONAS_INDEX_KEY"], 32, 0); err != nil {
		errs = append(errs, &VarError{"PERSONAS_INDEX_KEY", err})
	}
	if c.SigningKey, err = decodeKey(secrets["PERSONAS_SIGNING_KEY"], 32, 32); err != nil {
		errs = append(errs, &VarError{"PERSONAS_SIGNING_KEY", err})
	}
	return errors.Join(errs...)
}

func decodeKey(s string, minLen, exactLen int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return nil, errors.New("not valid base64")
		}
	}
	if exactLen > 0 && len(b) != exactLen {
		return nil, fmt.Errorf("must decode to %d bytes, got %d", exactLen, len(b))
	}
	if len(b) < minLen {
		return nil, fmt.Errorf("must decode to at least %d bytes, got %d", minLen, len(b))
	}
	return b, nil
}

// loadOrCreateKeyFile reads KEY=value lines from path; a missing file is created with fresh keys.
func loadOrCreateKeyFile(path string) (map[string]string, bool, error) {
	if b, err := os.ReadFile(path); err == nil {
		m := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if ok {
				m[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		for _, n := range []string{"PERSONAS_ENCRYPTION_KEYS", "PERSONAS_INDEX_KEY", "PERSONAS_SIGNING_KEY"} {
			if m[n] == "" {
				return nil, false, fmt.Errorf("development key file %s lacks %s", path, n)
			}
		}
		return m, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read development key file: %w", err)
	}
	rnd := func(n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	m := map[string]string{
		"PERSONAS_ENCRYPTION_KEYS": "dev1:" + rnd(32),
		"PERSONAS_INDEX_KEY":       rnd(32),
		"PERSONAS_SIGNING_KEY":     rnd(32),
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create key file folder: %w", err)
	}
	body := "# Development secrets of personas, created automatically. Never use them in production.\n" +
		"PERSONAS_ENCRYPTION_KEYS=" + m["PERSONAS_ENCRYPTION_KEYS"] + "\n" +
		"PERSONAS_INDEX_KEY=" + m["PERSONAS_INDEX_KEY"] + "\n" +
		"PERSONAS_SIGNING_KEY=" + m["PERSONAS_SIGNING_KEY"] + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race: read its keys
			return loadOrCreateKeyFile(path)
		}
		return nil, false, fmt.Errorf("create development key file: %w", err)
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write development key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write development key file: %w", err)
	}
	return m, true, nil
}

// checkSMTPURL checks the shape of a relay URL without ever quoting it: it holds a password.
func checkSMTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL (percent-encode special characters of the user and password)")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return errors.New("URL scheme must be smtp (STARTTLS) or smtps (implicit TLS)")
	}
	if u.Hostname() == "" {
		return errors.New("URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("port must be a number from 1 to 65535")
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want smtp://user:pass@host:port with no path, query or fragment")
	}
	return nil
}

// checkIssuer accepts an https issuer, or http on a loopback host (a provider run locally).
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want an absolute https URL without query or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip, err := netip.ParseAddr(h); (err == nil && ip.IsLoopback()) || h == "localhost" {
			return nil
		}
		return errors.New("must be https (http is accepted only on a loopback host)")
	}
	return errors.New("want an absolute https URL")
}

// ParseDomains reads a comma-separated list of email domains, lower-cased.
func ParseDomains(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		f = strings.TrimPrefix(f, "@")
		if !validDomain(f) {
			return nil, fmt.Errorf("%q is not a domain such as example.com", f)
		}
		out = append(out, f)
	}
	return out, nil
}

func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func checkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			if u.Host == "" {
				return errors.New("URL has no host")
			}
			return nil
		}
	}
	return fmt.Errorf("URL scheme must be %s", strings.Join(schemes, " or "))
}

// checkPostgresURL checks a URL of a database the service writes to: one naming several hosts
// must ask for the one that accepts writes, or pgx would keep a standby it reached first.
func checkPostgresURL(s string) error {
	if err := checkURL(s, "postgres", "postgresql"); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	if strings.Contains(u.Host, ",") {
		switch u.Query().Get("target_session_attrs") {
		case "read-write", "primary":
		default:
			return errors.New("names several hosts: add target_session_attrs=read-write, so that only the primary is used")
		}
	}
	return nil
}

func sameDatabaseName(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Path == ub.Path
}

// KeystoreURLFor derives the key store URL from the data database URL: same server, database
// name + "_keys".
func KeystoreURLFor(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return ""
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		name = "postgres"
	}
	u.Path = "/" + name + "_keys"
	return u.String()
}

func sameDatabase(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host == ub.Host && ua.Path == ub.Path
}
