package api

import "personas/models"

// PolicyRoute is one line of the project policy table as the role tests see it.
type PolicyRoute struct {
	Method, Path string // Path is the full route template, /v1/projects/:id…
	Role         models.Role
}

// PolicyTable exposes the policy table of project routes to the external tests, so a route
// added to it is covered by the role matrix without editing the test.
func (s *Server) PolicyTable() []PolicyRoute {
	var out []PolicyRoute
	for _, rt := range s.projectRoutes() {
		out = append(out, PolicyRoute{Method: rt.method, Path: "/v1/projects/:id" + rt.path, Role: rt.role})
	}
	return out
}

// DashboardPolicyTable exposes the dashboard's policy table of project pages and forms.
func (s *Server) DashboardPolicyTable() []PolicyRoute {
	var out []PolicyRoute
	for _, rt := range s.dashboardTable() {
		if rt.role != models.RoleNone {
			out = append(out, PolicyRoute{Method: rt.method, Path: rt.path, Role: rt.role})
		}
	}
	return out
}
