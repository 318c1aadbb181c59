package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"personas/classifier"
	"personas/classify"
	"personas/internal/demodata"
	"personas/internal/testserver"
	"personas/jobs"
)

// classifyFixture is a served project with a published model and its demo visitors.
type classifyFixture struct {
	srv      *testserver.Server
	acct     testserver.Account
	visitors []string
}

func newClassifyFixture(tb testing.TB, visitors int) *classifyFixture {
	tb.Helper()
	return newClassifyFixtureWith(tb, visitors, testserver.Options{})
}

// newClassifyFixtureWith is newClassifyFixture on a server with these options (the worker off).
func newClassifyFixtureWith(tb testing.TB, visitors int, opts testserver.Options) *classifyFixture {
	tb.Helper()
	opts.NoWorker = true
	srv := testserver.New(tb, opts)
	acct := srv.NewAccount(tb, "owner@shop.example", false)
	vs := demodata.Generate(demodata.Config{Visitors: visitors, Days: 14, End: time.Now().Add(-time.Hour), Site: testserver.Origin, Seed: 11})
	var body bytes.Buffer
	for _, v := range vs {
		for _, l := range v.Lines {
			fmt.Fprintf(&body, "%s\n", mustJSON(tb, l))
		}
	}
	r := srv.Do(tb, testserver.Request{Method: "POST", Path: "/v1/projects/" + acct.ProjectID.String() + "/import", Token: acct.Token,
		Body: body.Bytes(), Header: map[string]string{"Content-Type": "application/x-ndjson"}})
	if r.Status != http.StatusOK {
		tb.Fatalf("import: %d %s", r.Status, r.Body)
	}
	tr := &jobs.Trainer{Store: srv.Store, Client: srv.Jobs, Logger: srv.Logger, Options: classifier.TrainOptions{MinClusterSize: 10}}
	if v, err := tr.Train(context.Background(), acct.ProjectID); err != nil || v == 0 {
		tb.Fatalf("train: %d %v", v, err)
	}
	f := &classifyFixture{srv: srv, acct: acct}
	for _, v := range vs {
		f.visitors = append(f.visitors, v.ID)
	}
	return f
}

func mustJSON(tb testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func (f *classifyFixture) body(i int) []byte {
	return fmt.Appendf(nil, `{"site_key":%q,"visitor_id":%q}`, f.acct.SiteKey, f.visitors[i%len(f.visitors)])
}

// BenchmarkClassifyModel is the model's part of one classification (the demo shop's model).
// The classifier's BenchmarkClassify measures the contract's worst case (k = 12, 64 features).
func BenchmarkClassifyModel(b *testing.B) {
	f := newClassifyFixture(b, 600)
	ctx := context.Background()
	v, err := f.srv.Store.CurrentModelVersion(ctx, f.acct.ProjectID)
	if err != nil {
		b.Fatal(err)
	}
	blob, err := f.srv.Store.ModelBlob(ctx, f.acct.ProjectID, v)
	if err != nil {
		b.Fatal(err)
	}
	m, err := classifier.UnmarshalModel(blob)
	if err != nil {
		b.Fatal(err)
	}
	feats, err := f.srv.Store.VisitorFeatures(ctx, f.acct.ProjectID, f.srv.Store.VisitorHash(f.acct.ProjectID, f.visitors[0]))
	if err != nil {
		b.Fatal(err)
	}
	a := classify.Aggregates(feats)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.Classify(a, now)
	}
	b.ReportMetric(float64(m.K), "k")
	b.ReportMetric(float64(m.Scaler.D()), "features")
}

// BenchmarkClassifyHandler is one POST /v1/classify through the router in-process: decoding,
// site key and origin checks, the visitor's aggregates from PostgreSQL, the cached model and
// the JSON answer (no network).
func BenchmarkClassifyHandler(b *testing.B) {
	f := newClassifyFixture(b, 600)
	h := f.srv.API.Handler()
	do := func(i int) int {
		req := httptest.NewRequest("POST", "/v1/classify", bytes.NewReader(f.body(i)))
		req.Header.Set("Origin", testserver.Origin)
		req.Header.Set("Content-Type", "text/plain")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	if code := do(0); code != http.StatusOK {
		b.Fatalf("classify: %d", code)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if code := do(i); code != http.StatusOK {
			b.Fatalf("classify: %d", code)
		}
		i++
	}
}
