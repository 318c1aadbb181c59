package privacy_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"personas/privacy"
)

// TestHashLimiterBoundsConcurrentHashes floods a limiter of n slots with 32 real argon2id
// verifications at once and checks that never more than n ran together, and that every caller
// either ran or was told the limiter was busy.
func TestHashLimiterBoundsConcurrentHashes(t *testing.T) {
	t.Parallel()
	hash, err := privacy.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2} {
		l := privacy.NewHashLimiter(n, 10*time.Second)
		if l.Slots() != n {
			t.Fatalf("Slots() = %d, want %d", l.Slots(), n)
		}
		var running, peak, ran atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := l.Do(context.Background(), func() {
					now := running.Add(1)
					for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
					}
					if got := l.Running(); got > n {
						t.Errorf("Running() = %d inside Do, want at most %d", got, n)
					}
					if ok, _ := privacy.VerifyPassword(hash, "wrong password"); ok {
						t.Error("a wrong password verified")
					}
					running.Add(-1)
					ran.Add(1)
				})
				if err != nil {
					t.Errorf("Do with a 10 s wait: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if p := peak.Load(); p > int64(n) || p < 1 {
			t.Errorf("%d slots: %d hashes ran at once, want 1..%d", n, p, n)
		}
		if ran.Load() != 32 || l.Running() != 0 {
			t.Errorf("%d slots: %d of 32 ran, %d still running", n, ran.Load(), l.Running())
		}
	}
}

func TestHashLimiterRefusesWhenBusy(t *testing.T) {
	t.Parallel()
	l := privacy.NewHashLimiter(1, 20*time.Millisecond)
	hold, held := make(chan struct{}), make(chan struct{})
	go func() { _ = l.Do(context.Background(), func() { close(held); <-hold }) }()
	<-held
	ran := false
	if err := l.Do(context.Background(), func() { ran = true }); !errors.Is(err, privacy.ErrHashBusy) || ran {
		t.Errorf("Do while the only slot is held: err %v, ran %v; want ErrHashBusy and not run", err, ran)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l2 := privacy.NewHashLimiter(1, time.Hour)
	held2 := make(chan struct{})
	go func() { _ = l2.Do(context.Background(), func() { close(held2); <-hold }) }()
	<-held2
	if err := l2.Do(ctx, func() { ran = true }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Do with an ended context: err %v, ran %v; want context.Canceled and not run", err, ran)
	}
	close(hold)
	if l.Refused() != 1 || l2.Refused() != 1 {
		t.Errorf("Refused() = %d and %d, want 1 each", l.Refused(), l2.Refused())
	}
	if err := l.Do(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Errorf("Do once the slot is free: err %v, ran %v", err, ran)
	}
	if n := privacy.DefaultHashSlots(); n < 1 {
		t.Errorf("DefaultHashSlots() = %d, want at least 1", n)
	}
}
