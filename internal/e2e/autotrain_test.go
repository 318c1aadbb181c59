package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"personas/internal/testserver"
)

// TestTrainingRunsByItself feeds a project only through POST /v1/collect, with the worker and
// its scheduler running (the safety net every second instead of every minute), and waits for
// personas that nobody asked for: the first model comes once the project has 100 visitors.
func TestTrainingRunsByItself(t *testing.T) {
	srv := testserver.New(t, testserver.Options{SafetyNetInterval: time.Second})
	acct := srv.NewAccount(t, "auto@train.example", false)
	start := time.Now().Add(-time.Hour)
	// Two kinds of visitor, interleaved: readers of long articles, and shoppers who look at
	// products, click and put them in the cart.
	for i := 0; i < 160; i++ {
		ts := start.Add(time.Duration(i) * 10 * time.Second).UnixMilli()
		var events []map[string]any
		if i%2 == 0 {
			for j := 0; j < 3+i%3; j++ {
				url := fmt.Sprintf("https://shop.example/blog/%d", 1+(i+j)%20)
				events = append(events,
					map[string]any{"type": "pageview", "ts": ts, "url": url, "referrer": "https://www.google.com/"},
					map[string]any{"type": "leave", "ts": ts + 90000, "url": url, "duration_ms": 90000, "scroll_depth": 0.9})
				ts += 95000
			}
		} else {
			for j := 0; j < 4+i%4; j++ {
				url := fmt.Sprintf("https://shop.example/p/%d", 1+(i+j)%40)
				events = append(events,
					map[string]any{"type": "pageview", "ts": ts, "url": url},
					map[string]any{"type": "click", "ts": ts + 4000, "url": url,
						"element": map[string]any{"tag": "button", "classes": []string{"btn"}, "text": "Add to cart"}},
					map[string]any{"type": "leave", "ts": ts + 15000, "url": url, "duration_ms": 15000, "scroll_depth": 0.4})
				ts += 16000
			}
			events = append(events, map[string]any{"type": "goal", "ts": ts, "name": "add_to_cart"})
		}
		srv.Collect(t, acct.SiteKey, fmt.Sprintf("visitor-%04d", i), fmt.Sprintf("session-%04d", i), events)
	}
	var answer struct {
		Personas []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Size int    `json:"size"`
		} `json:"personas"`
		ModelVersion *int `json:"model_version"`
	}
	testserver.Eventually(t, 90*time.Second, "personas without anyone asking for them", func() bool {
		r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + acct.ProjectID.String() + "/personas", Token: acct.Token})
		if r.Status != http.StatusOK {
			t.Fatalf("list personas: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &answer)
		return answer.ModelVersion != nil && len(answer.Personas) >= 2
	})
	total := 0
	for _, p := range answer.Personas {
		total += p.Size
	}
	if total < 100 {
		t.Errorf("personas of %d visitors in all, want the model trained on at least 100", total)
	}
	runs, err := srv.Store.TrainingRuns(t.Context(), acct.ProjectID, 10)
	if err != nil {
		t.Fatal(err)
	}
	// One automatic training: the sweeps that came while it was queued or had just run left the
	// project alone.
	if len(runs) != 1 || runs[0].Status != "published" {
		t.Errorf("training runs %+v, want one, automatic and published", runs)
	}
}
