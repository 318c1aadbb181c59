package main

import (
	"strings"
	"testing"
	"time"
)

// TestCSVVisitorsHoldRevenueOut: two sessions that differ only in Revenue become the same
// traffic (no goal, no cart or checkout page), and Revenue comes back beside it, per visitor.
func TestCSVVisitorsHoldRevenueOut(t *testing.T) {
	t.Parallel()
	const header = "Administrative,Administrative_Duration,Informational,Informational_Duration,ProductRelated," +
		"ProductRelated_Duration,BounceRates,ExitRates,PageValues,SpecialDay,Month,OperatingSystems,Browser,Region," +
		"TrafficType,VisitorType,Weekend,Revenue\n"
	row := "2,40,1,10,6,300,0.01,0.02,12.5,0,Nov,2,2,1,2,New_Visitor,FALSE,"
	end := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	lines, bought, err := csvVisitors(strings.NewReader(header+row+"TRUE\n"+row+"FALSE\n"), 2, 28, end)
	if err != nil {
		t.Fatal(err)
	}
	perVisitor := map[string][]string{}
	for _, l := range lines {
		if l.Type == "goal" || strings.Contains(l.URL, "/cart") || strings.Contains(l.URL, "/checkout") {
			t.Errorf("line %+v comes from Revenue", l)
		}
		perVisitor[l.VisitorID] = append(perVisitor[l.VisitorID], l.Type)
	}
	if len(bought) != 2 || len(perVisitor) != 2 {
		t.Fatalf("bought %v for %d visitors, want both sessions", bought, len(perVisitor))
	}
	var yes, no string
	for vid, b := range bought {
		if b {
			yes = vid
		} else {
			no = vid
		}
	}
	if yes == "" || no == "" {
		t.Fatalf("bought %v: want one TRUE and one FALSE", bought)
	}
	if a, b := strings.Join(perVisitor[yes], " "), strings.Join(perVisitor[no], " "); a != b || a == "" {
		t.Errorf("the buyer's events %q differ from the other's %q", a, b)
	}
}
