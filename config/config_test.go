package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"personas/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaultsCreateDevKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys", "dev.env")
	c, err := config.Load(env(map[string]string{"PERSONAS_KEY_FILE": keyFile}))
	if err != nil {
		t.Fatalf("Load with defaults: %v", err)
	}
	if !c.DevKeysCreated {
		t.Error("DevKeysCreated = false on first load, want true")
	}
	if c.HTTPAddr != ":8080" || c.Env != "development" {
		t.Errorf("defaults: addr %q env %q", c.HTTPAddr, c.Env)
	}
	if c.Redis.Kind != config.RedisServer || len(c.Redis.Addrs) != 1 || c.Redis.Addrs[0] != "127.0.0.1:6379" || c.Redis.DB != 0 {
		t.Errorf("default Redis = %s, want the server 127.0.0.1:6379, database 0", c.Redis.Redacted())
	}
	if c.KeystoreURL != "postgres://postgres@127.0.0.1:5432/personas_keys?sslmode=disable" {
		t.Errorf("KeystoreURL = %q, want the data database name + _keys", c.KeystoreURL)
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %o, want 600", st.Mode().Perm())
	}
	again, err := config.Load(env(map[string]string{"PERSONAS_KEY_FILE": keyFile}))
	if err != nil {
		t.Fatal(err)
	}
	if again.DevKeysCreated || again.EncryptionKeys != c.EncryptionKeys || string(again.IndexKey) != string(c.IndexKey) {
		t.Error("second load did not reuse the key file's secrets")
	}
	if len(c.SigningKey) != 32 || len(c.IndexKey) < 32 {
		t.Errorf("key sizes: signing %d index %d", len(c.SigningKey), len(c.IndexKey))
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	good := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	secrets := map[string]string{"PERSONAS_ENCRYPTION_KEYS": "k1:" + good, "PERSONAS_INDEX_KEY": good, "PERSONAS_SIGNING_KEY": good}
	tests := []struct {
		name, variable, value string
	}{
		{"bad env", "PERSONAS_ENV", "staging"},
		{"bad addr", "PERSONAS_HTTP_ADDR", "8080"},
		{"bad database URL", "PERSONAS_DATABASE_URL", "mysql://x/y"},
		{"database URL without host", "PERSONAS_DATABASE_URL", "postgres:///x"},
		{"bad redis URL", "PERSONAS_REDIS_URL", "http://127.0.0.1:6379"},
		{"redis URL list", "PERSONAS_REDIS_URL", "redis://a:1,redis://b:2"},
		{"sentinel URL without master", "PERSONAS_REDIS_URL", "redis+sentinel://s1:26379,s2:26379"},
		{"keystore same as data", "PERSONAS_KEYSTORE_URL", "postgres://postgres@127.0.0.1:5432/personas?sslmode=disable"},
		{"several hosts, any session", "PERSONAS_DATABASE_URL", "postgres://postgres@db1:5432,db2:5432/personas"},
		{"several hosts, standby wanted", "PERSONAS_DATABASE_URL", "postgres://postgres@db1:5432,db2:5432/personas?target_session_attrs=standby"},
		{"keystore on several hosts, any session", "PERSONAS_KEYSTORE_URL", "postgres://postgres@db1:5432,db2:5432/personas_keys?target_session_attrs=any"},
		{"read URL not postgres", "PERSONAS_DATABASE_READ_URL", "redis://db2:5432/personas"},
		{"read URL without host", "PERSONAS_DATABASE_READ_URL", "postgres:///personas"},
		{"read URL of another database", "PERSONAS_DATABASE_READ_URL", "postgres://postgres@db2:5432/personas_keys"},
		{"read URL not a URL", "PERSONAS_DATABASE_READ_URL", "postgres://db2:5432/%zz"},
		{"bad log level", "PERSONAS_LOG_LEVEL", "loud"},
		{"bad log format", "PERSONAS_LOG_FORMAT", "xml"},
		{"bad shutdown timeout", "PERSONAS_SHUTDOWN_TIMEOUT", "soon"},
		{"negative shutdown timeout", "PERSONAS_SHUTDOWN_TIMEOUT", "-1s"},
		{"bad public URL", "PERSONAS_PUBLIC_URL", "localhost:8080"},
		{"index key not base64", "PERSONAS_INDEX_KEY", "!!!"},
		{"index key too short", "PERSONAS_INDEX_KEY", "AAAA"},
		{"signing key wrong size", "PERSONAS_SIGNING_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"azure endpoint not a URL", "AZURE_OPENAI_ENDPOINT", "not a url"},
		{"max conns not a number", "PERSONAS_DATABASE_MAX_CONNS", "many"},
		{"max conns zero", "PERSONAS_DATABASE_MAX_CONNS", "0"},
		{"max conns negative", "PERSONAS_DATABASE_MAX_CONNS", "-4"},
		{"trusted proxy not a CIDR", "PERSONAS_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"},
		{"trusted proxy bad mask", "PERSONAS_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"client rate zero", "PERSONAS_RATE_PER_CLIENT", "0"},
		{"client rate negative other than -1", "PERSONAS_RATE_PER_CLIENT", "-2"},
		{"client rate not a number", "PERSONAS_RATE_PER_CLIENT", "fast"},
		{"site rate NaN", "PERSONAS_RATE_PER_SITE", "NaN"},
		{"site rate infinite", "PERSONAS_RATE_PER_SITE", "+Inf"},
		{"smtp unknown scheme", "PERSONAS_SMTP_URL", "http://u:" + good + "@relay.example"},
		{"smtp insecure scheme", "PERSONAS_SMTP_URL", "smtp+insecure://relay.example"},
		{"smtp no host", "PERSONAS_SMTP_URL", "smtp://u:" + good + "@:587"},
		{"smtp bad port", "PERSONAS_SMTP_URL", "smtp://u:" + good + "@relay.example:99999"},
		{"smtp unencoded password", "PERSONAS_SMTP_URL", "smtp://u:" + good + "/x#y@relay.example"},
		{"smtp without sender", "PERSONAS_SMTP_URL", "smtps://relay.example"},
		{"bad sender", "PERSONAS_SMTP_FROM", "noreply"},
		{"invite ttl not a duration", "PERSONAS_INVITE_TTL", "a week"},
		{"invite ttl too short", "PERSONAS_INVITE_TTL", "10m"},
		{"invite ttl too long", "PERSONAS_INVITE_TTL", "1000h"},
		{"oidc issuer plain http", "PERSONAS_OIDC_ISSUER", "http://idp.example"},
		{"oidc issuer not a URL", "PERSONAS_OIDC_ISSUER", "idp.example"},
		{"oidc issuer without client id", "PERSONAS_OIDC_ISSUER", "https://idp.example"},
		{"oidc client secret without issuer", "PERSONAS_OIDC_CLIENT_SECRET", good},
		{"oidc domain not a domain", "PERSONAS_OIDC_ALLOWED_DOMAINS", "example.com, not a domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"PERSONAS_KEY_FILE": filepath.Join(t.TempDir(), "k.env")}
			for k, v := range secrets {
				m[k] = v
			}
			m[tt.variable] = tt.value
			_, err := config.Load(env(m))
			if err == nil {
				t.Fatalf("Load accepted %s=%q", tt.variable, tt.value)
			}
			var ve *config.VarError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("error %q does not name %s", err, tt.variable)
			}
			if strings.Contains(err.Error(), good) {
				t.Errorf("error %q echoes key material", err)
			}
		})
	}
}

func TestProductionRefusesDevelopmentSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := config.Load(env(map[string]string{"PERSONAS_ENV": "production", "PERSONAS_KEY_FILE": filepath.Join(dir, "k.env")}))
	if err == nil {
		t.Fatal("production started without secrets")
	}
	for _, v := range []string{"PERSONAS_ENCRYPTION_KEYS", "PERSONAS_INDEX_KEY", "PERSONAS_SIGNING_KEY"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
	if _, statErr := os.Stat(filepath.Join(dir, "k.env")); statErr == nil {
		t.Error("production wrote a development key file")
	}
}

func TestAzureNeedsKeyAndDeployment(t *testing.T) {
	t.Parallel()
	_, err := config.Load(env(map[string]string{"PERSONAS_KEY_FILE": filepath.Join(t.TempDir(), "k"),
		"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"}))
	if err == nil || !strings.Contains(err.Error(), "AZURE_OPENAI_API_KEY") || !strings.Contains(err.Error(), "AZURE_OPENAI_DEPLOYMENT") {
		t.Fatalf("error %v does not name the missing Azure variables", err)
	}
}

func TestLimitsAndProxies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		vars                 map[string]string
		wantConns            int32
		wantProxies          []string
		wantClient, wantSite float64
	}{
		{"defaults", nil, config.DefaultMaxConns(), nil, 200, 5000},
		{"set", map[string]string{"PERSONAS_DATABASE_MAX_CONNS": "32", "PERSONAS_RATE_PER_CLIENT": "12.5",
			"PERSONAS_RATE_PER_SITE": "-1", "PERSONAS_TRUSTED_PROXIES": " 10.0.0.0/8,192.168.1.7 , fd00::/8,10.1.2.3/8"},
			32, []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "10.0.0.0/8"}, 12.5, -1},
		{"client off", map[string]string{"PERSONAS_RATE_PER_CLIENT": "-1"}, config.DefaultMaxConns(), nil, -1, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"PERSONAS_KEY_FILE": filepath.Join(t.TempDir(), "k.env")}
			for k, v := range tt.vars {
				m[k] = v
			}
			c, err := config.Load(env(m))
			if err != nil {
				t.Fatal(err)
			}
			var proxies []string
			for _, p := range c.TrustedProxies {
				proxies = append(proxies, p.String())
			}
			if c.DatabaseMaxConns != tt.wantConns || c.RatePerClient != tt.wantClient || c.RatePerSite != tt.wantSite ||
				strings.Join(proxies, " ") != strings.Join(tt.wantProxies, " ") {
				t.Errorf("conns %d, client %v, site %v, proxies %v; want %d, %v, %v, %v", c.DatabaseMaxConns,
					c.RatePerClient, c.RatePerSite, proxies, tt.wantConns, tt.wantClient, tt.wantSite, tt.wantProxies)
			}
		})
	}
	if n := config.DefaultMaxConns(); n < 8 {
		t.Errorf("DefaultMaxConns() = %d, want at least 8", n)
	}
}

