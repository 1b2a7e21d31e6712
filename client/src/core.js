// ssibake-update: asks the user to reload when ssibake has published a new build.
//
// This file is the shared body of both published forms. It is not loaded on its own:
// scripts/build.mjs appends src/module.js (ES module exports) or src/classic.js (a global,
// wrapped in an IIFE) and minifies the result into dist/. See README.md for the behaviour.
//
// Shared state (one localStorage entry per version-file URL, mirrored to the other tabs over a
// BroadcastChannel, or through the `storage` event where there is none):
//   t  time of the last check by any tab (ms since the epoch)
//   id build ID found by the last successful check      at its builtAt
//   a  when that check's request was sent
//   e  consecutive failed checks (widens the jitter, see schedule)
//   s  "Later" pressed: do not ask before this time (ms)
//   k  "Skip this version" pressed for this build ID

// Built-in texts; `lang` picks one (default: <html lang>), `texts` overrides any of them.
const TEXTS = {
  en: {
    msg: "A new version of this page is available.",
    reload: "Reload",
    later: "Later",
    skip: "Skip this version",
    close: "Close",
  },
  ko: {
    msg: "이 페이지의 새 버전이 있습니다.",
    reload: "새로고침",
    later: "나중에",
    skip: "이 버전 건너뛰기",
    close: "닫기",
  },
};

const doc = document;
const EVENT = "ssibake:update";
// A page only trusts answers newer than itself: an answer to a request sent before this page
// was loaded may name the build this page already is, or an older one.
const loadedAt = Date.now();

let opt; // effective options (see init)
let key; // localStorage key and BroadcastChannel name
let state = {}; // last known shared state
let chan; // BroadcastChannel, if the browser has one
let running; // polling (between init and stop)
let started; // init() ran (explicitly or automatically)
let listening;
let timer; // next poll
let nap; // end of a "Later" snooze
let announced; // build ID this tab last announced (event or notice)
let live; // build ID this tab's own page was seen to be on the server (see verify)
let tried; // the answer (its `a`) this tab last verified its page for
let box; // the notice element, while shown
let back; // the element that had the focus before it moved into the notice
let ownScript; // the <script> element this code came from (set by the wrapper)

const now = () => Date.now();
const meta = (name, d = doc) => {
  const m = d.querySelector(`meta[name="${name}"]`);
  return m && m.content;
};

// ---- shared state ---------------------------------------------------------------------------

function read() {
  try {
    state = JSON.parse(localStorage.getItem(key)) || state;
  } catch {
    // No storage (blocked, private mode): every tab keeps its own state.
  }
  return state;
}

// Merges `patch` into the shared state, stores it, tells the other tabs, and re-evaluates.
function write(patch) {
  Object.assign(read(), patch);
  try {
    localStorage.setItem(key, JSON.stringify(state));
  } catch {}
  if (chan) chan.postMessage(state);
  update();
}

// Another tab changed the state: show or hide the notice, and re-plan the next poll from the
// new last-check time (this is what makes all tabs together poll once per interval).
function heard(s) {
  state = s || read();
  update();
  schedule();
}

// ---- polling --------------------------------------------------------------------------------

// The interval, in ms: the shortest time between two checks.
const due = () => opt.interval * 1e3;

// Plans the next poll: one interval after the last check by any tab (or after this page was
// loaded), plus a random 0 to 10% so that tabs do not all wake up together. After a failed
// check the random part is 0 to 100%: the wait stays within twice the interval (a screen nobody
// touches learns of a build soon after the server is back), and browsers that all failed
// together (an outage) come back spread over a whole interval. Hidden tabs plan nothing:
// visibilitychange wakes them up.
function schedule() {
  clearTimeout(timer);
  if (!running || doc.hidden) return;
  const s = read();
  timer = setTimeout(
    check,
    Math.max(s.t || 0, loadedAt) + due() * (1 + Math.random() * (s.e ? 1 : opt.jitter)) - now(),
  );
}

