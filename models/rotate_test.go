package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"personas/internal/testenv"
	"personas/models"
	"personas/privacy"
)

// TestDataRotationWithAnotherInstanceSealing rotates a project's data key (rotate-keys --data)
// while a second store instance, which never hears the notification and keeps its keyring
// cached, seals new values all through the rotation and after it. With a grace that outlasts
// that instance's key cache, nothing it sealed becomes unreadable; the case with a grace shorter
// than the cache (what the rotation did before: no wait) shows the loss the grace prevents.
func TestDataRotationWithAnotherInstanceSealing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		otherCache time.Duration // the sealing instance's key cache TTL
		grace      time.Duration
		wantLost   bool
	}{
		{"grace outlasts the other instance's key cache", 200 * time.Millisecond, 700 * time.Millisecond, false},
		{"grace shorter than the other instance's key cache loses data", time.Hour, time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := testenv.New(t)
			rotator := e.Store
			other := models.NewStore(e.Pool, e.Keys, e.Keyring, e.Index)
			other.SetKeyCacheTTL(tt.otherCache)
			u, _, err := rotator.EnsureUser(ctx, "rotate@keys.example", "", false)
			if err != nil {
				t.Fatal(err)
			}
			p, err := rotator.CreateProject(ctx, u.ID, "rotation", []string{"https://shop.example"})
			if err != nil {
				t.Fatal(err)
			}

			// The other instance ingests clicks with element text (sealed with its cached
			// keyring) until told to stop.
			ictx, stopIngester := context.WithCancel(ctx)
			in := models.NewIngester(other, models.IngesterConfig{}, testLogger())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); in.Run(ictx) }()
			defer func() { stopIngester(); wg.Wait() }()
			var mu sync.Mutex
			written := map[string]string{} // visitor → text
			click := func(i int) error {
				v, text := fmt.Sprintf("visitor-%d", i), fmt.Sprintf("Button %d", i)
				now := other.Now().UTC()
				b := &models.Batch{ProjectID: p.ID, Day: now, Dropped: map[string]int64{}, Events: []models.Event{{
					ProjectID: p.ID, TS: now, VisitorHash: other.VisitorHash(p.ID, v), SessionHash: other.VisitorHash(p.ID, "s-"+v),
					Type: "click", Path: "/p/:id", PathGroup: "/p/:id", Channel: "direct", Device: "desktop",
					ElTag: "button", ElCategory: "cta", ElText: text}}}
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if err := in.Submit(sctx, b); err != nil {
					return err
				}
				mu.Lock()
				written[v] = text
				mu.Unlock()
				return nil
			}
			if err := click(0); err != nil { // the other instance now caches generation 1
				t.Fatal(err)
			}
			stopWriting := make(chan struct{})
			writerDone := make(chan error, 1)
			go func() {
				for i := 1; ; i++ {
					select {
					case <-stopWriting:
						writerDone <- nil
						return
					default:
					}
					if err := click(i); err != nil {
						writerDone <- err
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
			res, err := rotator.ResealProjectData(ctx, models.RotationOptions{Grace: tt.grace})
			if err != nil {
				close(stopWriting)
				t.Fatalf("rotate: %v", err)
			}
			// Keep writing after the rotation: an instance still on the destroyed key would seal
			// these under it.
			mu.Lock()
			atEnd := len(written)
			mu.Unlock()
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				mu.Lock()
				n := len(written)
				mu.Unlock()
				if n >= atEnd+20 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the other instance wrote %d values after the rotation, want 20", n-atEnd)
				}
			}
			close(stopWriting)
			if err := <-writerDone; err != nil {
				t.Fatalf("the other instance's writes: %v", err)
			}
			t.Logf("re-sealed %v; the other instance wrote %d values", res, len(written))

			fresh := models.NewStore(e.Pool, e.Keys, e.Keyring, e.Index) // reads only what the key store holds now
			lost := 0
			for v, want := range written {
				exp, err := fresh.ExportVisitor(ctx, p.ID, fresh.VisitorHash(p.ID, v))
				if errors.Is(err, privacy.ErrDecrypt) {
					lost++
					continue
				}
				if err != nil {
					t.Fatalf("export %s: %v", v, err)
				}
				if len(exp.Events) != 1 || exp.Events[0].ElText != want {
					t.Errorf("%s: %+v, want one event with text %q", v, exp.Events, want)
				}
			}
			if tt.wantLost != (lost > 0) {
				t.Errorf("%d of %d values unreadable after the rotation; want loss: %v", lost, len(written), tt.wantLost)
			}
			var gens int
			if err := e.Keys.QueryRow(ctx, `SELECT count(*) FROM project_keys WHERE project_id = $1`, p.ID).Scan(&gens); err != nil || gens != 1 {
				t.Errorf("%d data key generations left (%v), want 1", gens, err)
			}
		})
	}
}
