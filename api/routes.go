package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"personas/collector"
	"personas/models"
)

// Body limits: the collector contract allows 64 KiB; management bodies are small; forms (the
// dashboard's, sign-in) smaller still; imports stream.
const (
	maxManagementBody = 256 << 10
	maxCollectBody    = 64 << 10
	maxFormBody       = 64 << 10
)

// route is one line of the route table: a method and path, what calling it does (its action,
// whose policy says who may), and its handler. Paths under /v1/ are the JSON API; the others
// answer HTML (the dashboard) or are the operational endpoints and assets.
type route struct {
	method, path string
	action       action
	handler      gin.HandlerFunc
}

// routeTable is every route of the service: the operational endpoints, the collector's public
// API and script, the management API and the dashboard's pages and forms (outside /v1 so that
// they can answer with redirects). routes registers it in one loop; policies says who may call
// each action.
func (s *Server) routeTable() []route {
	script := gin.WrapH(collector.Handler())
	return append([]route{
		// Operations: anyone on the network the service listens on.
		{"GET", "/healthz", actPublic, s.healthz},
		{"GET", "/readyz", actPublic, s.readyz},
		{"GET", "/metrics", actPublic, s.metricsHandler()},
		{"GET", "/v1/openapi.yaml", actPublic, s.openAPI},

		// The collector's script, and its API on the customers' pages (site key and origin
		// checked per request by the handlers).
		{"GET", collector.Path(), actPublic, script},
		{"HEAD", collector.Path(), actPublic, script},
		{"OPTIONS", "/v1/collect", actCollector, preflight},
		{"POST", "/v1/collect", actCollector, s.collect},
		{"GET", "/v1/config", actCollector, s.siteConfig},
		{"OPTIONS", "/v1/forget", actCollector, preflight},
		{"POST", "/v1/forget", actCollector, s.forget},
		{"GET", "/v1/receipt-key", actCollector, s.receiptKey},
		{"OPTIONS", "/v1/classify", actCollector, preflight},
		{"POST", "/v1/classify", actCollector, s.classify},

		// The caller's own account, tokens and projects.
		{"POST", "/v1/session", actSignIn, s.login},
		{"DELETE", "/v1/session", actSignedIn, s.logout},
		{"POST", "/v1/sessions/revoke", actSignedIn, s.endSessions},
		{"GET", "/v1/me", actSignedIn, s.me},
		{"PUT", "/v1/me/password", actSignedIn, s.changePassword},
		{"GET", "/v1/tokens", actSignedIn, s.listTokens},
		{"POST", "/v1/tokens", actSignedIn, s.createToken},
		{"DELETE", "/v1/tokens/:token_id", actSignedIn, s.revokeToken},
		{"GET", "/v1/projects", actSignedIn, s.listProjects},
		{"POST", "/v1/projects", actSignedIn, s.createProject},

		// A project: its settings, members and audit log.
		{"GET", "/v1/projects/:id", actReadProject, s.getProject},
		{"PATCH", "/v1/projects/:id", actEditSettings, s.updateProject}, // origins and retention: actEditAccess, checked on the body
		{"GET", "/v1/projects/:id/members", actManageMembers, s.listMembers},
		{"POST", "/v1/projects/:id/members", actManageMembers, s.addMember},
		{"PATCH", "/v1/projects/:id/members/:user_id", actManageMembers, s.updateMember},
		{"DELETE", "/v1/projects/:id/members/:user_id", actManageMembers, s.removeMember},
		{"POST", "/v1/projects/:id/transfer", actTransferOwnership, s.transferOwnership},
		{"GET", "/v1/projects/:id/audit", actReadAudit, s.auditLog},
		{"GET", "/v1/projects/:id/snippet", actReadProject, s.snippet},

		// A project's data: import, export, deletions. A deletion's status and receipt outlive
		// the project: the requester and platform admins may read them after it is gone, so
		// their handlers check access themselves (deletionAccess).
		{"POST", "/v1/projects/:id/import", actImport, s.importEvents},
		{"GET", "/v1/projects/:id/visitors/:visitor_id/export", actExportVisitor, s.exportVisitor},
		{"POST", "/v1/projects/:id/deletions", actManageDeletions, s.createDeletion}, // scope all: actDeleteProject, checked on the body
		{"GET", "/v1/projects/:id/deletions", actManageDeletions, s.listDeletions},
		{"GET", "/v1/projects/:id/deletions/:did", actReadDeletion, s.getDeletion},
		{"GET", "/v1/projects/:id/deletions/:did/receipt", actReadDeletion, s.getReceipt},

		// Modelling, personas, business context and delivery statistics.
		{"POST", "/v1/projects/:id/models", actRetrain, s.trainNow},
		{"GET", "/v1/projects/:id/models", actReadPersonas, s.listModels},
		{"GET", "/v1/projects/:id/models/:version", actReadPersonas, s.getModel},
		{"GET", "/v1/projects/:id/training-runs", actReadPersonas, s.listTrainingRuns},
		{"GET", "/v1/projects/:id/training-runs/:run_id", actReadPersonas, s.getTrainingRun},
		{"GET", "/v1/projects/:id/personas", actReadPersonas, s.listPersonas},
		{"GET", "/v1/projects/:id/personas/history", actReadPersonas, s.personaHistory},
		{"GET", "/v1/projects/:id/personas/export", actExportPersonas, s.exportPersonas},
		{"GET", "/v1/projects/:id/personas/:pid", actReadPersonas, s.getPersona},
		{"PATCH", "/v1/projects/:id/personas/:pid", actEditPersonas, s.renamePersona},
		{"POST", "/v1/projects/:id/personas/:pid/enrich", actEditPersonas, s.enrichPersona},
		{"GET", "/v1/projects/:id/personas/:pid/picture.svg", actReadPersonas, s.personaPicture},
		{"GET", "/v1/projects/:id/context", actEditContext, s.getContext},
		{"PUT", "/v1/projects/:id/context", actEditContext, s.putContext},
		{"GET", "/v1/projects/:id/page-labels", actReadProject, s.getPageLabels},
		{"PUT", "/v1/projects/:id/page-labels", actEditSettings, s.putPageLabels},
		{"GET", "/v1/projects/:id/ingest-stats", actReadStats, s.ingestStats},

		// The dashboard: sign-in and assets.
		{"GET", "/static/*file", actPublic, s.staticFile},
		{"GET", "/login", actPublic, s.loginPage},
		{"GET", "/docs/api", actPublic, s.html(s.apiDocsPage)},
		{"POST", "/login", actSignIn, s.loginForm},
		{"GET", "/", actSignedIn, s.html(s.projectsPage)},
		{"POST", "/logout", actSignedIn, s.html(s.logoutForm)},
		{"POST", "/logout/everywhere", actSignedIn, s.html(s.logoutEverywhereForm)},

		// The dashboard's project pages and their forms.
		{"GET", "/projects/:id", actReadPersonas, s.html(s.overviewPage)},
		{"POST", "/projects/:id/train", actRetrain, s.html(s.trainForm)},
		{"GET", "/projects/:id/personas/:pid", actReadPersonas, s.html(s.personaPage)},
		{"POST", "/projects/:id/personas/:pid/rename", actEditPersonas, s.html(s.renameForm)},
		{"POST", "/projects/:id/personas/:pid/enrich", actEditPersonas, s.html(s.enrichForm)},
		{"GET", "/projects/:id/settings", actReadProject, s.html(s.settingsPage)},
		{"POST", "/projects/:id/settings/capture", actEditSettings, s.html(s.captureForm)},
		{"POST", "/projects/:id/settings/access", actEditAccess, s.html(s.accessForm)},
		{"POST", "/projects/:id/settings/context", actEditContext, s.html(s.contextForm)},
		{"POST", "/projects/:id/settings/page-labels", actEditSettings, s.html(s.pageLabelsForm)},
		{"POST", "/projects/:id/members", actManageMembers, s.html(s.addMemberForm)},
		{"POST", "/projects/:id/members/:user_id/role", actManageMembers, s.html(s.memberRoleForm)},
		{"POST", "/projects/:id/members/:user_id/remove", actManageMembers, s.html(s.removeMemberForm)},
		{"GET", "/projects/:id/audit", actReadAudit, s.html(s.auditPage)},
		{"GET", "/projects/:id/deletions", actManageDeletions, s.html(s.deletionsPage)},
		{"POST", "/projects/:id/deletions", actManageDeletions, s.html(s.deletionForm)},
		{"GET", "/projects/:id/deletions/:did", actReadDeletion, s.html(s.deletionPage)},
		{"GET", "/projects/:id/health", actReadStats, s.html(s.healthPage)},
	}, s.teamsRouteTable()...)
}

