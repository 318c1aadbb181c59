package api

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
)

// auditRow is an audit entry with its actor named.
type auditRow struct {
	models.AuditEntry
	Actor   string
	Details string
}

// auditView is the audit page's data.
type auditView struct {
	Entries []auditRow
	Next    string
}

func (s *Server) auditPage(c *gin.Context) error {
	pj := projectFrom(c)
	entries, next, err := s.store.AuditPage(c, pj.ID, c.Query("cursor"), 50)
	if err != nil {
		return err
	}
	members, err := s.store.Members(c, pj.ID)
	if err != nil {
		return err
	}
	emails := map[uuid.UUID]string{}
	for _, m := range members {
		emails[m.UserID] = m.Email
	}
	v := auditView{Next: next}
	for _, e := range entries {
		row := auditRow{AuditEntry: e, Actor: "the service"}
		if e.ActorID != nil {
			row.Actor = emails[*e.ActorID]
			if row.Actor == "" {
				row.Actor = "former member " + e.ActorID.String()[:8]
			}
		}
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s: %v", strings.ReplaceAll(k, "_", " "), e.Details[k]))
		}
		row.Details = strings.Join(parts, "; ")
		v.Entries = append(v.Entries, row)
	}
	p, err := s.newPage(c, "Audit log · "+pj.Name, "audit", v)
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "audit", p)
	return nil
}
