package models

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"personas/privacy"
)

// Store is the repository of every table. It is built once in main and shared.
type Store struct {
	pool    *pgxpool.Pool
	read    *pgxpool.Pool // a standby for the reports that may be stale; nil: pool
	keys    *pgxpool.Pool // key store database: project data keys, wrapped
	keyring *privacy.Keyring
	index   *privacy.BlindIndex
	now     func() time.Time

	mu          sync.Mutex
	dataKeys    map[uuid.UUID]cachedKeyring // unwrapped project keyrings, evicted on destruction
	keyCacheTTL time.Duration               // how long a cached keyring is used before it is read again

	listenHeartbeat time.Duration // idle time after which Listen checks its connection
}

// NewStore builds a Store. keyring wraps project data keys and seals account data; index keys
// the blind indexes.
func NewStore(pool, keys *pgxpool.Pool, keyring *privacy.Keyring, index *privacy.BlindIndex) *Store {
	return &Store{pool: pool, keys: keys, keyring: keyring, index: index, now: time.Now,
		dataKeys: map[uuid.UUID]cachedKeyring{}, keyCacheTTL: DefaultKeyCacheTTL}
}

// SetKeyCacheTTL sets how long this store uses a cached project keyring before it reads the key
// store again (DefaultKeyCacheTTL). A data-key rotation waits longer than this before it
// destroys an old generation; tests of rotation make it short.
func (s *Store) SetKeyCacheTTL(d time.Duration) {
	s.mu.Lock()
	s.keyCacheTTL = d
	s.mu.Unlock()
}

// SetClock replaces the store's clock; tests of expiry use it.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Now is the store's current time.
func (s *Store) Now() time.Time { return s.now() }

// Pool is the data database pool, for components that run their own SQL (the ingester).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// SetReadPool gives the store a pool on a standby (PERSONAS_DATABASE_READ_URL) for the report
// queries that may be a moment stale: IngestStats (events per day, drops) and
// PersonaTransitions (where a retired persona's visitors went). Nothing that writes, decides or
// deletes reads it — collect, classify, training, deletions, auth — nor PersonaHistory, which
// the management API answers together with a model row just read from the primary. A query on
// the read pool that finds no server falls back to the primary.
func (s *Store) SetReadPool(read *pgxpool.Pool) { s.read = read }

// ReadPool is the pool of the stale-tolerant reports: the standby's, or the primary's.
func (s *Store) ReadPool() *pgxpool.Pool {
	if s.read != nil {
		return s.read
	}
	return s.pool
}

// report runs a stale-tolerant read on the read pool, and on the primary when the standby
// cannot be reached.
func report[T any](s *Store, read func(q querier) (T, error)) (T, error) {
	v, err := read(s.ReadPool())
	if err != nil && s.read != nil && errors.Is(err, ErrUnavailable) {
		return read(s.pool)
	}
	return v, err
}

// KeyPool is the key store pool.
func (s *Store) KeyPool() *pgxpool.Pool { return s.keys }

// Index is the blind indexer.
func (s *Store) Index() *privacy.BlindIndex { return s.index }

// Ping checks both databases.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("data database: %w", err)
	}
	if err := s.keys.Ping(ctx); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	return nil
}

// VisitorHash is the pseudonym a visitor id is stored under.
func (s *Store) VisitorHash(projectID uuid.UUID, visitorID string) []byte {
	return s.index.VisitorHash(projectID.String(), visitorID)
}

// tx runs fn in a transaction on the data database.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}
