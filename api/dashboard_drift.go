package api

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"personas/models"
)

// The drift chart stacks each kept version's persona shares. Every persona of every kept
// version has its segment and its legend entry: those that continue, those that are new, and
// those that did not survive a retrain, with where their visitors went. The reading under it
// is computed from the same figures, so that it cannot say "held steady" over a chart in which
// a persona vanished.

// fate is what became of a persona that is absent from the version after one that held it.
type fate struct {
	Version int       // the first version without it
	Into    uuid.UUID // the persona that took most of its visitors known in both versions; Nil when none were
	Share   float64   // the share of those visitors that went to Into
}

// merged reports whether most of the persona's visitors went into one persona.
func (f fate) merged() bool { return f.Into != uuid.Nil && f.Share >= 0.5 }

// fateWords says what became of a persona, in a few words ("merged into Deal hunters").
func fateWords(f fate, names map[uuid.UUID]string) string {
	switch {
	case f.merged():
		return fmt.Sprintf("merged into %s in v%d (%s of its visitors)", names[f.Into], f.Version, pct(f.Share))
	case f.Into != uuid.Nil:
		return fmt.Sprintf("split up in v%d; most of its visitors (%s) went to %s", f.Version, pct(f.Share), names[f.Into])
	}
	return fmt.Sprintf("gone in v%d", f.Version)
}

// transitionCache keeps the transitions between two versions of a project: they are fixed once
// both versions are published, and counting them joins both versions' memberships. Bounded:
// when full it starts again.
type transitionCache struct {
	mu sync.Mutex
	m  map[transitionKey][]models.Transition
}

type transitionKey struct {
	project  uuid.UUID
	from, to int
}

const maxTransitionEntries = 256

func (tc *transitionCache) get(k transitionKey) ([]models.Transition, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	ts, ok := tc.m[k]
	return ts, ok
}

func (tc *transitionCache) put(k transitionKey, ts []models.Transition) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.m == nil || len(tc.m) >= maxTransitionEntries {
		tc.m = map[transitionKey][]models.Transition{}
	}
	tc.m[k] = ts
}

// driftFates finds, for every persona that a kept version holds and the next one does not,
// where its visitors went. Memberships are read only for the pairs of versions in which a
// persona vanished.
func (s *Server) driftFates(ctx context.Context, projectID uuid.UUID, hist []models.DriftPoint) (map[uuid.UUID]fate, error) {
	versions, byVersion := driftVersions(hist)
	out := map[uuid.UUID]fate{}
	for i := 1; i < len(versions); i++ {
		prev, cur := versions[i-1], versions[i]
		var gone []uuid.UUID
		for id := range byVersion[prev] {
			if _, ok := byVersion[cur][id]; !ok {
				gone = append(gone, id)
			}
		}
		if len(gone) == 0 {
			continue
		}
		k := transitionKey{projectID, prev, cur}
		ts, ok := s.dash.transitions.get(k)
		if !ok {
			var err error
			if ts, err = s.store.PersonaTransitions(ctx, projectID, prev, cur, gone); err != nil {
				return nil, err
			}
			s.dash.transitions.put(k, ts)
		}
		for _, id := range gone {
			out[id] = fateOf(id, cur, ts)
		}
	}
	return out, nil
}

// fateOf reads where a persona's visitors went from the transitions into version v.
func fateOf(id uuid.UUID, v int, ts []models.Transition) fate {
	f := fate{Version: v}
	var total, best int64
	for _, t := range ts {
		if t.From != id {
			continue
		}
		total += t.Visitors
		if t.Visitors > best {
			best, f.Into = t.Visitors, t.To
		}
	}
	if total > 0 {
		f.Share = float64(best) / float64(total)
	}
	return f
}

// driftVersions groups the history by version, versions in ascending order.
func driftVersions(hist []models.DriftPoint) ([]int, map[int]map[uuid.UUID]models.DriftPoint) {
	var versions []int
	byVersion := map[int]map[uuid.UUID]models.DriftPoint{}
	for _, pt := range hist {
		if byVersion[pt.ModelVersion] == nil {
			byVersion[pt.ModelVersion] = map[uuid.UUID]models.DriftPoint{}
			versions = append(versions, pt.ModelVersion)
		}
		byVersion[pt.ModelVersion][pt.PersonaID] = pt
	}
	slices.Sort(versions)
	return versions, byVersion
}

