package models

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// LoginLimit is one sign-in back-off rule: the first Free attempts counted under Subject within
// LoginWindow pass; each further one waits, from the last attempt, 1 s doubling per attempt,
// capped at LoginMaxWait.
type LoginLimit struct {
	Subject []byte // a LoginSubject
	Free    int
}

// LoginWindow is how far back sign-in attempts count; LoginMaxWait caps one back-off.
const (
	LoginWindow  = time.Hour
	LoginMaxWait = 15 * time.Minute
)

// BeginLogin is the back-off check of a sign-in attempt, run before the password is hashed.
// When no limit is backing off it records the attempt under every subject and returns 0; when
// one is, it records nothing and returns how long the caller must wait. Attempts on one subject
// are serialised by a transaction-scoped advisory lock, so concurrent attempts cannot all pass
// the check before any of them is counted.
func (s *Store) BeginLogin(ctx context.Context, limits ...LoginLimit) (time.Duration, error) {
	limits = slices.Clone(limits)
	slices.SortFunc(limits, func(a, b LoginLimit) int { return bytes.Compare(a.Subject, b.Subject) }) // one lock order: no deadlock
	var wait time.Duration
	err := s.tx(ctx, func(tx pgx.Tx) error {
		now := s.now().UTC()
		for _, l := range limits {
			if _, err := tx.Exec(ctx, `/* Store.BeginLogin */ SELECT pg_advisory_xact_lock($1)`, lockKey(l.Subject)); err != nil {
				return err
			}
			var n int
			var last *time.Time
			if err := tx.QueryRow(ctx, `/* Store.BeginLogin */
				SELECT count(*), max(at) FROM login_failures WHERE subject = $1 AND at > $2`,
				l.Subject, now.Add(-LoginWindow)).Scan(&n, &last); err != nil {
				return err
			}
			if n < l.Free || last == nil {
				continue
			}
			w := min(time.Second<<min(n-l.Free, 10), LoginMaxWait)
			wait = max(wait, last.Add(w).Sub(now))
		}
		if wait > 0 {
			return nil
		}
		for _, l := range limits {
			if _, err := tx.Exec(ctx, `/* Store.BeginLogin */
				INSERT INTO login_failures (subject, at) VALUES ($1, $2)`, l.Subject, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("check sign-in back-off: %w", translate(err))
	}
	return wait, nil
}

// lockKey is the advisory lock of a subject: its first 8 bytes (subjects are HMACs, so
// collisions are rare and only make two subjects wait for each other).
func lockKey(subject []byte) int64 {
	var b [8]byte
	copy(b[:], subject)
	return int64(binary.BigEndian.Uint64(b[:]))
}
