// Package enrichment names and describes personas: an Azure OpenAI chat completion (through
// go-openai) when a deployment is configured, and a deterministic rule-based namer otherwise or
// when the model fails, refuses or answers badly. It also draws each persona's SVG avatar.
//
// Privacy is the product. The prompt holds only a persona's k-anonymous aggregates (its traits
// compared with the whole population, its top paths, channels, devices, hours and goals) and the
// business context as the project wrote it: never a visitor id, a session or a single visitor's
// text, and never the persona id. The prompt and the raw answer live only in memory during the
// call; nothing here logs them, logs the business context or the API key, or returns them. Only
// the strictly validated fields of [Result] leave the package, and every free-text field has
// been through [privacy.Scrub].
//
// Every figure the prompt and the rule-based texts hold is in human units, read through
// [models.FeatureFigure]: counts with their noun, durations, percentages with what they are a
// share of, the log1p features as their typical value; goals once, as the share of visitors who
// reached them and the lift against all visitors. Path groups read with the project's page
// labels or sensible defaults ("/p/:id" is "Product pages").
//
// The LLM answer is asked for as JSON with a JSON schema carrying the length limits (maxLength,
// minItems, maxItems; not strict, since strict mode refuses maxLength) when the configured API
// version supports structured outputs (2024-08-01-preview or later) and in JSON mode otherwise,
// and is then validated by [ParseAnswer] whatever the server promised. An answer over a limit or
// with a name already taken is asked for once more with what was wrong; names are unique among
// a project's current personas (the store enforces it, see jobs.Enricher).
//
// Faults are handled in [Client.Complete]: a 429 honours Retry-After (seconds, an HTTP date or
// Azure's retry-after-ms), 5xx answers, transport errors and timeouts are retried with jittered
// exponential back-off inside one overall deadline, and a circuit breaker stops calling an
// endpoint and deployment after consecutive failures. [Enricher] puts it together and never fails:
// when the model cannot give a valid answer, [RuleName] does.
//
// The rule-based namer reads trait features by keyword, so it works with whatever feature names
// the classifier (or a project's own data, such as "BounceRates" or "PageValues") uses:
// "bounce"/"exit", "visit"/"session", "pageview"/"page", "time"/"duration", "scroll", "click",
// "goal"/"conversion"/"pagevalue"/"revenue", "active_day"/"return", and path groups, channels and
// goals by what they contain ("cart", "checkout", "product", "sale", "docs", "info", "support",
// "account", "campaign", ...). Shares count for what sets a persona apart from the population:
// product pages that every persona visits make no persona a buyer.
package enrichment
