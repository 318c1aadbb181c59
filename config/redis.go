package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// RedisKind says how the job queues reach Redis.
type RedisKind string

// The kinds of Redis deployment PERSONAS_REDIS_URL names.
const (
	// RedisServer is one server (redis://, rediss://).
	RedisServer RedisKind = "server"
	// RedisCluster is a Redis Cluster reached through its seed nodes (redis+cluster://).
	RedisCluster RedisKind = "cluster"
	// RedisSentinel is a master watched by Redis Sentinel (redis+sentinel://).
	RedisSentinel RedisKind = "sentinel"
)

// Redis is where the job queues live, as PERSONAS_REDIS_URL names it. It holds passwords:
// print it with Redacted, never whole.
type Redis struct {
	Kind RedisKind
	// Addrs are host:port: the server; a cluster's seed nodes (the client finds the others);
	// the sentinels.
	Addrs []string
	// Username and Password authenticate to the Redis nodes (the master and its replicas with
	// Sentinel); a password alone is the default user's.
	Username, Password string
	// DB is the database number; a cluster has only 0.
	DB int
	// TLS connects with TLS (the rediss schemes), the server name taken from each address.
	TLS bool
	// MasterName is the name the sentinels monitor the master under.
	MasterName string
	// SentinelUsername and SentinelPassword authenticate to the sentinels themselves.
	SentinelUsername, SentinelPassword string
}

// Redacted describes r without its passwords, for logs and errors.
func (r Redis) Redacted() string {
	s := fmt.Sprintf("%s %s", r.Kind, strings.Join(r.Addrs, ","))
	if r.Kind == RedisSentinel {
		s += " master " + r.MasterName
	}
	if r.DB != 0 {
		s += " db " + strconv.Itoa(r.DB)
	}
	if r.TLS {
		s += " tls"
	}
	return s
}

// Limits of PERSONAS_REDIS_URL: generous for any real deployment, small enough that a hostile
// value cannot make start-up allocate much.
const (
	maxRedisURLLen   = 4096
	maxRedisAddrs    = 64
	maxRedisDB       = 65535
	maxRedisNameLen  = 128
	defaultRedisPort = "6379"
	defaultSentPort  = "26379"
)

var redisSchemes = map[string]struct {
	kind RedisKind
	tls  bool
}{
	"redis":           {RedisServer, false},
	"rediss":          {RedisServer, true},
	"redis+cluster":   {RedisCluster, false},
	"rediss+cluster":  {RedisCluster, true},
	"redis+sentinel":  {RedisSentinel, false},
	"rediss+sentinel": {RedisSentinel, true},
}

// ParseRedisURL reads PERSONAS_REDIS_URL:
//
//	redis://[[user]:pass@]host[:port][/db]                one server (rediss:// with TLS)
//	redis+cluster://[[user]:pass@]h1:p1,h2:p2,…           a Redis Cluster, by some of its nodes
//	redis+sentinel://[[user]:pass@]s1:p1,s2:p2,…/master[?db=N&sentinel_username=…&sentinel_password=…]
//
// The user and password of a Sentinel URL are the master's; the sentinels' own are in the
// query. Ports default to 6379 (26379 for sentinels). A comma-separated list of redis:// URLs
// is refused: which deployment a list means would be a guess. Errors never quote the value,
// which may hold a password.
func ParseRedisURL(raw string) (Redis, error) {
	if len(raw) > maxRedisURLLen {
		return Redis{}, fmt.Errorf("longer than %d bytes", maxRedisURLLen)
	}
	for _, c := range raw {
		if c < 0x20 || c == 0x7f || c == ' ' {
			return Redis{}, errors.New("contains spaces or control characters (percent-encode them in a password)")
		}
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Redis{}, errors.New("want a URL such as redis://host:6379/0, redis+cluster://h1:6379,h2:6379 or redis+sentinel://h1:26379,h2:26379/mymaster")
	}
	sc, ok := redisSchemes[strings.ToLower(scheme)]
	if !ok {
		return Redis{}, errors.New("URL scheme must be redis, rediss, redis+cluster, rediss+cluster, redis+sentinel or rediss+sentinel")
	}
	if strings.Contains(rest, "://") {
		return Redis{}, errors.New("holds more than one URL: name a cluster as redis+cluster://h1:p1,h2:p2 or the sentinels as redis+sentinel://s1:p1,s2:p2/master")
	}
	r := Redis{Kind: sc.kind, TLS: sc.tls}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.HasPrefix(tail, "#") {
		return Redis{}, errors.New("has a fragment (#); percent-encode # in a password as %23")
	}
	hosts := authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		var err error
		if r.Username, r.Password, err = parseUserinfo(authority[:at]); err != nil {
			return Redis{}, err
		}
		hosts = authority[at+1:]
	}
	port := defaultRedisPort
	if r.Kind == RedisSentinel {
		port = defaultSentPort
	}
	var err error
	if r.Addrs, err = parseRedisAddrs(hosts, port); err != nil {
		return Redis{}, err
	}
	if r.Kind == RedisServer && len(r.Addrs) > 1 {
		return Redis{}, errors.New("names several hosts: use redis+cluster:// for a cluster or redis+sentinel:// for sentinels")
	}
	u, err := url.Parse("redis://h" + tail)
	if err != nil || u.Fragment != "" || u.RawFragment != "" {
		return Redis{}, errors.New("path or query is not valid (percent-encode / ? # % in a password)")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Redis{}, errors.New("query is not valid")
	}
	allowed := map[RedisKind][]string{RedisServer: nil, RedisCluster: nil,
		RedisSentinel: {"db", "sentinel_username", "sentinel_password"}}[r.Kind]
	for name, vs := range q {
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known {
			if len(allowed) == 0 {
				return Redis{}, fmt.Errorf("a %s URL takes no query parameters", r.Kind)
			}
			return Redis{}, fmt.Errorf("unknown query parameter (a %s URL takes %s)", r.Kind, strings.Join(allowed, ", "))
		}
		if len(vs) != 1 {
			return Redis{}, errors.New("a query parameter is given more than once")
		}
	}
	path := strings.TrimPrefix(u.Path, "/")
	switch r.Kind {
	case RedisServer:
		if r.DB, err = parseRedisDB(path); err != nil {
			return Redis{}, err
		}
	case RedisCluster:
		if path != "" && path != "0" {
			return Redis{}, errors.New("a cluster has database 0 only: leave the path empty")
		}
	case RedisSentinel:
		if err := checkMasterName(path); err != nil {
			return Redis{}, err
		}
		r.MasterName = path
		if r.DB, err = parseRedisDB(q.Get("db")); err != nil {
			return Redis{}, err
		}
		r.SentinelUsername, r.SentinelPassword = q.Get("sentinel_username"), q.Get("sentinel_password")
		if r.SentinelUsername != "" && r.SentinelPassword == "" {
			return Redis{}, errors.New("sentinel_username needs a sentinel_password")
		}
	}
	if r.Username != "" && r.Password == "" {
		return Redis{}, errors.New("a user needs a password (user:password@…)")
	}
	return r, nil
}

