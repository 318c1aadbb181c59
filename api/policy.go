package api

import (
	"github.com/gin-gonic/gin"

	"personas/models"
)

// action is what a route does, as the policy sees it: every line of the route table names one,
// and policies says who may do it. Rules that depend on a request's body (origins and
// retention in a settings change, deleting the whole project) name an action too, checked in
// the handler with need or needRole.
type action string

// The actions. Outside a project:
const (
	actPublic       action = "public"        // operational endpoints, assets, the login page
	actCollector    action = "collector"     // the collector's API on the customers' pages
	actSignIn       action = "sign_in"       // credentials in the body
	actSignedIn     action = "signed_in"     // the caller's own account, tokens, projects and sessions
	actReadDeletion action = "read_deletion" // a deletion's status and receipt, which outlive the project
)

// In a project, by the role DESIGN.md gives them:
const (
	actReadProject       action = "read_project"       // the project, its snippet, page labels, settings page
	actReadPersonas      action = "read_personas"      // models, training runs, personas
	actExportPersonas    action = "export_personas"    // the personas export (CSV, JSON)
	actReadStats         action = "read_stats"         // ingest statistics, the health page
	actEditSettings      action = "edit_settings"      // capture settings, page labels
	actEditContext       action = "edit_context"       // the business context (read and write)
	actEditPersonas      action = "edit_personas"      // rename, describe again
	actRetrain           action = "retrain"            // train now
	actImport            action = "import"             // import events
	actEditAccess        action = "edit_access"        // allowed origins and retention
	actManageMembers     action = "manage_members"     // members other than the owner
	actReadAudit         action = "read_audit"         // the audit log
	actManageDeletions   action = "manage_deletions"   // visitor and persona deletions
	actExportVisitor     action = "export_visitor"     // a visitor's data (access request)
	actTransferOwnership action = "transfer_ownership" // make another member the owner
	actDeleteProject     action = "delete_project"     // a deletion of scope all
	actRequireTwoFactor  action = "require_two_factor" // require two-factor sign-in of every member
)

// access is who may reach an action at all.
type access int

const (
	anyone      access = iota // no sign-in
	crossOrigin               // no sign-in, called from any site (CORS); site key and origin checked by the handler
	credentials               // signing in: the credentials are the body
	signedIn                  // any signed-in user (token or session); a handler that needs more checks it
	member                    // a member of the project named by :id with at least min; platform admins act as owners, non-members get 404
)

// policy is who may do an action.
type policy struct {
	access access
	min    models.Role // for member: the minimum project role
}

// policies is the policy table, the only place where an action meets a role (DESIGN.md's
// roles: viewer reads personas and stats; editor + capture settings, business context,
// rename, retrain; admin + members, origins, retention, deletions, audit log; owner +
// transfer ownership, delete the project; platform admin everything, everywhere).
var policies = map[action]policy{
	actPublic:       {access: anyone},
	actCollector:    {access: crossOrigin},
	actSignIn:       {access: credentials},
	actSignedIn:     {access: signedIn},
	actReadDeletion: {access: signedIn}, // deletionAccess: the requester, platform admins, and actManageDeletions

	actReadProject:       {member, models.RoleViewer},
	actReadPersonas:      {member, models.RoleViewer},
	actExportPersonas:    {member, models.RoleViewer},
	actReadStats:         {member, models.RoleViewer},
	actEditSettings:      {member, models.RoleEditor},
	actEditContext:       {member, models.RoleEditor},
	actEditPersonas:      {member, models.RoleEditor},
	actRetrain:           {member, models.RoleEditor},
	actImport:            {member, models.RoleEditor},
	actEditAccess:        {member, models.RoleAdmin},
	actManageMembers:     {member, models.RoleAdmin},
	actReadAudit:         {member, models.RoleAdmin},
	actManageDeletions:   {member, models.RoleAdmin},
	actExportVisitor:     {member, models.RoleAdmin},
	actTransferOwnership: {member, models.RoleOwner},
	actDeleteProject:     {member, models.RoleOwner},
	actRequireTwoFactor:  {member, models.RoleOwner},
}

// may reports whether a project role allows a project action.
func may(role models.Role, act action) bool {
	pol, ok := policies[act]
	return ok && pol.access == member && role.AtLeast(pol.min)
}

// need checks an action that depends on the body inside a route of the API (origins and
// retention in a settings change, a deletion of scope all). It writes the 403 and reports
// false when refused.
func (s *Server) need(c *gin.Context, act action) bool {
	if !may(roleFrom(c), act) {
		s.fail(c, models.ErrForbidden)
		return false
	}
	return true
}

// needRole is need for the dashboard's forms, whose handlers return their error.
func needRole(c *gin.Context, act action) error {
	if !may(roleFrom(c), act) {
		return models.ErrForbidden
	}
	return nil
}
