// Package classifier turns visitors' running aggregates into personas: feature vectors, scaling,
// clustering (k-means++ with several starts, mini-batch k-means on a reservoir sample for large
// projects, a mixture for soft assignment and noise), the choice of k under a minimum cluster
// size (k-anonymity), matching of new clusters to the previous version's personas, assignment
// of one visitor with a calibrated confidence, and the versioned binary model format.
//
// It is pure computation: no I/O, no logging, no global state. Matrices are []float64 laid out
// row-major with a stride of d columns, so hot loops walk memory in order and allocate nothing
// per row; assignment steps run one worker per core over fixed-size row chunks whose partial sums
// are reduced in chunk order, which makes results independent of the number of cores.
//
// A model holds aggregates only (centroids, variances, sizes and per-persona shares of at least
// MinClusterSize visitors), never a visitor's data.
//
// # Features and their weights
//
// Schema.Vector gives the raw, interpretable features (counts as log1p, rates and shares as they
// are); the dashboard, the traits and the namer read them. Weighting belongs to the scaler.
// Each feature belongs to a group: volume (visits, page views, clicks, time on site, active
// days), engagement (pages per visit, bounce rate, scroll depth, clicks per page, time per page),
// timing (recency, frequency, weekend), pages, elements, channels, devices, goals (goal rate and
// goals of each name per visit) and hours. Every group carries the same total weight, 1, except
// goals, 3: goals are what the personas are for (a marketer's buyers), and with a weight of 1
// a goal reached once cannot tell a persona apart (see below); on the online shoppers data (one
// session a visitor) a weight of 2 still left the buyers inside a persona of heavy explorers at
// k = 4. A group's weight is shared
// equally by its units; a unit is a feature, or a whole family of shares of one denominator
// (the paths of page views, the element categories of clicks, the channels or devices of
// visits, the hours of events, the goal names). A family is scaled by one common scale, the
// root of its columns' summed variance, so a one-hot group counts once, not once per column, and
// a sparse share is not blown up by its own small deviation (the robust scaling of version 1
// divided path:/blog by 0.08 against 1.41 for page views, then clipped at ±5). Scaled features
// are centred on their mean; there is no clip: the background component takes the extremes.
// The same weights multiply each feature's (or family's) log-likelihood in the mixture below: a
// composite likelihood, in which five correlated volume counts say "how much" once instead of
// five times.
//
// # The likelihood: evidence counts
//
// A visitor is judged by what was seen of it (Evidence: page views + clicks + goals, and the
// denominators behind each share). Continuous features are diagonal Gaussians. Shares are the
// counts behind them, multinomial with the component's shares as probabilities (the rest of the
// denominator is one more category); counts per unit (goals per visit, clicks per page) are
// Poisson. Each observation weighs (1+α)/(h+α) with α = 4, h the family's denominator: the
// Dirichlet-multinomial's effective sample size, as members of a persona do not share one set
// of shares exactly: a visitor seen once carries one observation, one seen a thousand times
// about five, not a thousand. A device is one observation per visitor however many visits show
// it (a visitor keeps its phone), and hours and weekend count a visit's events as that visit.
// A mixture of multinomials cannot gain by splitting a group on a share that is 0 or 1 only
// because it was seen once (Gaussians on such shares did: a channel or a device made personas).
//
// History is censored. With at most ShortHistory (10) events, features that accumulate (visits,
// page views, clicks, time on site, active days, pages per visit) count as lower bounds: the
// likelihood is the Gaussian's survival function P(X ≥ x), so a visitor of one page fits every
// persona that has at least one page; recency and frequency are left out, and frequency is left
// out for a visitor of one visit at any length. A rate from h units has its variance widened by
// 1 + 1/h; a share or count whose denominator is 0 is missing, not zero. What is not yet
// observed is missing or censored, not an extreme value: scroll depth without a leave event is
// missing (its denominator, ScrollCount, is 0); a short history whose pages are not all left
// (fewer leaves than page views: time comes only from leave events) has its time per page
// censored from below, as the open pages have no time yet; and a short history's bounce rate
// counts its finished visits only (none for a visitor of one visit), because the visit in
// progress is a bounce until its second page view or first click, and judging it would call
// every visitor of one page view a bouncer. The training visitors'
// histories are taken as complete when the mixture is fitted; their labels (Result.Labels) are
// then the model's answers on them, as Classify gives them.
//
// # Noise, outliers and k
//
// The mixture has a background component for noise: visitors with no preference. On shares it
// is flat: every category of a family alike, the rest (what the family's columns do not name)
// at its population share, so on a family whose columns name everything (hours, channels,
// devices) it is the uniform distribution, what a visitor who does anything draws from. On
// continuous features and counts its location is fitted by EM, as its weight, and its variance
// is never under the population's: broad wherever it sits. A component fitted on noise then
// gains almost nothing over it (the noise's own variances are no tighter than the population's
// and its shares are the background's), so it does not pay for its parameters in the ICL and
// the noise stays the background's. (Up to version 2 the background was the data's mean with
// four times its variance and counted the rest as one more category: a fitted component beat
// it on noise by 4 nats a visitor, and the noise became a persona or joined one.) Visitors it
// explains better than every persona are noise: label -1, in no persona, answered outlier. The
// minimum cluster size counts persona members only.
//
// k is the candidate of MinK..MaxK with the lowest ICL (BIC plus twice the entropy of the soft
// assignment) of that mixture. The candidates are fitted from MaxK down: each k is fitted by EM
// from k-means++ (on shares drawn towards the population's by their evidence, so a share seen
// once does not seed a cluster) with clusters under the minimum size merged, and from the best
// mixture of k+1 with the component it needs least removed, and with the two components whose
// merger costs least merged; the fit of lowest ICL stands for k. k-means likes to halve a large
// group rather than part a small one from its neighbour, a start the mixture cannot undo; the
// mixture of one more component had room for both, and the merge joins a group split on a
// feature its members do not share (a device). The final fit starts from the training seed's
// k-means and from the search's mixture, the lower ICL standing. The search sample, its k-means
// starts, the validation split and the large-project samples come from fixed streams, so k is a
// function of the data: the training seed moves only the final fit's starts.
//
// Outlier thresholds are per evidence bucket (Bucket: 1 event, 2–3, 4–10, 11+): the 1st
// percentile of the persona log density of genuine members (not noise) of the held-out visitors
// seen at that much history. Their early views are simulated as real prefixes of h events
// (thin): aggregated as the ingest path and classify aggregate the first h events in time
// order, not a uniform sample of the history. The first visits come first, each opening with
// a page view, the rest of the events drawn without replacement; the finished visits bounce
// as the visitor's visits do, and the visit in progress counts as a bounce while it has one
// page view and no click; time and scroll come only from pages already left; channels,
// devices, hours and days are those of the view's visits; and a view is judged at its last
// event (recency 0), as classify judges a visitor at the time of its events. Views are taken
// at 1, 2–3 and 4–10 events, and log-uniformly from 11 to all but one. A visitor is an
// outlier for behaviour far from every persona for a visitor with that much history, never
// for being short.
//
// # Calibration
//
// Confidence is the probability that the answer is right, where right means the persona the
// model gives the visitor's full history: what more evidence would settle on. Per evidence
// bucket, a temperature divides the persona log-likelihoods before the softmax; it is fitted by
// minimum negative log-likelihood of the full-history persona over the held-out visitors'
// simulated early views (temperature scaling: one parameter per bucket, the ranking untouched).
// Held-out visitors are a validation split of up to 2,000 (a tenth of a project of 1,000 or
// more) left out of every fit; a smaller project is calibrated on a sample of its own visitors.
// Metrics.CalibrationError records the expected calibration error per bucket after calibration.
// Variance floors come from the population: 5 % of each feature's variance, and for volume
// counts their counting noise c/(1+c)².
//
// # Model versions
//
// FormatVersion 3 stores the background (its shares are its mean, as a component's), the
// thresholds and the temperatures (and the goal lifts). Version-2 blobs have the same fields and
// still answer as they did, their background spreading every family evenly over its categories
// and the rest. Version-1 blobs still decode and answer as they did (robust scaling, plain mixture,
// one outlier threshold, the uncalibrated posterior: an identity calibration) until the project
// retrains.
package classifier
