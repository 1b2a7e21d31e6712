// End to end, in headless Debian Chromium: the example app in test/app/ baked by ssibake
// (SSIBAKE_BIN), served from 127.0.0.1 by helpers.serve(), the client polling every POLL
// seconds with a SNOOZE-second "Later". A deploy is a rebake into a new directory and a switch
// of the server's root.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  POLL,
  SNOOZE,
  bake,
  checkBaker,
  copyApp,
  launch,
  rawChromium,
  serve,
  sleep,
  tmpdir,
  until,
  versionOf,
} from "./helpers.mjs";

const INTERVAL = POLL * 1000;
// The client waits interval × (1 + 0..10% jitter); allow a little for scheduling and rendering.
const ONE_INTERVAL = INTERVAL * 1.1 + 1000;
// A new build is asked about after a poll (within one interval) and the page's own check (one
// more request, see "upload order"); the rest is slack for a loaded machine.
const ASKED = ONE_INTERVAL + 1500;

const NOTICE = ".ssibake-update";
const change = (app, text) => fs.writeFileSync(path.join(app, "content.html"), `<p>${text}</p>\n`);

let browser;
before(async () => {
  checkBaker();
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** A fresh browser profile (own localStorage) with the page(s) open; `server` serves `dir`. */
async function open(server, ...tabs) {
  const context = await browser.newContext();
  const pages = [];
  for (const [tab, page = "index.html"] of tabs) {
    const p = await context.newPage();
    await p.goto(`${server.origin}/${page}?tab=${tab}`);
    // Set once per document: still there means the page was not reloaded.
    await p.evaluate(() => (window.__sameDocument = true));
    pages.push(p);
  }
  return { context, pages };
}

const visible = (page) => page.locator(NOTICE).isVisible();
/** Where the focus is: in the notice or not, and the accessible name of the focused button. */
const focused = (page) =>
  page.evaluate((sel) => {
    const el = document.activeElement;
    const inNotice = !!el.closest(sel);
    return inNotice ? { inNotice, name: el.getAttribute("aria-label") || el.textContent } : { inNotice };
  }, NOTICE);
/** Presses `key` until the focus has left the notice (a trap would keep it there). */
async function tabOut(page, key) {
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press(key);
    if (!(await focused(page)).inNotice) return;
  }
  assert.fail(`${key} x 8 did not leave the notice: a keyboard trap`);
}
const sameDocument = (page) => page.evaluate(() => window.__sameDocument === true);

describe("one tab", { timeout: 60_000 }, () => {
  let app, server, context, page;
  before(async () => {
    app = copyApp();
    server = await serve(bake(app));
    ({ context, pages: [page] } = await open(server, ["a"]));
  });
  after(async () => {
    await context?.close();
    server?.close();
  });

  test("unchanged polls are answered 304 and nobody is asked", async (t) => {
    await until(() => server.polls("a").length >= 3, 3 * ONE_INTERVAL + 1000, "three polls");
    const polls = server.polls("a");
    // The first poll may be a 200 (nothing cached yet); every later one is a revalidation.
    assert.deepEqual(
      polls.slice(1).map((p) => p.status),
      polls.slice(1).map(() => 304),
    );
    assert.equal(await visible(page), false);
    // The numbers for README.md: bytes on the wire for one unchanged poll, and per hour at the
    // default interval (300 s, +5% average jitter).
    const p = polls[polls.length - 1];
    const perHour = Math.round((3600 / (300 * 1.05)) * (p.bytesIn + p.bytesOut));
    t.diagnostic(
      `one unchanged poll: request ${p.bytesIn} B + 304 response ${p.bytesOut} B = ${p.bytesIn + p.bytesOut} B; ` +
        `${(3600 / (300 * 1.05)).toFixed(2)} polls/hour at the default 300 s interval => ${perHour} B/hour per tab`,
    );
    // SSIBAKE_SHOW_WIRE=1 prints that poll's request and response as they were on the wire.
    if (process.env.SSIBAKE_SHOW_WIRE) t.diagnostic(`\n${p.request}${p.response}`);
  });

  test("an identical rebake prompts nobody", async () => {
    const before = versionOf(server.root).buildId;
    const out = bake(app);
    assert.equal(versionOf(out).buildId, before, "an identical rebake keeps the build ID");
    server.root = out;
    const n = server.polls("a").length;
    await until(() => server.polls("a").length >= n + 2, 2 * ONE_INTERVAL + 1000, "two more polls");
    assert.equal(await visible(page), false);
  });

  let deployedAt;
  test("after a rebake with a change the notice appears within one interval", async () => {
    change(app, "Second release.");
    const out = bake(app);
    assert.notEqual(versionOf(out).buildId, versionOf(server.root).buildId);
    server.root = out;
    deployedAt = Date.now();
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: ASKED });
    const notice = page.getByRole("status");
    assert.match(await notice.innerText(), /A new version of this page is available/);
    assert.equal(await notice.getAttribute("aria-live"), "polite");
    for (const name of ["Reload", "Later", "Skip this version"]) {
      assert.equal(await notice.getByRole("button", { name }).count(), 1, `button ${name}`);
    }
    assert.ok(await sameDocument(page), "never reloads by itself");
  });

  test("Later hides the notice without reloading, and it returns after the snooze", async () => {
    await page.getByRole("button", { name: "Later" }).click();
    const hiddenAt = Date.now();
    assert.equal(await visible(page), false);
    // Polls go on during the snooze, and the notice stays away.
    const n = server.polls("a").length;
    await until(() => server.polls("a").length > n, ONE_INTERVAL, "a poll during the snooze");
    assert.equal(await visible(page), false);
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: SNOOZE * 1000 + 3000 });
    const back = Date.now() - hiddenAt;
    assert.ok(back >= SNOOZE * 1000 - 100, `back after ${back} ms, before the ${SNOOZE} s snooze`);
    assert.ok(await sameDocument(page), "Later does not reload");
  });

  test("the keyboard: Tab goes through the buttons and out again, Space presses, Escape means Later, the focus goes back", async () => {
    // Focus in the app, just before the notice in the tab order.
    await page.locator("#search").focus();
    await page.keyboard.press("Tab");
    assert.deepEqual(await focused(page), { inNotice: true, name: "Reload" });
    await page.keyboard.press("Tab");
    assert.deepEqual(await focused(page), { inNotice: true, name: "Later" });
    await page.keyboard.press("Tab");
    assert.deepEqual(await focused(page), { inNotice: true, name: "Skip this version" });
    // Out of it again, and back in with Shift+Tab, and out the other way.
    await tabOut(page, "Tab");
    await page.keyboard.press("Shift+Tab");
    assert.equal((await focused(page)).inNotice, true, "Shift+Tab comes back into the notice");
    await tabOut(page, "Shift+Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "search", "Shift+Tab leaves it for the app");
    assert.ok(await visible(page), "moving the focus dismisses nothing");
    // Space presses the focused button: Later, and the focus is back where it was.
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).name, "Later");
    await page.keyboard.press("Space");
    await until(async () => !(await visible(page)), 3000, "Space on Later to hide the notice");
    assert.equal(await page.evaluate(() => document.activeElement.id), "search", "the focus went back to the app");
    // Escape means Later too.
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: SNOOZE * 1000 + 3000 });
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).name, "Reload");
    await page.keyboard.press("Escape");
    assert.equal(await visible(page), false);
    assert.equal(await page.evaluate(() => document.activeElement.id), "search", "the focus went back after Escape");
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: SNOOZE * 1000 + 3000 });
    assert.ok(await sameDocument(page), "the keyboard reloads nothing by itself");
  });

  test("Skip this version (pressed with Enter) silences that build, not the next", async () => {
    await page.locator("#search").focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press("Tab");
    assert.deepEqual(await focused(page), { inNotice: true, name: "Skip this version" });
    await page.keyboard.press("Enter");
    assert.equal(await visible(page), false);
    // Longer than the snooze and two polls: still nothing.
    const n = server.polls("a").length;
    await sleep(SNOOZE * 1000 + 200);
    await until(() => server.polls("a").length >= n + 2, 2 * ONE_INTERVAL, "two polls after Skip");
    assert.equal(await visible(page), false);
    // The next build is announced again.
    change(app, "Third release.");
    server.root = bake(app);
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: ASKED });
    assert.ok(await sameDocument(page));
  });

  test("Reload (pressed with Enter) loads the new build", async () => {
    const latest = versionOf(server.root).buildId;
    assert.notEqual(await page.locator("#build").innerText(), latest);
    await page.locator("#search").focus();
    await page.keyboard.press("Tab");
    assert.deepEqual(await focused(page), { inNotice: true, name: "Reload" });
    await Promise.all([page.waitForEvent("load"), page.keyboard.press("Enter")]);
    assert.equal(await sameDocument(page), false, "a new document");
    assert.equal(await page.locator("#build").innerText(), latest);
    assert.equal(await page.locator('meta[name="build-id"]').getAttribute("content"), latest);
    assert.match(await page.content(), /Third release/);
    // Up to date now: polls go on, nobody is asked.
    const n = server.polls("a").length;
    await until(() => server.polls("a").length >= n + 1, ONE_INTERVAL + 500, "a poll after the reload");
    assert.equal(await visible(page), false);
  });
});

