// Package api is the HTTP surface of Personas: the Gin router, its middleware (request id,
// access log, recovery, limits, authentication, the role policy, origin checks), the handlers of
// the public collector API and the management API, and the embedded dashboard.
//
// Every route, of the API and of the dashboard, is a line of one route table (routeTable, in
// routes.go) naming its action; one policy table (policies, in policy.go) says who may do each
// action, and it is the only place where actions meet roles. routes registers the table in one
// loop, putting in front of each handler the middleware its action's policy asks for. Domain
// errors become statuses in one function, statusOf, which both the JSON errors (fail) and the
// dashboard's error page (errorPage) answer with; they alone log server errors.
package api
