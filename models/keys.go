package models

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"personas/privacy"
)

func dataKeyID(generation int) string { return "p" + strconv.Itoa(generation) }

const insertProjectKey = `/* Store.CreateProjectKey */
	INSERT INTO project_keys (project_id, generation, wrapped_key, kek_id) VALUES ($1, $2, $3, $4)`

// CreateProjectKey makes the first data key of a new project in the key store.
func (s *Store) CreateProjectKey(ctx context.Context, projectID uuid.UUID) error {
	return s.addProjectKey(ctx, projectID, 1)
}

func (s *Store) addProjectKey(ctx context.Context, projectID uuid.UUID, generation int) error {
	dk, err := privacy.NewDataKey()
	if err != nil {
		return fmt.Errorf("new data key: %w", err)
	}
	wrapped, err := s.keyring.WrapDataKey(dk, projectID.String())
	if err != nil {
		return fmt.Errorf("wrap data key of project %s: %w", projectID, err)
	}
	if _, err := s.keys.Exec(ctx, insertProjectKey, projectID, generation, wrapped, s.keyring.PrimaryID()); err != nil {
		return fmt.Errorf("store data key of project %s: %w", projectID, translate(err))
	}
	s.evictDataKey(projectID)
	return nil
}

const selectProjectKeys = `/* Store.projectKeyring */
	SELECT generation, wrapped_key FROM project_keys WHERE project_id = $1 ORDER BY generation DESC`

// DefaultKeyCacheTTL is how long an instance seals with a cached project keyring before it
// reads the key store again, whether or not a notification reached it: the bound a data-key
// rotation waits out (with RotationGrace) before it destroys an old generation.
const DefaultKeyCacheTTL = 30 * time.Second

type cachedKeyring struct {
	kr *privacy.Keyring
	at time.Time
}

// projectKeyring returns the keyring that seals and opens the project's data: its newest data
// key seals, all its generations open. It is cached for the store's key cache TTL.
func (s *Store) projectKeyring(ctx context.Context, projectID uuid.UUID) (*privacy.Keyring, error) {
	s.mu.Lock()
	c, ok := s.dataKeys[projectID]
	ttl := s.keyCacheTTL
	s.mu.Unlock()
	if ok && time.Since(c.at) < ttl {
		return c.kr, nil
	}
	at := time.Now() // before the read: the entry never outlives what the key store said then
	rows, _ := s.keys.Query(ctx, selectProjectKeys, projectID)
	var keys []privacy.Key
	var gen int
	var wrapped []byte
	_, err := pgx.ForEachRow(rows, []any{&gen, &wrapped}, func() error {
		dk, err := s.keyring.UnwrapDataKey(wrapped, projectID.String())
		if err != nil {
			return fmt.Errorf("unwrap data key %d: %w", gen, err)
		}
		keys = append(keys, privacy.Key{ID: dataKeyID(gen), Secret: dk})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load data keys of project %s: %w", projectID, translate(err))
	}
	if len(keys) == 0 {
		return nil, ErrKeyDestroyed
	}
	kr, err := privacy.NewKeyring(keys...)
	if err != nil {
		return nil, fmt.Errorf("data keyring of project %s: %w", projectID, err)
	}
	s.mu.Lock()
	s.dataKeys[projectID] = cachedKeyring{kr: kr, at: at}
	s.mu.Unlock()
	return kr, nil
}

func (s *Store) evictDataKey(projectID uuid.UUID) {
	s.mu.Lock()
	delete(s.dataKeys, projectID)
	s.mu.Unlock()
}

// EvictAllDataKeys forgets every cached project keyring; they are unwrapped again on use.
func (s *Store) EvictAllDataKeys() {
	s.mu.Lock()
	s.dataKeys = map[uuid.UUID]cachedKeyring{}
	s.mu.Unlock()
}

// EvictDataKey forgets the cached keyring of a project (after another instance destroyed or
// rotated it).
func (s *Store) EvictDataKey(projectID uuid.UUID) { s.evictDataKey(projectID) }

// SealProject encrypts project data under the project's data key, bound to table and column.
func (s *Store) SealProject(ctx context.Context, projectID uuid.UUID, table, column string, plaintext []byte) ([]byte, error) {
	kr, err := s.projectKeyring(ctx, projectID)
	if err != nil {
		return nil, err
	}
	return kr.Seal(plaintext, privacy.AD(table, column, projectID.String()))
}

// OpenProject decrypts project data sealed by SealProject.
func (s *Store) OpenProject(ctx context.Context, projectID uuid.UUID, table, column string, ciphertext []byte) ([]byte, error) {
	kr, err := s.projectKeyring(ctx, projectID)
	if err != nil {
		return nil, err
	}
	ad := privacy.AD(table, column, projectID.String())
	b, err := kr.Open(ciphertext, ad)
	if err != nil {
		// Sealed under a generation newer than the cached keyring (a rotation elsewhere):
		// read the key store once more before giving up.
		s.evictDataKey(projectID)
		if kr, kerr := s.projectKeyring(ctx, projectID); kerr == nil {
			if b, err = kr.Open(ciphertext, ad); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("open %s.%s of project %s: %w", table, column, projectID, err)
	}
	return b, nil
}

// ProjectKeyring exposes the project's data keyring to the ingester, which seals many values
// per batch without a look-up each.
func (s *Store) ProjectKeyring(ctx context.Context, projectID uuid.UUID) (*privacy.Keyring, error) {
	return s.projectKeyring(ctx, projectID)
}

const (
	deleteProjectKeys = `/* Store.DestroyProjectKey */ DELETE FROM project_keys WHERE project_id = $1`
	insertTombstone   = `/* Store.DestroyProjectKey */
	INSERT INTO destroyed_keys (project_id, destroyed_at, generations) VALUES ($1, $2, $3)
	ON CONFLICT (project_id) DO NOTHING`
	selectTombstone = `/* Store.KeyDestroyedAt */ SELECT destroyed_at FROM destroyed_keys WHERE project_id = $1`
)

// DestroyProjectKey crypto-shreds a project: every generation of its data key is deleted from
// the key store, so all its ciphertext, in this database and in every copy of it, is unreadable.
// It is idempotent and returns when the key was destroyed.
func (s *Store) DestroyProjectKey(ctx context.Context, projectID uuid.UUID) (time.Time, error) {
	at := s.now().UTC()
	err := pgx.BeginFunc(ctx, s.keys, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteProjectKeys, projectID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, insertTombstone, projectID, at, tag.RowsAffected())
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("destroy data key of project %s: %w", projectID, translate(err))
	}
	s.evictDataKey(projectID)
	if err := s.keys.QueryRow(ctx, selectTombstone, projectID).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("read key tombstone of project %s: %w", projectID, translate(err))
	}
	return at, nil
}