describe("upload order", { timeout: 90_000 }, () => {
  let app, server, context, page, site;
  before(async () => {
    app = copyApp();
    // The directory the server serves, which the test uploads into file by file.
    site = tmpdir("ssibake-site-");
    fs.cpSync(bake(app), site, { recursive: true });
    server = await serve(site);
    ({ context, pages: [page] } = await open(server, ["u"]));
    await page.evaluate(() => {
      window.__announced = [];
      addEventListener("ssibake:update", (e) => window.__announced.push(e.detail.latest));
    });
  });
  after(async () => {
    await context?.close();
    server?.close();
  });

  test("the version file uploaded before the pages: no prompt until the pages are there, then a Reload lands on the new build", async () => {
    const first = versionOf(site).buildId;
    change(app, "Second release.");
    const out = bake(app);
    const latest = versionOf(out).buildId;
    assert.notEqual(latest, first);
    // The version file arrives first.
    const uploadedAt = Date.now();
    fs.copyFileSync(path.join(out, "version.json"), path.join(site, "version.json"));
    // The client sees the new build and checks its own page, which is still the old one: it
    // does not ask, and checks again with each poll.
    await until(
      () => server.pageChecks("u").filter((p) => p.at >= uploadedAt).length >= 3,
      4 * ONE_INTERVAL + 3000,
      "three checks of the page after the version file changed",
    );
    const checks = server.pageChecks("u").filter((p) => p.at >= uploadedAt);
    assert.ok(server.polls("u").filter((p) => p.at >= uploadedAt).length >= 3, "polls go on");
    // Conditional: the old page, unchanged, is a 304.
    assert.ok(checks.some((p) => p.status === 304), `page checks: ${JSON.stringify(checks)}`);
    assert.equal(await page.locator(NOTICE).count(), 0, "no notice while the page is the old build");
    assert.deepEqual(await page.evaluate(() => window.__announced), [], "no ssibake:update while the page is old");
    // The pages arrive.
    const pagesAt = Date.now();
    fs.cpSync(out, site, { recursive: true, force: true });
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: ONE_INTERVAL + 3000 });
    assert.ok(
      server.pageChecks("u").some((p) => p.at >= pagesAt && p.status === 200),
      "the page was fetched once it had changed",
    );
    assert.deepEqual(await page.evaluate(() => window.__announced), [latest]);
    assert.ok(await sameDocument(page), "never reloads by itself");
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Reload" }).click()]);
    assert.equal(await sameDocument(page), false, "a new document");
    assert.equal(await page.locator("#build").innerText(), latest, "Reload landed on the new build");
    // And it is not asked again.
    const n = server.polls("u").length;
    await until(() => server.polls("u").length >= n + 2, 2 * ONE_INTERVAL + 1000, "two polls after the reload");
    assert.equal(await visible(page), false);
  });
});

