package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Role is a member's role in a project. Each role includes the rights of the ones below it.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleEditor Role = "editor"
	RoleViewer Role = "viewer"
	RoleNone   Role = ""
)

// Rank orders roles: viewer 1 … owner 4; none 0.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleEditor:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r includes the rights of min.
func (r Role) AtLeast(min Role) bool { return r.Rank() >= min.Rank() && r.Rank() > 0 }

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleAdmin, RoleEditor, RoleViewer:
		return r, nil
	}
	return RoleNone, Invalid("role", "must be owner, admin, editor or viewer")
}

// Retention is a project's expiry overrides in days; zero means the default.
type Retention struct {
	EventsDays          int `json:"events_days,omitempty"`
	VisitorFeaturesDays int `json:"visitor_features_days,omitempty"`
	VisitorPersonasDays int `json:"visitor_personas_days,omitempty"`
	EnrichmentLogDays   int `json:"enrichment_log_days,omitempty"`
	AuditLogDays        int `json:"audit_log_days,omitempty"`
}

// Default expiries of DESIGN.md, in days. A project may shorten them, never lengthen.
const (
	DefaultEventsDays          = 60
	DefaultVisitorFeaturesDays = 180
	DefaultVisitorPersonasDays = 90
	DefaultEnrichmentLogDays   = 30
	DefaultAuditLogDays        = 180
)

// Effective returns the expiry of each table with defaults filled in.
func (r Retention) Effective() Retention {
	pick := func(v, d int) int {
		if v <= 0 || v > d {
			return d
		}
		return v
	}
	return Retention{
		EventsDays:          pick(r.EventsDays, DefaultEventsDays),
		VisitorFeaturesDays: pick(r.VisitorFeaturesDays, DefaultVisitorFeaturesDays),
		VisitorPersonasDays: pick(r.VisitorPersonasDays, DefaultVisitorPersonasDays),
		EnrichmentLogDays:   pick(r.EnrichmentLogDays, DefaultEnrichmentLogDays),
		AuditLogDays:        pick(r.AuditLogDays, DefaultAuditLogDays),
	}
}

// Validate refuses values longer than the defaults or not positive.
func (r Retention) Validate() error {
	check := func(field string, v, d int) error {
		if v < 0 || v > d {
			return Invalid("retention."+field, "must be between 1 and %d days (0 for the default)", d)
		}
		return nil
	}
	return errors.Join(
		check("events_days", r.EventsDays, DefaultEventsDays),
		check("visitor_features_days", r.VisitorFeaturesDays, DefaultVisitorFeaturesDays),
		check("visitor_personas_days", r.VisitorPersonasDays, DefaultVisitorPersonasDays),
		check("enrichment_log_days", r.EnrichmentLogDays, DefaultEnrichmentLogDays),
		check("audit_log_days", r.AuditLogDays, DefaultAuditLogDays),
	)
}

