package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"personas/privacy"
)

// PrimaryKeyID names the keyring key that seals new values.
func (s *Store) PrimaryKeyID() string { return s.keyring.PrimaryID() }

// EncryptedColumn is a column of project data sealed with the project data key. Every such
// column is listed here so rotation and crypto-shredding tests cover it.
type EncryptedColumn struct {
	Table, Column string
}

// EncryptedColumns lists every column sealed with a project data key.
var EncryptedColumns = []EncryptedColumn{
	{"events", "el_text_enc"},
	{"events", "el_attrs_enc"},
	{"persona_models", "model_enc"},
	{"business_context", "context_enc"},
}

// adColumn is the column name used in associated data (without the _enc suffix).
func (e EncryptedColumn) adColumn() string {
	if n := len(e.Column); n > 4 && e.Column[n-4:] == "_enc" {
		return e.Column[:n-4]
	}
	return e.Column
}

// AD is the associated data of a value of this column in a project.
func (e EncryptedColumn) AD(projectID uuid.UUID) []byte {
	return privacy.AD(e.Table, e.adColumn(), projectID.String())
}

// ResealUsers re-seals account emails that are not under the keyring's primary key, in batches.
// It is resumable: rows already under the primary are skipped.
func (s *Store) ResealUsers(ctx context.Context) (int, error) {
	primary := s.keyring.PrimaryID()
	n := 0
	for {
		rows, _ := s.pool.Query(ctx, `/* Store.ResealUsers */
			SELECT id, email_enc FROM users
			WHERE convert_from(substring(email_enc from 3 for get_byte(email_enc, 1)), 'UTF8') <> $1 LIMIT 500`, primary)
		type row struct {
			ID  uuid.UUID
			Enc []byte
		}
		batch, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return n, fmt.Errorf("list emails to re-seal: %w", translate(err))
		}
		if len(batch) == 0 {
			return n, nil
		}
		for _, r := range batch {
			pt, err := s.keyring.Open(r.Enc, userEmailAD(r.ID))
			if err != nil {
				return n, fmt.Errorf("open email of user %s: %w", r.ID, err)
			}
			ct, err := s.keyring.Seal(pt, userEmailAD(r.ID))
			if err != nil {
				return n, err
			}
			if _, err := s.pool.Exec(ctx, `/* Store.ResealUsers */ UPDATE users SET email_enc = $2 WHERE id = $1`, r.ID, ct); err != nil {
				return n, fmt.Errorf("re-seal email: %w", translate(err))
			}
			n++
		}
	}
}

// RotationGrace is how long a data-key rotation waits, after the new generations exist and
// instances were told, before it re-seals and destroys the old ones: longer than an instance
// uses a cached keyring (DefaultKeyCacheTTL), plus time for work that took the old keyring just
// before (a group commit is bounded at 5 s, a model publication likewise).
const RotationGrace = DefaultKeyCacheTTL + 15*time.Second

// RotationOptions tune ResealProjectData.
type RotationOptions struct {
	// Grace is how long to wait, from the moment a project's new generation was created, for
	// every instance to seal with it (default RotationGrace). It must outlast the key cache
	// TTL of every instance.
	Grace time.Duration
	// Wait sleeps; tests may replace it. Default: a timer that ends with ctx.
	Wait func(ctx context.Context, d time.Duration) error
}

