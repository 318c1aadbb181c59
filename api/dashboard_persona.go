package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/classifier"
	"personas/models"
)

// personaView is the persona page's data.
type personaView struct {
	Persona   models.Persona
	Avatar    any
	Stability string
	Traits    hbarChart  // shares, on one 0–100 % scale
	Amounts   hbarChart  // counts and times
	Lifts     []goalLine // per goal, the lift in words (none for models without lifts)
	GoalChart hbarChart  // the same goals as bars; from the goal shares when there are no lifts
	Charts    []hbarChart
}

func (s *Server) personaOf(c *gin.Context) (models.Persona, error) {
	id, err := uuid.Parse(c.Param("pid"))
	if err != nil {
		return models.Persona{}, models.ErrNotFound
	}
	return s.store.Persona(c, projectFrom(c).ID, id)
}

func (s *Server) personaPage(c *gin.Context) error {
	pe, err := s.personaOf(c)
	if err != nil {
		return err
	}
	labels, err := s.store.PageLabels(c, projectFrom(c).ID)
	if err != nil {
		return err
	}
	v := personaPageView(pe, labels.Label)
	p, err := s.newPage(c, pe.Name, "overview", v)
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "persona", p)
	return nil
}

// personaPageView lays out a persona's figures. Each goal appears once: as the share of the
// persona's visitors who reached it, with its lift when the model computed one.
func personaPageView(pe models.Persona, pageLabel func(string) string) personaView {
	st := personaStats(pe)
	v := personaView{Persona: pe, Avatar: avatarHTML(pe.Picture), Stability: stabilityWords(pe.Stability),
		Lifts: goalLines(st.GoalLifts)}
	// Pages, channels, devices and hours have their charts below (shares of the persona's page
	// views, visits, activity): the trait chart does not state them a second time.
	skip := map[string]bool{}
	for kind, shares := range map[string][]classifier.Share{"path": st.TopPaths, "channel": st.Channels, "device": st.Devices, "hours": st.Hours} {
		for _, sh := range shares {
			skip[kind+":"+sh.Key] = true
		}
	}
	v.Traits, v.Amounts = traitCharts(st.Traits, 8, skip, pageLabel)
	if len(v.Lifts) > 0 {
		v.GoalChart = goalChart(v.Lifts)
	} else {
		v.GoalChart = shareChart("Goals: share of visitors who reached each (0–100 %)", st.Goals, goalName)
		v.GoalChart.ID = "goal-chart"
	}
	for _, ch := range []hbarChart{
		shareChart("Top pages (share of their page views)", st.TopPaths, pageLabel),
		shareChart("Channels (share of visits)", st.Channels, titleCase),
		shareChart("Devices (share of visits)", st.Devices, titleCase),
		shareChart("Active hours (share of activity)", st.Hours, hourLabel),
	} {
		if len(ch.Rows) > 0 {
			v.Charts = append(v.Charts, ch)
		}
	}
	return v
}

func hourLabel(k string) string {
	return map[string]string{"night": "Night (0–6 h)", "morning": "Morning (6–12 h)", "afternoon": "Afternoon (12–18 h)",
		"evening": "Evening (18–24 h)"}[k]
}

// titleCase capitalises an ASCII key for a label.
func titleCase(k string) string {
	if k == "" {
		return k
	}
	return strings.ToUpper(k[:1]) + k[1:]
}

// renameForm renames a persona (editor+), as PATCH /v1/projects/{id}/personas/{pid}.
func (s *Server) renameForm(c *gin.Context) error {
	pe, err := s.personaOf(c)
	if err != nil {
		return err
	}
	pj := projectFrom(c)
	if _, err := s.store.RenamePersona(c, pj.ID, pe.ID, c.PostForm("name")); err != nil {
		return err
	}
	s.audit(c, pj.ID, "persona.rename", pe.ID.String(), nil)
	s.classifySvc.EvictModel(pj.ID) // classify answers carry the name
	return redirect(c, projectPath(pj, "/personas/"+pe.ID.String()), "renamed")
}

// enrichForm describes a persona again (editor+), as POST …/personas/{pid}/enrich.
func (s *Server) enrichForm(c *gin.Context) error {
	pe, err := s.personaOf(c)
	if err != nil {
		return err
	}
	pj := projectFrom(c)
	if err := s.jobs.EnqueueEnrich(c, pj.ID, pe.ID); err != nil {
		return errStatus(http.StatusServiceUnavailable, "unavailable", "the job queue is unavailable, retry later")
	}
	s.audit(c, pj.ID, "persona.enrich", pe.ID.String(), nil)
	return redirect(c, projectPath(pj, "/personas/"+pe.ID.String()), "enrich")
}
