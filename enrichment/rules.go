package enrichment

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Behaviour measured by trait features, recognised by keywords in the feature's name.
type measure int

const (
	mBounce measure = iota
	mGoals
	mTime
	mScroll
	mClicks
	mPages
	mRecency
	mLoyalty
	mVisits
	measureCount
)

// measureKeywords maps feature-name keywords to measures, most specific first: the first match
// wins ("time_per_visit" is time, not visits).
func measureKeywords() []struct {
	m        measure
	keywords []string
} {
	return []struct {
		m        measure
		keywords []string
	}{
		{mBounce, []string{"bounce", "exit"}},
		{mGoals, []string{"goal", "conversion", "convert", "pagevalue", "page_value", "revenue", "purchase", "transaction"}},
		{mRecency, []string{"recency", "days_since", "last_seen", "inactive"}},
		{mTime, []string{"time", "duration", "dwell", "seconds", "_ms"}},
		{mScroll, []string{"scroll"}},
		{mClicks, []string{"click"}},
		{mLoyalty, []string{"active_day", "activeday", "return", "frequency", "loyal", "days_active"}},
		{mPages, []string{"pageview", "page_view", "pages", "depth", "breadth", "distinct_path"}},
		{mVisits, []string{"visit", "session"}},
	}
}

// Intents read from path groups, goals and element or feature names.
type intent int

const (
	iSupport intent = iota
	iDeal
	iResearch
	iBuy  // the act of buying: cart, checkout, payment
	iShop // looking at what is for sale: product, category and pricing pages
	iNew
	intentCount
)

// intentKeywords maps words to intents, checked in this order ("/help/orders" is support). A
// keyword ending in "*" matches every word it starts ("deal*" matches "deals"); others match
// whole words only ("news" is not "newsletter").
func intentKeywords() []struct {
	i        intent
	keywords []string
} {
	return []struct {
		i        intent
		keywords []string
	}{
		{iSupport, []string{"support*", "help*", "contact*", "faq*", "refund*", "return*", "ticket*", "account*", "admin*", "login", "signin", "password*", "status", "tracking", "warranty", "troubleshoot*", "complaint*"}},
		{iDeal, []string{"sale", "sales", "deal*", "promo*", "discount*", "coupon*", "offer*", "outlet*", "clearance", "voucher*", "bargain*", "black", "cyber", "saving*"}},
		{iResearch, []string{"blog*", "article*", "guide*", "doc", "docs", "documentation", "learn*", "compare*", "comparison*", "review*", "spec", "specs", "specification*", "resource*", "news", "whitepaper*", "case", "tutorial*", "howto", "how", "wiki*", "knowledge*", "research*", "features", "info", "information*", "informational*"}},
		{iBuy, []string{"cart", "checkout", "basket", "order*", "purchase*", "buy", "payment*", "pay", "subscribe*", "booking*", "add", "transaction*", "revenue"}},
		{iShop, []string{"p", "product*", "shop*", "store", "pricing", "price*", "plans", "catalog*", "category", "categories", "collection*", "item*"}},
		{iNew, []string{"signup", "sign", "register*", "registration", "onboarding", "welcome", "start", "trial", "landing", "about"}},
	}
}

// profile is what the rules read from an Input.
type profile struct {
	z       [measureCount]float64 // furthest z per measure, clipped to ±3
	has     [measureCount]bool
	paths   [intentCount]float64 // share of page views per intent
	goals   [intentCount]float64 // share of goals per intent
	traitsI [intentCount]float64 // bonus from path, element or goal traits above the population

	campaign, search, social, direct, referral float64 // channel shares
	topChannel, topDevice                      Share
	daypart                                    string
}

func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func matchKeyword(tok, kw string) bool {
	if prefix, ok := strings.CutSuffix(kw, "*"); ok {
		return strings.HasPrefix(tok, prefix)
	}
	return tok == kw
}

// intentOf finds the intent of a path group, goal or element name, if any.
func intentOf(s string) (intent, bool) {
	toks := tokens(s)
	for _, ik := range intentKeywords() {
		for _, t := range toks {
			for _, kw := range ik.keywords {
				if matchKeyword(t, kw) {
					return ik.i, true
				}
			}
		}
	}
	return 0, false
}