// ResealProjectData gives every project a fresh data key generation, re-seals all its
// encrypted columns under it, then destroys the older generations. It runs while instances
// serve, so an old generation is destroyed only when no instance can still seal with it:
//
//  1. every project gets its new generation (its newest, so the one that seals), the older
//     ones are marked retired, and instances are told (ChangeKeysRotated) to reload;
//  2. it waits until Grace has passed since each new generation was created: an instance that
//     missed the notification (no LISTEN connection, a worker process) reloads within its key
//     cache TTL, which Grace outlasts;
//  3. it re-seals every value still under an older generation, the stragglers sealed by
//     instances before they reloaded included;
//  4. only then it destroys the old generations, and tells the instances again.
//
// Interrupted, it resumes: a project with more than one generation keeps its newest, the wait
// counts from that generation's creation time in the key store, and rows already under the
// newest generation are skipped.
func (s *Store) ResealProjectData(ctx context.Context, opts RotationOptions) (map[string]int64, error) {
	if opts.Grace <= 0 {
		opts.Grace = RotationGrace
	}
	if opts.Wait == nil {
		opts.Wait = sleep
	}
	counts := map[string]int64{}
	rows, _ := s.keys.Query(ctx, `/* Store.ResealProjectData */
		SELECT project_id, max(generation), count(*) FROM project_keys GROUP BY project_id ORDER BY project_id`)
	type pk struct {
		ProjectID uuid.UUID
		MaxGen    int
		Count     int
	}
	projects, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pk])
	if err != nil {
		return counts, fmt.Errorf("list project keys: %w", translate(err))
	}
	// 1. New generations, old ones retired, instances told.
	for i, p := range projects {
		if p.Count == 1 { // not started for this project: add a fresh generation
			projects[i].MaxGen++
			if err := s.addRotatedKey(ctx, p.ProjectID, projects[i].MaxGen); err != nil {
				return counts, err
			}
		}
		if _, err := s.keys.Exec(ctx, `/* Store.ResealProjectData */
			UPDATE project_keys SET retired_at = coalesce(retired_at, now()) WHERE project_id = $1 AND generation < $2`,
			p.ProjectID, projects[i].MaxGen); err != nil {
			return counts, fmt.Errorf("retire old data keys of %s: %w", p.ProjectID, translate(err))
		}
		s.evictDataKey(p.ProjectID)
		if err := s.Notify(ctx, Change{Kind: ChangeKeysRotated, ProjectID: p.ProjectID}); err != nil {
			return counts, err
		}
	}
	// 2. Wait until no instance can still seal with an old generation.
	var newest time.Time
	if err := s.keys.QueryRow(ctx, `/* Store.ResealProjectData */
		SELECT coalesce(max(k.created_at), now()) FROM project_keys k
		WHERE k.generation = (SELECT max(generation) FROM project_keys m WHERE m.project_id = k.project_id)
		AND EXISTS (SELECT 1 FROM project_keys o WHERE o.project_id = k.project_id AND o.generation < k.generation)`).
		Scan(&newest); err != nil {
		return counts, fmt.Errorf("read data key creation times: %w", translate(err))
	}
	var keyNow time.Time
	if err := s.keys.QueryRow(ctx, `SELECT now()`).Scan(&keyNow); err != nil {
		return counts, fmt.Errorf("read the key store's clock: %w", translate(err))
	}
	if left := newest.Add(opts.Grace).Sub(keyNow); left > 0 {
		if err := opts.Wait(ctx, left); err != nil {
			return counts, err
		}
	}
	// 3 and 4, per project: re-seal what is left under old generations, then destroy them.
	for _, p := range projects {
		s.evictDataKey(p.ProjectID)
		kr, err := s.projectKeyring(ctx, p.ProjectID)
		if errors.Is(err, ErrKeyDestroyed) {
			continue // the project was deleted meanwhile: nothing to re-seal
		}
		if err != nil {
			return counts, err
		}
		for _, col := range EncryptedColumns {
			n, err := s.resealColumn(ctx, kr, p.ProjectID, col, dataKeyID(p.MaxGen))
			counts[col.Table+"."+col.Column] += n
			if err != nil {
				return counts, err
			}
		}
		if _, err := s.keys.Exec(ctx, `/* Store.ResealProjectData */
			DELETE FROM project_keys WHERE project_id = $1 AND generation < $2`, p.ProjectID, p.MaxGen); err != nil {
			return counts, fmt.Errorf("destroy old data keys of %s: %w", p.ProjectID, translate(err))
		}
		s.evictDataKey(p.ProjectID)
		if err := s.Notify(ctx, Change{Kind: ChangeKeysRotated, ProjectID: p.ProjectID}); err != nil {
			return counts, err
		}
		counts["projects"]++
	}
	return counts, nil
}

// addRotatedKey adds a project's next data key generation, unless the project's key was
// destroyed (the project deleted) since the rotation listed it: a rotation never brings a
// shredded project's key back.
func (s *Store) addRotatedKey(ctx context.Context, projectID uuid.UUID, generation int) error {
	dk, err := privacy.NewDataKey()
	if err != nil {
		return fmt.Errorf("new data key: %w", err)
	}
	wrapped, err := s.keyring.WrapDataKey(dk, projectID.String())
	if err != nil {
		return fmt.Errorf("wrap data key of project %s: %w", projectID, err)
	}
	if _, err := s.keys.Exec(ctx, `/* Store.ResealProjectData */
		INSERT INTO project_keys (project_id, generation, wrapped_key, kek_id)
		SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM destroyed_keys WHERE project_id = $1)
		AND EXISTS (SELECT 1 FROM project_keys WHERE project_id = $1)`,
		projectID, generation, wrapped, s.keyring.PrimaryID()); err != nil {
		return fmt.Errorf("store data key of project %s: %w", projectID, translate(err))
	}
	s.evictDataKey(projectID)
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Store) resealColumn(ctx context.Context, kr *privacy.Keyring, projectID uuid.UUID, col EncryptedColumn, keyID string) (int64, error) {
	ad := col.AD(projectID)
	var n int64
	sel := fmt.Sprintf(`/* Store.resealColumn */
		SELECT tableoid::regclass::text, ctid::text, %[2]s FROM %[1]s
		WHERE project_id = $1 AND %[2]s IS NOT NULL
		AND convert_from(substring(%[2]s from 3 for get_byte(%[2]s, 1)), 'UTF8') <> $2 LIMIT 1000`, col.Table, col.Column)
	for {
		rows, _ := s.pool.Query(ctx, sel, projectID, keyID)
		type row struct {
			Rel, Ctid string
			Enc       []byte
		}
		batch, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return n, fmt.Errorf("list %s.%s to re-seal: %w", col.Table, col.Column, translate(err))
		}
		if len(batch) == 0 {
			return n, nil
		}
		b := &pgx.Batch{}
		for _, r := range batch {
			pt, err := kr.Open(r.Enc, ad)
			if err != nil {
				return n, fmt.Errorf("open %s.%s: %w", col.Table, col.Column, err)
			}
			ct, err := kr.Seal(pt, ad)
			if err != nil {
				return n, err
			}
			b.Queue(fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE ctid = $2::tid AND project_id = $3`,
				pgx.Identifier{r.Rel}.Sanitize(), col.Column), ct, r.Ctid, projectID)
		}
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return n, fmt.Errorf("re-seal %s.%s: %w", col.Table, col.Column, translate(err))
		}
		n += int64(len(batch))
	}
}