// Project is a tracked site.
type Project struct {
	ID                uuid.UUID `json:"id"`
	Name              string    `json:"name"`
	SiteKey           string    `json:"site_key"`
	AllowedOrigins    []string  `json:"allowed_origins"`
	ExcludedSelectors []string  `json:"excluded_selectors"`
	AllowedQueryKeys  []string  `json:"allowed_query_keys"`
	DataAttributes    []string  `json:"data_attributes"`
	SampleRate        float64   `json:"sample_rate"`
	RespectGPC        bool      `json:"respect_gpc"`
	RespectDNT        bool      `json:"respect_dnt"`
	Cookieless        bool      `json:"cookieless"`
	Retention         Retention `json:"retention"`
	ModelVersion      *int      `json:"model_version"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	// Role is the caller's role in the project, filled by the API.
	Role Role `json:"role,omitempty"`
}

const projectColumns = `id, name, site_key, allowed_origins, excluded_selectors, allowed_query_keys, data_attributes,
	sample_rate, respect_gpc, respect_dnt, cookieless, retention, model_version, created_at, updated_at`

func scanProject(row pgx.Row) (Project, error) {
	var p Project
	var ret []byte
	err := row.Scan(&p.ID, &p.Name, &p.SiteKey, &p.AllowedOrigins, &p.ExcludedSelectors, &p.AllowedQueryKeys,
		&p.DataAttributes, &p.SampleRate, &p.RespectGPC, &p.RespectDNT, &p.Cookieless, &ret, &p.ModelVersion,
		&p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return Project{}, translate(err)
	}
	if err := json.Unmarshal(ret, &p.Retention); err != nil {
		return Project{}, fmt.Errorf("decode retention of project %s: %w", p.ID, err)
	}
	return p, nil
}

// Settings are the editable fields of a project; nil fields are left unchanged.
type Settings struct {
	Name              *string    `json:"name"`
	AllowedOrigins    *[]string  `json:"allowed_origins"`
	ExcludedSelectors *[]string  `json:"excluded_selectors"`
	AllowedQueryKeys  *[]string  `json:"allowed_query_keys"`
	DataAttributes    *[]string  `json:"data_attributes"`
	SampleRate        *float64   `json:"sample_rate"`
	RespectGPC        *bool      `json:"respect_gpc"`
	RespectDNT        *bool      `json:"respect_dnt"`
	Cookieless        *bool      `json:"cookieless"`
	Retention         *Retention `json:"retention"`
}

// Fields lists the names of the fields that are set, for audit and role checks.
func (s Settings) Fields() []string {
	var f []string
	add := func(set bool, name string) {
		if set {
			f = append(f, name)
		}
	}
	add(s.Name != nil, "name")
	add(s.AllowedOrigins != nil, "allowed_origins")
	add(s.ExcludedSelectors != nil, "excluded_selectors")
	add(s.AllowedQueryKeys != nil, "allowed_query_keys")
	add(s.DataAttributes != nil, "data_attributes")
	add(s.SampleRate != nil, "sample_rate")
	add(s.RespectGPC != nil, "respect_gpc")
	add(s.RespectDNT != nil, "respect_dnt")
	add(s.Cookieless != nil, "cookieless")
	add(s.Retention != nil, "retention")
	return f
}

// AdminOnly reports whether the settings touch fields reserved to admins (origins, retention).
func (s Settings) AdminOnly() bool { return s.AllowedOrigins != nil || s.Retention != nil }

// Validate checks and normalises every set field.
func (s *Settings) Validate() error {
	var errs []error
	if s.Name != nil {
		n := strings.TrimSpace(*s.Name)
		if n == "" || len(n) > 100 {
			errs = append(errs, Invalid("name", "required, at most 100 characters"))
		}
		s.Name = &n
	}
	if s.AllowedOrigins != nil {
		out := make([]string, 0, len(*s.AllowedOrigins))
		if len(*s.AllowedOrigins) > 50 {
			errs = append(errs, Invalid("allowed_origins", "at most 50"))
		}
		for _, o := range *s.AllowedOrigins {
			n, err := NormalizeOrigin(o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !slices.Contains(out, n) { // a repeated origin (a second bootstrap, a pasted list) is kept once
				out = append(out, n)
			}
		}
		s.AllowedOrigins = &out
	}
	checkList := func(field string, v *[]string, max, maxLen int, ok func(string) bool) {
		if v == nil {
			return
		}
		if len(*v) > max {
			errs = append(errs, Invalid(field, "at most %d entries", max))
		}
		out := make([]string, 0, len(*v))
		for _, x := range *v {
			x = strings.TrimSpace(x)
			if x == "" || len(x) > maxLen || !ok(x) {
				errs = append(errs, Invalid(field, "entry %q is not allowed", truncate(x, 40)))
				continue
			}
			out = append(out, x)
		}
		*v = out
	}
	checkList("excluded_selectors", s.ExcludedSelectors, 50, 200, func(x string) bool {
		return !strings.ContainsAny(x, "{}<>;\\") && !strings.Contains(x, "/*")
	})
	checkList("allowed_query_keys", s.AllowedQueryKeys, 30, 50, identLike)
	checkList("data_attributes", s.DataAttributes, 30, 60, func(x string) bool {
		return strings.HasPrefix(x, "data-") && identLike(x) && x != "data-personas-ignore"
	})
	if s.SampleRate != nil && !(*s.SampleRate > 0 && *s.SampleRate <= 1) {
		errs = append(errs, Invalid("sample_rate", "must be greater than 0 and at most 1"))
	}
	if s.Retention != nil {
		if err := s.Retention.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func identLike(x string) bool {
	for _, r := range x {
		if !(r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// NormalizeOrigin validates an allowed origin: `https://shop.example`, `http://localhost:3000`
// or a wildcard `https://*.example.com`.
func NormalizeOrigin(o string) (string, error) {
	o = strings.TrimRight(strings.TrimSpace(o), "/")
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", Invalid("allowed_origins", "%q is not an origin like https://shop.example or https://*.example.com", truncate(o, 60))
	}
	host := strings.ToLower(u.Host)
	if strings.Contains(host, "*") {
		rest, ok := strings.CutPrefix(host, "*.")
		if !ok || strings.Contains(rest, "*") || !strings.Contains(rest, ".") {
			return "", Invalid("allowed_origins", "a wildcard must be the first label of a domain with a dot: https://*.example.com")
		}
	}
	return u.Scheme + "://" + host, nil
}