// driftChart stacks each kept version's persona shares, the current personas coloured as their
// cards and first, then every persona of an earlier version that did not survive, and reads
// the movement in words. Every persona with a segment has a legend entry.
func driftChart(hist []models.DriftPoint, current []models.Persona, names map[uuid.UUID]string, fates map[uuid.UUID]fate) (*stackedChart, string) {
	versions, byVersion := driftVersions(hist)
	order := map[uuid.UUID]int{}
	var ids []uuid.UUID
	add := func(id uuid.UUID) {
		if _, ok := order[id]; !ok {
			order[id] = len(ids)
			ids = append(ids, id)
		}
	}
	for _, p := range current {
		add(p.ID)
	}
	firstSeen := map[uuid.UUID]int{}
	for _, ver := range versions {
		pts := make([]models.DriftPoint, 0, len(byVersion[ver]))
		for _, pt := range byVersion[ver] {
			pts = append(pts, pt)
		}
		slices.SortFunc(pts, func(a, b models.DriftPoint) int {
			if a.Share != b.Share {
				if a.Share > b.Share {
					return -1
				}
				return 1
			}
			return strings.Compare(a.PersonaID.String(), b.PersonaID.String())
		})
		for _, pt := range pts {
			add(pt.PersonaID)
			if _, ok := firstSeen[pt.PersonaID]; !ok {
				firstSeen[pt.PersonaID] = ver
			}
		}
	}
	name := func(id uuid.UUID) string {
		if n := names[id]; n != "" {
			return n
		}
		return "A persona no longer stored"
	}
	colours := make([]string, len(ids))
	keys := make([]string, len(ids))
	for i, id := range ids {
		colours[i], keys[i] = colour(i), id.String()
	}
	var cols []stackInput
	for _, ver := range versions {
		in := stackInput{Label: fmt.Sprintf("v%d", ver), Keys: keys}
		for _, id := range ids {
			share := byVersion[ver][id].Share // zero when absent: no segment
			in.Values = append(in.Values, share)
			in.Titles = append(in.Titles, fmt.Sprintf("%s, model v%d: %s of visitors", name(id), ver, pct(share)))
		}
		cols = append(cols, in)
	}
	ch := stack("Share of visitors per persona, by model version", cols, colours, 1, pct)
	isCurrent := map[uuid.UUID]*models.Persona{}
	for i := range current {
		isCurrent[current[i].ID] = &current[i]
	}
	for i, id := range ids {
		var note string
		if p, ok := isCurrent[id]; ok {
			switch {
			case len(versions) < 2 || firstSeen[id] == versions[0] && p.Stability != nil:
				if p.Stability != nil {
					note = stabilityNote(p.Stability)
				}
			case p.Stability == nil || firstSeen[id] == versions[len(versions)-1]:
				note = fmt.Sprintf("new in v%d", firstSeen[id])
			default:
				note = fmt.Sprintf("new in v%d, %s", firstSeen[id], stabilityNote(p.Stability))
			}
		} else if _, seen := firstSeen[id]; seen {
			if f, ok := fates[id]; ok {
				note = fateWords(f, names)
			} else {
				note = "no longer a persona"
			}
		} else {
			continue // a current persona without history (not yet recorded): no segment, no entry
		}
		ch.Legend = append(ch.Legend, legendItem{Color: colours[i], Label: name(id), Note: note, Key: keys[i]})
	}
	return &ch, driftReading(versions, byVersion, current, names, fates)
}

func stabilityNote(st *float64) string {
	if st == nil {
		return "new"
	}
	return "stability " + pct(*st)
}

