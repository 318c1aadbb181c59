package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
)

// settingsView is the settings page's data; each part is shown to the roles that may change it.
type settingsView struct {
	Install   installView
	Retention models.Retention // effective values
	Context   models.BusinessContext
	// PageLabels is the page-label table as the form's text: one "path group = label" a line.
	PageLabels string
	Members    []models.Member
	Roles      []models.Role
	SamplePct  string
	Teams      teamsSettings // invitations and the two-factor requirement
}

func (s *Server) settingsPage(c *gin.Context) error {
	pj := projectFrom(c)
	role := roleFrom(c)
	v := settingsView{Install: s.install(pj), Retention: pj.Retention.Effective(),
		SamplePct: strconv.FormatFloat(pj.SampleRate*100, 'f', -1, 64),
		Roles:     []models.Role{models.RoleViewer, models.RoleEditor, models.RoleAdmin}}
	var err error
	if may(role, actEditContext) {
		if v.Context, err = s.store.GetBusinessContext(c, pj.ID); err != nil {
			return err
		}
	}
	if may(role, actEditSettings) {
		labels, err := s.store.PageLabelList(c, pj.ID)
		if err != nil {
			return err
		}
		v.PageLabels = pageLabelsText(labels)
	}
	if may(role, actManageMembers) {
		if v.Members, err = s.store.Members(c, pj.ID); err != nil {
			return err
		}
	}
	if v.Teams, err = s.teamsSettingsOf(c, pj.ID, role); err != nil {
		return err
	}
	p, err := s.newPage(c, "Settings · "+pj.Name, "settings", v)
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "settings", p)
	return nil
}

// formList reads a textarea of one entry per line (or comma separated).
func formList(c *gin.Context, field string) *[]string {
	out := []string{}
	for _, l := range strings.FieldsFunc(c.PostForm(field), func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return &out
}

// saveSettings applies settings as PATCH /v1/projects/{id} does, with its audit entry.
func (s *Server) saveSettings(c *gin.Context, set models.Settings, notice string) error {
	pj := projectFrom(c)
	if set.AdminOnly() {
		if err := needRole(c, actEditAccess); err != nil {
			return err
		}
	}
	p, err := s.store.UpdateSettings(c, pj.ID, set)
	if err != nil {
		return err
	}
	s.audit(c, p.ID, "project.update", p.ID.String(), map[string]any{"fields": set.Fields()})
	s.EvictProject(p.SiteKey)
	return redirect(c, projectPath(p, "/settings"), notice)
}

// captureForm saves what the collector captures (editor+).
func (s *Server) captureForm(c *gin.Context) error {
	pct, err := strconv.ParseFloat(strings.TrimSpace(c.PostForm("sample_pct")), 64)
	if err != nil {
		return models.Invalid("sample_rate", "a percentage between 0 and 100")
	}
	rate := pct / 100
	on := func(k string) *bool { b := c.PostForm(k) == "on"; return &b }
	return s.saveSettings(c, models.Settings{ExcludedSelectors: formList(c, "excluded_selectors"),
		AllowedQueryKeys: formList(c, "allowed_query_keys"), SampleRate: &rate,
		RespectGPC: on("respect_gpc"), RespectDNT: on("respect_dnt"), Cookieless: on("cookieless")}, "capture")
}

// accessForm saves the allowed origins and retention (admin+).
func (s *Server) accessForm(c *gin.Context) error {
	days := func(k string) (int, error) {
		v := strings.TrimSpace(c.PostForm(k))
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, models.Invalid(k, "a whole number of days")
		}
		return n, nil
	}
	var r models.Retention
	for _, f := range []struct {
		key string
		dst *int
	}{{"events_days", &r.EventsDays}, {"visitor_features_days", &r.VisitorFeaturesDays},
		{"visitor_personas_days", &r.VisitorPersonasDays}, {"enrichment_log_days", &r.EnrichmentLogDays},
		{"audit_log_days", &r.AuditLogDays}} {
		n, err := days(f.key)
		if err != nil {
			return err
		}
		*f.dst = n
	}
	return s.saveSettings(c, models.Settings{AllowedOrigins: formList(c, "allowed_origins"), Retention: &r}, "access")
}

