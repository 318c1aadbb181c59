package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
)

// auditRow is a group of audit entries in words: who did what to what, how often.
type auditRow struct {
	models.AuditGroup
	When    string // the time, or the span of a group
	Actor   string
	What    string // a sentence naming the target
	Link    string // a page about the target, when there is one
	Details string // details no sentence covers (actions this page does not know)
}

// auditAction is one action the log's filter offers.
type auditAction struct {
	Code, Label string
	Selected    bool
}

// auditView is the audit page's data.
type auditView struct {
	Entries []auditRow
	Next    string
	Action  string // the filter, empty for every action
	Actions []auditAction
}

// auditLabels name the actions the service records, for the filter.
var auditLabels = map[string]string{
	"events.import":    "Imports",
	"model.train":      "Retrains",
	"persona.rename":   "Persona renamed",
	"persona.enrich":   "Persona described again",
	"project.create":   "Project created",
	"project.update":   "Settings changed",
	"project.transfer": "Ownership transferred",
	"context.update":   "Business context changed",
	"member.add":       "Member added",
	"member.update":    "Member's role changed",
	"member.remove":    "Member removed",
	"deletion.create":  "Deletion requested",
	"visitor.export":   "Visitor data exported",
}

// deletionScopeWords say what a deletion covered.
var deletionScopeWords = map[string]string{
	models.ScopeVisitor:  "one visitor's data",
	models.ScopePersonas: "the personas and models",
	models.ScopeAll:      "the whole project",
}

func (s *Server) auditPage(c *gin.Context) error {
	pj := projectFrom(c)
	recorded, err := s.store.AuditActions(c, pj.ID)
	if err != nil {
		return err
	}
	action := c.Query("action")
	actions := auditFilter(recorded, action)
	if action != "" && !slices.ContainsFunc(actions, func(a auditAction) bool { return a.Code == action }) {
		return models.Invalid("action", "not an action of the audit log")
	}
	groups, next, err := s.store.AuditGroups(c, pj.ID, action, c.Query("cursor"), 50)
	if err != nil {
		return err
	}
	names, err := s.auditNames(c, pj, groups)
	if err != nil {
		return err
	}
	v := auditView{Next: next, Action: action, Actions: actions}
	for _, g := range groups {
		v.Entries = append(v.Entries, auditWords(g, pj, names))
	}
	p, err := s.newPage(c, "Audit log · "+pj.Name, "audit", v)
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "audit", p)
	return nil
}

