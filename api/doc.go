// Package api is the HTTP surface of Personas: the Gin router, its middleware (request id,
// access log, recovery, limits, authentication, the role policy, origin checks), the handlers of
// the public collector API and the management API, and the embedded dashboard.
//
// Every route is registered in one function, routes, grouped by who may call it; the policy
// table there is the only place where roles are checked. Domain errors become statuses in one
// function, fail, which alone logs server errors.
package api
