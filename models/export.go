package models

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// VisitorExport is everything stored about one visitor, decrypted.
type VisitorExport struct {
	VisitorHash string           `json:"visitor_hash"`
	Features    *VisitorFeatures `json:"features"`
	Events      []ExportedEvent  `json:"events"`
	Persona     *ExportedPersona `json:"persona"`
	Models      []int            `json:"trained_model_versions"`
	ExportedAt  time.Time        `json:"exported_at"`
}

// ExportedEvent is a stored event in the clear.
type ExportedEvent struct {
	TS          time.Time         `json:"ts"`
	Type        string            `json:"type"`
	Path        string            `json:"path,omitempty"`
	PathGroup   string            `json:"path_group,omitempty"`
	Channel     string            `json:"channel,omitempty"`
	Device      string            `json:"device,omitempty"`
	ElTag       string            `json:"element_tag,omitempty"`
	ElCategory  string            `json:"element_category,omitempty"`
	ElClasses   []string          `json:"element_classes,omitempty"`
	ElText      string            `json:"element_text,omitempty"`
	ElAttrs     map[string]string `json:"element_attrs,omitempty"`
	Goal        string            `json:"goal,omitempty"`
	DurationMS  *int32            `json:"duration_ms,omitempty"`
	ScrollDepth *float32          `json:"scroll_depth,omitempty"`
	UTM         map[string]string `json:"utm,omitempty"`
}

// ExportedPersona is the visitor's latest persona assignment.
type ExportedPersona struct {
	PersonaID    *uuid.UUID `json:"persona_id"`
	Confidence   float32    `json:"confidence"`
	ModelVersion int        `json:"model_version"`
	AssignedAt   time.Time  `json:"assigned_at"`
}

// ExportVisitor gathers a visitor's rows from every table that holds them.
func (s *Store) ExportVisitor(ctx context.Context, projectID uuid.UUID, visitorHash []byte) (*VisitorExport, error) {
	exp := &VisitorExport{VisitorHash: hex.EncodeToString(visitorHash), Events: []ExportedEvent{}, Models: []int{},
		ExportedAt: s.now().UTC()}
	f, err := s.VisitorFeatures(ctx, projectID, visitorHash)
	switch {
	case err == nil:
		exp.Features = f
	case err != ErrNotFound:
		return nil, err
	}
	kr, err := s.projectKeyring(ctx, projectID)
	if err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `/* Store.ExportVisitor */
		SELECT ts, type, path, path_group, channel, device, el_tag, el_category, el_classes, el_text_enc, el_attrs_enc,
			goal, duration_ms, scroll_depth, utm
		FROM events WHERE project_id = $1 AND visitor_hash = $2 ORDER BY ts`, projectID, visitorHash)
	var e ExportedEvent
	var textEnc, attrsEnc, utm []byte
	_, err = pgx.ForEachRow(rows, []any{&e.TS, &e.Type, &e.Path, &e.PathGroup, &e.Channel, &e.Device, &e.ElTag,
		&e.ElCategory, &e.ElClasses, &textEnc, &attrsEnc, &e.Goal, &e.DurationMS, &e.ScrollDepth, &utm}, func() error {
		out := e
		out.ElText, out.ElAttrs, out.UTM = "", nil, nil
		if textEnc != nil {
			b, err := kr.Open(textEnc, eventTextAD(projectID))
			if err != nil {
				return fmt.Errorf("open element text: %w", err)
			}
			out.ElText = string(b)
		}
		if attrsEnc != nil {
			b, err := kr.Open(attrsEnc, eventAttrsAD(projectID))
			if err != nil {
				return fmt.Errorf("open element attributes: %w", err)
			}
			if err := json.Unmarshal(b, &out.ElAttrs); err != nil {
				return err
			}
		}
		if utm != nil {
			_ = json.Unmarshal(utm, &out.UTM)
		}
		exp.Events = append(exp.Events, out)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export events: %w", translate(err))
	}
	var vp ExportedPersona
	err = s.pool.QueryRow(ctx, `/* Store.ExportVisitor */
		SELECT persona_id, confidence, model_version, assigned_at FROM visitor_personas
		WHERE project_id = $1 AND visitor_hash = $2`, projectID, visitorHash).
		Scan(&vp.PersonaID, &vp.Confidence, &vp.ModelVersion, &vp.AssignedAt)
	switch translate(err) {
	case nil:
		exp.Persona = &vp
	case ErrNotFound:
	default:
		return nil, fmt.Errorf("export persona: %w", translate(err))
	}
	rows, _ = s.pool.Query(ctx, `/* Store.ExportVisitor */
		SELECT model_version FROM model_members WHERE project_id = $1 AND visitor_hash = $2 ORDER BY model_version`,
		projectID, visitorHash)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("export model memberships: %w", translate(err))
	}
	exp.Models = append(exp.Models, versions...)
	return exp, nil
}