// auditFilter is the filter's choice: the actions the service knows and any other recorded in
// this project's log, so that the page accepts exactly what its select offers.
func auditFilter(recorded []string, selected string) []auditAction {
	codes := make([]string, 0, len(auditLabels)+len(recorded))
	for code := range auditLabels {
		codes = append(codes, code)
	}
	for _, code := range recorded {
		if _, ok := auditLabels[code]; !ok {
			codes = append(codes, code)
		}
	}
	out := make([]auditAction, 0, len(codes))
	for _, code := range codes {
		l := auditLabels[code]
		if l == "" {
			l = code
		}
		out = append(out, auditAction{Code: code, Label: l, Selected: code == selected})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

// auditNamer names the people and personas an audit page mentions.
type auditNamer struct {
	users    map[uuid.UUID]string // emails; "(former member)", "(platform admin)" or "a deleted account" for non-members
	personas map[uuid.UUID]string
}

// auditNames resolves the actors and targets of a page: members' emails (decrypted by the
// store, as on the members page), former members' emails through their account, persona
// names, current or retired.
func (s *Server) auditNames(ctx context.Context, pj models.Project, groups []models.AuditGroup) (auditNamer, error) {
	n := auditNamer{users: map[uuid.UUID]string{}}
	members, err := s.store.Members(ctx, pj.ID)
	if err != nil {
		return n, err
	}
	for _, m := range members {
		n.users[m.UserID] = m.Email
	}
	resolve := func(id uuid.UUID) error {
		if _, ok := n.users[id]; ok {
			return nil
		}
		u, err := s.store.User(ctx, id)
		switch {
		case errors.Is(err, models.ErrNotFound):
			n.users[id] = "a deleted account"
		case err != nil:
			return err
		case u.PlatformAdmin:
			n.users[id] = u.Email + " (platform admin)"
		default:
			n.users[id] = u.Email + " (former member)"
		}
		return nil
	}
	needPersonas := false
	for _, g := range groups {
		if g.ActorID != nil {
			if err := resolve(*g.ActorID); err != nil {
				return n, err
			}
		}
		switch g.Action {
		case "member.add", "member.update", "member.remove", "project.transfer":
			if id, err := uuid.Parse(g.Target); err == nil {
				if err := resolve(id); err != nil {
					return n, err
				}
			}
		case "persona.rename", "persona.enrich":
			needPersonas = true
		}
	}
	if needPersonas {
		if n.personas, err = s.store.PersonaNames(ctx, pj.ID); err != nil {
			return n, err
		}
	}
	return n, nil
}

// auditWords writes a group as a sentence.
func auditWords(g models.AuditGroup, pj models.Project, n auditNamer) auditRow {
	r := auditRow{AuditGroup: g, Actor: "the service", When: auditWhen(g.First, g.At)}
	if g.ActorID != nil {
		r.Actor = n.users[*g.ActorID]
	}
	user := func() string {
		id, err := uuid.Parse(g.Target)
		if err != nil {
			return "a member"
		}
		return n.users[id]
	}
	persona := func() string {
		id, err := uuid.Parse(g.Target)
		if err != nil || n.personas[id] == "" {
			return "a persona no longer stored"
		}
		r.Link = projectPath(pj, "/personas/"+id.String())
		return n.personas[id]
	}
	str := func(k string) string { s, _ := g.Details[k].(string); return s }
	num := func(k string) int64 { f, _ := g.Details[k].(float64); return int64(f) }
	times := func() string {
		if g.Count > 1 {
			return fmt.Sprintf(" (%d times)", g.Count)
		}
		return ""
	}
	switch g.Action {
	case "events.import":
		r.What = "Imported " + plural64(num("accepted"), "event")
		if g.Count > 1 {
			r.What += fmt.Sprintf(" (%d batches)", g.Count)
		}
		if rej := num("rejected"); rej > 0 {
			r.What += "; " + plural64(rej, "line") + " rejected"
		}
	case "model.train":
		r.What = "Started a retrain" + times()
	case "persona.rename":
		r.What = "Renamed the persona now called " + persona() + times()
	case "persona.enrich":
		r.What = "Asked for a new description of " + persona() + times()
	case "project.create":
		r.What = "Created the project"
	case "project.update":
		r.What = "Changed the settings"
		if fs, ok := g.Details["fields"].([]any); ok && len(fs) > 0 {
			parts := make([]string, 0, len(fs))
			for _, f := range fs {
				parts = append(parts, strings.ReplaceAll(fmt.Sprint(f), "_", " "))
			}
			r.What += ": " + strings.Join(parts, ", ")
		}
		r.What += times()
	case "project.transfer":
		r.What = "Transferred ownership to " + user()
	case "context.update":
		r.What = "Changed the business context" + times()
	case "member.add":
		r.What = "Added " + user() + " as " + str("role")
	case "member.update":
		r.What = "Changed the role of " + user() + " to " + str("role")
	case "member.remove":
		r.What = "Removed " + user() + " from the project"
	case "deletion.create":
		what := deletionScopeWords[str("scope")]
		if what == "" {
			what = "data"
		}
		r.What = "Asked to delete " + what + times()
		if id, err := uuid.Parse(g.Target); err == nil {
			r.Link = projectPath(pj, "/deletions/"+id.String())
		}
	case "visitor.export":
		r.What = "Exported one visitor's data (an access request)" + times()
	default:
		r.What = g.Action + times()
		keys := make([]string, 0, len(g.Details))
		for k := range g.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s: %v", strings.ReplaceAll(k, "_", " "), g.Details[k]))
		}
		r.Details = strings.Join(parts, "; ")
	}
	return r
}

// auditWhen is an entry's time, or a group's span.
func auditWhen(first, last time.Time) string {
	f, l := first.UTC(), last.UTC()
	switch {
	case l.Sub(f) < time.Minute:
		return l.Format("2 Jan 2006, 15:04 UTC")
	case f.YearDay() == l.YearDay() && f.Year() == l.Year():
		return f.Format("2 Jan 2006, 15:04") + "–" + l.Format("15:04 UTC")
	}
	return f.Format("2 Jan 2006, 15:04") + " – " + l.Format("2 Jan 2006, 15:04 UTC")
}

// plural64 writes a count of things with thousands separators.
func plural64(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return formatCount(n) + " " + word + "s"
}
