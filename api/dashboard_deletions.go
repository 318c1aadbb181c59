package api

import (
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"personas/ingest"
	"personas/models"
)

// deletionsPageView is the deletions page's data.
type deletionsPageView struct {
	Deletions []models.Deletion
}

func (s *Server) deletionsPage(c *gin.Context) error {
	pj := projectFrom(c)
	ds, err := s.store.Deletions(c, pj.ID, 50)
	if err != nil {
		return err
	}
	p, err := s.newPage(c, "Deletions · "+pj.Name, "deletions", deletionsPageView{Deletions: ds})
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "deletions", p)
	return nil
}

// deletionForm starts a deletion after a typed confirmation: the project's name. Visitor and
// personas scopes need an admin, the whole project its owner (as the API).
func (s *Server) deletionForm(c *gin.Context) error {
	pj := projectFrom(c)
	scope := c.PostForm("scope")
	var hash []byte
	switch scope {
	case models.ScopeVisitor:
		vid := strings.TrimSpace(c.PostForm("visitor_id"))
		if err := ingest.CheckID("visitor_id", vid); err != nil {
			return models.Invalid("visitor_id", "the visitor id is required for a visitor deletion (at most 128 characters)")
		}
		hash = s.store.VisitorHash(pj.ID, vid)
	case models.ScopePersonas:
	case models.ScopeAll:
		if err := needRole(c, actDeleteProject); err != nil {
			return err
		}
	default:
		return models.Invalid("scope", "choose what to delete: one visitor, the personas or the whole project")
	}
	if strings.TrimSpace(c.PostForm("confirm")) != pj.Name {
		return models.Invalid("confirm", "type the project's name exactly to confirm the deletion")
	}
	d, err := s.startDeletion(c, pj, scope, hash, "dashboard")
	if err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, projectPath(pj, "/deletions/"+d.ID.String()))
	return nil
}

// countRow is one store's count of removed rows or keys.
type countRow struct {
	Store string
	N     int64
}

// deletionPageView is one deletion's page data.
type deletionPageView struct {
	D         models.Deletion
	Counts    []countRow
	Finished  bool
	ProjectID string
}

// deletionPage shows a deletion's status, live until it is done (JavaScript polls the API;
// without it the page refreshes itself).
func (s *Server) deletionPage(c *gin.Context) error {
	d, err := s.deletionAccess(c)
	if err != nil {
		return err
	}
	v := deletionPageView{D: d, Finished: d.Status == "done" || d.Status == "failed", ProjectID: d.ProjectID.String()}
	for k, n := range d.Counts {
		v.Counts = append(v.Counts, countRow{Store: k, N: n})
	}
	sort.Slice(v.Counts, func(i, j int) bool { return v.Counts[i].Store < v.Counts[j].Store })
	// The project may be gone (scope all): the page shows without its navigation then.
	if s.projectAccess(c, actManageDeletions) != nil {
		c.Set(roleKey, models.RoleNone)
	}
	p, err := s.newPage(c, "Deletion "+d.ID.String()[:8], "deletions", v)
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "deletion", p)
	return nil
}