// parseUserinfo decodes "user:password", ":password" or "password" (the default user's).
func parseUserinfo(s string) (user, password string, err error) {
	bad := errors.New("user or password is not validly percent-encoded (encode @ / ? # % : as %40 %2F %3F %23 %25 %3A)")
	u, p, hasColon := strings.Cut(s, ":")
	if !hasColon {
		u, p = "", s // redis://secret@host: a password alone, as redis-cli reads it
	}
	if user, err = url.PathUnescape(u); err != nil {
		return "", "", bad
	}
	if password, err = url.PathUnescape(p); err != nil {
		return "", "", bad
	}
	if strings.ContainsAny(user, ":@/") || len(user) > maxRedisNameLen {
		return "", "", errors.New("user name is not valid")
	}
	return user, password, nil
}

// parseRedisAddrs reads "h1:p1,h2:p2", with IPv6 addresses in brackets.
func parseRedisAddrs(s, defPort string) ([]string, error) {
	if s == "" {
		return nil, errors.New("URL has no host")
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxRedisAddrs {
		return nil, fmt.Errorf("names more than %d hosts", maxRedisAddrs)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		host, port := p, defPort
		if strings.HasPrefix(p, "[") || strings.Count(p, ":") == 1 {
			h, pt, err := net.SplitHostPort(p)
			if err != nil && strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") {
				h, pt, err = strings.Trim(p, "[]"), defPort, nil
			}
			if err != nil {
				return nil, fmt.Errorf("host %d is not host:port", i+1)
			}
			host, port = h, pt
		}
		if err := checkRedisHost(host); err != nil {
			return nil, fmt.Errorf("host %d: %w", i+1, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return nil, fmt.Errorf("host %d: port must be a number from 1 to 65535", i+1)
		}
		a := net.JoinHostPort(strings.ToLower(host), port)
		if seen[a] {
			return nil, fmt.Errorf("host %d is named twice", i+1)
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, nil
}

// checkRedisHost accepts an IP address or a DNS name.
func checkRedisHost(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return errors.New("host name longer than 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("not a host name or IP address")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return errors.New("not a host name or IP address")
			}
		}
	}
	return nil
}

func parseRedisDB(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxRedisDB || (len(s) > 1 && s[0] == '0') || s[0] == '+' {
		return 0, fmt.Errorf("database must be a number from 0 to %d", maxRedisDB)
	}
	return n, nil
}

// checkMasterName accepts the names redis-sentinel accepts in practice: letters, digits, - _ .
func checkMasterName(s string) error {
	if s == "" {
		return errors.New("a Sentinel URL names the master: redis+sentinel://s1:26379,s2:26379/mymaster")
	}
	if len(s) > maxRedisNameLen {
		return fmt.Errorf("master name longer than %d characters", maxRedisNameLen)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("master name may hold letters, digits, - _ . only")
		}
	}
	return nil
}
