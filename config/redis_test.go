package config_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/config"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     config.Redis
	}{
		{"the default", "redis://127.0.0.1:6379/0",
			config.Redis{Kind: config.RedisServer, Addrs: []string{"127.0.0.1:6379"}}},
		{"server with database and password alone", "redis://s3cr%40t@cache.internal/4",
			config.Redis{Kind: config.RedisServer, Addrs: []string{"cache.internal:6379"}, Password: "s3cr@t", DB: 4}},
		{"server with ACL user over TLS", "rediss://app:pw@Redis.Example:6380",
			config.Redis{Kind: config.RedisServer, Addrs: []string{"redis.example:6380"}, Username: "app", Password: "pw", TLS: true}},
		{"server on IPv6", "redis://[::1]:7000/2",
			config.Redis{Kind: config.RedisServer, Addrs: []string{"[::1]:7000"}, DB: 2}},
		{"cluster", "redis+cluster://10.0.0.1:7000,10.0.0.2:7001,node-3.internal",
			config.Redis{Kind: config.RedisCluster, Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7001", "node-3.internal:6379"}}},
		{"cluster with one seed, TLS and a password", "rediss+cluster://:pw@10.0.0.1:7000/",
			config.Redis{Kind: config.RedisCluster, Addrs: []string{"10.0.0.1:7000"}, Password: "pw", TLS: true}},
		{"cluster with database 0 spelled out", "redis+cluster://a:1,b:2/0",
			config.Redis{Kind: config.RedisCluster, Addrs: []string{"a:1", "b:2"}}},
		{"sentinel", "redis+sentinel://s1:26379,s2:26380,s3/mymaster",
			config.Redis{Kind: config.RedisSentinel, Addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, MasterName: "mymaster"}},
		{"sentinel with every option", "rediss+sentinel://app:m%2Fpw@[fd00::1]:26379,s2:1/queues.eu-1?db=3&sentinel_username=sent&sentinel_password=s%26pw",
			config.Redis{Kind: config.RedisSentinel, Addrs: []string{"[fd00::1]:26379", "s2:1"}, Username: "app", Password: "m/pw",
				DB: 3, TLS: true, MasterName: "queues.eu-1", SentinelUsername: "sent", SentinelPassword: "s&pw"}},
		{"sentinel password alone", "redis+sentinel://s1/m?sentinel_password=x",
			config.Redis{Kind: config.RedisSentinel, Addrs: []string{"s1:26379"}, MasterName: "m", SentinelPassword: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.ParseRedisURL(tt.in)
			if err != nil {
				t.Fatalf("ParseRedisURL: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseRedisURL(%q) (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

// redisSecret is the password in the hostile values: no error may quote it.
const redisSecret = "Hunter2Secret"

// TestParseRedisURLRefusesHostileValues: every value an operator could mistype or an attacker
// could plant is refused with a message that names the variable and never quotes the password.
func TestParseRedisURLRefusesHostileValues(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"empty scheme", "127.0.0.1:6379"},
		{"http", "http://127.0.0.1:6379"},
		{"unknown variant", "redis+shard://a:1"},
		{"list of redis URLs", "redis://a:1,redis://b:2"},
		{"list of URLs with a password", "redis://:" + redisSecret + "@a:1,redis://:" + redisSecret + "@b:2"},
		{"no host", "redis://"},
		{"no host with path", "redis:///0"},
		{"cluster with no host", "redis+cluster://:" + redisSecret + "@/"},
		{"trailing comma", "redis+cluster://a:1,b:2,"},
		{"empty host between commas", "redis+cluster://a:1,,b:2"},
		{"port zero", "redis://a:0"},
		{"port too big", "redis+cluster://a:1,b:65536"},
		{"port with sign", "redis://a:+80"},
		{"port with leading zero", "redis://a:06379"},
		{"port not a number", "redis://a:redis"},
		{"empty port", "redis://a:"},
		{"two servers in a redis URL", "redis://a:1,b:2"},
		{"same node twice", "redis+cluster://a:1,A:1"},
		{"host with underscore label edge", "redis://-a:1"},
		{"host with a slash-free bad character", "redis://a!b:1"},
		{"host too long", "redis://" + strings.Repeat("a", 64) + ":1"},
		{"space in URL", "redis://a:1/ 0"},
		{"newline", "redis://a:1/0\nX-Injected: 1"},
		{"NUL byte", "redis://a\x00b:1"},
		{"tab", "redis+cluster://a:1,\tb:2"},
		{"too long", "redis://" + strings.Repeat("a", 5000)},
		{"too many hosts", "redis+cluster://" + strings.TrimSuffix(strings.Repeat("h:1,", 65), ",")},
		{"server db not a number", "redis://a:1/zero"},
		{"server db negative", "redis://a:1/-1"},
		{"server db too big", "redis://a:1/99999999999"},
		{"server db with leading zero", "redis://a:1/01"},
		{"server db nested path", "redis://a:1/0/1"},
		{"server takes no query", "redis://a:1/0?dial_timeout=1s"},
		{"cluster with another database", "redis+cluster://a:1,b:2/3"},
		{"cluster takes no query", "redis+cluster://a:1?read_only=true"},
		{"sentinel without master", "redis+sentinel://s1:26379,s2:26379"},
		{"sentinel with empty master", "redis+sentinel://s1:26379/"},
		{"sentinel master with slash", "redis+sentinel://s1/my/master"},
		{"sentinel master with percent-encoded space", "redis+sentinel://s1/my%20master"},
		{"sentinel master too long", "redis+sentinel://s1/" + strings.Repeat("m", 129)},
		{"sentinel db not a number", "redis+sentinel://s1/m?db=x"},
		{"sentinel db twice", "redis+sentinel://s1/m?db=1&db=2"},
		{"sentinel unknown parameter", "redis+sentinel://s1/m?master_name=n"},
		{"sentinel user without password", "redis+sentinel://s1/m?sentinel_username=u"},
		{"sentinel bad query escape", "redis+sentinel://s1/m?sentinel_password=%zz"},
		{"user without password", "redis://app:@a:1"},
		{"bad percent-encoding in password", "redis://:" + redisSecret + "%zz@a:1"},
		{"unencoded slash in password", "redis://u:" + redisSecret[:6] + "/" + redisSecret[6:] + "@a:1"},
		{"unencoded question mark in password", "redis://u:" + redisSecret[:6] + "?" + redisSecret[6:] + "@a:1"},
		{"unencoded hash in password", "redis://u:" + redisSecret[:6] + "#" + redisSecret[6:] + "@a:1"},
		{"fragment", "redis://a:1/0#x"},
		{"IPv6 without closing bracket", "redis://[::1:6379"},
	}
	good := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := config.ParseRedisURL(tt.in); err == nil {
				t.Fatalf("ParseRedisURL(%q) = %+v, want an error", tt.in, r)
			} else if strings.Contains(err.Error(), redisSecret[:6]) || strings.Contains(err.Error(), redisSecret[6:]) {
				t.Errorf("error %q quotes the password", err)
			}
			_, err := config.Load(env(map[string]string{"PERSONAS_KEY_FILE": filepath.Join(t.TempDir(), "k.env"),
				"PERSONAS_ENCRYPTION_KEYS": "k1:" + good, "PERSONAS_INDEX_KEY": good, "PERSONAS_SIGNING_KEY": good,
				"PERSONAS_REDIS_URL": tt.in}))
			var ve *config.VarError
			if !errors.As(err, &ve) || ve.Name != "PERSONAS_REDIS_URL" {
				t.Errorf("Load: %v, want an error about PERSONAS_REDIS_URL", err)
			}
		})
	}
}

func TestRedisRedactedHoldsNoPassword(t *testing.T) {
	t.Parallel()
	r, err := config.ParseRedisURL("redis+sentinel://app:" + redisSecret + "@s1,s2/m?db=2&sentinel_password=" + redisSecret)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Redacted()
	if want := "sentinel s1:26379,s2:26379 master m db 2"; got != want {
		t.Errorf("Redacted() = %q, want %q", got, want)
	}
}

// FuzzParseRedisURL: no value makes the parser panic, an accepted value holds only valid
// addresses of its kind, and no error quotes the password of the value.
func FuzzParseRedisURL(f *testing.F) {
	for _, s := range []string{"redis://127.0.0.1:6379/0", "rediss://u:p@h:1/2", "redis+cluster://a:1,b:2,[::1]:3",
		"redis+sentinel://:pw@s1,s2:26380/mymaster?db=1&sentinel_password=x", "redis://a:1,redis://b:2", "redis+cluster://a:1,,b",
		"redis://u:Zq9Password@h:1/0", "redis+cluster://:Zq9Password@a:1,b:x", "redis://:Zq9Pass/word@h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := config.ParseRedisURL(s)
		if err != nil {
			if strings.Contains(s, "Zq9Password") && strings.Contains(err.Error(), "Zq9Password") {
				t.Fatalf("error %q quotes the password", err)
			}
			return
		}
		if len(r.Addrs) == 0 || (r.Kind == config.RedisServer && len(r.Addrs) != 1) {
			t.Fatalf("ParseRedisURL(%q) accepted %d addresses for a %s", s, len(r.Addrs), r.Kind)
		}
		if (r.Kind == config.RedisSentinel) != (r.MasterName != "") {
			t.Fatalf("ParseRedisURL(%q): kind %s with master %q", s, r.Kind, r.MasterName)
		}
		public := string(r.Kind) + strings.Join(r.Addrs, ",") + r.MasterName + " master db tls 0123456789"
		for _, pw := range []string{r.Password, r.SentinelPassword} {
			if len(pw) >= 4 && strings.Contains(r.Redacted(), pw) && !strings.Contains(public, pw) {
				t.Fatalf("Redacted() %q holds a password", r.Redacted())
			}
		}
	})
}
