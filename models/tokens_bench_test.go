package models_test

import (
	"context"
	"fmt"
	"testing"

	"personas/internal/testenv"
	"personas/models"
)

// BenchmarkAuthenticateToken measures the lineage walk of every bearer authentication: a root
// token against the last of a chain of minted tokens.
func BenchmarkAuthenticateToken(b *testing.B) {
	ctx := context.Background()
	e := testenv.New(b)
	st := e.Store
	u, _, err := st.EnsureUser(ctx, "bench@tokens.example", "", false)
	if err != nil {
		b.Fatal(err)
	}
	root, secret, err := st.CreateToken(ctx, u.ID, "root", 30)
	if err != nil {
		b.Fatal(err)
	}
	secrets := map[int]string{0: secret}
	parent := root.ID
	for d := 1; d <= 8; d++ {
		t, s, err := st.MintToken(ctx, models.Principal{UserID: u.ID, TokenID: parent}, fmt.Sprint("child ", d), 30)
		if err != nil {
			b.Fatal(err)
		}
		secrets[d], parent = s, t.ID
	}
	for _, depth := range []int{0, 2, 8} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			for b.Loop() {
				if _, err := st.AuthenticateToken(ctx, secrets[depth]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