// OriginAllowed reports whether origin (scheme://host[:port]) matches one of allowed.
func OriginAllowed(allowed []string, origin string) bool {
	origin = strings.ToLower(strings.TrimRight(origin, "/"))
	if origin == "" || origin == "null" {
		return false
	}
	scheme, host, ok := strings.Cut(origin, "://")
	if !ok {
		return false
	}
	for _, a := range allowed {
		if a == origin {
			return true
		}
		as, ah, _ := strings.Cut(a, "://")
		if as != scheme {
			continue
		}
		if rest, ok := strings.CutPrefix(ah, "*."); ok && strings.HasSuffix(host, "."+rest) {
			return true
		}
	}
	return false
}

// CreateProject creates a project owned by ownerID, with its data key in the key store.
func (s *Store) CreateProject(ctx context.Context, ownerID uuid.UUID, name string, origins []string) (Project, error) {
	set := Settings{Name: &name, AllowedOrigins: &origins}
	if err := set.Validate(); err != nil {
		return Project{}, err
	}
	id := uuid.New()
	// The key exists before any row that could need it.
	if err := s.CreateProjectKey(ctx, id); err != nil {
		return Project{}, err
	}
	siteKey := "pk_" + strings.ReplaceAll(randomString(18), "-", "x")
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `/* Store.CreateProject */
			INSERT INTO projects (id, name, site_key, allowed_origins) VALUES ($1, $2, $3, $4)`,
			id, *set.Name, siteKey, *set.AllowedOrigins); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `/* Store.CreateProject */
			INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, 'owner')`, id, ownerID)
		return err
	})
	if err != nil {
		return Project{}, fmt.Errorf("create project: %w", translate(err))
	}
	return s.Project(ctx, id)
}

// Project returns a project by id.
func (s *Store) Project(ctx context.Context, id uuid.UUID) (Project, error) {
	p, err := scanProject(s.pool.QueryRow(ctx, `/* Store.Project */ SELECT `+projectColumns+` FROM projects WHERE id = $1`, id))
	if err != nil {
		return Project{}, err
	}
	return p, nil
}

// ProjectBySiteKey returns the project with this public site key.
func (s *Store) ProjectBySiteKey(ctx context.Context, siteKey string) (Project, error) {
	if !strings.HasPrefix(siteKey, "pk_") || len(siteKey) > 64 {
		return Project{}, ErrNotFound
	}
	return scanProject(s.pool.QueryRow(ctx, `/* Store.ProjectBySiteKey */ SELECT `+projectColumns+` FROM projects WHERE site_key = $1`, siteKey))
}

