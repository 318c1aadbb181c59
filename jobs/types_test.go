package jobs_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/enrichment"
	"personas/jobs"
)

// group is a kind of visitor the type test generates, with the persona type its members make.
type group struct {
	name     string
	wantType string                                              // "" when any type but those in notTypes will do
	notTypes []string                                            // types the persona must not get
	visit    func(r *rand.Rand, a *classifier.Aggregates, v int) // adds visit v of a visitor
	visits   [2]int                                              // visits per visitor, min and max
	days     [2]int                                              // days the visits spread over
}

// typeGroups are generated personas, one per type, plus the cases that were mistyped: returning
// visitors arriving by search (never newcomers), newsletter readers of help pages (the email
// channel alone is no deal), and noise (no trait far from the population: other).
func typeGroups() []group {
	page := func(a *classifier.Aggregates, r *rand.Rand, path string, seconds [2]int, scroll float64) {
		a.PageViews++
		a.Paths[path]++
		a.TimeMS += int64(1000 * (seconds[0] + r.IntN(seconds[1]-seconds[0]+1)))
		a.ScrollSum += scroll
		a.ScrollCount++
	}
	click := func(a *classifier.Aggregates, el string, n int) {
		a.Clicks += int64(n)
		a.Elements[el] += int64(n)
	}
	goal := func(a *classifier.Aggregates, name string) {
		a.Goals++
		a.GoalNames[name]++
	}
	arrive := func(a *classifier.Aggregates, channel, device string) {
		a.Visits++
		a.Channels[channel]++
		a.Devices[device]++
	}
	return []group{
		{"buyers", enrichment.TypeBuyer, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "direct", "desktop")
			page(a, r, "/p", [2]int{20, 60}, 0.7)
			page(a, r, "/cart", [2]int{10, 30}, 0.6)
			page(a, r, "/checkout", [2]int{30, 90}, 0.8)
			click(a, "button", 3)
			if r.Float64() < 0.7 {
				goal(a, "purchase")
			}
		}, [2]int{1, 3}, [2]int{1, 5}},
		{"deal seekers", enrichment.TypeDealSeeker, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "campaign", "mobile")
			page(a, r, "/deals", [2]int{10, 40}, 0.6)
			page(a, r, "/deals", [2]int{10, 40}, 0.6)
			page(a, r, "/p", [2]int{10, 30}, 0.5)
			click(a, "cta", 2)
			if r.Float64() < 0.5 {
				goal(a, "coupon_applied")
			}
		}, [2]int{1, 3}, [2]int{1, 6}},
		{"researchers", enrichment.TypeResearcher, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "search", "desktop")
			for range 3 + r.IntN(3) {
				page(a, r, "/blog", [2]int{120, 300}, 0.95)
			}
			page(a, r, "/guides", [2]int{120, 300}, 0.9)
			click(a, "link", 1)
		}, [2]int{1, 2}, [2]int{1, 3}},
		{"support seekers", enrichment.TypeSupportSeeker, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "email", "desktop")
			page(a, r, "/help", [2]int{30, 90}, 0.6)
			page(a, r, "/contact", [2]int{20, 60}, 0.5)
			click(a, "form", 2)
			if r.Float64() < 0.6 {
				goal(a, "ticket_opened")
			}
		}, [2]int{1, 2}, [2]int{1, 3}},
		{"loyal readers", enrichment.TypeLoyal, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "direct", "mobile")
			page(a, r, "/", [2]int{10, 30}, 0.5)
			page(a, r, "/news", [2]int{40, 90}, 0.7)
			click(a, "link", 1)
		}, [2]int{10, 16}, [2]int{20, 40}},
		{"newcomers", enrichment.TypeNewcomer, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "social", "mobile")
			page(a, r, "/", [2]int{10, 25}, 0.4)
			page(a, r, "/about", [2]int{15, 40}, 0.5)
			click(a, "nav", 1)
		}, [2]int{1, 1}, [2]int{1, 1}},
		{"bouncers", enrichment.TypeBrowser, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "search", "mobile")
			page(a, r, "/", [2]int{2, 8}, 0.1)
			a.Bounces++
		}, [2]int{1, 1}, [2]int{1, 1}},
		{"returning discoverers", "", []string{enrichment.TypeNewcomer}, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, []string{"search", "social"}[r.IntN(2)], "mobile")
			page(a, r, "/", [2]int{10, 25}, 0.4)
			page(a, r, "/about", [2]int{15, 40}, 0.5)
			page(a, r, "/stories", [2]int{30, 80}, 0.6)
			click(a, "nav", 1)
		}, [2]int{3, 6}, [2]int{8, 20}},
		{"newsletter readers", "", []string{enrichment.TypeDealSeeker}, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "email", "desktop")
			page(a, r, "/news", [2]int{60, 150}, 0.8)
			page(a, r, "/p", [2]int{20, 50}, 0.6)
			click(a, "link", 2)
		}, [2]int{1, 3}, [2]int{1, 10}},
		{"noise", enrichment.TypeOther, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, []string{"direct", "search", "social", "referral", "email", "campaign"}[r.IntN(6)],
				[]string{"desktop", "mobile", "tablet"}[r.IntN(3)])
			for range 1 + r.IntN(6) {
				page(a, r, []string{"/", "/p", "/c", "/blog", "/help", "/deals", "/cart", "/news"}[r.IntN(8)], [2]int{5, 200}, r.Float64())
			}
			click(a, []string{"link", "button", "nav", "cta"}[r.IntN(4)], r.IntN(6))
			if r.Float64() < 0.1 {
				goal(a, []string{"purchase", "coupon_applied", "ticket_opened"}[r.IntN(3)])
			}
		}, [2]int{1, 8}, [2]int{1, 30}},
		{"explorers", enrichment.TypeExplorer, nil, func(r *rand.Rand, a *classifier.Aggregates, v int) {
			arrive(a, "referral", "desktop")
			for range 8 + r.IntN(5) {
				page(a, r, []string{"/c", "/p", "/new", "/gallery"}[r.IntN(4)], [2]int{10, 30}, 0.6)
			}
			click(a, "link", 10+r.IntN(6))
		}, [2]int{1, 3}, [2]int{1, 4}},
	}
}