// contextForm saves the business context for enrichment (editor+), as PUT …/context.
func (s *Server) contextForm(c *gin.Context) error {
	pj := projectFrom(c)
	bc := models.BusinessContext{Goals: c.PostForm("goals"), Industry: c.PostForm("industry"),
		Audience: c.PostForm("audience"), Notes: c.PostForm("notes")}
	if err := s.store.SetBusinessContext(c, pj.ID, principalFrom(c).UserID, bc); err != nil {
		return err
	}
	s.audit(c, pj.ID, "context.update", pj.ID.String(), nil)
	return redirect(c, projectPath(pj, "/settings"), "context")
}

// pageLabelsText writes the page-label table for its textarea.
func pageLabelsText(labels []models.PageLabel) string {
	var b strings.Builder
	for _, l := range labels {
		b.WriteString(l.PathGroup + " = " + l.Label + "\n")
	}
	return b.String()
}

// parsePageLabels reads the textarea: one "path group = label" a line, blank lines skipped.
// The table's own bounds are checked by the store; this bounds the lines read.
func parsePageLabels(text string) ([]models.PageLabel, error) {
	out := []models.PageLabel{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(out) == models.MaxPageLabels {
			return nil, models.Invalid("page_labels", "at most %d page labels per project", models.MaxPageLabels)
		}
		g, l, ok := strings.Cut(line, "=")
		if !ok {
			return nil, models.Invalid("page_labels", "line %d: write a path group, =, and its label, such as /p/:id = Product pages", i+1)
		}
		out = append(out, models.PageLabel{PathGroup: strings.TrimSpace(g), Label: strings.TrimSpace(l)})
	}
	return out, nil
}

// pageLabelsForm replaces the page-label table (editor+), as PUT …/page-labels.
func (s *Server) pageLabelsForm(c *gin.Context) error {
	pj := projectFrom(c)
	labels, err := parsePageLabels(c.PostForm("page_labels"))
	if err != nil {
		return err
	}
	stored, err := s.store.SetPageLabels(c, pj.ID, labels)
	if err != nil {
		return err
	}
	s.audit(c, pj.ID, "page_labels.update", pj.ID.String(), map[string]any{"count": len(stored)})
	return redirect(c, projectPath(pj, "/settings"), "page-labels")
}

func (s *Server) addMemberForm(c *gin.Context) error {
	role, err := models.ParseRole(c.PostForm("role"))
	if err != nil {
		return err
	}
	pj := projectFrom(c)
	if s.accounts != nil {
		return s.inviteForm(c, pj, role) // adding a member is inviting them
	}
	uid, err := s.store.AddMember(c, pj.ID, c.PostForm("email"), role)
	if err != nil {
		return err
	}
	s.audit(c, pj.ID, "member.add", uid.String(), map[string]any{"role": role})
	return redirect(c, projectPath(pj, "/settings"), "member")
}

func memberOf(c *gin.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("user_id"))
	if err != nil {
		return uuid.Nil, models.ErrNotFound
	}
	return id, nil
}

func (s *Server) memberRoleForm(c *gin.Context) error {
	uid, err := memberOf(c)
	if err != nil {
		return err
	}
	role, err := models.ParseRole(c.PostForm("role"))
	if err != nil {
		return err
	}
	pj := projectFrom(c)
	if err := s.store.SetMemberRole(c, pj.ID, uid, role); err != nil {
		return err
	}
	s.audit(c, pj.ID, "member.update", uid.String(), map[string]any{"role": role})
	return redirect(c, projectPath(pj, "/settings"), "role")
}

func (s *Server) removeMemberForm(c *gin.Context) error {
	uid, err := memberOf(c)
	if err != nil {
		return err
	}
	pj := projectFrom(c)
	if err := s.store.RemoveMember(c, pj.ID, uid); err != nil {
		return err
	}
	s.audit(c, pj.ID, "member.remove", uid.String(), nil)
	return redirect(c, projectPath(pj, "/settings"), "removed")
}