// force: 0 timer (poll if the last check is an interval old), 1 woken up (tab visible again,
// focus, online: poll unless some tab checked successfully in the last minute; after a failed
// check, e.g. while offline, at once), 2 checkNow() (always).
// Web Locks make "is it due? then claim it" atomic across tabs; without them (Safari < 15.4)
// two tabs may rarely both poll.
async function check(force) {
  clearTimeout(timer);
  if (!running || doc.hidden) return;
  const run = () => {
    const s = read();
    const age = now() - (s.t || 0);
    if (force != 2 && !(force && s.e) && age < (force ? Math.min(due(), 6e4) : due()))
      return schedule();
    const t = now();
    write({ t }); // claim: the other tabs now wait for our answer
    return poll(t);
  };
  return navigator.locks ? navigator.locks.request(key, run) : run();
}

// One conditional request: `cache: "no-cache"` revalidates the cached copy with its ETag, so an
// unchanged version file costs a 304 and no body. No cache-busting query on purpose.
async function poll(sent) {
  try {
    const r = await fetch(opt.url, { cache: "no-cache" });
    const v = r.ok && (await r.json());
    if (!v.buildId) throw v; // not 2xx, or no build ID
    write({ t: now(), id: "" + v.buildId, at: v.builtAt, e: 0, a: sent });
  } catch {
    write({ t: now(), e: -~state.e }); // one more failure (-~undefined is 1)
  }
  schedule();
}

// ---- the notice -----------------------------------------------------------------------------

// Before asking, a tab makes sure that a reload would bring the new build: the version file
// may be on the server before the pages are (an upload that copies files in any order, a CDN
// whose edges update at different times). It requests its own page, conditionally (an
// unchanged page costs a 304), and reads the page's build-id. Until that is the new build it
// does not ask, and tries again with each new answer from the version file. A page without a
// build-id <meta> (e.g. the app passed `current` to init) has nothing to compare, and counts.
// Hidden tabs verify when they are shown.
async function verify(s) {
  if (doc.hidden || tried == s.a) return;
  tried = s.a;
  try {
    const r = await fetch(location.href, { cache: "no-cache" });
    const html = r.ok && (await r.text());
    const id = html && meta("build-id", new DOMParser().parseFromString(html, "text/html"));
    if (html && (!id || id == s.id)) {
      live = s.id;
      update();
    }
  } catch {} // offline: the next answer tries again
}

// Decides, from the shared state, whether this tab should ask; announces a build once, when
// this page itself is that build on the server.
function update() {
  const s = state;
  const latest = s.id;
  clearTimeout(nap);
  if (s.s > now()) nap = setTimeout(update, s.s - now());
  if (
    !running ||
    !latest ||
    !(s.a >= loadedAt) ||
    latest == opt.current ||
    latest == s.k ||
    s.s > now()
  ) {
    // Nothing to ask (any more): an app that took over hears it, e.g. "Later" in another tab.
    if (announced) dispatchEvent(new Event("ssibake:dismiss"));
    announced = 0;
    return hide();
  }
  if (announced == latest) return;
  if (live != latest) return verify(s);
  announced = latest;
  // The app may take over: preventDefault() on this event replaces the built-in notice.
  const ev = new CustomEvent(EVENT, {
    cancelable: true,
    detail: { current: opt.current, latest, builtAt: s.at },
  });
  if (dispatchEvent(ev)) show();
}