describe("two tabs", { timeout: 60_000 }, () => {
  let app, server, context, a, b;
  before(async () => {
    app = copyApp();
    server = await serve(bake(app));
    // Tab b is the Korean page: <html lang="ko"> picks the Korean texts.
    ({ context, pages: [a, b] } = await open(server, ["a"], ["b", "ko.html"]));
  });
  after(async () => {
    await context?.close();
    server?.close();
  });

  test("two tabs make one poll per interval in total", async () => {
    await sleep(500); // let the load-time wake-ups (focus) settle
    const start = server.log.length;
    const window = 6 * INTERVAL;
    await sleep(window);
    const polls = server.log.slice(start);
    // One tab alone polls window / interval times (jitter only makes it fewer); two
    // uncoordinated tabs would make twice as many.
    assert.ok(polls.length <= window / INTERVAL + 1, `${polls.length} polls in ${window} ms from two tabs`);
    assert.ok(polls.length >= 3, `only ${polls.length} polls in ${window} ms`);
    for (let i = 1; i < polls.length; i++) {
      const gap = polls[i].at - polls[i - 1].at;
      assert.ok(gap >= INTERVAL * 0.9, `two polls ${gap} ms apart: ${JSON.stringify(polls.map((p) => [p.tab, p.at]))}`);
    }
  });

  test("the answer is shared: both tabs are asked, in their language; Later in one hides both", async () => {
    change(app, "Second release.");
    server.root = bake(app);
    await a.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: ASKED });
    await b.locator(NOTICE).getByRole("button", { name: "새로고침" }).waitFor({ timeout: 5000 }); // after its own page check
    assert.match(await b.getByRole("status").innerText(), /새 버전/);
    for (const name of ["나중에", "이 버전 건너뛰기"]) assert.equal(await b.getByRole("button", { name }).count(), 1);
    await a.getByRole("button", { name: "Later" }).click();
    await until(async () => !(await visible(b)), 3000, "the notice to leave tab b");
    // Both come back after the snooze.
    await b.locator(NOTICE).waitFor({ timeout: SNOOZE * 1000 + 3000 });
    await a.locator(NOTICE).waitFor({ timeout: 3000 });
  });
});

