package api

import (
	"testing"

	"personas/models"
)

// TestTemplatesAskAboutActions checks the dashboard templates' Can: it answers project actions
// by the policy table and refuses anything else, a role name included, so that a template
// cannot keep a role rule of its own.
func TestTemplatesAskAboutActions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		role models.Role
		act  action
		want bool
	}{
		{models.RoleViewer, actReadPersonas, true},
		{models.RoleViewer, actRetrain, false},
		{models.RoleEditor, actRetrain, true},
		{models.RoleEditor, actEditAccess, false},
		{models.RoleAdmin, actManageMembers, true},
		{models.RoleAdmin, actDeleteProject, false},
		{models.RoleOwner, actDeleteProject, true},
		{models.RoleNone, actReadPersonas, false},
	} {
		got, err := page{Role: tt.role}.Can(string(tt.act))
		if err != nil || got != tt.want {
			t.Errorf("%s may %s: %v, %v; want %v", tt.role, tt.act, got, err, tt.want)
		}
	}
	for _, name := range []string{"admin", "editor", "signed_in", "public", "no_such_action"} {
		if _, err := (page{Role: models.RoleOwner}).Can(name); err == nil {
			t.Errorf("Can(%q) answered: only project actions may be asked about", name)
		}
	}
}
