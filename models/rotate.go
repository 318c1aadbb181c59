package models

import (
	"context"
	"fmt"

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

// ResealProjectData gives every project a fresh data key generation, re-seals all its
// encrypted columns under it in batches, then destroys the older generations. Interrupted, it
// resumes: rows already under the newest generation are skipped, and a project whose newest
// generation has no older sibling left is done.
//
// It runs while instances serve: it notifies them (ChangeKeysRotated) so they drop their cached
// keyring and seal with the new generation, and re-seals twice, the second pass catching
// values that instances sealed before the notification reached them, before old generations
// are destroyed.
func (s *Store) ResealProjectData(ctx context.Context) (map[string]int64, error) {
	counts := map[string]int64{}
	rows, _ := s.keys.Query(ctx, `/* Store.ResealProjectData */
		SELECT project_id, max(generation), count(*) FROM project_keys GROUP BY project_id`)
	type pk struct {
		ProjectID uuid.UUID
		MaxGen    int
		Count     int
	}
	projects, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pk])
	if err != nil {
		return counts, fmt.Errorf("list project keys: %w", translate(err))
	}
	for _, p := range projects {
		gen := p.MaxGen
		if p.Count == 1 { // not started for this project: add a fresh generation
			gen++
			if err := s.addProjectKey(ctx, p.ProjectID, gen); err != nil {
				return counts, err
			}
		}
		s.evictDataKey(p.ProjectID)
		if err := s.Notify(ctx, Change{Kind: ChangeKeysRotated, ProjectID: p.ProjectID}); err != nil {
			return counts, err
		}
		kr, err := s.projectKeyring(ctx, p.ProjectID)
		if err != nil {
			return counts, err
		}
		for range 2 {
			for _, col := range EncryptedColumns {
				n, err := s.resealColumn(ctx, kr, p.ProjectID, col, dataKeyID(gen))
				counts[col.Table+"."+col.Column] += n
				if err != nil {
					return counts, err
				}
			}
		}
		if _, err := s.keys.Exec(ctx, `/* Store.ResealProjectData */
			DELETE FROM project_keys WHERE project_id = $1 AND generation < $2`, p.ProjectID, gen); err != nil {
			return counts, fmt.Errorf("retire old data keys of %s: %w", p.ProjectID, translate(err))
		}
		s.evictDataKey(p.ProjectID)
		if err := s.Notify(ctx, Change{Kind: ChangeKeysRotated, ProjectID: p.ProjectID}); err != nil {
			return counts, err
		}
		counts["projects"]++
	}
	return counts, nil
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