describe("the ES module form", { timeout: 60_000 }, () => {
  let app, server, context, page;
  before(async () => {
    app = copyApp();
    server = await serve(bake(app, { emit: "/ssibake-update.mjs" }));
    ({ context, pages: [page] } = await open(server, ["m", "module.html"]));
  });
  after(async () => {
    await context?.close();
    server?.close();
  });

  test("an app that handles ssibake:update replaces the notice; later() and reload() work", async () => {
    const current = versionOf(server.root).buildId;
    change(app, "Second release.");
    server.root = bake(app, { emit: "/ssibake-update.mjs" });
    const latest = versionOf(server.root).buildId;
    await page.locator("#banner").waitFor({ timeout: ASKED });
    assert.equal(await page.locator("#banner").innerText(), `Version ${latest} is out (you have ${current}).`);
    assert.equal(await page.locator(NOTICE).count(), 0, "no built-in notice");
    // later() from the app's own button: ssibake:dismiss hides the banner, the snooze brings
    // ssibake:update back.
    await page.locator("#later").click();
    await until(async () => !(await page.locator("#banner").isVisible()), 3000, "ssibake:dismiss");
    await page.locator("#banner").waitFor({ timeout: SNOOZE * 1000 + 3000 });
    assert.equal(await page.locator(NOTICE).count(), 0, "no built-in notice");
    await Promise.all([page.waitForEvent("load"), page.locator("#go").click()]);
    assert.equal(await page.locator("#build").innerText(), latest);
  });
});

