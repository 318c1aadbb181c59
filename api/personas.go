package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"personas/models"
)

// trainNow records a training run and enqueues the training. The run answers with what
// happened, including "skipped" and why when the data allows no model.
func (s *Server) trainNow(c *gin.Context) {
	p := projectFrom(c)
	by := principalFrom(c).UserID
	run, err := s.store.CreateTrainingRun(c, p.ID, &by)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.jobs.EnqueueTrain(c, p.ID); err != nil {
		// The run is recorded but nothing will pick it up: say so on the run and to the caller.
		_ = s.store.FinishTrainingRuns(c, p.ID, run.ID, "failed", "could not enqueue the training; retry")
		s.fail(c, errStatus(http.StatusServiceUnavailable, "unavailable", "the job queue is unavailable, retry later"))
		return
	}
	s.audit(c, p.ID, "model.train", run.ID.String(), nil)
	c.JSON(http.StatusAccepted, gin.H{"id": run.ID, "status": run.Status})
}

func (s *Server) listModels(c *gin.Context) {
	p := projectFrom(c)
	ms, err := s.store.Models(c, p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	runs, err := s.store.TrainingRuns(c, p.ID, 20)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]modelBody, len(ms))
	for i, m := range ms {
		out[i] = modelBody{ModelInfo: m, Metrics: metricsAnswer(m.Metrics)}
	}
	if runs == nil {
		runs = []models.TrainingRun{}
	}
	c.JSON(http.StatusOK, gin.H{"models": out, "model_version": p.ModelVersion, "training_runs": runs})
}

func (s *Server) getModel(c *gin.Context) {
	p := projectFrom(c)
	v, err := strconv.Atoi(c.Param("version"))
	if err != nil || v < 1 {
		s.fail(c, models.ErrNotFound)
		return
	}
	m, err := s.store.ModelInfo(c, p.ID, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	hist, err := s.store.PersonaHistory(c, p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	personas := []models.DriftPoint{}
	for _, h := range hist {
		if h.ModelVersion == v {
			personas = append(personas, h)
		}
	}
	c.JSON(http.StatusOK, gin.H{"version": m.Version, "k": m.K, "n_visitors": m.NVisitors, "metrics": metricsAnswer(m.Metrics),
		"trained_at": m.TrainedAt, "stale_since": m.StaleSince, "replaced_by": m.ReplacedBy, "current": m.Current,
		"personas": personas})
}

func (s *Server) listTrainingRuns(c *gin.Context) {
	runs, err := s.store.TrainingRuns(c, projectFrom(c).ID, 50)
	if err != nil {
		s.fail(c, err)
		return
	}
	if runs == nil {
		runs = []models.TrainingRun{}
	}
	c.JSON(http.StatusOK, gin.H{"training_runs": runs})
}

func (s *Server) getTrainingRun(c *gin.Context) {
	id, err := uuid.Parse(c.Param("run_id"))
	if err != nil {
		s.fail(c, models.ErrNotFound)
		return
	}
	run, err := s.store.TrainingRun(c, projectFrom(c).ID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, run)
}

// withPicture points a persona's picture_url at its SVG route.
func (s *Server) withPicture(projectID uuid.UUID, p models.Persona) models.Persona {
	p.PictureURL = s.cfg.PublicURL + "/v1/projects/" + projectID.String() + "/personas/" + p.ID.String() + "/picture.svg"
	return p
}

// personaBody is a persona as the API answers it: the stored persona, its picture's URL, and
// per goal its conversion against all visitors.
type personaBody struct {
	models.Persona
	Traits    traitsBody `json:"traits"`
	GoalsLift []goalLift `json:"goals_lift"`
}

// goalLift is a persona's conversion on one goal ("any": any goal) against all the visitors the
// model was trained on: rates are shares of visitors (0..1), lift is rate / population_rate
// with its 95 % interval [low, high] (0 when nobody reached the goal).
type goalLift struct {
	Goal           string  `json:"goal"`
	Visitors       int     `json:"visitors"`
	Rate           float64 `json:"rate"`
	PopulationRate float64 `json:"population_rate"`
	Lift           float64 `json:"lift"`
	Low            float64 `json:"low"`
	High           float64 `json:"high"`
}

// storedGoalLifts is how the training job stores the classifier's GoalLifts in a persona's
// traits (the classifier's field names; api does not import the classifier).
type storedGoalLifts struct {
	GoalLifts []struct {
		Goal                                  string
		Visitors                              int
		Rate, PopulationRate, Lift, Low, High float64
	}
}

// personaAnswer is p as the API answers it. A persona of a model trained before goal lifts
// were computed answers an empty list.
func (s *Server) personaAnswer(projectID uuid.UUID, p models.Persona) personaBody {
	b := personaBody{Persona: s.withPicture(projectID, p), Traits: traitsAnswer(p.Traits), GoalsLift: []goalLift{}}
	var st storedGoalLifts
	if len(p.Traits) == 0 || json.Unmarshal(p.Traits, &st) != nil {
		return b
	}
	for _, g := range st.GoalLifts {
		b.GoalsLift = append(b.GoalsLift, goalLift{Goal: g.Goal, Visitors: g.Visitors, Rate: round4(g.Rate),
			PopulationRate: round4(g.PopulationRate), Lift: round4(g.Lift), Low: round4(g.Low), High: round4(g.High)})
	}
	return b
}

func (s *Server) listPersonas(c *gin.Context) {
	pid := projectFrom(c).ID
	ps, version, err := s.store.Personas(c, pid)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]personaBody, len(ps))
	for i := range ps {
		out[i] = s.personaAnswer(pid, ps[i])
	}
	var v *int
	if version > 0 {
		v = &version
	}
	c.JSON(http.StatusOK, gin.H{"personas": out, "model_version": v})
}

