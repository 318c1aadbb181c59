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

	"personas/models"
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

	// Human values of the schema's count features (typical, expm1 of the mean log1p), when the
	// traits hold them: what "most members have one visit" and "returning on several days" read.
	visits, activeDays       float64
	hasVisits, hasActiveDays bool
	// maxZ is the largest |z| of any trait and goalApart whether a goal's lift interval lies
	// clearly away from 1: a persona with neither is noise-like, whatever its shares.
	maxZ      float64
	goalApart bool
	// flat is true when the persona spreads evenly over channels, devices and page groups (each
	// list with three or more keys used, at least two such lists): the mark of noise, visitors
	// who have nothing in common.
	flat bool
	// buyLift is the best lift of a purchase-like goal (cart, checkout, purchase, order...) and
	// hasBuyLift whether the persona's goal lifts hold one.
	buyLift    float64
	hasBuyLift bool
	// anyLift is the lift of reaching any goal, when known.
	anyLift    float64
	hasAnyLift bool
	// deal is the evidence of offers and coupons: deal paths, goals and element traits.
	deal float64
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
		p.maxZ = max(p.maxZ, math.Abs(t.Z))
		z[strings.ToLower(t.Feature)] = t.Z
		if finite(t.Value) {
			switch t.Feature {
			case "visits":
				p.visits, p.hasVisits = models.HumanValue(t.Feature, t.Value), true
			case "active_days":
				p.activeDays, p.hasActiveDays = models.HumanValue(t.Feature, t.Value), true
			}
		}
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
		// The project's label says what a page is where its path does not ("/x" → "Deals").
		if i, ok := intentOf(s.Key + " " + in.pageLabel(s.Key)); ok && finite(s.Share) && s.Share > 0 {
			p.paths[i] += weighted("path:", s)
		}
	}
	for _, g := range in.GoalLifts {
		if !finite(g.Lift) || !finite(g.Low) || !finite(g.High) {
			continue
		}
		if i, ok := intentOf(g.Goal); ok && i == iBuy {
			p.buyLift, p.hasBuyLift = max(p.buyLift, g.Lift), true
		}
		if g.Goal == "any" && g.PopulationRate > 0 {
			p.anyLift, p.hasAnyLift = g.Lift, true
		}
		// A goal reached surely more (or less) often than by all visitors sets a persona apart
		// as much as a trait far from the population does.
		if g.PopulationRate > 0 && (g.Low >= 1.5 || g.High <= 1/1.5) {
			p.goalApart = true
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
	p.deal = p.paths[iDeal] + p.goals[iDeal] + p.traitsI[iDeal]
	lists, flat := 0, 0
	for _, l := range [][]Share{in.Channels, in.Devices, in.TopPaths} {
		if e, ok := evenness(l); ok {
			lists++
			if e >= 0.9 {
				flat++
			}
		}
	}
	p.flat = lists >= 2 && flat == lists
	return p
}

// evenness is the normalised entropy of the positive shares of a list (1: all equal), when the
// list has at least three of them.
func evenness(shares []Share) (float64, bool) {
	var sum, h float64
	n := 0
	for _, s := range shares {
		if finite(s.Share) && s.Share > 0 {
			sum += s.Share
			n++
		}
	}
	if n < 3 {
		return 0, false
	}
	for _, s := range shares {
		if finite(s.Share) && s.Share > 0 {
			q := s.Share / sum
			h -= q * math.Log(q)
		}
	}
	return h / math.Log(float64(n)), true
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
		// The classifier's buckets: night 0-6 h, morning 6-12 h, afternoon 12-18 h, evening 18-24 h.
		switch k := strings.ToLower(strings.TrimSpace(s.Key)); k {
		case "night", "morning", "evening":
			parts[k] += s.Share
			continue
		case "afternoon":
			parts["daytime"] += s.Share
			continue
		}
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
// typical profiles in the tests, on generated personas and on the online shoppers data: intent
// shares count most, behaviour z-scores refine. Some types have conditions the members must
// meet, whatever the scores: newcomer needs most members new (a typical visitor with one
// visit), loyal needs returning visits over several days, deal_seeker needs offer or coupon
// signals (a channel alone is not one), buyer a purchase-like goal reached more often than by
// all visitors when the goal lifts are known. Product pages alone make a shopper, not a buyer:
// visited deeply they make an explorer, shallowly a window-shopping browser.
func (p profile) scores() map[string]float64 {
	z := p.z
	pos := func(x float64) float64 { return max(x, 0) }
	unit := func(x float64) float64 { return max(0, min(1, x)) }
	neg := func(x float64) float64 { return max(-x, 0) }
	intentScore := func(i intent) float64 {
		return 3*p.paths[i] + 2.5*p.goals[i] + 1.5*p.traitsI[i]
	}
	s := map[string]float64{
		TypeBuyer:         intentScore(iBuy) + 0.4*intentScore(iShop) + 0.8*pos(z[mGoals]) - 0.8*neg(z[mGoals]) + 0.2*pos(z[mClicks]) - 0.3*pos(z[mBounce]),
		TypeDealSeeker:    intentScore(iDeal) + 2*p.campaign*unit(p.deal/0.1),
		TypeResearcher:    intentScore(iResearch) + 0.5*pos(z[mTime]) + 0.4*pos(z[mScroll]) + 0.2*pos(z[mPages]) - 0.3*pos(z[mBounce]),
		TypeSupportSeeker: intentScore(iSupport) + 0.2*pos(z[mClicks]),
		TypeLoyal:         0.7*pos(z[mVisits]) + 0.7*pos(z[mLoyalty]) + 0.4*neg(z[mRecency]) + 0.8*p.direct - 0.3*pos(z[mBounce]),
		TypeBrowser:       0.9*pos(z[mBounce]) + 0.3*neg(z[mPages]) + 0.3*neg(z[mTime]) + 0.2*neg(z[mScroll]) + 0.4*intentScore(iShop)*unit(0.5-z[mPages]),
		TypeNewcomer:      0.4*neg(z[mVisits]) + 0.3*neg(z[mLoyalty]) + 0.3*pos(z[mRecency]) + 1.2*(p.search+p.social+p.referral) + 1.5*intentScore(iNew)/3 - 0.4*pos(z[mBounce]),
		TypeExplorer:      0.6*intentScore(iShop)*unit(0.5+z[mPages]) + 0.6*pos(z[mPages]) + 0.4*pos(z[mClicks]) + 0.2*pos(z[mTime]) - 0.4*pos(z[mBounce]),
	}
	if p.deal < 0.02 {
		s[TypeDealSeeker] = 0
	}
	if p.hasVisits {
		if p.visits > 1.5 {
			s[TypeNewcomer] = 0
		} else {
			s[TypeLoyal] = 0
		}
	}
	switch {
	case p.hasVisits && p.hasActiveDays:
		if p.visits < 2 || p.activeDays < 2 {
			s[TypeLoyal] = 0
		}
	case !p.has[mVisits] && !p.has[mLoyalty]:
		s[TypeLoyal] = 0 // nothing says they return
	case z[mVisits] < 0.5 && z[mLoyalty] < 0.5:
		s[TypeLoyal] = 0
	}
	// Without a purchase-like goal in the lifts, a persona that reaches goals less often than
	// all visitors does not buy more than they do either.
	if p.hasBuyLift && p.buyLift < 1.1 || !p.hasBuyLift && p.hasAnyLift && p.anyLift < 1 {
		s[TypeBuyer] = 0
	}
	return s
}

// noiseZ is the largest |z| below which a persona has no trait far from the population: noise,
// typed other unless a goal's lift sets it apart.
const noiseZ = 0.75

// flatNoiseZ is the largest |z| below which a persona with flat shares is noise: spread evenly
// over everything, it stands out only where the others are narrow.
const flatNoiseZ = 2.5

// minTypeScore is the score below which no type fits and a persona is "other".
const minTypeScore = 0.6

// ruleType picks the best-fitting type, earlier types in Types() winning exact ties.
func ruleType(p profile) string {
	if p.maxZ < noiseZ && !p.goalApart || p.flat && p.maxZ < flatNoiseZ {
		return TypeOther
	}
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
			behaviour:    "They come to buy: cart and checkout pages take much of their time and they buy more often than most.",
			goals:        []string{"Find the right product quickly", "Check out without friction", "Be sure about price, delivery and returns"},
			frustrations: []string{"Surprise costs at checkout", "Long or confusing forms", "Products out of stock"},
			suggestions:  []string{"Shorten the checkout and offer express payment", "Show delivery costs and dates on product pages", "Suggest related products after purchase"},
		}
	case TypeDealSeeker:
		return typeText{
			names:        []string{"Deal Hunters", "Bargain Scouts", "Promo Chasers", "Savvy Savers", "Coupon Collectors"},
			tagline:      "Drawn in by offers, they compare prices before committing.",
			behaviour:    "Offers bring them in: they favour sale and promotion pages, coupons and discounts.",
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
			behaviour:    "They come back: several visits each, on several days.",
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
			behaviour:    "They are new: most of them have made a single visit so far.",
			goals:        []string{"Understand what the site offers", "Decide whether to trust it", "Find a good place to start"},
			frustrations: []string{"Jargon and insider terms", "No obvious starting point", "Being asked to sign up too early"},
			suggestions:  []string{"Welcome them with a clear overview", "Show reviews and trust signals early", "Guide them to popular starting points"},
		}
	case TypeExplorer:
		return typeText{
			names:        []string{"Curious Explorers", "Wide Wanderers", "Site Explorers", "Page Turners", "Trailblazers"},
			tagline:      "They roam widely, opening page after page.",
			behaviour:    "They explore: they open many pages per visit.",
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
// the persona id and qualified by a dominant device, time of day or channel. Every figure in
// its texts is in human units (models.FeatureFigure), goals as the share of visitors who
// reached them. The result has the same shape and limits as an LLM answer and is marked as
// named by the rules.
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
	if s, ok := pageFor(in, t); ok && len(r.SuggestedActions) < MaxItems {
		r.SuggestedActions = append(r.SuggestedActions,
			truncate(fmt.Sprintf("Review %s with them in mind: %s of their page views go there", pathLabel(in, s.Key), percent(s.Share)), MaxItemLen))
	}
	return r
}

// UniqueName returns name if it is not taken, else the first of "name 2", "name 3"… that is
// not, cut to the name limit: the last resort when a name was taken after it was chosen.
func UniqueName(name string, takenNames []string) string {
	name = strings.TrimSpace(name)
	if !taken(name, takenNames) {
		return name
	}
	for i := 2; ; i++ {
		suffix := fmt.Sprintf(" %d", i)
		base := []rune(name)
		if n := MaxNameLen - len(suffix); len(base) > n {
			base = base[:n]
		}
		if c := strings.TrimSpace(string(base)) + suffix; !taken(c, takenNames) {
			return c
		}
	}
}

// sortedPaths are the persona's path groups, most viewed first.
func sortedPaths(in Input) []Share {
	paths := slices.DeleteFunc(slices.Clone(in.TopPaths), func(s Share) bool {
		return !finite(s.Share) || s.Share <= 0 || strings.TrimSpace(s.Key) == ""
	})
	slices.SortStableFunc(paths, func(a, b Share) int { return cmp.Compare(b.Share, a.Share) })
	return paths
}

// pageFor returns the path group a persona of type t is best served on: the most viewed one
// matching its type, else the most viewed.
func pageFor(in Input, t string) (Share, bool) {
	want, ok := map[string]intent{
		TypeBuyer: iBuy, TypeDealSeeker: iDeal, TypeResearcher: iResearch, TypeSupportSeeker: iSupport, TypeExplorer: iShop,
	}[t]
	paths := sortedPaths(in)
	if ok {
		for _, s := range paths {
			if i, found := intentOf(s.Key + " " + in.pageLabel(s.Key)); found && i == want {
				return s, true
			}
		}
	}
	if len(paths) > 0 {
		return paths[0], true
	}
	return Share{}, false
}

// pathLabel shows a path group in prose: its label, with the path when they differ.
func pathLabel(in Input, key string) string {
	k := strings.TrimSpace(key)
	label := in.pageLabel(k)
	if label == k {
		return promptText(k, 40)
	}
	return promptText(label, models.MaxPageLabelLen) + " (" + promptText(k, 40) + ")"
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
	if s := traitSentence(in); s != "" {
		sentences = append(sentences, s)
	}
	if s := goalSentence(in); s != "" {
		sentences = append(sentences, s)
	}
	var where []string
	if p.topChannel.Key != "" {
		where = append(where, fmt.Sprintf("their main channel is %s (%s of their visits)", promptText(p.topChannel.Key, 30), percent(p.topChannel.Share)))
	}
	if p.topDevice.Key != "" {
		where = append(where, fmt.Sprintf("their main device %s (%s of their visits)", promptText(p.topDevice.Key, 30), percent(p.topDevice.Share)))
	}
	if len(where) > 0 {
		w := strings.Join(where, " and ")
		sentences = append(sentences, strings.ToUpper(w[:1])+w[1:]+".")
	}
	if s := pageSentence(in); s != "" {
		sentences = append(sentences, s)
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

// traitSentence states the two overall measures furthest from the population, in human units.
// Goal features are left to goalSentence; features of unknown unit are not stated.
func traitSentence(in Input) string {
	ts := slices.DeleteFunc(slices.Clone(in.Traits), func(t Trait) bool {
		return isKeyedFeature(t.Feature) || models.IsGoalFeature(t.Feature) || !models.KnownFeature(t.Feature) || !finite(t.Z) || !finite(t.Value) ||
			!finite(t.Population) || math.Abs(t.Z) < 0.5
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
		v, pop := models.FeatureFigure(t.Feature, t.Value, in.pageLabel), models.FeatureFigure(t.Feature, t.Population, in.pageLabel)
		basis := ""
		if v.Basis != "" {
			basis = " (" + v.Basis + ")"
		}
		parts = append(parts, fmt.Sprintf("%s %s vs %s%s", promptText(v.Label, 40), v.Text, pop.Text, basis))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Compared with all visitors: " + strings.Join(parts, "; ") + "."
}

// goalSentence states the goal that sets the persona apart most, as the share of its visitors
// who reached it against all visitors' and the lift: "They reach purchase 2.6× as often as all
// visitors (18 % of them vs 7 %)."
func goalSentence(in Input) string {
	var best GoalLift
	bestScore := 0.0
	for _, g := range in.GoalLifts {
		if strings.TrimSpace(g.Goal) == "" || !finite(g.Rate) || !finite(g.PopulationRate) || g.PopulationRate <= 0 {
			continue
		}
		// How far the lift is from 1, either way; a persona that never reaches a goal others
		// reach is as telling as one that reaches it often.
		score := math.Abs(math.Log(max(g.Rate, 0.01*g.PopulationRate) / g.PopulationRate))
		if score > bestScore {
			best, bestScore = g, score
		}
	}
	if bestScore < math.Log(1.2) {
		return ""
	}
	goal := promptText(goalWords(best.Goal), 40)
	switch {
	case best.Rate <= 0:
		return fmt.Sprintf("None of them reached %s, against %s of all visitors.", goal, percent(best.PopulationRate))
	case best.Lift >= 1:
		return fmt.Sprintf("They reach %s %s as often as all visitors (%s of them vs %s).", goal, models.FormatLift(best.Lift),
			percent(best.Rate), percent(best.PopulationRate))
	}
	return fmt.Sprintf("They reach %s less often than all visitors: %s of them vs %s (%s as often).", goal,
		percent(best.Rate), percent(best.PopulationRate), models.FormatLift(best.Lift))
}

// pageSentence names the persona's most viewed page group and, when another sets it apart
// from all visitors (a path trait well above the population), that one too.
func pageSentence(in Input) string {
	paths := sortedPaths(in)
	if len(paths) == 0 {
		return ""
	}
	s := fmt.Sprintf("Their most visited page group is %s, with %s of their page views.", pathLabel(in, paths[0].Key), percent(paths[0].Share))
	var best Trait
	for _, t := range in.Traits {
		if k, ok := strings.CutPrefix(t.Feature, "path:"); ok && k != paths[0].Key && finite(t.Z) && finite(t.Value) &&
			finite(t.Population) && t.Z >= 1 && t.Z > best.Z {
			best = t
		}
	}
	if best.Feature != "" {
		k := strings.TrimPrefix(best.Feature, "path:")
		s += fmt.Sprintf(" They view %s more than others do: %s of their page views vs %s for all visitors.", pathLabel(in, k),
			percent(best.Value), percent(best.Population))
	}
	return s
}