describe("the API", { timeout: 60_000 }, () => {
  let app, server, context, page;
  before(async () => {
    app = copyApp();
    server = await serve(bake(app));
    ({ context, pages: [page] } = await open(server, ["p"]));
  });
  after(async () => {
    await context?.close();
    server?.close();
  });

  test("stop() ends polling; init() starts again and checkNow() polls at once", async () => {
    await page.evaluate(() => window.ssibakeUpdate.stop());
    change(app, "Second release.");
    server.root = bake(app);
    const stoppedAt = server.polls("p").length;
    await sleep(2 * ONE_INTERVAL);
    assert.equal(server.polls("p").length, stoppedAt, "polls after stop()");
    assert.equal(await visible(page), false);
    // Restarted with a one-minute interval nothing is due, but checkNow() polls at once and
    // resolves with the answer in.
    await page.evaluate(() => window.ssibakeUpdate.init({ interval: 60 }));
    const n = server.polls("p").length;
    await page.evaluate(() => window.ssibakeUpdate.checkNow());
    assert.equal(server.polls("p").length, n + 1, "one poll for checkNow()");
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: 3000 });
    assert.equal(await sameDocument(page), true, "never reloads by itself");
  });
});

describe("errors", { timeout: 60_000 }, () => {
  let app, server, context, page;
  before(async () => {
    app = copyApp();
    server = await serve(bake(app));
    ({ context, pages: [page] } = await open(server, ["e"]));
  });
  after(async () => {
    await context?.close();
    server?.close();
  });

  test("after failed checks the wait stays within twice the interval; an untouched tab learns of a build soon after the server is back", async () => {
    // Records each build the page announces (ssibake:update), so the next test can tell them apart.
    await page.evaluate(() => {
      window.__announced = [];
      addEventListener("ssibake:update", (e) => window.__announced.push(e.detail.latest));
    });
    server.failing = 503;
    // Five failures in a row. The old doubling back-off (up to 16 x) would need 1+2+4+8+16
    // intervals; within twice the interval each, this takes at most 10.
    const n0 = server.polls("e").length;
    await until(() => server.polls("e").length >= n0 + 5, 10 * INTERVAL + 5000, "five failed polls");
    const failed = server.polls("e").slice(n0, n0 + 5);
    assert.deepEqual(failed.map((p) => p.status), [503, 503, 503, 503, 503]);
    const gaps = failed.slice(1).map((p, i) => p.at - failed[i].at);
    for (const gap of gaps) {
      // Timer-driven: a wait is interval x (1 + random 0..1) after a failure. The slack on the
      // upper bound (one more interval) is for a loaded machine; a doubling back-off would wait
      // 4, 8 and 16 intervals by the third, fourth and fifth failure.
      assert.ok(gap >= INTERVAL - 50, `failed polls ${gap} ms apart, less than the interval: ${gaps}`);
      assert.ok(gap <= 3 * INTERVAL, `failed polls ${gap} ms apart, well over twice the interval: ${gaps}`);
    }
    assert.equal(await visible(page), false, "a failure is not a new build");
    // The server is back, with a new build. Nobody touches the page: no focus, visibility or
    // online event cuts the wait short.
    change(app, "Second release.");
    server.root = bake(app);
    const latest = versionOf(server.root).buildId;
    server.failing = 0;
    const backAt = Date.now();
    const ok = await until(
      () => server.polls("e").find((p) => p.at >= backAt && p.status !== 503),
      2 * INTERVAL + 5000,
      "a successful poll after the server came back",
    );
    const after = ok.at - backAt;
    // Within twice the interval (plus one interval of slack for a loaded machine), not the 16
    // intervals a doubling back-off would have reached.
    assert.ok(after <= 3 * INTERVAL, `the first check after the server came back was ${after} ms later`);
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: 3000 });
    assert.deepEqual(await page.evaluate(() => window.__announced), [latest]);
    assert.equal(await sameDocument(page), true, "never reloads by itself");
  });

  test("coming back online after a failed check checks at once", async () => {
    change(app, "Third release.");
    const out = bake(app);
    const latest = versionOf(out).buildId;
    server.failing = 503;
    const n0 = server.polls("e").length;
    await until(() => server.polls("e").length > n0, 2 * INTERVAL + 5000, "a failed poll");
    // The network drops and comes back while a new build goes live: the client checks as soon
    // as it is online, not when its timer is due (at least an interval after the failed poll).
    server.root = out;
    server.failing = 0;
    await context.setOffline(true);
    await sleep(200);
    const n = server.polls("e").length;
    const onlineAt = Date.now();
    await context.setOffline(false);
    await until(() => server.polls("e").length > n, 3000, "a check when back online");
    assert.ok(server.polls("e")[n].at - onlineAt < INTERVAL, "checked before an interval had passed");
    await until(async () => (await page.evaluate(() => window.__announced)).includes(latest), 3000, "the third build announced");
    assert.ok(await visible(page));
    assert.equal(await sameDocument(page), true, "never reloads by itself");
  });
});

