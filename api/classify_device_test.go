package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"personas/classifier"
	"personas/internal/testserver"
	"personas/jobs"
	"personas/models"
)

// User agents of a phone and of a desktop browser.
const (
	mobileUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
	desktopUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
)

// TestClassifyInlineEventsDevice: classify derives the device class of inline events from the
// request's User-Agent, as collect does. The project's visitors behave alike on phones and on
// desktops (the same pages, as long), so the model's two personas are "the mobile ones" and "the desktop ones"; a visitor
// classify has never seen, with only inline events, lands in the persona of its own device.
func TestClassifyInlineEventsDevice(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "device@shop.example", false)
	// Every session in the same hour of the day: only the device sets visitors apart.
	start := time.Now().Truncate(time.Hour).Add(-2 * time.Hour)
	session := func(i int, at time.Time) []map[string]any {
		ts := at.UnixMilli()
		var evs []map[string]any
		for j := 0; j < 3; j++ {
			url := fmt.Sprintf("%s/p/%d", testserver.Origin, 1+(i+j)%30)
			evs = append(evs, map[string]any{"type": "pageview", "ts": ts, "url": url},
				map[string]any{"type": "leave", "ts": ts + 20000, "url": url, "duration_ms": 19000 + 1000*((i+j)%3), "scroll_depth": 0.5})
			ts += 21000
		}
		return evs
	}
	send := func(path, ua string, body map[string]any) testserver.Response {
		return srv.Do(t, testserver.Request{Method: "POST", Path: path, Body: body,
			Header: map[string]string{"Origin": testserver.Origin, "Content-Type": "text/plain", "User-Agent": ua}})
	}
	for i := 0; i < 120; i++ {
		ua := desktopUA
		if i%2 == 0 {
			ua = mobileUA
		}
		r := send("/v1/collect", ua, map[string]any{"site_key": acct.SiteKey, "visitor_id": fmt.Sprintf("known-%03d", i),
			"session_id": "s", "events": session(i, start.Add(time.Duration(i)*25*time.Second))})
		if r.Status != http.StatusNoContent {
			t.Fatalf("collect: %d %s", r.Status, r.Body)
		}
	}
	tr := &jobs.Trainer{Store: srv.Store, Client: srv.Jobs, Logger: srv.Logger, Options: classifier.TrainOptions{MinClusterSize: 10, FixedK: 2}}
	if v, err := tr.Train(t.Context(), acct.ProjectID); err != nil || v == 0 {
		t.Fatalf("train: version %d, %v", v, err)
	}
	ps, _, err := srv.Store.Personas(t.Context(), acct.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	// The persona whose visits are mostly on phones, and the one mostly on desktops.
	byDevice := map[string]string{}
	for _, p := range ps {
		var traits struct{ Devices []struct{ Key string } }
		if err := json.Unmarshal(p.Traits, &traits); err != nil {
			t.Fatal(err)
		}
		if len(traits.Devices) > 0 {
			byDevice[traits.Devices[0].Key] = p.ID.String()
		}
	}
	if len(ps) != 2 || byDevice["mobile"] == "" || byDevice["desktop"] == "" {
		t.Fatalf("personas %d with top devices %v: want one of phones and one of desktops", len(ps), byDevice)
	}
	// The API learns of the new model through PostgreSQL's NOTIFY (its project cache held the
	// project without one since the collects).
	testserver.Eventually(t, 30*time.Second, "classify sees the model", func() bool {
		r := send("/v1/classify", desktopUA, map[string]any{"site_key": acct.SiteKey, "visitor_id": "probe"})
		return r.Status == http.StatusOK && !bytes.Contains(r.Body, []byte(`"no_model"`))
	})
	// The same inline events from a phone and from a desktop browser: the device comes from each
	// request's User-Agent, so the phone's answer leans to the phones' persona more than the
	// desktop's answer does (with the device ignored, as before, both answers were identical).
	// The size of the lean is the model's business: one visit is one observation of a device.
	pMobile := map[string]float64{}
	for _, tt := range []struct{ name, ua string }{{"mobile", mobileUA}, {"desktop", desktopUA}} {
		r := send("/v1/classify", tt.ua, map[string]any{"site_key": acct.SiteKey, "visitor_id": "new-" + tt.name,
			"session_id": "inline", "events": session(7, start.Add(30*time.Minute))})
		if r.Status != http.StatusOK {
			t.Fatalf("classify from a %s browser: %d %s", tt.name, r.Status, r.Body)
		}
		var a classifyAnswer
		r.JSON(t, &a)
		if a.Reason != "ok" || a.Persona == nil {
			t.Fatalf("a new visitor on a %s browser: %+v, want an ok answer", tt.name, a)
		}
		for _, pr := range a.Probabilities {
			if pr.PersonaID.String() == byDevice["mobile"] {
				pMobile[tt.name] = pr.P
			}
		}
	}
	if !(pMobile["mobile"] > pMobile["desktop"]+0.01) {
		t.Errorf("P(phones' persona) = %.4f from a phone and %.4f from a desktop browser: want the phone's clearly higher",
			pMobile["mobile"], pMobile["desktop"])
	}
	// Inline events are merged, not stored: nothing of the two new visitors is kept.
	for _, id := range []string{"new-mobile", "new-desktop"} {
		if _, err := srv.Store.VisitorFeatures(t.Context(), acct.ProjectID, srv.Store.VisitorHash(acct.ProjectID, id)); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("visitor %s after classify: %v, want not stored", id, err)
		}
	}
}
