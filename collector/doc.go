// Package collector holds the browser script that customer sites load to send page views,
// clicks, leaves and goals to Personas, and everything the server needs to hand it out:
// its immutable URL, its Subresource Integrity hash, the install snippet and an HTTP
// handler.
//
// The script (collector.js) is plain ES2017 with no build step and no dependencies. It is
// served at Path(), a URL that changes with every change of the script, so it can be cached
// forever; the snippet pins it with Integrity(), so a tampered copy is refused by the
// browser.
//
// # What the script does
//
// It reads its site key and endpoint from its own <script> tag (data-site-key,
// data-endpoint, optional data-anti-flicker in milliseconds, 300 by default), fetches
// GET {endpoint}/v1/config (cached in sessionStorage for five minutes) and stays silent when
// that fails. It collects nothing when the browser sent the "forget me" request before, when
// Global Privacy Control (respect_gpc) or Do Not Track (respect_dnt) ask it not to, or when
// the visitor falls outside sample_rate (decided from the visitor id, so always the same way
// for one visitor).
//
// Otherwise it keeps a random 128-bit visitor id in a first-party cookie and localStorage (in
// sessionStorage only when the project is cookie-less) and a session id that rotates after
// 30 minutes without activity, and records page views (also on history.pushState,
// replaceState, popstate and back-forward cache restores), clicks, leaves (time on page and
// the deepest scroll, once per page view, on pagehide or when the page is hidden) and goals.
// A click is recorded on the nearest interactive ancestor of its target (a span in a button
// records the button), with its tag, id, classes, visible text (200 characters), the
// attributes role, type, name, href, aria-label, title, alt and the project's data_attrs,
// and a short CSS selector. A click on an input, textarea, select or editable element records
// only its tag and input type; the value and content of such fields are never read, nor the
// text of an element that contains one. Clicks inside [data-personas-ignore] or inside an
// element matching one of the project's exclude selectors are not recorded. URL fragments are
// dropped.
//
// Events go to POST {endpoint}/v1/collect as text/plain JSON (no CORS preflight) in batches of
// at most 200 events and 60 KB, when 20 events wait or 5 seconds after the first; the first
// page view goes at once. Unacknowledged events stay in sessionStorage, so a reload does not
// lose them; 429, 5xx and network errors are retried with exponential back-off, honouring
// Retry-After when the server exposes it. When the page is hidden or goes away the rest goes
// with navigator.sendBeacon.
//
// # Consent
//
// With data-consent="required" on the script tag (any value, even an empty one, counts: a typo
// must not stand for consent) the script stores nothing (no cookie, no localStorage or
// sessionStorage entry, no visitor or session id; only a decision, see below) and sends nothing
// (not even GET /v1/config) until consent is given, and it removes personas_ ids a page may
// still hold from before. Consent is given by personas.consent(true), or by Google Consent Mode granting
// analytics_storage. Events of the page before consent are not recorded; collection starts
// with a page view of the page as it is then. Without data-consent consent is implied, and
// Google Consent Mode is not read.
//
// personas.consent(false), or a Consent Mode update that denies analytics_storage, stops
// collecting at once: queued events are dropped, the ids, the queue, the cached persona answer
// and configuration and the data-persona-* attributes are removed, variants fall back to the
// default content, and nothing more is sent (a request already under way is not recalled).
// consent(true) afterwards starts afresh with new ids. consent() takes only true or false;
// any other value is ignored. To erase what was collected, call forget() before consent(false):
// consent(false) forgets the visitor id. forget() wins over a later consent(true).
//
// The decision itself, and nothing else, is remembered: localStorage "personas_consent", 1 or
// 0, written when it is taken. A denial therefore holds on the next page (and in other tabs,
// through the storage event) and nothing is sent there; a grant starts collecting at once on
// the next page. A newer decision replaces it. Where localStorage is blocked the decision
// lasts for the page only. Google's tags keep no such memory (the banner is expected to repeat
// its update on every page), but a banner that repeats it only after this script has loaded
// would otherwise leave every page without persona variants. The cost: a grant holds until it
// is withdrawn, so a banner that asks again because its own consent expired should withdraw it
// (consent(false) or a denying update) when it does.
//
// Google Consent Mode is read from window.dataLayer (gtag's default name; another one, set with
// gtag.js's l parameter, is not read): the arguments objects that gtag() pushes,
// gtag('consent', 'default' or 'update', {analytics_storage: 'granted' or 'denied'}),
// those already there when the script loads and the later ones (dataLayer.push is wrapped,
// keeping the original push, its this and its return value; the array is checked again every
// second, in case the page replaces it or its push). As in Google's tags, an update wins over
// any default whatever their order, the last update wins, and among defaults the last one;
// analytics_storage values other than granted and denied, updates that leave it out, other
// commands, and plain arrays (which gtag does not push) are ignored. A default limited to
// regions (a non-empty region parameter) is heeded only when it denies, since the visitor's
// region is not known in the page, and then, like Google's more specific region, over any
// global default. The explicit decisions (consent(), a Consent Mode update, the remembered
// one) beat a Consent Mode default: the last of them counts. Consent state that a Tag Manager
// template sets through its own API (setDefaultConsentState, updateConsentState) rather than
// gtag() does not reach dataLayer and is not seen: such a site calls personas.consent() from
// its consent banner's callback. When another script replaces dataLayer.push without calling
// the previous one, a change is seen within a second.
//
// Until consent, and after a denial, the page API answers as for a visitor who is not
// collected: persona() resolves to {"persona": null, "confidence": 0, "probabilities": [],
// "model_version": 0, "reason": "not_collected"}, the personas:persona event fires with it,
// variants show the default content at once, goal() and flush() do nothing, id() returns null
// and forget() sets its "forgotten" flag without any request (there is no id to erase; a
// forget request that failed on an earlier page, after consent, is still retried). When consent comes
// later on the same page, persona() resolves to the classify answer and the event fires again
// with it; the variants keep the default content already shown (a switch would flicker).
//
// A page may give its decision before the script has loaded by queuing it:
// (window.personas = window.personas || []).push(['consent', true]); the script replays the
// queued consent calls, and ignores anything else in the queue.
//
// For first-party serving (FirstPartySnippet, docs/deploy.md) the tag carries data-api
// instead of data-endpoint: a path such as "/_p" (or a URL) resolved against the page's own
// origin, where the site's reverse proxy forwards /collector/…, /v1/config, /v1/collect,
// /v1/classify and /v1/forget to Personas. data-api takes precedence over data-endpoint; a
// value that does not resolve to an http or https URL (its query and fragment dropped)
// leaves the script silent, as a missing endpoint does. The page then makes no request to a
// third-party host, which is what blockers of analytics hosts look for.
//
// # Page API
//
// window.personas offers:
//
//   - goal(name): records a goal.
//   - persona(): a Promise of the /v1/classify answer, asked at most once per page load after
//     the first page view went out, with the still unsent events inline, and cached in
//     sessionStorage for a minute. It never rejects: a visitor who is not collected gets
//     {"persona": null, "reason": "not_collected"} without any request, a project with
//     classify turned off "not_collected" too, and a failed call "unavailable" (or the last cached
//     answer).
//   - forget(): sends POST {endpoint}/v1/forget, resolves on 202 (rejects otherwise; the
//     request is then retried on the next page), and at once clears the ids and queued events
//     and sets a first-party "forgotten" flag (cookie and localStorage) after which the script
//     sends nothing from this browser.
//   - id(): the visitor id, or null (also while not collected for lack of consent).
//   - consent(granted): true or false; see Consent.
//   - flush(): sends the queued events now; resolves when they are sent or a retry is
//     scheduled.
//
// The answer is also set as data-persona-type and data-persona-id on <html> and dispatched
// as the DOM event "personas:persona" on document (detail: the answer), once per page unless
// consent is given or withdrawn, or forget() called, on the page, which gives a new answer.
//
// # Variants without flicker
//
// An element with data-personas-show="deal_seeker buyer" is shown only to visitors of those
// persona types or ids; data-personas-hide is the reverse. AntiFlickerCSS, part of the
// snippet, keeps show-variants hidden until the script marks them (data-personas-match) and
// hide-variants invisible until the script marks <html> with data-personas-ready; a CSS
// animation reveals the default content after 300 ms by itself, even when the script never
// loads. An answer that arrives after that timeout changes no variant, so nothing the visitor
// already saw flips.
package collector