func TestTeamsSettings(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		wantTTL time.Duration
		wantSSO bool
		domains []string
	}{
		{"defaults", nil, 168 * time.Hour, false, nil},
		{"set", map[string]string{"PERSONAS_SMTP_URL": "smtps://u:p%40ss@relay.example:465", "PERSONAS_SMTP_FROM": "Personas <noreply@example.com>",
			"PERSONAS_INVITE_TTL": "48h", "PERSONAS_OIDC_ISSUER": "https://idp.example/realms/x/", "PERSONAS_OIDC_CLIENT_ID": "personas",
			"PERSONAS_OIDC_CLIENT_SECRET": "s", "PERSONAS_OIDC_ALLOWED_DOMAINS": " Example.com,@example.org "},
			48 * time.Hour, true, []string{"example.com", "example.org"}},
		{"loopback provider over http", map[string]string{"PERSONAS_OIDC_ISSUER": "http://127.0.0.1:9999/oidc", "PERSONAS_OIDC_CLIENT_ID": "c"},
			168 * time.Hour, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"PERSONAS_KEY_FILE": filepath.Join(t.TempDir(), "k.env")}
			for k, v := range tt.vars {
				m[k] = v
			}
			c, err := config.Load(env(m))
			if err != nil {
				t.Fatal(err)
			}
			if c.InviteTTL != tt.wantTTL || c.OIDC.Enabled() != tt.wantSSO || strings.Join(c.OIDC.AllowedDomains, ",") != strings.Join(tt.domains, ",") {
				t.Errorf("ttl %v, sso %v, domains %v; want %v, %v, %v", c.InviteTTL, c.OIDC.Enabled(), c.OIDC.AllowedDomains,
					tt.wantTTL, tt.wantSSO, tt.domains)
			}
			if tt.wantSSO && c.OIDC.Issuer != tt.vars["PERSONAS_OIDC_ISSUER"] {
				t.Errorf("issuer %q, want it exactly as set (go-oidc compares it with the provider's)", c.OIDC.Issuer)
			}
		})
	}
	secret := map[string]bool{}
	for _, v := range config.Vars {
		secret[v.Name] = v.Secret
	}
	for _, n := range []string{"PERSONAS_SMTP_URL", "PERSONAS_OIDC_CLIENT_SECRET"} {
		if !secret[n] {
			t.Errorf("%s is not marked secret", n)
		}
	}
}

// TestFailoverURLs: a data database on several hosts keeps asking for the primary in the key
// store URL derived from it, and the read URL is optional.
func TestFailoverURLs(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "k.env")
	multi := "postgres://postgres@db1:5432,db2:5432/personas?sslmode=disable&target_session_attrs=read-write"
	c, err := config.Load(env(map[string]string{"PERSONAS_KEY_FILE": keyFile, "PERSONAS_DATABASE_URL": multi}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://postgres@db1:5432,db2:5432/personas_keys?sslmode=disable&target_session_attrs=read-write"; c.KeystoreURL != want {
		t.Errorf("KeystoreURL = %q, want %q", c.KeystoreURL, want)
	}
	if c.ReadDatabaseURL != "" {
		t.Errorf("ReadDatabaseURL = %q by default, want none", c.ReadDatabaseURL)
	}
	read := "postgres://postgres@db1:5432,db2:5432/personas?sslmode=disable&target_session_attrs=prefer-standby"
	c, err = config.Load(env(map[string]string{"PERSONAS_KEY_FILE": keyFile, "PERSONAS_DATABASE_URL": multi,
		"PERSONAS_DATABASE_READ_URL": read}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ReadDatabaseURL != read {
		t.Errorf("ReadDatabaseURL = %q, want %q", c.ReadDatabaseURL, read)
	}
	if _, err := config.Load(env(map[string]string{"PERSONAS_KEY_FILE": keyFile,
		"PERSONAS_DATABASE_URL": strings.Replace(multi, "read-write", "primary", 1)})); err != nil {
		t.Errorf("target_session_attrs=primary: %v", err)
	}
}