// KeyDestroyedAt says when the project's key was destroyed, or ErrNotFound.
func (s *Store) KeyDestroyedAt(ctx context.Context, projectID uuid.UUID) (time.Time, error) {
	var at time.Time
	if err := s.keys.QueryRow(ctx, selectTombstone, projectID).Scan(&at); err != nil {
		return time.Time{}, translate(err)
	}
	return at, nil
}

// RewrapProjectKeys re-wraps every project data key under the keyring's primary key. No data is
// rewritten; it is fast and resumable (rows already under the primary are skipped).
func (s *Store) RewrapProjectKeys(ctx context.Context) (int, error) {
	primary := s.keyring.PrimaryID()
	n := 0
	for {
		rows, _ := s.keys.Query(ctx, `/* Store.RewrapProjectKeys */
			SELECT project_id, generation, wrapped_key FROM project_keys WHERE kek_id <> $1 LIMIT 500`, primary)
		type row struct {
			ProjectID  uuid.UUID `db:"project_id"`
			Generation int       `db:"generation"`
			WrappedKey []byte    `db:"wrapped_key"`
		}
		batch, err := pgx.CollectRows(rows, pgx.RowToStructByName[row])
		if err != nil {
			return n, fmt.Errorf("list keys to rewrap: %w", translate(err))
		}
		if len(batch) == 0 {
			return n, nil
		}
		for _, r := range batch {
			dk, err := s.keyring.UnwrapDataKey(r.WrappedKey, r.ProjectID.String())
			if err != nil {
				return n, fmt.Errorf("unwrap data key of project %s: %w", r.ProjectID, err)
			}
			w, err := s.keyring.WrapDataKey(dk, r.ProjectID.String())
			if err != nil {
				return n, fmt.Errorf("wrap data key of project %s: %w", r.ProjectID, err)
			}
			if _, err := s.keys.Exec(ctx, `/* Store.RewrapProjectKeys */
				UPDATE project_keys SET wrapped_key = $3, kek_id = $4 WHERE project_id = $1 AND generation = $2`,
				r.ProjectID, r.Generation, w, primary); err != nil {
				return n, fmt.Errorf("rewrap data key of project %s: %w", r.ProjectID, translate(err))
			}
			n++
		}
	}
}