function show() {
  hide();
  // Texts: English, overlaid with the page's language (lang option, else <html lang>, by its
  // first two letters), overlaid with the texts option.
  const lang = (opt.lang || doc.documentElement.lang || "").slice(0, 2).toLowerCase();
  const t = Object.assign({}, TEXTS.en, TEXTS[lang], opt.texts);
  const el = (tag, text, onclick) => {
    const e = doc.createElement(tag);
    e.textContent = text;
    if (onclick) (e.onclick = onclick), (e.type = "button"); // never a form's submit button
    return e;
  };
  const b = (box = el("div"));
  b.className = "ssibake-update";
  // A live region: screen readers announce what is put into it (filled just after insertion,
  // as announcements of content inserted together with the region are unreliable).
  b.setAttribute("role", "status");
  b.setAttribute("aria-live", "polite");
  // Only Escape is ours (it means Later); every other key does what it always does, so Tab and
  // Shift+Tab move through the buttons and out again and Enter and Space press them.
  b.onkeydown = (e) => {
    if (e.key == "Escape") later();
  };
  // Where the focus was before it came into the notice: it goes back there when the notice
  // goes away (relatedTarget is null when nothing had the focus).
  b.addEventListener("focusin", (e) => b.contains(e.relatedTarget) || (back = e.relatedTarget));
  // Floating at the end of <body>, or in the app's own element (container: element or selector).
  const c = opt.container;
  ((c && (c.append ? c : doc.querySelector(c))) || doc.body).append(b);
  b.append(el("style", "__CSS__")); // src/notice.css
  setTimeout(() => {
    // The close button means Later; it is last in the tab order, its CSS shows it top right.
    const x = el("button", "\u00d7", later);
    x.setAttribute("aria-label", t.close);
    b.append(
      el("p", t.msg),
      el("button", t.reload, reload),
      el("button", t.later, later),
      el("button", t.skip, skip),
      x,
    );
  }, 50);
}

function hide() {
  if (!box) return;
  const inside = box.contains(doc.activeElement);
  box.remove();
  box = 0;
  if (inside && back) back.focus(); // a no-op if it has left the document
  back = 0;
}

// ---- API ------------------------------------------------------------------------------------

// Reloads the page (the only way this script ever reloads it).
function reload() {
  location.reload();
}

// Hides the notice in every tab and asks again after the snooze (stored, so it survives a
// reload and applies to every tab of the site).
function later() {
  write({ s: now() + opt.snooze * 1e3 });
}

// Never asks again about the build that is live now; a later build is announced again.
function skip() {
  write({ k: state.id });
}

// Stops polling and removes the notice in this tab; init() starts again.
function stop() {
  running = false;
  clearTimeout(timer);
  clearTimeout(nap);
  hide();
}

// Polls now, whatever the schedule; resolves when the answer is in.
function checkNow() {
  return check(2);
}

// Starts (or restarts with new options). Options, each also settable as data-* on the script
// tag (url, interval, snooze, lang): see README.md.
function init(options) {
  stop();
  started = true;
  const ds = (ownScript && ownScript.dataset) || {};
  opt = Object.assign(
    {
      url: meta("build-id-url") || "/version.json",
      interval: 300,
      snooze: 1800,
      jitter: 0.1,
      current: meta("build-id"),
    },
    ds,
    options,
  );
  if (!opt.current) return api; // no baseline: nothing to compare with
  key = "ssibake-update:" + opt.url;
  state = {};
  if (chan) chan.close();
  chan = self.BroadcastChannel && new BroadcastChannel(key);
  if (chan) chan.onmessage = (e) => heard(e.data);
  if (!listening) {
    listening = true;
    const wake = () => {
      heard(); // a tab that was hidden verifies its page now
      check(1);
    };
    doc.addEventListener("visibilitychange", wake);
    addEventListener("focus", wake);
    addEventListener("online", wake);
    if (!chan) addEventListener("storage", (e) => e.key == key && heard());
  }
  running = true;
  heard();
  return api;
}

const api = { init, checkNow, reload, later, skip, stop };

// Starts with the page's configuration once the document is parsed, unless the script tag has
// data-manual or the app called init() first.
function boot(script) {
  ownScript = script;
  if (script && script.hasAttribute("data-manual")) return;
  const auto = () => started || init();
  if (doc.readyState == "loading") doc.addEventListener("DOMContentLoaded", auto);
  else setTimeout(auto);
}