// preflight is the handler of the collector API's OPTIONS routes: cors has answered already.
func preflight(*gin.Context) {}

// isAPI reports whether a route template is the JSON API's, whose errors are JSON (fail);
// the others are the dashboard's, whose errors are pages (errorPage).
func isAPI(path string) bool { return strings.HasPrefix(path, "/v1/") }

// routes builds the router: the global middleware, then every line of the route table with the
// middleware its action's policy asks for.
func (s *Server) routes() *gin.Engine {
	d, err := parseDashboard()
	if err != nil {
		panic(err) // the templates are embedded: a parse error is a build error, caught by the tests
	}
	s.dash = d
	if s.apiDocs, err = buildAPIDocs(); err != nil {
		panic(err) // the document is embedded: an invalid one is a build error, caught by the tests
	}

	r := gin.New()
	// ClientIP is the peer address, unless the peer is a trusted proxy: then X-Forwarded-For is
	// read from the right, skipping trusted hops, and the first other address is the client.
	proxies := make([]string, len(s.cfg.TrustedProxies))
	for i, p := range s.cfg.TrustedProxies {
		proxies[i] = p.String()
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		panic(fmt.Sprintf("trusted proxies %v: %v", proxies, err)) // parsed by config: cannot happen
	}
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	r.ForwardedByClientIP = true
	r.HandleMethodNotAllowed = true
	r.Use(withRequestID, s.recovery, s.metricsMiddleware, s.accessLog, s.securityHeaders)
	r.NoRoute(func(c *gin.Context) { writeError(c, http.StatusNotFound, "not_found", "no such route", "") })
	r.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route", "")
	})
	for _, rt := range s.routeTable() {
		r.Handle(rt.method, rt.path, append(s.middleware(rt), rt.handler)...)
	}
	return r
}

