package models

import (
	"context"
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
