package jobs_test

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"personas/classifier"
	"personas/enrichment"
	"personas/jobs"
)

// shoppersPath is the shared UCI online shoppers data (12,330 sessions), relative to this package.
const shoppersPath = "../../shared/data/online_shoppers_intention.csv"

// shopperSessions turns each session of the online shoppers data into one visitor's aggregates,
// as the collector would have recorded it: account, information and product pages with their
// time, a bounce for a one-page or high-bounce-rate session, a channel from the traffic type, a
// device class from the operating system, and the month and weekend as the time of the visit.
// Revenue (whether the session bought) is held out: it is the label the personas are judged by,
// returned beside the aggregates, and nothing of the aggregates comes from it (no goal, no cart
// or checkout page), or personas would "explain" purchases by being told them.
func shopperSessions(tb testing.TB) ([]classifier.Aggregates, []bool) {
	tb.Helper()
	f, err := os.Open(shoppersPath)
	if err != nil {
		tb.Fatalf("open shoppers data: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	num := func(r []string, name string) float64 {
		i, ok := col[name]
		if !ok {
			tb.Fatalf("shoppers data has no column %q", name)
		}
		v, err := strconv.ParseFloat(r[i], 64)
		if err != nil {
			tb.Fatalf("column %s: %v", name, err)
		}
		return v
	}
	months := map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "June": 6, "Jul": 7, "Aug": 8,
		"Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}
	channels := []string{"direct", "search", "social", "referral", "email", "campaign"}
	devices := []string{"desktop", "mobile", "tablet"}
	pop := make([]classifier.Aggregates, 0, len(rows)-1)
	bought := make([]bool, 0, len(rows)-1)
	for i, r := range rows[1:] {
		adm, info, prod := int64(num(r, "Administrative")), int64(num(r, "Informational")), int64(num(r, "ProductRelated"))
		views := adm + info + prod
		if views == 0 {
			views = 1 // a session is at least its landing page
			prod = 1
		}
		ms := int64(1000 * (num(r, "Administrative_Duration") + num(r, "Informational_Duration") + num(r, "ProductRelated_Duration")))
		day := 3 + i%3 // a weekday
		if r[col["Weekend"]] == "TRUE" {
			day = 6
		}
		at := time.Date(2025, months[r[col["Month"]]], 1, 9+i%12, 0, 0, 0, time.UTC)
		at = at.AddDate(0, 0, (day-int(at.Weekday())+7)%7)
		a := classifier.Aggregates{Visits: 1, PageViews: views, TimeMS: ms, FirstSeen: at, LastSeen: at.Add(time.Duration(ms) * time.Millisecond),
			ActiveDays: 1, Paths: map[string]int64{}, Channels: map[string]int64{channels[int(num(r, "TrafficType"))%len(channels)]: 1},
			Devices: map[string]int64{devices[int(num(r, "OperatingSystems"))%len(devices)]: 1}}
		for k, v := range map[string]int64{"/account": adm, "/info": info, "/p": prod} {
			if v > 0 {
				a.Paths[k] = v
			}
		}
		if views == 1 || num(r, "BounceRates") >= 0.2 {
			a.Bounces = 1
		}
		a.Hours[at.Hour()] = views
		a.Weekdays[at.Weekday()] = views
		pop = append(pop, a)
		bought = append(bought, r[col["Revenue"]] == "TRUE")
	}
	return pop, bought
}

// TestFallbackNamesOnlineShoppers: the rule-based namer gives the personas of the online
// shoppers data distinct names and types that fit what each persona does, whatever k; and the
// personas, trained without Revenue, differ in purchase rate (printed per persona; recorded in
// docs/quality.md).
func TestFallbackNamesOnlineShoppers(t *testing.T) {
	t.Parallel()
	pop, bought := shopperSessions(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range []int{0, 3, 4, 6} { // 0: k chosen by the classifier
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			res, err := classifier.Train(pop, now, classifier.TrainOptions{Seed: 1, FixedK: k})
			if err != nil {
				t.Fatal(err)
			}
			m := res.Model
			if k > 0 && m.K != k {
				t.Fatalf("trained %d personas, want %d", m.K, k)
			}
			inputs := make([]enrichment.Input, m.K)
			results := make([]enrichment.Result, m.K)
			var taken []string
			for c := 0; c < m.K; c++ {
				inputs[c] = jobs.EnrichmentInput(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "shoppers-%d", c)), m.Personas[c], enrichment.BusinessContext{})
				inputs[c].Taken = slices.Clone(taken)
				results[c] = enrichment.RuleName(inputs[c])
				taken = append(taken, results[c].Name)
			}
			trait := func(c int, feature string) float64 {
				for _, tr := range m.Personas[c].Traits {
					if tr.Feature == feature {
						return tr.Value
					}
				}
				return 0
			}
			purchases := purchaseRates(res.Labels, bought, m.K)
			names, types := map[string]bool{}, map[string]bool{}
			bounciest := 0
			for c, r := range results {
				pr := purchases[c]
				t.Logf("persona %d: %5d visitors, bounce %.2f, pages %.1f, time/page %.1f, purchases %5.1f %% [%4.1f, %4.1f]: %-24q %-14s %q",
					c, m.Personas[c].Size, trait(c, "bounce_rate"), math.Expm1(trait(c, "page_views")),
					math.Expm1(trait(c, "time_per_page")), 100*pr.rate, 100*pr.low, 100*pr.high, r.Name, r.Type, r.Tagline)
				if names[strings.ToLower(r.Name)] {
					t.Errorf("name %q given twice", r.Name)
				}
				names[strings.ToLower(r.Name)], types[r.Type] = true, true
				if r.NamedBy != enrichment.NamedByRules || !slices.Contains(enrichment.Types(), r.Type) || r.Tagline == "" ||
					r.Summary == "" || len(r.Goals) == 0 || len(r.Frustrations) == 0 || len(r.SuggestedActions) == 0 {
					t.Errorf("persona %d: incomplete result %+v", c, r)
				}
				if again := enrichment.RuleName(inputs[c]); again.Name != r.Name || again.Type != r.Type || again.Summary != r.Summary {
					t.Errorf("persona %d: named %q (%s), then %q (%s) from the same input", c, r.Name, r.Type, again.Name, again.Type)
				}
				if trait(c, "bounce_rate") > trait(bounciest, "bounce_rate") {
					bounciest = c
				}
			}
			if len(types) < min(m.K, 3) {
				t.Errorf("%d personas share %d types, want at least %d", m.K, len(types), min(m.K, 3))
			}
			// The persona that bounces most is not a buyer, and it is a browser or a newcomer.
			if ty := results[bounciest].Type; ty != enrichment.TypeBrowser && ty != enrichment.TypeNewcomer {
				t.Errorf("persona %d bounces most (%.2f) but is typed %s (%q)", bounciest, trait(bounciest, "bounce_rate"), ty, results[bounciest].Name)
			}
			// Without any goal, nothing shows buying: the namer calls no persona a buyer.
			for c, r := range results {
				if r.Type == enrichment.TypeBuyer {
					t.Errorf("persona %d is typed buyer (%q) though no goal was recorded", c, r.Name)
				}
			}
			// With Revenue held out, the personas still differ in how often they buy, for real:
			// the 95 % intervals of the most and the least buying persona do not overlap, the one
			// lies above the population's purchase rate and the other below it.
			most, least := 0, 0
			for c, pr := range purchases {
				if pr.rate > purchases[most].rate {
					most = c
				}
				if pr.rate < purchases[least].rate {
					least = c
				}
			}
			population := 0.0
			for _, b := range bought {
				if b {
					population++
				}
			}
			population /= float64(len(bought))
			// The share of the variance of buying that the personas explain (between-persona
			// variance of the 0/1 purchase over its total variance).
			var between float64
			for c, pr := range purchases {
				between += float64(m.Personas[c].Size) * (pr.rate - population) * (pr.rate - population)
			}
			t.Logf("population: %.1f %% of %d sessions bought; the personas explain %.1f %% of the variance of buying",
				100*population, len(bought), 100*between/(float64(len(bought))*population*(1-population)))
			if hi, lo := purchases[most], purchases[least]; !(hi.low > lo.high && hi.low > population && lo.high < population) {
				t.Errorf("purchase rates with Revenue held out: most %.1f %% [%.1f, %.1f] (persona %d), least %.1f %% [%.1f, %.1f] (persona %d), "+
					"population %.1f %%: want intervals apart, on either side of the population", 100*hi.rate, 100*hi.low, 100*hi.high, most,
					100*lo.rate, 100*lo.low, 100*lo.high, least, 100*population)
			}
			// The sessions that leave at once buy least of all, and no persona that clearly buys
			// more than the population (its whole interval above the population's rate) is called
			// a browser, who takes a quick look and moves on. (Which persona buys "most" is often a
			// tie within the intervals, so the type of that one persona is not asserted; a persona of
			// new visitors that buys well may rightly be a newcomer.)
			if least != bounciest {
				t.Errorf("persona %d bounces most but persona %d buys least", bounciest, least)
			}
			for c, pr := range purchases {
				if ty := results[c].Type; pr.low > population && ty == enrichment.TypeBrowser {
					t.Errorf("persona %d buys more than the population (%.1f %% [%.1f, %.1f] against %.1f %%) but is typed browser (%q)",
						c, 100*pr.rate, 100*pr.low, 100*pr.high, 100*population, results[c].Name)
				}
			}
		})
	}
}

// purchase is a persona's purchase rate with its 95 % Wilson interval.
type purchase struct{ rate, low, high float64 }

// purchaseRates are, per cluster, the share of its sessions that bought (Revenue, held out of
// the features).
func purchaseRates(labels []int, bought []bool, k int) []purchase {
	n, x := make([]int, k), make([]int, k)
	for i, c := range labels {
		if c < 0 || c >= k {
			continue
		}
		n[c]++
		if bought[i] {
			x[c]++
		}
	}
	out := make([]purchase, k)
	for c := range out {
		if n[c] == 0 {
			continue
		}
		const z = 1.959963984540054
		p, fn := float64(x[c])/float64(n[c]), float64(n[c])
		den := 1 + z*z/fn
		mid := (p + z*z/(2*fn)) / den
		half := z * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn)) / den
		out[c] = purchase{rate: p, low: max(0, mid-half), high: min(1, mid+half)}
	}
	return out
}
