package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"personas/models"
)

// healthDays is the data-health window.
const healthDays = 30

// reasonWords explains each drop reason to a site owner.
var reasonWords = map[string]string{
	models.ReasonStored:      "stored",
	models.ReasonOrigin:      "from a site not in the allowed origins",
	models.ReasonTooOld:      "older than 48 hours (use the import API for history)",
	models.ReasonAhead:       "timestamped in the future (a wrong clock)",
	models.ReasonRate:        "over the rate limit",
	models.ReasonBadShape:    "malformed",
	models.ReasonExcluded:    "on an excluded element",
	models.ReasonSampled:     "left out by sampling",
	models.ReasonUnavailable: "refused while storage was unavailable",
}

// reasonRow is one drop reason over the window, with its own small chart.
type reasonRow struct {
	Reason, Words string
	Events        int64
	Share         float64
	Color         string
	Chart         stackedChart
}

// healthView is the data-health page's data.
type healthView struct {
	From, To         string
	Received, Stored int64
	Dropped          int64
	DropShare        float64
	Warning          string
	Chart            stackedChart
	Reasons          []reasonRow
	Days             int
	// Tasks are the background tasks of the service (all projects'), in plain words.
	Tasks []taskRow
}

func (s *Server) healthPage(c *gin.Context) error {
	pj := projectFrom(c)
	to := s.store.Now().UTC().Truncate(24 * time.Hour)
	from := to.AddDate(0, 0, -(healthDays - 1))
	stats, err := s.store.IngestStats(c, pj.ID, from, to)
	if err != nil {
		return err
	}
	v := healthReport(stats, from, healthDays)
	if v.Tasks, err = s.backgroundTasks(c); err != nil {
		return err
	}
	p, err := s.newPage(c, "Data health · "+pj.Name, "health", v)
	if err != nil {
		return err
	}
	s.render(c, http.StatusOK, "health", p)
	return nil
}

// healthReport sums the delivery counters per day and reason: a stacked chart of every reason,
// a small chart per drop reason, and a plain-words warning when more than 1 % was dropped.
func healthReport(stats []models.IngestStat, from time.Time, days int) healthView {
	v := healthView{From: from.Format("2 Jan"), To: from.AddDate(0, 0, days-1).Format("2 Jan 2006"), Days: days}
	perDay := make([]map[string]int64, days)
	totals := map[string]int64{}
	for _, st := range stats {
		i := int(st.Day.UTC().Sub(from).Hours() / 24)
		if i < 0 || i >= days {
			continue
		}
		if perDay[i] == nil {
			perDay[i] = map[string]int64{}
		}
		perDay[i][st.Reason] += st.Events
		totals[st.Reason] += st.Events
		v.Received += st.Events
	}
	v.Stored = totals[models.ReasonStored]
	v.Dropped = v.Received - v.Stored
	if v.Received > 0 {
		v.DropShare = float64(v.Dropped) / float64(v.Received)
	}
	reasons := []string{models.ReasonStored}
	for r := range totals {
		if r != models.ReasonStored {
			reasons = append(reasons, r)
		}
	}
	slices.SortFunc(reasons[1:], func(a, b string) int {
		if totals[a] != totals[b] {
			return int(min(max(totals[b]-totals[a], -1), 1))
		}
		return strings.Compare(a, b)
	})
	colours := make([]string, len(reasons))
	colours[0] = "#0d9488"
	for i := 1; i < len(reasons); i++ {
		colours[i] = palette[(i+1)%len(palette)]
	}
	label := func(i int) string {
		d := from.AddDate(0, 0, i)
		if i%5 == 0 || i == days-1 {
			return d.Format("2 Jan")
		}
		return ""
	}
	cols := make([]stackInput, days)
	for i := range days {
		in := stackInput{Label: label(i)}
		for _, r := range reasons {
			n := perDay[i][r]
			in.Values = append(in.Values, float64(n))
			in.Titles = append(in.Titles, fmt.Sprintf("%s: %s events %s", from.AddDate(0, 0, i).Format("2 Jan"), formatCount(n), words(r)))
		}
		cols[i] = in
	}
	count := func(f float64) string { return formatCount(int64(f + 0.5)) }
	v.Chart = stack("Events per day: stored (on the day they happened) and dropped by reason", cols, colours, 0, count)
	for j, r := range reasons {
		v.Chart.Legend = append(v.Chart.Legend, legendItem{Color: colours[j], Label: words(r), Note: formatCount(totals[r])})
		if j == 0 {
			continue
		}
		small := make([]stackInput, days)
		for i := range days {
			n := perDay[i][r]
			small[i] = stackInput{Label: label(i), Values: []float64{float64(n)},
				Titles: []string{fmt.Sprintf("%s: %s dropped", from.AddDate(0, 0, i).Format("2 Jan"), formatCount(n))}}
		}
		row := reasonRow{Reason: r, Words: words(r), Events: totals[r], Color: colours[j],
			Chart: stackSized("Dropped "+words(r)+", per day", small, colours[j:j+1], 0, count, 140)}
		if v.Received > 0 {
			row.Share = float64(totals[r]) / float64(v.Received)
		}
		v.Reasons = append(v.Reasons, row)
	}
	switch {
	case v.Received == 0:
	case v.DropShare > 0.01:
		top := v.Reasons[0]
		v.Warning = fmt.Sprintf("%s of the events offered in the last %d days were dropped, more than 1 %%. "+
			"Most were %s (%s events): check the settings or the site's installation.",
			pct(v.DropShare), days, top.Words, formatCount(top.Events))
	}
	return v
}

func words(reason string) string {
	if w, ok := reasonWords[reason]; ok {
		return w
	}
	return reason
}