// ProjectByName returns a project by exact name among those ownerID owns.
func (s *Store) ProjectByName(ctx context.Context, ownerID uuid.UUID, name string) (Project, error) {
	return scanProject(s.pool.QueryRow(ctx, `/* Store.ProjectByName */
		SELECT `+prefixed("p", projectColumns)+` FROM projects p JOIN memberships m ON m.project_id = p.id
		WHERE m.user_id = $1 AND m.role = 'owner' AND p.name = $2 ORDER BY p.created_at LIMIT 1`, ownerID, name))
}

func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ProjectsOf lists the projects a user is a member of (all projects for a platform admin), with
// the user's role.
func (s *Store) ProjectsOf(ctx context.Context, p Principal) ([]Project, error) {
	rows, err := s.pool.Query(ctx, `/* Store.ProjectsOf */
		SELECT `+prefixed("p", projectColumns)+`, coalesce(m.role, '') FROM projects p
		LEFT JOIN memberships m ON m.project_id = p.id AND m.user_id = $1
		WHERE m.user_id IS NOT NULL OR $2 ORDER BY p.name, p.id`, p.UserID, p.PlatformAdmin)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", translate(err))
	}
	defer rows.Close()
	var out []Project
	for rows.Next() {
		var pr Project
		var ret []byte
		if err := rows.Scan(&pr.ID, &pr.Name, &pr.SiteKey, &pr.AllowedOrigins, &pr.ExcludedSelectors, &pr.AllowedQueryKeys,
			&pr.DataAttributes, &pr.SampleRate, &pr.RespectGPC, &pr.RespectDNT, &pr.Cookieless, &ret, &pr.ModelVersion,
			&pr.CreatedAt, &pr.UpdatedAt, &pr.Role); err != nil {
			return nil, fmt.Errorf("list projects: %w", translate(err))
		}
		_ = json.Unmarshal(ret, &pr.Retention)
		out = append(out, pr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list projects: %w", translate(err))
	}
	return out, nil
}

// UpdateSettings applies validated settings to a project.
func (s *Store) UpdateSettings(ctx context.Context, projectID uuid.UUID, set Settings) (Project, error) {
	if err := set.Validate(); err != nil {
		return Project{}, err
	}
	var ret []byte
	if set.Retention != nil {
		ret, _ = json.Marshal(set.Retention)
	}
	_, err := s.pool.Exec(ctx, `/* Store.UpdateSettings */
		UPDATE projects SET
			name = coalesce($2, name),
			allowed_origins = coalesce($3, allowed_origins),
			excluded_selectors = coalesce($4, excluded_selectors),
			allowed_query_keys = coalesce($5, allowed_query_keys),
			data_attributes = coalesce($6, data_attributes),
			sample_rate = coalesce($7, sample_rate),
			respect_gpc = coalesce($8, respect_gpc),
			respect_dnt = coalesce($9, respect_dnt),
			cookieless = coalesce($10, cookieless),
			retention = coalesce($11::jsonb, retention),
			updated_at = now()
		WHERE id = $1`,
		projectID, set.Name, set.AllowedOrigins, set.ExcludedSelectors, set.AllowedQueryKeys, set.DataAttributes,
		set.SampleRate, set.RespectGPC, set.RespectDNT, set.Cookieless, ret)
	if err != nil {
		return Project{}, fmt.Errorf("update project %s: %w", projectID, translate(err))
	}
	return s.Project(ctx, projectID)
}

// RoleOf returns the user's role in a project, RoleNone when not a member.
func (s *Store) RoleOf(ctx context.Context, projectID, userID uuid.UUID) (Role, error) {
	var r Role
	err := s.pool.QueryRow(ctx, `/* Store.RoleOf */
		SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2`, projectID, userID).Scan(&r)
	if err != nil {
		if errors.Is(translate(err), ErrNotFound) {
			return RoleNone, nil
		}
		return RoleNone, fmt.Errorf("read role: %w", translate(err))
	}
	return r, nil
}