// personaParam reads :pid; a malformed id is a persona that does not exist.
func (s *Server) personaParam(c *gin.Context) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param("pid"))
	if err != nil {
		s.fail(c, models.ErrNotFound)
		return uuid.Nil, false
	}
	return id, true
}

func (s *Server) getPersona(c *gin.Context) {
	id, ok := s.personaParam(c)
	if !ok {
		return
	}
	pid := projectFrom(c).ID
	p, err := s.store.Persona(c, pid, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.personaAnswer(pid, p))
}

type renameRequest struct {
	Name string `json:"name"`
}

// renamePersona sets a person's name; it survives retrains and re-enrichment.
func (s *Server) renamePersona(c *gin.Context) {
	id, ok := s.personaParam(c)
	if !ok {
		return
	}
	var req renameRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	pid := projectFrom(c).ID
	p, err := s.store.RenamePersona(c, pid, id, req.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, pid, "persona.rename", id.String(), nil)
	s.classifySvc.EvictModel(pid) // classify answers carry the name
	c.JSON(http.StatusOK, s.personaAnswer(pid, p))
}

// enrichPersona runs enrichment again for one persona (the LLM when configured, else the rules).
func (s *Server) enrichPersona(c *gin.Context) {
	id, ok := s.personaParam(c)
	if !ok {
		return
	}
	pid := projectFrom(c).ID
	if _, err := s.store.Persona(c, pid, id); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.jobs.EnqueueEnrich(c, pid, id); err != nil {
		s.fail(c, errStatus(http.StatusServiceUnavailable, "unavailable", "the job queue is unavailable, retry later"))
		return
	}
	s.audit(c, pid, "persona.enrich", id.String(), nil)
	c.JSON(http.StatusAccepted, gin.H{"id": id, "status": "queued"})
}

// pictureCSP keeps an SVG opened on its own from running script or loading anything.
const pictureCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

