/*! Personas collector: plain ES2017, no dependencies. Reference: collector/doc.go. */
(() => {
  'use strict';
  const w = window, d = document, root = d.documentElement, nav = navigator;
  if (w.personas && w.personas.id) return; // loaded twice: the first copy stays in charge

  const tag = d.currentScript || d.querySelector('script[data-site-key]');
  const attr = n => (tag && tag.getAttribute(n)) || '';
  // data-api: a path (or URL) resolved against the page's own origin, for first-party serving
  // through the site's reverse proxy; it takes precedence over data-endpoint, the service's URL.
  const own = a => { try { const u = new URL(a, location.origin); return /^https?:$/.test(u.protocol) ? u.origin + u.pathname : ''; } catch (e) { return ''; } };
  const KEY = attr('data-site-key');
  const EP = (attr('data-api') ? own(attr('data-api')) : attr('data-endpoint')).replace(/\/+$/, '');
  const AF = Math.max(0, parseInt(attr('data-anti-flicker'), 10) || 300);
  const PFX = 'personas_', MIN = 60000, IDLE = 30 * MIN, YEAR = 31536000;
  const BATCH = 20, WAIT = 5000, MAXN = 200, MAXB = 60000;
  const ID = /^[0-9a-f]{32}$/;
  const INTERACTIVE = 'a,button,input,select,textarea,label,summary,[role=button],[role=link],' +
    '[role=menuitem],[role=tab],[role=checkbox],[role=radio],[role=switch],[role=option]';
  // Fields whose value or content is the visitor's own: never read.
  const SECRET = 'input,textarea,select,[contenteditable]:not([contenteditable=false])';
  const ATTRS = ['role', 'type', 'name', 'href', 'aria-label', 'title', 'alt'];
  const now = () => Date.now();
  const cut = (s, n) => String(s || '').slice(0, n || 2048);

  let said = false;
  const debug = m => {
    if (!said) { said = true; try { console.debug('personas: ' + m); } catch (e) { /* no console */ } }
  };

  // Storage that never throws (disabled storage, private modes, sandboxed frames).
  const store = name => {
    let s = null;
    try { s = w[name]; s.getItem(PFX); } catch (e) { s = null; }
    return {
      get: k => { try { return s && JSON.parse(s.getItem(PFX + k)); } catch (e) { return null; } },
      set: (k, v) => { try { if (s) s.setItem(PFX + k, JSON.stringify(v)); } catch (e) { /* full */ } },
      del: k => { try { if (s) s.removeItem(PFX + k); } catch (e) { /* gone */ } },
    };
  };
  const local = store('localStorage'), sess = store('sessionStorage');
  const cookie = {
    get: k => {
      try {
        const m = d.cookie.match(new RegExp('(?:^|; )' + PFX + k + '=([^;]*)'));
        return m && decodeURIComponent(m[1]);
      } catch (e) { return null; }
    },
    set: (k, v, age) => {
      try {
        d.cookie = PFX + k + '=' + encodeURIComponent(v) + '; path=/; max-age=' + age + '; SameSite=Lax' +
          (location.protocol === 'https:' ? '; Secure' : '');
      } catch (e) { /* cookies disabled */ }
    },
  };
  const forgotten = () => cookie.get('forgotten') === '1' || local.get('forgotten') === 1;
  const storedId = () => [cookie.get('id'), local.get('id'), sess.get('id')].filter(v => ID.test(v || ''))[0] || null;
  const rid = () => {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, x => (x + 256).toString(16).slice(1)).join('');
  };

  let C = null;        // project configuration
  let on = null;       // null: undecided, true: collecting, false: never sends
  let vid = null;      // visitor id
  let ids = sess;      // where the ids live: localStorage, or sessionStorage when cookie-less
  let pending = [];    // [event, element] recorded before the configuration arrived
  let queue = [];      // unacknowledged {s: session id, e: event}, mirrored in sessionStorage
  let inflight = 0;    // queue items in the collect request under way
  let busy = null, timer = 0, hold = 0, tries = 0;
  let page = null;     // the current page view: url, start, scroll depth, left
  let late = false, done = false, applied = null;
  let gen = 0;         // bumped when collection starts or stops: late answers of an earlier run are dropped
  let ok = null;       // consent: is collection allowed now
  let resolveAnswer, decide;
  let answer = new Promise(r => { resolveAnswer = r; });
  let decided = new Promise(r => { decide = r; }); // settles once `on` is known
  // The remembered consent decision (personas_consent: 1 or 0), the only thing kept without consent.
  const kept = local.get('consent');
  let choice = kept === 1 || kept === 0 ? kept === 1 : null;
  let choose = v => { choice = v; local.set('consent', v ? 1 : 0); };
  const none = reason => ({ persona: null, confidence: 0, probabilities: [], model_version: 0, reason });

  // Variants: the anti-flicker rule hides them until <html> is marked ready, or reveals the
  // default content by itself after AF ms. It is injected too, in case the page lacks it.
  const ready = () => root.setAttribute('data-personas-ready', '');
  const css = '[data-personas-show]:not([data-personas-match]),[data-personas-hide][data-personas-match]' +
    '{display:none!important}html:not([data-personas-ready]) [data-personas-hide]{visibility:hidden;' +
    'animation:personas-reveal 0s ' + AF + 'ms forwards}@keyframes personas-reveal{to{visibility:visible}}';
  try {
    const st = d.createElement('style');
    st.id = 'personas-af';
    st.textContent = css;
    (d.head || root).appendChild(st);
  } catch (e) { /* CSP: the snippet's own rule still works */ }
  const elapsed = () => (w.performance ? performance.now() : 0);
  setTimeout(() => { late = true; ready(); }, Math.max(0, AF - elapsed()));

  const mark = scope => {
    const p = applied && applied.persona, keys = p ? [p.type, p.id].filter(Boolean) : [];
    const list = scope.querySelectorAll ? Array.from(scope.querySelectorAll('[data-personas-show],[data-personas-hide]')) : [];
    if (scope.matches && scope.matches('[data-personas-show],[data-personas-hide]')) list.push(scope);
    for (const el of list) {
      const v = el.getAttribute('data-personas-show');
      const want = (v === null ? el.getAttribute('data-personas-hide') : v).split(/\s+/);
      if (keys.some(k => want.indexOf(k) >= 0)) el.setAttribute('data-personas-match', '');
      else el.removeAttribute('data-personas-match');
    }
  };

  // settle sets this page's answer: the promise, the <html> attributes, the variants (only the
  // first answer and before the anti-flicker timeout: later, a flip would be a flicker) and the event.
  const settle = a => {
    if (done) answer = Promise.resolve(a);
    else resolveAnswer(a);
    done = true;
    const p = a && a.persona;
    ['type', 'id'].forEach(k => root.removeAttribute('data-persona-' + k));
    if (p) {
      if (p.type) root.setAttribute('data-persona-type', String(p.type));
      if (p.id) root.setAttribute('data-persona-id', String(p.id));
    }
    if (!late && elapsed() < AF && p) {
      applied = a;
      mark(d);
      if (w.MutationObserver) {
        new MutationObserver(rs => rs.forEach(r => r.addedNodes.forEach(n => { if (n.nodeType === 1) mark(n); })))
          .observe(root, { childList: true, subtree: true });
      }
    }
    ready();
    late = true;
    const fire = () => d.dispatchEvent(new CustomEvent('personas:persona', { detail: a }));
    if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', fire); else setTimeout(fire);
  };

  const post = (path, body, signal) => fetch(EP + path, {
    method: 'POST', body, keepalive: !signal, credentials: 'omit', signal,
  }); // a string body goes as text/plain: no CORS preflight

  const api = {
    goal: name => {
      if (typeof name === 'string' && (name = name.trim())) track({ type: 'goal', ts: now(), name: cut(name, 100) });
    },
    persona: () => answer,
    id: () => (forgotten() || !ok ? null : vid || storedId()),
    flush: () => decided.then(flush),
    consent: v => { if (v === true || v === false) choose(v); },
    forget: async () => {
      const id = vid || storedId();
      halt();
      cookie.set('forgotten', '1', YEAR);
      local.set('forgotten', 1);
      if (id) {
        local.set('forget', id); // kept until the server confirms, retried on the next page
        await erase(id);
      }
    },
  };
  // A page may queue calls before the script loads: (window.personas = window.personas || []).push(['consent', true]).
  const early = Array.isArray(w.personas) ? w.personas : [];
  w.personas = api;
  early.forEach(c => { if (Array.isArray(c) && c[0] === 'consent') api.consent(c[1]); });

  const erase = async id => {
    const r = await post('/v1/forget', JSON.stringify({ site_key: KEY, visitor_id: id }));
    if (r.status !== 202) throw new Error('personas: forget answered ' + r.status);
    local.del('forget');
  };

  const stop = () => {
    on = false;
    pending = [];
    queue = [];
    clearTimeout(timer);
    sess.del('q');
    decide();
  };
  // halt stops collecting and clears everything stored but the consent decision and a pending forget.
  const halt = () => {
    gen++;
    stop();
    if (cookie.get('id') !== null) cookie.set('id', '', 0);
    for (const s of [local, sess]) ['id', 'sid', 'q', 'p', 'cfg'].forEach(s.del);
    vid = null;
    if (applied) { applied = null; mark(d); }
    settle(none('not_collected'));
  };

  if (!KEY || !EP) {
    debug('missing data-site-key, or data-endpoint and data-api');
    stop();
    settle(none('unavailable'));
    return;
  }
  if (forgotten()) {
    stop();
    const id = local.get('forget');
    if (ID.test(id || '')) erase(id).catch(() => {});
    settle(none('not_collected'));
    return;
  }

  // Events.
  const session = () => {
    let s = ids.get('sid');
    const t = now();
    if (!s || !ID.test(s.i) || !(t - s.t < IDLE)) s = { i: rid() };
    s.t = t;
    ids.set('sid', s);
    return s.i;
  };
  const save = () => { if (on) sess.set('q', queue); };
  const track = (ev, el) => {
    if (on === false) return;
    if (on === null) { pending.push([ev, el]); return; }
    if (ev.type === 'click' && excluded(el)) return;
    if (el) ev.element = describe(el);
    queue.push({ s: session(), e: ev });
    save();
    if (queue.length - inflight >= BATCH) flush();
    else if (!timer) timer = setTimeout(flush, WAIT);
  };
  const excluded = el => (C.exclude || []).some(s => {
    try { return !!el.closest(s); } catch (e) { return false; }
  });
  const part = el => {
    const s = el.tagName.toLowerCase(), c = el.classList && el.classList[0];
    if (el.id && /^[A-Za-z][\w-]*$/.test(el.id)) return s + '#' + el.id;
    return c && /^-?[A-Za-z_][\w-]*$/.test(c) ? s + '.' + c : s;
  };
  const selector = el => {
    const out = [];
    for (let n = el; n && n.nodeType === 1 && n !== root && out.length < 3; n = n.parentElement) {
      out.unshift(part(n));
      if (out[0].indexOf('#') >= 0) break;
    }
    return out.join(' > ');
  };
  const describe = el => {
    const t = el.tagName.toLowerCase();
    if (el.matches(SECRET) || el.isContentEditable) {
      return { tag: t, attrs: t === 'input' ? { type: (el.getAttribute('type') || 'text').toLowerCase() } : {} };
    }
    const attrs = {};
    const names = ATTRS.concat((C.data_attrs || []).filter(a => /^data-[\w-]+$/.test(a)));
    for (const a of names) {
      const v = el.getAttribute(a);
      if (v) attrs[a] = cut(v, 200);
    }
    // Text of an element that holds form fields could carry what the visitor typed: leave it out.
    const text = el.querySelector(SECRET) ? '' : el.innerText || el.textContent || '';
    return {
      tag: t, id: cut(el.id, 100), classes: Array.from(el.classList || []).slice(0, 10).map(c => cut(c, 50)),
      text: text.replace(/\s+/g, ' ').trim().slice(0, 200), attrs, selector: selector(el),
    };
  };

  const here = () => cut(location.href.split('#')[0]); // fragments may hold tokens
  const depth = () => {
    const h = Math.max(root.scrollHeight, d.body ? d.body.scrollHeight : 0);
    return h > 0 ? Math.min(1, ((w.scrollY || 0) + w.innerHeight) / h) : 1;
  };
  const leave = () => {
    if (!page || page.left) return;
    page.left = true;
    track({
      type: 'leave', ts: now(), url: page.url, duration_ms: now() - page.start,
      scroll_depth: Math.round(Math.max(page.depth, depth()) * 100) / 100,
    });
  };
  const view = ref => {
    leave();
    page = { url: here(), start: now(), depth: 0, left: false };
    track({ type: 'pageview', ts: page.start, url: page.url, referrer: cut(ref) });
  };
  const route = () => { if (page && here() !== page.url) view(page.url); };

  // Sending.
  const bytes = s => (w.TextEncoder ? new TextEncoder().encode(s).length : s.length * 3);
  const take = from => {
    const s = queue[from].s, ev = [];
    let size = 300;
    for (let i = from; i < queue.length && queue[i].s === s && ev.length < MAXN; i++) {
      const n = bytes(JSON.stringify(queue[i].e)) + 1;
      if (ev.length && size + n > MAXB) break;
      size += n;
      ev.push(queue[i].e);
    }
    const ctx = { lang: nav.language || '', tz: '', screen: [screen.width, screen.height] };
    try { ctx.tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* old Intl */ }
    return { n: ev.length, body: JSON.stringify({ site_key: KEY, visitor_id: vid, session_id: s, context: ctx, events: ev }) };
  };
  // flush sends the queue, one request at a time; its promise settles when the queue is
  // empty or a retry is scheduled.
  const flush = () => {
    if (busy) return busy;
    clearTimeout(timer);
    timer = 0;
    if (!on || !queue.length) return Promise.resolve();
    if (now() < hold) { timer = setTimeout(flush, hold - now()); return Promise.resolve(); }
    const b = take(0), g = gen;
    inflight = b.n;
    busy = post('/v1/collect', b.body).then(r => {
      if (r.status === 429 || r.status >= 500) throw r;
      if (!r.ok) debug('collect answered ' + r.status); // 400, 403, 413: resending cannot help
      if (r.status === 403) stop();
      tries = 0;
      return true;
    }).catch(r => {
      const ra = r && r.headers ? parseFloat(r.headers.get('Retry-After')) : NaN;
      const wait = ra >= 0 ? Math.max(250, ra * 1000) : Math.min(1000 * Math.pow(2, tries), 5 * MIN) * (0.5 + Math.random() / 2);
      tries++;
      hold = now() + wait;
      return false;
    }).then(sent => {
      if (sent && g === gen) queue.splice(0, b.n);
      inflight = 0;
      busy = null;
      save();
      return flush();
    });
    return busy;
  };
  // beacon hands what is not already in flight to the browser as the page goes away.
  const beacon = () => {
    if (!on) return;
    clearTimeout(timer);
    timer = 0;
    while (queue.length > inflight && nav.sendBeacon) {
      const b = take(inflight);
      if (!nav.sendBeacon(EP + '/v1/collect', b.body)) break;
      queue.splice(inflight, b.n);
    }
    // The collect request under way is a keepalive fetch: it outlives the page. The next page
    // must not send its events again (they would be stored twice), so the saved queue leaves
    // them out; if the page stays, the request's answer saves the queue as it stands.
    if (on) sess.set('q', queue.slice(inflight));
  };

  // classify asks once per page load, after the first page view went out, with what is
  // still unsent; a cached answer younger than a minute saves the request.
  const classify = async first => {
    if (C.classify === false) return settle(none('not_collected'));
    const c = sess.get('p'), old = c && c.v === vid ? c.a : null;
    if (old && now() - c.t < MIN) return settle(old);
    const g = gen;
    await first;
    if (g !== gen) return;
    if (!on) return settle(none('unavailable'));
    const ctl = w.AbortController ? new AbortController() : null;
    const t = setTimeout(() => { if (ctl) ctl.abort(); }, 10000);
    try {
      const events = queue.slice(-MAXN).map(i => i.e);
      const r = await post('/v1/classify', JSON.stringify({ site_key: KEY, visitor_id: vid, events }), ctl ? ctl.signal : undefined);
      if (r.status !== 200) throw new Error('classify answered ' + r.status);
      const a = await r.json();
      if (g !== gen) return;
      if (!a || typeof a !== 'object' || !('persona' in a)) throw new Error('unexpected classify answer');
      if (!a.persona) debug('no persona: ' + a.reason);
      sess.set('p', { v: vid, t: now(), a });
      settle(a);
    } catch (e) {
      debug(e.message || 'classify failed');
      if (g === gen) settle(old || none('unavailable'));
    } finally {
      clearTimeout(t);
    }
  };

  const begin = cfg => {
    C = cfg && typeof cfg === 'object' ? cfg : {};
    const gpc = C.respect_gpc !== false && nav.globalPrivacyControl === true;
    const dnt = C.respect_dnt === true && (nav.doNotTrack === '1' || w.doNotTrack === '1');
    if (gpc || dnt || forgotten()) { stop(); return settle(none('not_collected')); }
    if (C.cookieless) {
      cookie.set('id', '', 0);
      local.del('id');
      local.del('sid');
    } else {
      ids = local;
    }
    vid = C.cookieless ? sess.get('id') : cookie.get('id') || local.get('id');
    if (!ID.test(vid || '')) vid = rid();
    ids.set('id', vid);
    if (!C.cookieless) cookie.set('id', vid, YEAR);
    const rate = typeof C.sample_rate === 'number' ? C.sample_rate : 1;
    if (parseInt(vid.slice(0, 8), 16) / 4294967296 >= rate) { stop(); return settle(none('not_collected')); }
    on = true;
    const q = sess.get('q');
    if (Array.isArray(q)) queue = q.filter(i => i && i.e && ID.test(i.s));
    const early = pending;
    pending = [];
    early.forEach(p => track(p[0], p[1]));
    decide();
    classify(flush());
  };

  // Listeners.
  d.addEventListener('click', e => {
    let t = e.target;
    if (t && t.nodeType !== 1) t = t.parentElement;
    if (!t || !t.closest || on === false || t.closest('[data-personas-ignore]')) return;
    track({ type: 'click', ts: now(), url: page ? page.url : here() }, t.closest(INTERACTIVE) || t);
  }, true);
  w.addEventListener('scroll', () => { if (page) page.depth = Math.max(page.depth, depth()); }, { passive: true, capture: true });
  const hide = () => { leave(); beacon(); };
  w.addEventListener('pagehide', hide);
  d.addEventListener('visibilitychange', () => { if (d.visibilityState === 'hidden') hide(); });
  w.addEventListener('pageshow', e => { if (e.persisted) view(d.referrer); });
  ['pushState', 'replaceState'].forEach(m => {
    const orig = history[m];
    if (typeof orig === 'function') {
      history[m] = function () {
        const r = orig.apply(this, arguments);
        route();
        return r;
      };
    }
  });
  w.addEventListener('popstate', route);

  // go starts collecting afresh: a page view, the configuration, then ids as begin decides.
  const go = () => {
    if (forgotten()) return;
    const g = ++gen;
    on = null;
    C = null;
    vid = null;
    ids = sess;
    pending = [];
    queue = [];
    inflight = tries = hold = 0;
    decided = new Promise(r => { decide = r; });
    if (done) { done = false; answer = new Promise(r => { resolveAnswer = r; }); }
    page = null;
    view(d.referrer);
    const cached = sess.get('cfg');
    if (cached && cached.k === KEY && now() - cached.t < 5 * MIN && cached.c) return begin(cached.c);
    // A service that never answers must not leave persona() pending for ever.
    const ctl = w.AbortController ? new AbortController() : null;
    const t = setTimeout(() => { if (ctl) ctl.abort(new Error('config timed out')); }, 10000);
    fetch(EP + '/v1/config?site_key=' + encodeURIComponent(KEY), { credentials: 'omit', signal: ctl ? ctl.signal : undefined })
      .then(r => {
        clearTimeout(t);
        if (!r.ok) throw new Error('config answered ' + r.status);
        return r.json();
      })
      .then(cfg => {
        if (g !== gen) return;
        sess.set('cfg', { k: KEY, t: now(), c: cfg });
        begin(cfg);
      })
      .catch(e => {
        if (g !== gen) return;
        debug(e.message || 'no configuration');
        stop();
        settle(none('unavailable'));
      });
  };

  // Consent. Without data-consent it is implied; a denial (consent(false)) still holds.
  // An explicit decision (consent(), a Consent Mode update, the remembered one) beats a default.
  const REQ = !!tag && tag.hasAttribute('data-consent'); // any value: a typo must not mean consent
  let gdef = null, rdef = null; // Consent Mode defaults: global, and the denial of a regional one
  const apply = () => {
    const want = choice !== null ? choice : rdef !== null ? rdef : gdef !== null ? gdef : !REQ;
    if (want === ok) return;
    ok = want;
    if (want) go(); else halt();
  };
  choose = v => { choice = v; local.set('consent', v ? 1 : 0); apply(); };
  // A decision taken in another tab, maybe while this page was in the back-forward cache.
  const recall = () => {
    const v = local.get('consent');
    if (v === 0 || v === 1) { choice = v === 1; apply(); }
  };
  w.addEventListener('storage', e => { if (e.key === PFX + 'consent') recall(); });
  w.addEventListener('pageshow', e => { if (e.persisted) recall(); });

  // Google Consent Mode: analytics_storage of the gtag('consent', 'default'|'update', {...}) calls,
  // which push their arguments object onto dataLayer; read at load, on every push and each second
  // (the array or its push may be replaced).
  let dl = null, seen = 0, wrap = null, wraps = 0;
  const scan = () => {
    let l = null;
    try {
      l = w.dataLayer;
      if (!Array.isArray(l)) return;
      if (l !== dl || seen > l.length) { dl = l; seen = 0; }
      for (; seen < l.length; seen++) {
        try {
          const e = l[seen], o = e && e[2], v = o && o.analytics_storage;
          if (Object.prototype.toString.call(e) !== '[object Arguments]' || e[0] !== 'consent') continue;
          if (v !== 'granted' && v !== 'denied') continue;
          if (e[1] === 'update') { choice = v === 'granted'; local.set('consent', choice ? 1 : 0); }
          // A default for some regions only: its denial is heeded (the region is not known here).
          else if (e[1] === 'default' && !(o.region && o.region.length)) gdef = v === 'granted';
          else if (e[1] === 'default' && v === 'denied') rdef = false;
        } catch (x) { /* a hostile entry */ }
      }
      if (l.push !== wrap && wraps++ < 20) { // bounded: a push that rewraps itself must not grow a chain
        const orig = l.push;
        const f = function () {
          const r = orig.apply(this, arguments);
          try { scan(); } catch (x) { /* never break the page's push */ }
          return r;
        };
        l.push = f;
        wrap = f;
      }
    } catch (x) { /* a hostile dataLayer */ }
    if (l) apply();
  };
  if (REQ) {
    scan();
    setInterval(scan, 1000);
  }
  apply();
})();
