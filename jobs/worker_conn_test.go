package jobs

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"personas/internal/testenv"
)

// TestLentConnection checks the client the scheduler is lent: it is the shared client itself
// (no second connection pool, no second push-notification processor: sharing the shared
// client's options made go-redis print "failed to initialize maintnotifications" at every
// start), and the scheduler's Close at shutdown leaves it open (asynq logged an ERROR when it
// closed a shared client).
func TestLentConnection(t *testing.T) {
	t.Parallel()
	shared, _ := testenv.Redis(t)
	ctx := context.Background()
	c, ok := lent{shared}.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		t.Fatal("MakeRedisClient did not return a redis.UniversalClient")
	}
	if err := c.Set(ctx, "personas:test:lent-connection", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := shared.Get(ctx, "personas:test:lent-connection").Result(); err != nil || v != "1" {
		t.Errorf("the shared client reads %q, %v; want the value the lent one wrote", v, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("closing the lent client: %v, want nil", err)
	}
	if err := shared.Ping(ctx).Err(); err != nil {
		t.Errorf("the shared client after the lent one was closed: %v", err)
	}
}