// Member is a user's membership of a project.
type Member struct {
	UserID    uuid.UUID `json:"user_id"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Members lists a project's members with their emails.
func (s *Store) Members(ctx context.Context, projectID uuid.UUID) ([]Member, error) {
	rows, _ := s.pool.Query(ctx, `/* Store.Members */
		SELECT m.user_id, u.email_enc, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.project_id = $1 ORDER BY m.created_at, m.user_id`, projectID)
	var out []Member
	var m Member
	var enc []byte
	_, err := pgx.ForEachRow(rows, []any{&m.UserID, &enc, &m.Role, &m.CreatedAt}, func() error {
		e, err := s.keyring.Open(enc, userEmailAD(m.UserID))
		if err != nil {
			return fmt.Errorf("open email: %w", err)
		}
		m.Email = string(e)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", projectID, translate(err))
	}
	return out, nil
}

// AddMember gives a user (created if needed, without a password) a role below owner.
func (s *Store) AddMember(ctx context.Context, projectID uuid.UUID, email string, role Role) (uuid.UUID, error) {
	if role == RoleOwner {
		return uuid.Nil, Invalid("role", "ownership is transferred, not granted: use the transfer endpoint")
	}
	u, _, err := s.EnsureUser(ctx, email, "", false)
	if err != nil {
		return uuid.Nil, err
	}
	tag, err := s.pool.Exec(ctx, `/* Store.AddMember */
		INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role WHERE memberships.role <> 'owner'`,
		projectID, u.ID, role)
	if err != nil {
		return uuid.Nil, fmt.Errorf("add member: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return uuid.Nil, fmt.Errorf("%w: the user owns the project", ErrConflict)
	}
	return u.ID, nil
}

// SetMemberRole changes a member's role (never to or from owner).
func (s *Store) SetMemberRole(ctx context.Context, projectID, userID uuid.UUID, role Role) error {
	if role == RoleOwner {
		return Invalid("role", "ownership is transferred, not granted: use the transfer endpoint")
	}
	cur, err := s.RoleOf(ctx, projectID, userID)
	if err != nil {
		return err
	}
	switch cur {
	case RoleNone:
		return ErrNotFound
	case RoleOwner:
		return fmt.Errorf("%w: the owner's role changes only by transfer", ErrConflict)
	}
	_, err = s.pool.Exec(ctx, `/* Store.SetMemberRole */
		UPDATE memberships SET role = $3 WHERE project_id = $1 AND user_id = $2 AND role <> 'owner'`, projectID, userID, role)
	return translate(err)
}

// RemoveMember removes a member other than the owner.
func (s *Store) RemoveMember(ctx context.Context, projectID, userID uuid.UUID) error {
	cur, err := s.RoleOf(ctx, projectID, userID)
	if err != nil {
		return err
	}
	switch cur {
	case RoleNone:
		return ErrNotFound
	case RoleOwner:
		return fmt.Errorf("%w: the owner cannot be removed; transfer ownership first", ErrConflict)
	}
	_, err = s.pool.Exec(ctx, `/* Store.RemoveMember */
		DELETE FROM memberships WHERE project_id = $1 AND user_id = $2 AND role <> 'owner'`, projectID, userID)
	return translate(err)
}

// TransferOwnership makes another member the owner; the previous owner becomes an admin.
func (s *Store) TransferOwnership(ctx context.Context, projectID, toUserID uuid.UUID) error {
	return translate(s.tx(ctx, func(tx pgx.Tx) error {
		var cur Role
		if err := tx.QueryRow(ctx, `/* Store.TransferOwnership */
			SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2 FOR UPDATE`, projectID, toUserID).Scan(&cur); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return Invalid("user_id", "the new owner must already be a member")
			}
			return err
		}
		if cur == RoleOwner {
			return nil
		}
		if _, err := tx.Exec(ctx, `/* Store.TransferOwnership */
			UPDATE memberships SET role = 'admin' WHERE project_id = $1 AND role = 'owner'`, projectID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `/* Store.TransferOwnership */
			UPDATE memberships SET role = 'owner' WHERE project_id = $1 AND user_id = $2`, projectID, toUserID)
		return err
	}))
}
