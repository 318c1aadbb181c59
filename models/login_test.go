package models_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"personas/internal/testenv"
	"personas/models"
)

// TestBeginLoginCountsConcurrentAttempts starts 24 attempts on one subject at once: the
// check and the record are one serialised step, so exactly Free of them pass, the others are
// told to wait, and a second subject of the same attempts is only counted for those that passed.
func TestBeginLoginCountsConcurrentAttempts(t *testing.T) {
	t.Parallel()
	st := testenv.New(t).Store
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { return now })
	pair := st.LoginSubject("pair", "203.0.113.9\x00a@example.test")
	client := st.LoginSubject("client", "203.0.113.9")
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed, waited := 0, 0
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait, err := st.BeginLogin(context.Background(), models.LoginLimit{Subject: pair, Free: 3},
				models.LoginLimit{Subject: client, Free: 100})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case wait == 0:
				passed++
			case wait != time.Second:
				t.Errorf("wait %v after 3 attempts at the same instant, want 1 s", wait)
			default:
				waited++
			}
		}()
	}
	wg.Wait()
	if passed != 3 || waited != 21 {
		t.Fatalf("%d attempts passed and %d waited, want 3 and 21", passed, waited)
	}
	tests := []struct {
		name  string
		after time.Duration
		limit models.LoginLimit
		want  time.Duration
	}{
		{"the client's own count holds the 3 that passed", 0, models.LoginLimit{Subject: client, Free: 3}, time.Second},
		{"the client under a looser limit", 0, models.LoginLimit{Subject: client, Free: 4}, 0},
		{"the pair half a second later", 500 * time.Millisecond, models.LoginLimit{Subject: pair, Free: 3}, 500 * time.Millisecond},
		{"the pair once the wait is over", 2 * time.Second, models.LoginLimit{Subject: pair, Free: 3}, 0},
		{"the 4th attempt counted: the 5th waits 2 s", 2 * time.Second, models.LoginLimit{Subject: pair, Free: 3}, 2 * time.Second},
		{"the pair after the window", 2*time.Second + models.LoginWindow, models.LoginLimit{Subject: pair, Free: 3}, 0},
	}
	start := now
	for _, tt := range tests {
		now = start.Add(tt.after)
		got, err := st.BeginLogin(context.Background(), tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s: wait %v, want %v", tt.name, got, tt.want)
		}
	}
	if err := st.ClearLoginFailures(context.Background(), pair); err != nil {
		t.Fatal(err)
	}
	now = start.Add(3 * time.Second)
	if got, err := st.BeginLogin(context.Background(), models.LoginLimit{Subject: pair, Free: 3}); err != nil || got != 0 {
		t.Errorf("after ClearLoginFailures: wait %v, err %v; want 0", got, err)
	}
}