func (s *Server) personaPicture(c *gin.Context) {
	id, ok := s.personaParam(c)
	if !ok {
		return
	}
	p, err := s.store.Persona(c, projectFrom(c).ID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if p.Picture == "" {
		s.fail(c, models.ErrNotFound)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", pictureCSP)
	h.Set("Cache-Control", "private, max-age=300")
	c.Data(http.StatusOK, "image/svg+xml", []byte(p.Picture))
}

type historyVersion struct {
	ModelVersion int              `json:"model_version"`
	Personas     []historyPersona `json:"personas"`
}

type historyPersona struct {
	models.DriftPoint
	Name string `json:"name"`
}

// personaHistory shows each kept version's personas with share and stability: the drift of the
// project's audience across retrains.
func (s *Server) personaHistory(c *gin.Context) {
	p := projectFrom(c)
	pts, err := s.store.PersonaHistory(c, p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	names, err := s.store.PersonaNames(c, p.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	versions := []historyVersion{}
	for _, pt := range pts {
		if len(versions) == 0 || versions[len(versions)-1].ModelVersion != pt.ModelVersion {
			versions = append(versions, historyVersion{ModelVersion: pt.ModelVersion, Personas: []historyPersona{}})
		}
		v := &versions[len(versions)-1]
		v.Personas = append(v.Personas, historyPersona{DriftPoint: pt, Name: names[pt.PersonaID]})
	}
	c.JSON(http.StatusOK, gin.H{"versions": versions, "model_version": p.ModelVersion})
}

func (s *Server) getContext(c *gin.Context) {
	bc, err := s.store.GetBusinessContext(c, projectFrom(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, bc)
}

// putContext replaces the business context; it is stored sealed and only ever shown to the LLM
// (and to editors here). It is never logged.
func (s *Server) putContext(c *gin.Context) {
	var bc models.BusinessContext
	if err := decodeJSON(c, &bc); err != nil {
		s.fail(c, err)
		return
	}
	pid := projectFrom(c).ID
	if err := s.store.SetBusinessContext(c, pid, principalFrom(c).UserID, bc); err != nil {
		s.fail(c, err)
		return
	}
	s.audit(c, pid, "context.update", pid.String(), nil)
	c.JSON(http.StatusOK, bc)
}

// maxStatsDays bounds an ingest-stats range (the table keeps 400 days).
const maxStatsDays = 400

// ingestStats reports per day how many events were stored and dropped, by reason, with totals
// and the share dropped: so a site owner sees loss instead of guessing at it.
func (s *Server) ingestStats(c *gin.Context) {
	today := s.store.Now().UTC().Truncate(24 * time.Hour)
	to, err := dateParam(c.Query("to"), today)
	if err != nil {
		s.fail(c, models.Invalid("to", "a date as YYYY-MM-DD"))
		return
	}
	from, err := dateParam(c.Query("from"), to.AddDate(0, 0, -29))
	if err != nil {
		s.fail(c, models.Invalid("from", "a date as YYYY-MM-DD"))
		return
	}
	if from.After(to) {
		s.fail(c, models.Invalid("from", "must not be after to"))
		return
	}
	if to.Sub(from) > maxStatsDays*24*time.Hour {
		s.fail(c, models.Invalid("from", "a range of at most %d days", maxStatsDays))
		return
	}
	rows, err := s.store.IngestStats(c, projectFrom(c).ID, from, to)
	if err != nil {
		s.fail(c, err)
		return
	}
	type day struct {
		Day       string           `json:"day"`
		Received  int64            `json:"received"`
		Stored    int64            `json:"stored"`
		Dropped   int64            `json:"dropped"`
		ByReason  map[string]int64 `json:"dropped_by_reason"`
		DropShare float64          `json:"drop_share"`
	}
	days := []*day{}
	total := day{ByReason: map[string]int64{}}
	for _, r := range rows {
		d := r.Day.Format(time.DateOnly)
		if len(days) == 0 || days[len(days)-1].Day != d {
			days = append(days, &day{Day: d, ByReason: map[string]int64{}})
		}
		cur := days[len(days)-1]
		cur.Received += r.Events
		total.Received += r.Events
		if r.Reason == models.ReasonStored {
			cur.Stored += r.Events
			total.Stored += r.Events
		} else {
			cur.Dropped += r.Events
			cur.ByReason[r.Reason] += r.Events
			total.Dropped += r.Events
			total.ByReason[r.Reason] += r.Events
		}
	}
	share := func(d, n int64) float64 {
		if n == 0 {
			return 0
		}
		return round4(float64(d) / float64(n))
	}
	for _, d := range days {
		d.DropShare = share(d.Dropped, d.Received)
	}
	c.JSON(http.StatusOK, gin.H{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "days": days,
		"totals": gin.H{"received": total.Received, "stored": total.Stored, "dropped": total.Dropped,
			"dropped_by_reason": total.ByReason}, "drop_share": share(total.Dropped, total.Received)})
}

func dateParam(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	return time.Parse(time.DateOnly, v)
}
