// Package ingest is the collect contract of Personas and its server-side privacy pass.
//
// The contract is what a browser, or an import, may send: the payload types, their size limits
// and shape checks (ParsePayload, CheckEvents, CheckID; Import.Line for an import's lines).
// Nothing that fails them is stored. The privacy pass (Prepare for collect, Normalizer for
// classify's inline events, Import for history) turns accepted events into the rows models
// stores: it applies the sample rate and the time window, scrubs personal data out of text,
// attributes and URLs, keeps of a query string only the campaign (utm_*) and allow-listed keys,
// normalises paths, derives the channel and the device class, keeps nothing typed into a form
// field, applies the project's excluded selectors, and counts every event it does not keep under
// its drop reason (models.Reason*), so that a site owner sees loss instead of guessing at it.
//
// An import file is read by a Source (NewSource) one record at a time, in bounded memory: this
// service's NDJSON, Matomo's Live.getLastVisitsDetails (a JSON array decoded one visit at a time)
// or the rows of a GA4 BigQuery export. The readers decode only the fields they map (never an
// address, a user agent or a user id), map the other tools' events to the contract's and put
// them through the same checks and privacy pass as an NDJSON line; the other tools' visitor ids
// become keyed hashes (Import.SourceVisitorID).
//
// The package never trusts the client and touches neither the network nor the database: the
// site key, origin and rate checks before it are api's, and the group commit that stores its
// batches is models'.
package ingest