// middleware is the chain in front of a route's handler, from its action's policy and its
// audience (the JSON API or the dashboard's pages):
//
//	anyone       nothing
//	crossOrigin  cors
//	credentials  the body limit (API), the form body, parsed before the handler
//	signedIn     the body limit (API) or the form body (dashboard), then guard
//	member       the same, guard checking the project role too
func (s *Server) middleware(rt route) []gin.HandlerFunc {
	pol, ok := policies[rt.action]
	if !ok {
		panic(fmt.Sprintf("route %s %s: action %q has no policy", rt.method, rt.path, rt.action))
	}
	api := isAPI(rt.path)
	fail := s.errorPage
	if api {
		fail = s.fail
	}
	var hs []gin.HandlerFunc
	switch pol.access {
	case anyone:
	case crossOrigin:
		hs = append(hs, cors)
	case credentials, signedIn, member:
		if api {
			hs = append(hs, limitBody(maxManagementBody))
		}
		if !api || pol.access == credentials {
			hs = append(hs, formBody(maxFormBody, fail))
		}
		if pol.access != credentials {
			hs = append(hs, s.guard(rt.action, !api))
		}
	default:
		panic(fmt.Sprintf("action %q: unknown access %d", rt.action, pol.access))
	}
	return hs
}

// guard resolves the caller (bearer token or session cookie, with the CSRF and same-origin
// checks of cookie writes) and, for a project action, the caller's role in the project named
// by :id (projectAccess: non-members get 404, members below the role 403). A dashboard reader
// without a session is sent to the login page; other refusals are the JSON error or the error
// page.
func (s *Server) guard(act action, html bool) gin.HandlerFunc {
	pol := policies[act]
	fail := s.fail
	if html {
		fail = s.errorPage
	}
	return func(c *gin.Context) {
		p, err := s.principal(c)
		if err != nil {
			if html && errors.Is(err, models.ErrUnauthenticated) && c.Request.Method == http.MethodGet {
				c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
				c.Abort()
				return
			}
			fail(c, err)
			return
		}
		c.Set(principalKey, p)
		if pol.access == member {
			if err := s.projectAccess(c, act); err != nil {
				if html && twoFactorSetupRequired(err) && c.Request.Method == http.MethodGet {
					// A project that requires two-factor sign-in: set it up before opening it.
					c.Redirect(http.StatusSeeOther, "/security?setup=required")
					c.Abort()
					return
				}
				fail(c, err)
				return
			}
		}
		c.Next()
	}
}
