package api_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"personas/internal/testserver"
)

// goalLiftView is one row of a persona's goals_lift.
type goalLiftView struct {
	Goal           string   `json:"goal"`
	Visitors       int      `json:"visitors"`
	Rate           float64  `json:"rate"`
	PopulationRate float64  `json:"population_rate"`
	Lift           float64  `json:"lift"`
	Low            *float64 `json:"low"`
	High           *float64 `json:"high"`
}

// TestPersonasGoalsLift trains the demo shop and checks each persona's goals_lift, in the list
// and one by one, against figures counted here from PostgreSQL: the model's members, their
// persona and whether their aggregates reached each goal. The interval is the Wilson score
// interval of the persona's rate, divided by the population's rate.
func TestPersonasGoalsLift(t *testing.T) {
	t.Parallel()
	srv := testserver.New(t, testserver.Options{NoWorker: true})
	acct := srv.NewAccount(t, "lift@shop.example", false)
	importVisitors(t, srv, acct.Token, acct.ProjectID, demoVisitors(600, 11))
	version := trainDirect(t, srv, acct.ProjectID)
	ctx := context.Background()
	clusters, err := srv.Store.PersonaIDsByCluster(ctx, acct.ProjectID, version)
	if err != nil {
		t.Fatal(err)
	}

	// Per persona and goal: members, and members who reached the goal ("any": any goal).
	type count struct{ members, reached int }
	counted := map[string]map[string]count{} // persona id → goal → counts
	population := map[string]count{}
	rows, err := srv.Pool.Query(ctx, `
		SELECT m.cluster, g.goal, count(*), count(*) FILTER (WHERE CASE WHEN g.goal = 'any' THEN f.goals > 0
			ELSE coalesce((f.goal_names ->> g.goal)::bigint, 0) > 0 END)
		FROM model_members m JOIN visitor_features f ON f.project_id = m.project_id AND f.visitor_hash = m.visitor_hash
		CROSS JOIN (SELECT 'any' AS goal UNION SELECT DISTINCT jsonb_object_keys(goal_names) FROM visitor_features
			WHERE project_id = $1) g
		WHERE m.project_id = $1 AND m.model_version = $2 GROUP BY m.cluster, g.goal`, acct.ProjectID, version)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var cluster, members, reached int
		var goal string
		if err := rows.Scan(&cluster, &goal, &members, &reached); err != nil {
			t.Fatal(err)
		}
		id := clusters[cluster].String()
		if counted[id] == nil {
			counted[id] = map[string]count{}
		}
		counted[id][goal] = count{members, reached}
		p := population[goal]
		population[goal] = count{p.members + members, p.reached + reached}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	var list struct {
		Personas []struct {
			personaView
			GoalsLift []goalLiftView `json:"goals_lift"`
		} `json:"personas"`
	}
	r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + acct.ProjectID.String() + "/personas", Token: acct.Token})
	if r.Status != http.StatusOK {
		t.Fatalf("list personas: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &list)
	if len(list.Personas) < 2 {
		t.Fatalf("%d personas, want several", len(list.Personas))
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-4*math.Max(1, math.Abs(b)) }
	lifted := false
	for _, p := range list.Personas {
		gl := p.GoalsLift
		if len(gl) < 2 || gl[0].Goal != "any" {
			t.Fatalf("persona %s: goals_lift %+v, want \"any\" first and the demo's goals", p.Name, gl)
		}
		for _, g := range gl {
			c, pop := counted[p.ID.String()][g.Goal], population[g.Goal]
			if c.members == 0 || pop.members == 0 {
				t.Fatalf("persona %s, goal %s: no members counted", p.Name, g.Goal)
			}
			rate, popRate := float64(c.reached)/float64(c.members), float64(pop.reached)/float64(pop.members)
			if g.Visitors != c.reached || !near(g.Rate, rate) || !near(g.PopulationRate, popRate) {
				t.Errorf("persona %s, goal %s: %d visitors, rate %v, population %v; counted %d of %d (%v), population %v",
					p.Name, g.Goal, g.Visitors, g.Rate, g.PopulationRate, c.reached, c.members, rate, popRate)
			}
			if g.Low == nil || g.High == nil {
				t.Fatalf("persona %s, goal %s: no interval in %+v", p.Name, g.Goal, g)
			}
			if popRate == 0 {
				continue
			}
			lo, hi := wilson95(c.reached, c.members)
			if !near(g.Lift, rate/popRate) || !near(*g.Low, lo/popRate) || !near(*g.High, hi/popRate) || *g.Low > g.Lift || g.Lift > *g.High {
				t.Errorf("persona %s, goal %s: lift %v [%v, %v], want %v [%v, %v]", p.Name, g.Goal, g.Lift, *g.Low, *g.High,
					rate/popRate, lo/popRate, hi/popRate)
			}
			lifted = lifted || *g.Low > 1
		}
		// One persona by itself answers the same rows.
		var one struct {
			GoalsLift []goalLiftView `json:"goals_lift"`
		}
		r := srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + acct.ProjectID.String() + "/personas/" + p.ID.String(), Token: acct.Token})
		if r.Status != http.StatusOK {
			t.Fatalf("get persona: %d", r.Status)
		}
		r.JSON(t, &one)
		if diff := cmp.Diff(gl, one.GoalsLift); diff != "" {
			t.Errorf("persona %s alone and in the list: goals_lift differ (-list +alone):\n%s", p.Name, diff)
		}
	}
	if !lifted {
		t.Error("no persona converts on any goal significantly above the population (low > 1): the demo's buyers should")
	}

	// A persona of a model trained before goal lifts were computed answers an empty list.
	p := list.Personas[0]
	if _, err := srv.Pool.Exec(ctx, `UPDATE personas SET traits = traits - 'GoalLifts' WHERE project_id = $1 AND id = $2`,
		acct.ProjectID, p.ID); err != nil {
		t.Fatal(err)
	}
	r = srv.Do(t, testserver.Request{Method: "GET", Path: "/v1/projects/" + acct.ProjectID.String() + "/personas/" + p.ID.String(), Token: acct.Token})
	if r.Status != http.StatusOK || !containsJSON(r.Body, `"goals_lift":[]`) {
		t.Errorf("persona without GoalLifts in its traits: %d %s, want goals_lift: []", r.Status, r.Body)
	}
}

// wilson95 is the 95 % Wilson score interval of x successes in n trials.
func wilson95(x, n int) (lo, hi float64) {
	const z = 1.959963984540054
	p, fn := float64(x)/float64(n), float64(n)
	den := 1 + z*z/fn
	mid := (p + z*z/(2*fn)) / den
	half := z * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn)) / den
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

func containsJSON(body []byte, s string) bool {
	return bytes.Contains(body, []byte(s))
}
