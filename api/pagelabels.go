package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"personas/models"
)

// pageLabelsBody is the page-label table of a project, as read and written whole.
type pageLabelsBody struct {
	Labels []models.PageLabel `json:"labels"`
}

// getPageLabels lists the project's own labels of its path groups (viewer+).
func (s *Server) getPageLabels(c *gin.Context) {
	labels, err := s.store.PageLabelList(c, projectFrom(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pageLabelsBody{Labels: labels})
}

// putPageLabels replaces the project's page-label table (editor+).
func (s *Server) putPageLabels(c *gin.Context) {
	var req pageLabelsBody
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.Labels == nil {
		s.fail(c, models.Invalid("labels", "required: a list of {path_group, label}, empty to clear"))
		return
	}
	pid := projectFrom(c).ID
	stored, err := s.store.SetPageLabels(c, pid, req.Labels)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, pid, "page_labels.update", pid.String(), map[string]any{"count": len(stored)})
	c.JSON(http.StatusOK, pageLabelsBody{Labels: stored})
}
