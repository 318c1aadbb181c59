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
//   - id(): the visitor id, or null.
//   - flush(): sends the queued events now; resolves when they are sent or a retry is
//     scheduled.
//
// The answer is also set as data-persona-type and data-persona-id on <html> and dispatched
// once as the DOM event "personas:persona" on document (detail: the answer).
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
