package api

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
)

// The dashboard is server-rendered: one template per page on a shared layout, assets embedded,
// no build step. Reading works without JavaScript; app.js only adds live deletion status, typed
// confirmation and copy buttons.

//go:embed web
var webFS embed.FS

// dashboardPages are the page templates, each parsed with the layout.
var dashboardPages = append([]string{"login", "projects", "overview", "persona", "settings", "audit", "deletions",
	"deletion", "health", "error", "apidocs"}, teamsPages...)

// dashboardCSP keeps pages to their own scripts and styles; inline SVG needs no exception.
const dashboardCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// dashboard holds the parsed pages.
type dashboard struct {
	pages       map[string]*template.Template
	transitions transitionCache // where vanished personas' visitors went, per pair of versions
}

// parseDashboard parses every page with the layout; a broken template fails here, at start-up.
func parseDashboard() (*dashboard, error) {
	d := &dashboard{pages: map[string]*template.Template{}}
	for _, name := range dashboardPages {
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(webFS, "web/templates/layout.html",
			"web/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse dashboard page %s: %w", name, err)
		}
		d.pages[name] = t
	}
	return d, nil
}

// page is what every template receives: the layout's needs and the page's own data.
type page struct {
	Title   string
	Nav     string // the active project tab
	User    models.User
	CSRF    string
	Project *models.Project
	Role    models.Role
	Notice  string // a success message after a form (post/redirect/get)
	Data    any
}

// Can reports whether the viewer's role allows a project action of the policy table: templates
// show forms only to who may post them (the server checks again on the post). A name that is
// not a project action fails the page.
func (p page) Can(act string) (bool, error) {
	if pol, ok := policies[action(act)]; !ok || pol.access != member {
		return false, fmt.Errorf("template asks about %q, which is not a project action", act)
	}
	return may(p.Role, action(act)), nil
}

// staticFile serves one embedded asset. Folders, including /static/ itself, are 404: there is
// nothing to list.
func (s *Server) staticFile(c *gin.Context) {
	static, _ := fs.Sub(webFS, "web/static")
	name := strings.TrimPrefix(c.Param("file"), "/")
	f, err := static.Open(name)
	if err != nil {
		writeError(c, http.StatusNotFound, "not_found", "no such file", "")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	rs, seekable := f.(io.ReadSeeker)
	if err != nil || !st.Mode().IsRegular() || !seekable {
		writeError(c, http.StatusNotFound, "not_found", "no such file", "")
		return
	}
	c.Header("Cache-Control", "public, max-age=3600")
	http.ServeContent(c.Writer, c.Request, name, st.ModTime(), rs)
}

// html adapts a dashboard handler, which returns its error, to gin: the error becomes the
// error page.
func (s *Server) html(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.errorPage(c, err)
		}
	}
}

// newPage fills the layout's data for the signed-in user and the project of the route.
func (s *Server) newPage(c *gin.Context, title, nav string, data any) (page, error) {
	pr := principalFrom(c)
	u, err := s.store.User(c, pr.UserID)
	if err != nil {
		return page{}, err
	}
	p := page{Title: title, Nav: nav, User: u, CSRF: pr.SessionCSRF, Role: roleFrom(c), Data: data,
		Notice: notices[c.Query("done")]}
	if pj := projectFrom(c); pj.ID != uuid.Nil {
		p.Project = &pj
	}
	return p, nil
}

// notices are the messages a form's redirect may ask for: a fixed set, so that a link cannot
// put words on the page.
var notices = map[string]string{
	"renamed":     "The persona was renamed.",
	"enrich":      "The persona is being described again; refresh in a few seconds.",
	"train":       "Training started; the new model appears here when it is published.",
	"capture":     "Capture settings saved.",
	"access":      "Origins and retention saved.",
	"context":     "Business context saved. It is used the next time personas are described.",
	"page-labels": "Page labels saved. Charts use them now; persona texts the next time personas are described.",
	"member":      "Member added.",
	"role":        "Role changed.",
	"removed":     "Member removed.",
	"loggedin":    "",
}

// render executes a page into a buffer first, so that a template error becomes an error page
// instead of half a page.
func (s *Server) render(c *gin.Context, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.dash.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.logger.Error("render dashboard page", append(logAttrs(c), "page", name, "err", err.Error())...)
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString("internal error")
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
	c.Abort()
}

// redirect ends a form with a redirect to a page of this site (post/redirect/get).
func redirect(c *gin.Context, path, notice string) error {
	if notice != "" {
		path += "?done=" + url.QueryEscape(notice)
	}
	c.Redirect(http.StatusSeeOther, path)
	return nil
}

// projectPath is the path of a project page.
func projectPath(p models.Project, rest string) string { return "/projects/" + p.ID.String() + rest }

// templateFuncs are the helpers the templates use.
var templateFuncs = template.FuncMap{
	"pct":      pct,
	"num":      formatCount,
	"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"datetime": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	"ago":      ago,
	"label":    func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"join":     strings.Join,
	"lines":    func(v []string) string { return strings.Join(v, "\n") },
	"deref": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
	"hundred": func(v float64) float64 { return math.Round(v*1000) / 10 },
}

// pct formats a share in 0..1 as a whole percentage ("<1 %" for small non-zero shares).
func pct(v float64) string { return models.FormatPercent(v) }

// formatCount writes a count with thin thousands separators.
func formatCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + formatCount(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ago says how long ago a time was, in words.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	}
	return plural(int(d.Hours()/24), "day") + " ago"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