describe("a hidden tab", { timeout: 60_000 }, () => {
  let app, server, chrome;
  before(async () => {
    app = copyApp();
    server = await serve(bake(app));
    chrome = await rawChromium();
  });
  after(async () => {
    await chrome?.close();
    server?.close();
  });

  test("makes no requests while hidden, and checks at once when shown", async () => {
    const front = await chrome.open("about:blank");
    const tab = await chrome.open(`${server.origin}/index.html?tab=h`, { background: true });
    // A new target starts on about:blank, whose readyState is already "complete": wait for our
    // page itself, and check it is the first build (a page loaded after the rebake below would
    // already be the new build, and there would be nothing to announce).
    const first = versionOf(server.root).buildId;
    await until(
      () => tab.evaluate("location.search === '?tab=h' && document.readyState === 'complete'"),
      10_000,
      "the background tab to load",
    );
    assert.equal(await tab.evaluate(`document.querySelector('meta[name="build-id"]').content`), first);
    assert.equal(await tab.evaluate("document.visibilityState"), "hidden", "a background tab is hidden");
    // A deploy while the tab is hidden: still no request.
    change(app, "Second release.");
    server.root = bake(app);
    await sleep(3 * INTERVAL + 500);
    assert.equal(server.polls("h").length, 0, "requests from a hidden tab");
    assert.equal(await tab.evaluate("document.visibilityState"), "hidden");
    // Shown: it checks at once (not an interval later) and asks.
    const shownAt = Date.now();
    await tab.activate();
    await until(() => server.polls("h").length === 1, 3000, "a check when the tab is shown");
    await until(() => tab.evaluate(`!!document.querySelector("${NOTICE} button")`), 3000, "the notice");
    // Timed at the server, so a slow machine's waits above do not count.
    const checkedAfter = server.polls("h")[0].at - shownAt;
    assert.ok(checkedAfter < INTERVAL, `checked ${checkedAfter} ms after being shown, not an interval later`);
    // Hidden again (another tab in front): silent again.
    await front.activate();
    await until(() => tab.evaluate("document.visibilityState === 'hidden'"), 1000, "the tab to be hidden again");
    await sleep(3 * INTERVAL);
    assert.equal(server.polls("h").length, 1, "requests after the tab was hidden again");
  });
});
