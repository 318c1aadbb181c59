package wiring_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"personas/config"
	"personas/internal/wiring"
	"personas/jobs/queue"
)

// TestRedisOptions: each form of PERSONAS_REDIS_URL becomes the go-redis client of its kind,
// with the credentials where they belong (the master's and the sentinels' apart).
func TestRedisOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url      string
		check    func(redis.UniversalClient) bool
		wantKind string
	}{
		{"rediss://app:pw@cache:6380/3", func(c redis.UniversalClient) bool {
			o := c.(*redis.Client).Options()
			return o.Addr == "cache:6380" && o.Username == "app" && o.Password == "pw" && o.DB == 3 && o.TLSConfig != nil
		}, "single client"},
		{"redis+cluster://:pw@a:7000,b:7001", func(c redis.UniversalClient) bool {
			o := c.(*redis.ClusterClient).Options()
			return len(o.Addrs) == 2 && o.Password == "pw" && o.TLSConfig == nil &&
				o.ClusterStateReloadInterval == queue.ClusterStateReloadInterval && o.MaxRetries == 1
		}, "cluster client"},
		{"redis+cluster://a:7000", func(c redis.UniversalClient) bool {
			_, ok := c.(*redis.ClusterClient)
			return ok
		}, "cluster client from one seed node"},
		{"redis+sentinel://m:mpw@s1,s2/queues?db=2&sentinel_password=spw", func(c redis.UniversalClient) bool {
			o := c.(*redis.Client).Options()
			// The failover client dials through the sentinels: no fixed address.
			return o.Username == "m" && o.Password == "mpw" && o.DB == 2 && o.Dialer != nil
		}, "failover client"},
	}
	for _, tt := range tests {
		t.Run(tt.wantKind, func(t *testing.T) {
			r, err := config.ParseRedisURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			o := wiring.RedisOptions(r)
			c := queue.NewRedis(o)
			defer c.Close()
			ok := func() (ok bool) {
				defer func() {
					if recover() != nil {
						ok = false
					}
				}()
				return tt.check(c)
			}()
			if !ok {
				t.Errorf("%s: got %T with options %+v, want a %s", r.Redacted(), c, o, tt.wantKind)
			}
		})
	}
	r, _ := config.ParseRedisURL("redis+sentinel://s1,s2/queues?sentinel_username=su&sentinel_password=spw")
	if o := wiring.RedisOptions(r); o.MasterName != "queues" || o.SentinelUsername != "su" || o.SentinelPassword != "spw" || o.Password != "" {
		t.Errorf("sentinel options %+v: want the sentinels' credentials apart from the master's", o)
	}
}