// generate makes n visitors of group g seen over its days before now.
func generate(r *rand.Rand, g group, n int, now time.Time) []classifier.Aggregates {
	out := make([]classifier.Aggregates, n)
	for i := range out {
		a := classifier.Aggregates{Paths: map[string]int64{}, Elements: map[string]int64{}, Channels: map[string]int64{},
			Devices: map[string]int64{}, GoalNames: map[string]int64{}}
		visits := g.visits[0] + r.IntN(g.visits[1]-g.visits[0]+1)
		days := g.days[0] + r.IntN(g.days[1]-g.days[0]+1)
		first := now.Add(-time.Duration(days) * 24 * time.Hour).Add(-time.Duration(r.IntN(3600)) * time.Second)
		seen := map[int]bool{}
		for v := range visits {
			d := 0
			if visits > 1 {
				d = v * (days - 1) / (visits - 1)
			}
			seen[d] = true
			at := first.Add(time.Duration(d) * 24 * time.Hour)
			before := a.PageViews
			g.visit(r, &a, v)
			a.Hours[(9+r.IntN(10))%24] += a.PageViews - before
			a.Weekdays[at.Weekday()] += a.PageViews - before
			a.LastSeen = at
		}
		a.FirstSeen, a.ActiveDays = first, int64(len(seen))
		out[i] = a
	}
	return out
}

// TestRuleTypesOfGeneratedPersonas: personas trained from generated visitors get the type their
// members make (the rule-based namer, from the aggregates the classifier gives it).
func TestRuleTypesOfGeneratedPersonas(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(7, 11))
	groups := typeGroups()
	var pop []classifier.Aggregates
	var truth []int
	for gi, g := range groups {
		vs := generate(r, g, 300, now)
		pop = append(pop, vs...)
		for range vs {
			truth = append(truth, gi)
		}
	}
	res, err := classifier.Train(pop, now, classifier.TrainOptions{Seed: 3, FixedK: len(groups)})
	if err != nil {
		t.Fatal(err)
	}
	// Each cluster stands for the group most of its members come from.
	counts := make([][]int, res.Model.K)
	for c := range counts {
		counts[c] = make([]int, len(groups))
	}
	for i, c := range res.Labels {
		if c >= 0 {
			counts[c][truth[i]]++
		}
	}
	var taken []string
	typed := map[string]string{}
	for c := range res.Model.K {
		best := 0
		for gi, n := range counts[c] {
			if n > counts[c][best] {
				best = gi
			}
		}
		in := jobs.EnrichmentInput(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "types-%d", c)), res.Model.Personas[c], enrichment.BusinessContext{})
		in.Taken = taken
		got := enrichment.RuleName(in)
		taken = append(taken, got.Name)
		g := groups[best]
		typed[g.name] = got.Type
		t.Logf("cluster %d: %d visitors, %d from %s: %q %s", c, res.Model.Personas[c].Size, counts[c][best], g.name, got.Name, got.Type)
		if g.wantType != "" && got.Type != g.wantType {
			t.Errorf("cluster %d (mostly %s) typed %s, want %s; summary %q", c, g.name, got.Type, g.wantType, got.Summary)
		}
		if slices.Contains(g.notTypes, got.Type) {
			t.Errorf("cluster %d (mostly %s) typed %s, which its members are not; summary %q", c, g.name, got.Type, got.Summary)
		}
	}
	for _, g := range groups {
		if _, ok := typed[g.name]; !ok {
			t.Errorf("no cluster stands for %s", g.name)
		}
	}
}
