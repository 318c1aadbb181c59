package api

import "personas/models"

// PolicyRoute is one line of the project policy table as the role tests see it.
type PolicyRoute struct {
	Method, Path string // Path is the full route template, /v1/projects/:id…
	Role         models.Role
}

// PolicyTable exposes the project routes of the API (the route table's lines whose action
// needs a project role) to the external tests, so a route added to the table is covered by
// the role matrix without editing the test.
func (s *Server) PolicyTable() []PolicyRoute { return s.projectPolicy(true) }

// DashboardPolicyTable exposes the dashboard's project pages and forms in the same way.
func (s *Server) DashboardPolicyTable() []PolicyRoute { return s.projectPolicy(false) }

func (s *Server) projectPolicy(api bool) []PolicyRoute {
	var out []PolicyRoute
	for _, rt := range s.routeTable() {
		if pol := policies[rt.action]; pol.access == member && isAPI(rt.path) == api {
			out = append(out, PolicyRoute{Method: rt.method, Path: rt.path, Role: pol.min})
		}
	}
	return out
}

// TableRoute is one line of the route table as the tests see it, with its action's policy.
type TableRoute struct {
	Method, Path, Action string
	HasPolicy            bool
	Access               string      // anyone, cross-origin, credentials, signed-in or member
	Role                 models.Role // for member
}

var accessNames = map[access]string{anyone: "anyone", crossOrigin: "cross-origin", credentials: "credentials",
	signedIn: "signed-in", member: "member"}

// RouteTable exposes the whole route table.
func (s *Server) RouteTable() []TableRoute {
	var out []TableRoute
	for _, rt := range s.routeTable() {
		pol, ok := policies[rt.action]
		out = append(out, TableRoute{Method: rt.method, Path: rt.path, Action: string(rt.action), HasPolicy: ok,
			Access: accessNames[pol.access], Role: pol.min})
	}
	return out
}

// Actions lists the actions of the policy table.
func Actions() []string {
	var out []string
	for a := range policies {
		out = append(out, string(a))
	}
	return out
}
