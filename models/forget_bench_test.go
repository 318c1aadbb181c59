package models_test

import (
	"context"
	"fmt"
	"testing"

	"personas/internal/testenv"
)

// BenchmarkForgetVisitor compares a visitor's own erasure request for a known visitor (one
// assignment row) with one for a visitor never seen: the second records nothing, and should take
// about as long, so the time of the answer says little about whether the visitor exists.
func BenchmarkForgetVisitor(b *testing.B) {
	ctx := context.Background()
	e := testenv.New(b)
	st := e.Store
	u, _, err := st.EnsureUser(ctx, "bench@forget.example", "", false)
	if err != nil {
		b.Fatal(err)
	}
	p, err := st.CreateProject(ctx, u.ID, "bench", []string{"https://shop.example"})
	if err != nil {
		b.Fatal(err)
	}
	for _, known := range []bool{true, false} {
		b.Run(fmt.Sprintf("known=%v", known), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				h := st.VisitorHash(p.ID, fmt.Sprintf("v-%v-%d", known, i))
				if known {
					b.StopTimer()
					if _, err := e.Pool.Exec(ctx, `INSERT INTO visitor_personas (project_id, visitor_hash, confidence, model_version) VALUES ($1, $2, 0.5, 1)`, p.ID, h); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if _, got, err := st.ForgetVisitor(ctx, p.ID, h); err != nil || got != known {
					b.Fatalf("ForgetVisitor: known %v, err %v; want known %v", got, err, known)
				}
			}
		})
	}
}