func measureOf(feature string) (measure, bool) {
	f := strings.ToLower(feature)
	for _, mk := range measureKeywords() {
		for _, kw := range mk.keywords {
			if strings.Contains(f, kw) {
				return mk.m, true
			}
		}
	}
	return 0, false
}

// isKeyedFeature reports whether a feature is about one path, element, channel or goal (such as
// "path:/cart" or "element:coupon") rather than an overall measure.
func isKeyedFeature(f string) bool {
	return strings.ContainsAny(f, ":/")
}

func clip(z float64) float64 { return max(-3, min(3, z)) }

func readProfile(in Input) profile {
	var p profile
	// Keyed shares count for what sets the persona apart. When the traits compare a path, goal or
	// channel with the population, its share is weighted by that comparison: nothing at half a
	// standard deviation below the population, all from one above. On a shop where every persona
	// spends most of its page views on product pages, product pages then make no persona a
	// shopper; without the comparison a share counts whole.
	z := map[string]float64{}
	for _, t := range in.Traits {
		if !finite(t.Z) {
			continue
		}
		z[strings.ToLower(t.Feature)] = t.Z
		if isKeyedFeature(t.Feature) {
			if i, ok := intentOf(t.Feature); ok && t.Z > 0.5 {
				p.traitsI[i] = max(p.traitsI[i], min(t.Z, 3)/3)
			}
			continue
		}
		if m, ok := measureOf(t.Feature); ok {
			z := clip(t.Z)
			if !p.has[m] || math.Abs(z) > math.Abs(p.z[m]) {
				p.z[m], p.has[m] = z, true
			}
		} else if i, ok := intentOf(t.Feature); ok && t.Z > 0.5 {
			// A feature of the project's own naming about one kind of page ("ProductRelated").
			p.traitsI[i] = max(p.traitsI[i], min(t.Z, 3)/3)
		}
	}
	weighted := func(prefix string, s Share) float64 {
		if zz, ok := z[prefix+strings.ToLower(s.Key)]; ok {
			return max(0, min(1, (zz+0.5)/1.5)) * s.Share
		}
		return s.Share
	}
	for _, s := range in.TopPaths {
		if i, ok := intentOf(s.Key); ok && finite(s.Share) && s.Share > 0 {
			p.paths[i] += weighted("path:", s)
		}
	}
	for _, s := range in.Goals {
		if i, ok := intentOf(s.Key); ok && finite(s.Share) && s.Share > 0 {
			p.goals[i] += weighted("goal:", s)
		}
	}
	for _, s := range in.Channels {
		if !finite(s.Share) || s.Share <= 0 {
			continue
		}
		k, share := strings.ToLower(s.Key), weighted("channel:", s)
		switch {
		case containsAny(k, "campaign", "email", "newsletter", "paid", "cpc", "ads", "affiliate", "promo", "utm"):
			p.campaign += share
		case containsAny(k, "search", "organic", "seo"):
			p.search += share
		case containsAny(k, "social"):
			p.social += share
		case containsAny(k, "direct", "none", "bookmark"):
			p.direct += share
		case containsAny(k, "referral", "referrer", "partner"):
			p.referral += share
		}
	}
	p.topChannel = top(in.Channels)
	p.topDevice = top(in.Devices)
	p.daypart = daypart(in.Hours)
	return p
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// top returns the largest share, the earliest key winning ties.
func top(shares []Share) Share {
	var best Share
	for _, s := range shares {
		if finite(s.Share) && strings.TrimSpace(s.Key) != "" && s.Share > best.Share {
			best = s
		}
	}
	return best
}

// daypart names the part of the day holding at least half of the visits, if one does.
func daypart(hours []Share) string {
	parts := map[string]float64{}
	for _, s := range hours {
		h, ok := leadingInt(s.Key)
		if !ok || h < 0 || h > 23 || !finite(s.Share) {
			continue
		}
		switch {
		case h >= 22 || h < 5:
			parts["night"] += s.Share
		case h < 11:
			parts["morning"] += s.Share
		case h < 18:
			parts["daytime"] += s.Share
		default:
			parts["evening"] += s.Share
		}
	}
	for _, name := range []string{"night", "morning", "evening", "daytime"} {
		if parts[name] >= 0.5 {
			return name
		}
	}
	return ""
}

func leadingInt(s string) (int, bool) {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == 0 || end > 2 {
		return 0, false
	}
	n, err := strconv.Atoi(s[:end])
	return n, err == nil
}

// scores rates how well each type fits the profile. The weights are judgement, tuned on the
// typical profiles in the tests and on the online shoppers data: intent shares count most,
// behaviour z-scores refine. Product pages alone make a shopper, not a buyer: visited deeply
// they make an explorer, shallowly a window-shopping browser; buying takes cart, checkout or
// purchase signals, and a goal rate below the population's counts against it.
func (p profile) scores() map[string]float64 {
	z := p.z
	pos := func(x float64) float64 { return max(x, 0) }
	unit := func(x float64) float64 { return max(0, min(1, x)) }
	neg := func(x float64) float64 { return max(-x, 0) }
	intentScore := func(i intent) float64 {
		return 3*p.paths[i] + 2.5*p.goals[i] + 1.5*p.traitsI[i]
	}
	return map[string]float64{
		TypeBuyer:         intentScore(iBuy) + 0.4*intentScore(iShop) + 0.8*pos(z[mGoals]) - 0.8*neg(z[mGoals]) + 0.2*pos(z[mClicks]) - 0.3*pos(z[mBounce]),
		TypeDealSeeker:    intentScore(iDeal) + 2*p.campaign,
		TypeResearcher:    intentScore(iResearch) + 0.5*pos(z[mTime]) + 0.4*pos(z[mScroll]) + 0.2*pos(z[mPages]) - 0.3*pos(z[mBounce]),
		TypeSupportSeeker: intentScore(iSupport) + 0.2*pos(z[mClicks]),
		TypeLoyal:         0.7*pos(z[mVisits]) + 0.7*pos(z[mLoyalty]) + 0.4*neg(z[mRecency]) + 0.8*p.direct - 0.3*pos(z[mBounce]),
		TypeBrowser:       0.9*pos(z[mBounce]) + 0.3*neg(z[mPages]) + 0.3*neg(z[mTime]) + 0.2*neg(z[mScroll]) + 0.4*intentScore(iShop)*unit(0.5-z[mPages]),
		TypeNewcomer:      0.4*neg(z[mVisits]) + 0.3*neg(z[mLoyalty]) + 0.3*pos(z[mRecency]) + 1.2*(p.search+p.social+p.referral) + 1.5*intentScore(iNew)/3 - 0.4*pos(z[mBounce]),
		TypeExplorer:      0.6*intentScore(iShop)*unit(0.5+z[mPages]) + 0.6*pos(z[mPages]) + 0.4*pos(z[mClicks]) + 0.2*pos(z[mTime]) - 0.4*pos(z[mBounce]),
	}
}

// minTypeScore is the score below which no type fits and a persona is "other".
const minTypeScore = 0.6

// ruleType picks the best-fitting type, earlier types in Types() winning exact ties.
func ruleType(p profile) string {
	s := p.scores()
	best, bestScore := TypeOther, minTypeScore
	for _, t := range Types() {
		if v, ok := s[t]; ok && v > bestScore {
			best, bestScore = t, v
		}
	}
	return best
}

// typeText is the rule-based wording of one type.
type typeText struct {
	names                            []string
	tagline, behaviour               string
	goals, frustrations, suggestions []string
}

func typeTexts(t string) typeText {
	switch t {
	case TypeBuyer:
		return typeText{
			names:        []string{"Decisive Buyers", "Cart Closers", "Checkout Regulars", "Ready-to-Buy Shoppers", "Confident Purchasers"},
			tagline:      "They know what they want and head for the checkout.",
			behaviour:    "They come to buy: product, cart and checkout pages take much of their time and they complete goals more than most.",
			goals:        []string{"Find the right product quickly", "Check out without friction", "Be sure about price, delivery and returns"},
			frustrations: []string{"Surprise costs at checkout", "Long or confusing forms", "Products out of stock"},
			suggestions:  []string{"Shorten the checkout and offer express payment", "Show delivery costs and dates on product pages", "Suggest related products after purchase"},
		}
	case TypeDealSeeker:
		return typeText{
			names:        []string{"Deal Hunters", "Bargain Scouts", "Promo Chasers", "Savvy Savers", "Coupon Collectors"},
			tagline:      "Drawn in by offers, they compare prices before committing.",
			behaviour:    "Offers bring them in: they arrive from campaigns and newsletters and favour sale and promotion pages.",
			goals:        []string{"Find the best price", "Use a discount or promotion", "Know how long an offer lasts"},
			frustrations: []string{"Expired or hidden promo codes", "Offers that do not match the ad", "Unclear final price"},
			suggestions:  []string{"Land campaign traffic on the matching offer", "Show the discounted price and saving clearly", "Invite them to alerts for future sales"},
		}
	case TypeResearcher:
		return typeText{
			names:        []string{"Careful Researchers", "Deep Readers", "Thorough Evaluators", "Fact Finders", "Studious Comparers"},
			tagline:      "They read, compare and weigh every detail before deciding.",
			behaviour:    "They read: long visits, deep scrolling and many informational pages such as guides, docs and comparisons.",
			goals:        []string{"Understand the options in depth", "Compare alternatives fairly", "Find trustworthy details and proof"},
			frustrations: []string{"Thin or outdated information", "Specs scattered across pages", "Pressure to buy before being ready"},
			suggestions:  []string{"Offer comparison tables and detailed specs", "Link guides to the matching products", "Offer to save or email what they read"},
		}
	case TypeLoyal:
		return typeText{
			names:        []string{"Loyal Regulars", "Faithful Returners", "Devoted Fans", "Steady Regulars", "Old Friends"},
			tagline:      "They come back again and again and know the site well.",
			behaviour:    "They return often, on many days, and mostly come straight to the site.",
			goals:        []string{"Get to familiar things fast", "See what is new since last time", "Be recognised for their loyalty"},
			frustrations: []string{"Changes that move familiar things", "Having to re-enter the same details", "No reward for coming back"},
			suggestions:  []string{"Highlight what is new since their last visit", "Offer a loyalty programme or perks", "Keep shortcuts to what they use most"},
		}
	case TypeSupportSeeker:
		return typeText{
			names:        []string{"Help Seekers", "Answer Hunters", "Support Visitors", "Problem Solvers", "Account Fixers"},
			tagline:      "They come with a question and want an answer fast.",
			behaviour:    "They come for help: support, contact, account and FAQ pages make up much of their visits.",
			goals:        []string{"Solve a problem quickly", "Reach a person when needed", "Check an order or account"},
			frustrations: []string{"Answers that are hard to find", "Contact options buried deep", "Repeating their problem twice"},
			suggestions:  []string{"Put search and top answers on help pages", "Make contact options easy to find", "Offer self-service order tracking"},
		}
	case TypeBrowser:
		return typeText{
			names:        []string{"Quick Glancers", "Passing Visitors", "Window Shoppers", "Drive-by Skimmers", "One-Page Visitors"},
			tagline:      "They take a quick look and move on.",
			behaviour:    "Their visits are short: many leave after one page, with little scrolling or clicking.",
			goals:        []string{"See at a glance what the site offers", "Find one specific thing fast", "Decide whether it is worth a closer look"},
			frustrations: []string{"Slow pages", "Landing pages that miss what they searched for", "Walls of text"},
			suggestions:  []string{"Make the first screen answer why stay", "Speed up landing pages", "Offer one clear next step on every entry page"},
		}
	case TypeNewcomer:
		return typeText{
			names:        []string{"Curious Newcomers", "First-Time Visitors", "Fresh Arrivals", "New Faces", "Recent Discoverers"},
			tagline:      "New to the site, they are finding their bearings.",
			behaviour:    "They are new: few visits so far, mostly arriving from search, social media or other sites.",
			goals:        []string{"Understand what the site offers", "Decide whether to trust it", "Find a good place to start"},
			frustrations: []string{"Jargon and insider terms", "No obvious starting point", "Being asked to sign up too early"},
			suggestions:  []string{"Welcome them with a clear overview", "Show reviews and trust signals early", "Guide them to popular starting points"},
		}
	case TypeExplorer:
		return typeText{
			names:        []string{"Curious Explorers", "Wide Wanderers", "Site Explorers", "Eager Clickers", "Trailblazers"},
			tagline:      "They roam widely, opening page after page.",
			behaviour:    "They explore: many pages and clicks per visit, across many parts of the site.",
			goals:        []string{"Discover what is on offer", "Follow their curiosity", "Find something unexpected"},
			frustrations: []string{"Dead ends without next steps", "Navigation that hides sections", "Losing track of what they saw"},
			suggestions:  []string{"Add related links and next steps to every page", "Offer a recently viewed list", "Surface popular and new sections"},
		}
	}
	return typeText{
		names:        []string{"Everyday Visitors", "Steady Visitors", "Mixed Visitors", "Quiet Visitors", "Occasional Visitors"},
		tagline:      "They use the site in their own, unremarkable way.",
		behaviour:    "Their behaviour is close to the average visitor's, without one strong pattern.",
		goals:        []string{"Find what they came for", "Get around the site easily"},
		frustrations: []string{"Unclear navigation", "Slow pages"},
		suggestions:  []string{"Study this group's top pages for quick wins", "Add business context to sharpen this persona"},
	}
}

// qualifiers are words that set a persona apart from others of its type: strong ones (a part of
// the day, a campaign, newsletter or social channel, a phone or tablet holding most visits) lead
// the name; weak ones (desktop, which most sites see most) only break ties with taken names.
func (p profile) qualifiers() (strong, weak []string) {
	switch p.daypart {
	case "night":
		strong = append(strong, "Night-Owl")
	case "morning":
		strong = append(strong, "Morning")
	case "evening":
		strong = append(strong, "Evening")
	}
	if p.topChannel.Share >= 0.5 {
		switch c := strings.ToLower(p.topChannel.Key); {
		case strings.Contains(c, "email") || strings.Contains(c, "newsletter"):
			strong = append(strong, "Newsletter")
		case strings.Contains(c, "campaign") || strings.Contains(c, "paid"):
			strong = append(strong, "Campaign")
		case strings.Contains(c, "social"):
			strong = append(strong, "Social")
		}
	}
	if p.topDevice.Share >= 0.5 {
		switch d := strings.ToLower(p.topDevice.Key); {
		case (strings.Contains(d, "mobile") || strings.Contains(d, "phone")) && p.topDevice.Share >= 0.6:
			strong = append(strong, "Mobile")
		case strings.Contains(d, "tablet") && p.topDevice.Share >= 0.6:
			strong = append(strong, "Tablet")
		case strings.Contains(d, "desktop"):
			weak = append(weak, "Desktop")
		}
	}
	return strong, weak
}

func seedHash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// ruleName picks the first name not taken: the type's names come in an order set by the seed;
// the first is led by the strongest qualifier if there is one; then every name is tried bare and
// with each qualifier; numbered names come last.
func ruleName(t string, names []string, strong, weak []string, seed string, takenNames []string) string {
	off := int(seedHash("name", seed, t) % uint64(len(names)))
	ordered := append(slices.Clone(names[off:]), names[:off]...)
	var cands []string
	if len(strong) > 0 {
		cands = append(cands, strong[0]+" "+ordered[0])
	}
	for _, n := range ordered {
		cands = append(cands, n)
		for _, q := range append(slices.Clone(strong), weak...) {
			cands = append(cands, q+" "+n)
		}
	}
	for _, c := range cands {
		if len([]rune(c)) <= MaxNameLen && !taken(c, takenNames) {
			return c
		}
	}
	for i := 2; ; i++ {
		c := fmt.Sprintf("%s %d", ordered[0], i)
		if !taken(c, takenNames) {
			return c
		}
	}
}

// RuleName names and describes a persona from its aggregates alone, deterministically: the same
// input always gives the same result. It picks the type whose signals (page intents, goals,
// channels and behaviour z-scores) fit best, and a name of that type not in in.Taken, varied by
// the persona id and qualified by a dominant device, time of day or channel. The result has the
// same shape and limits as an LLM answer and is marked as named by the rules.
func RuleName(in Input) Result {
	p := readProfile(in)
	t := ruleType(p)
	tt := typeTexts(t)
	strong, weak := p.qualifiers()
	r := Result{
		Name:             ruleName(t, tt.names, strong, weak, in.PersonaID, in.Taken),
		Type:             t,
		Tagline:          tt.tagline,
		Summary:          ruleSummary(in, p, tt),
		Goals:            slices.Clone(tt.goals),
		Frustrations:     slices.Clone(tt.frustrations),
		SuggestedActions: slices.Clone(tt.suggestions),
		NamedBy:          NamedByRules,
	}
	if path := topPathFor(in, t); path != "" && len(r.SuggestedActions) < MaxItems {
		r.SuggestedActions = append(r.SuggestedActions, truncate("Review "+path+", their most visited page group, with them in mind", MaxItemLen))
	}
	return r
}

// topPathFor returns the persona's most visited path group, preferring one that matches its type.
func topPathFor(in Input, t string) string {
	want, ok := map[string]intent{
		TypeBuyer: iBuy, TypeDealSeeker: iDeal, TypeResearcher: iResearch, TypeSupportSeeker: iSupport, TypeExplorer: iShop,
	}[t]
	paths := slices.Clone(in.TopPaths)
	paths = slices.DeleteFunc(paths, func(s Share) bool { return !finite(s.Share) || strings.TrimSpace(s.Key) == "" })
	slices.SortStableFunc(paths, func(a, b Share) int { return cmp.Compare(b.Share, a.Share) })
	if ok {
		for _, s := range paths {
			if i, found := intentOf(s.Key); found && i == want {
				return pathLabel(s.Key)
			}
		}
	}
	if len(paths) > 0 {
		return pathLabel(paths[0].Key)
	}
	return ""
}

// pathLabel shows a path group in prose.
func pathLabel(key string) string {
	if k := strings.TrimSpace(key); k == "/" {
		return "the home page (/)"
	}
	return promptText(key, 40)
}

// ruleSummary writes the summary: size, the type's behaviour and the facts behind it, cut to
// whole sentences within the limit.
func ruleSummary(in Input, p profile, tt typeText) string {
	var sentences []string
	switch {
	case in.Share > 0 && in.Size > 0:
		sentences = append(sentences, fmt.Sprintf("About %s of visitors (%s people) fall in this group.", percent(in.Share), count(in.Size)))
	case in.Size > 0:
		sentences = append(sentences, fmt.Sprintf("This group holds %s visitors.", count(in.Size)))
	}
	sentences = append(sentences, tt.behaviour)
	if s := traitSentence(in.Traits); s != "" {
		sentences = append(sentences, s)
	}
	var where []string
	if p.topChannel.Key != "" {
		where = append(where, fmt.Sprintf("their main channel is %s (%s of visits)", promptText(p.topChannel.Key, 30), percent(p.topChannel.Share)))
	}
	if p.topDevice.Key != "" {
		where = append(where, fmt.Sprintf("their main device %s (%s)", promptText(p.topDevice.Key, 30), percent(p.topDevice.Share)))
	}
	if len(where) > 0 {
		w := strings.Join(where, " and ")
		sentences = append(sentences, strings.ToUpper(w[:1])+w[1:]+".")
	}
	if path := topPathFor(in, ""); path != "" {
		sentences = append(sentences, fmt.Sprintf("Their most visited page group is %s.", path))
	}
	var b strings.Builder
	for _, s := range sentences {
		if len([]rune(b.String()))+1+len([]rune(s)) > MaxSummaryLen {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String()
}

// traitSentence states the two overall measures furthest from the population.
func traitSentence(traits []Trait) string {
	ts := slices.DeleteFunc(slices.Clone(traits), func(t Trait) bool {
		return isKeyedFeature(t.Feature) || !finite(t.Z) || !finite(t.Value) || !finite(t.Population) || math.Abs(t.Z) < 0.5
	})
	slices.SortStableFunc(ts, func(a, b Trait) int {
		if c := cmp.Compare(math.Abs(b.Z), math.Abs(a.Z)); c != 0 {
			return c
		}
		return strings.Compare(a.Feature, b.Feature)
	})
	if len(ts) > 2 {
		ts = ts[:2]
	}
	var parts []string
	for _, t := range ts {
		word := "higher"
		if t.Z < 0 {
			word = "lower"
		}
		name, value, population := t.Feature, number(t.Value), number(t.Population)
		// Durations in milliseconds read better in seconds.
		if base, ok := strings.CutSuffix(name, "_ms"); ok {
			name, value, population = base, number(t.Value/1000)+" s", number(t.Population/1000)+" s"
		}
		name = promptText(strings.NewReplacer("_", " ", "-", " ").Replace(name), 40)
		parts = append(parts, fmt.Sprintf("%s %s than average (%s vs %s)", name, word, value, population))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Compared with all visitors: " + strings.Join(parts, "; ") + "."
}