// driftReading says in a few sentences how the audience moved since the previous model: which
// personas vanished (and where their visitors went) or appeared, how many of their visitors
// the continuing personas kept, and the largest move in share. "Held steady" is said only when
// no persona appeared or vanished, the personas kept at least 90 % of their visitors and no
// share moved by 3 points or more.
func driftReading(versions []int, byVersion map[int]map[uuid.UUID]models.DriftPoint, current []models.Persona,
	names map[uuid.UUID]string, fates map[uuid.UUID]fate) string {
	if len(versions) < 2 {
		return "This is the first model: retrains will show here how each persona's share moves, and how many of its visitors it keeps (its stability)."
	}
	pv, cv := versions[len(versions)-2], versions[len(versions)-1]
	prev, cur := byVersion[pv], byVersion[cv]
	var b strings.Builder
	// Vanished, largest first.
	var gone []models.DriftPoint
	for id, pt := range prev {
		if _, ok := cur[id]; !ok {
			gone = append(gone, pt)
		}
	}
	slices.SortFunc(gone, func(a, b models.DriftPoint) int {
		if a.Share != b.Share {
			if a.Share > b.Share {
				return -1
			}
			return 1
		}
		return strings.Compare(a.PersonaID.String(), b.PersonaID.String())
	})
	for _, pt := range gone {
		f, ok := fates[pt.PersonaID]
		what := fmt.Sprintf("is no longer a persona in v%d", cv)
		if ok {
			switch {
			case f.merged():
				what = fmt.Sprintf("merged into %s in v%d (%s of its visitors went there)", names[f.Into], cv, pct(f.Share))
			case f.Into != uuid.Nil:
				what = fmt.Sprintf("split up in v%d; the largest part of its visitors (%s) went to %s", cv, pct(f.Share), names[f.Into])
			}
		}
		fmt.Fprintf(&b, "%s (%s of visitors in v%d) %s. ", names[pt.PersonaID], pct(pt.Share), pv, what)
	}
	var appeared []string
	sum, n := 0.0, 0
	var biggest models.Persona
	delta := 0.0
	for _, p := range current {
		c, inCur := cur[p.ID]
		old, inPrev := prev[p.ID]
		if !inCur {
			continue
		}
		if !inPrev {
			appeared = append(appeared, fmt.Sprintf("%s (%s of visitors)", p.Name, pct(c.Share)))
			continue
		}
		if d := c.Share - old.Share; math.Abs(d) > math.Abs(delta) {
			biggest, delta = p, d
		}
		if p.Stability != nil {
			sum += *p.Stability
			n++
		}
	}
	if len(appeared) > 0 {
		word := "New persona"
		if len(appeared) > 1 {
			word = "New personas"
		}
		fmt.Fprintf(&b, "%s in v%d: %s. ", word, cv, strings.Join(appeared, ", "))
	}
	changed := len(gone) > 0 || len(appeared) > 0
	steady := false
	if n > 0 {
		avg := sum / float64(n)
		switch {
		case changed:
			fmt.Fprintf(&b, "The personas that continued from v%d kept on average %s of their visitors. ", pv, pct(avg))
		default:
			word := "changed a lot"
			switch {
			case avg >= 0.9 && math.Abs(delta) < 0.03:
				word, steady = "held steady", true
			case avg >= 0.9:
				word = "kept their visitors, but shares moved"
			case avg >= 0.75:
				word = "moved as usual"
			case avg >= 0.5:
				word = "shifted noticeably"
			}
			fmt.Fprintf(&b, "Since v%d the personas %s: on average each kept %s of its visitors. ", pv, word, pct(avg))
		}
	} else if !changed {
		fmt.Fprintf(&b, "No persona of v%d could be compared with v%d. ", cv, pv)
	}
	switch {
	case steady && math.Abs(delta) >= 0.01:
		fmt.Fprintf(&b, "The largest move was %s's, from %s to %s of visitors.", biggest.Name, pct(prev[biggest.ID].Share), pct(cur[biggest.ID].Share))
	case biggest.Name != "" && math.Abs(delta) >= 0.01:
		dir := "grew"
		if delta < 0 {
			dir = "shrank"
		}
		fmt.Fprintf(&b, "%s %s the most, from %s to %s of visitors.", biggest.Name, dir, pct(prev[biggest.ID].Share), pct(cur[biggest.ID].Share))
	case n > 0:
		b.WriteString("No continuing persona's share moved by more than a point.")
	}
	return strings.TrimSpace(b.String())
}
