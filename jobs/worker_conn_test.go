package jobs

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"personas/internal/testenv"
)

// TestOwnConnection checks the scheduler's own Redis client: it talks to the same server and
// database as the shared one, has a push-notification processor of its own (sharing the
// shared client's made go-redis print "failed to initialize maintnotifications" at every
// start), and closing it leaves the shared client working.
func TestOwnConnection(t *testing.T) {
	shared, _ := testenv.Redis(t)
	ctx := context.Background()
	own, ok := ownConnection{shared.Options()}.MakeRedisClient().(*redis.Client)
	if !ok {
		t.Fatal("MakeRedisClient did not return a *redis.Client")
	}
	if own.Options().PushNotificationProcessor == shared.Options().PushNotificationProcessor {
		t.Error("the scheduler's client shares the push-notification processor of the shared client")
	}
	if own.Options().Addr != shared.Options().Addr || own.Options().DB != shared.Options().DB {
		t.Errorf("own client at %s db %d, shared at %s db %d", own.Options().Addr, own.Options().DB, shared.Options().Addr, shared.Options().DB)
	}
	if err := own.Set(ctx, "personas:test:own-connection", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := shared.Get(ctx, "personas:test:own-connection").Result(); err != nil || v != "1" {
		t.Errorf("the shared client reads %q, %v; want the value the own client wrote", v, err)
	}
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}
	if err := shared.Ping(ctx).Err(); err != nil {
		t.Errorf("the shared client after closing the own one: %v", err)
	}
}
