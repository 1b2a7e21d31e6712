// `ssibake serve` in headless Debian Chromium: live reload by dependency (a partial reloads
// exactly the pages that include it), a stylesheet swapped without a navigation, the error
// overlay shown and cleared, a reconnect to a restarted server; and the time from a saved file
// to the reloaded page, printed as `save-to-reload: ...` lines. Run by tests/serve_browser.rs
// (SSIBAKE_BIN is the binary under test).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { BIN, launch, sleep, tmpdir, until } from "../helpers.mjs";

let browser;
let server;
let site;

/** Starts `ssibake serve --root site --port PORT`; resolves with its base URL. */
function startServer(port = 0) {
  const proc = spawn(BIN, ["serve", "--root", site, "--port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { PATH: process.env.PATH },
  });
  let err = "";
  const url = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("ssibake serve did not start:\n" + err)), 60_000);
    proc.stderr.on("data", (d) => {
      err += d;
      const m = / at (http:\/\/\S+)/.exec(err);
      if (m) clearTimeout(t), resolve(m[1]);
    });
    proc.on("exit", (c) => reject(new Error(`ssibake serve exited (${c}):\n${err}`)));
  });
  return { proc, url, stderr: () => err };
}

const write = (rel, text) => {
  const p = path.join(site, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
};

const PAGE = (name, body) =>
  `<!DOCTYPE html><html><head><title>${name}</title><link rel="stylesheet" href="/style.css"></head>` +
  `<body>${body}<p id="name">${name}</p></body></html>\n`;

before(async () => {
  site = tmpdir("ssibake-serve-site-");
  write("inc/nav.shtml", "<nav>v1</nav>");
  write("a.shtml", PAGE("a", '<!--#include virtual="/inc/nav.shtml" -->'));
  write("b.shtml", PAGE("b", '<!--#include virtual="/inc/nav.shtml" -->'));
  write("c.shtml", PAGE("c", "<nav>own</nav>"));
  write("style.css", "body { color: rgb(255, 0, 0); }\n");
  server = startServer();
  server.base = await server.url;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.proc.kill();
});

/** Opens `page` and waits until its event stream is connected; marks the document. */
async function open(context, page) {
  const tab = await context.newPage();
  const statuses = [];
  tab.on("response", (r) => {
    if (r.request().isNavigationRequest()) statuses.push(r.status());
  });
  tab.navigations = 0;
  tab.on("framenavigated", (f) => {
    if (f === tab.mainFrame()) tab.navigations++;
  });
  tab.statuses = statuses;
  await tab.goto(server.base + page);
  await connected(tab);
  await tab.evaluate(() => (window.__mark = true));
  return tab;
}

const connected = (tab) =>
  until(
    () => tab.evaluate(() => window.__ssibakeLive && window.__ssibakeLive.readyState === 1).catch(() => false),
    15_000,
    "the event stream",
  );
const marked = (tab) => tab.evaluate(() => window.__mark === true).catch(() => false);
const nav = (tab) => tab.evaluate(() => document.querySelector("nav")?.textContent).catch(() => null);

test("editing a partial reloads exactly the pages that include it", async () => {
  const context = await browser.newContext();
  const [a, b, c] = [await open(context, "a.html"), await open(context, "b.html"), await open(context, "c.html")];
  write("inc/nav.shtml", "<nav>v2</nav>");
  await until(async () => (await nav(a)) === "v2" && (await nav(b)) === "v2", 15_000, "a and b to reload");
  assert.equal(await marked(a), false, "a was reloaded");
  assert.equal(await marked(b), false, "b was reloaded");
  await connected(a);
  await connected(b);
  // c does not include the partial: a second is long enough for a reload to have happened.
  await sleep(1000);
  assert.equal(await marked(c), true, "c was not reloaded");
  assert.equal(c.navigations, 1);
  await context.close();
});

test("editing a stylesheet swaps it without a navigation", async () => {
  const context = await browser.newContext();
  const c = await open(context, "c.html");
  const color = () => c.evaluate(() => getComputedStyle(document.body).color);
  assert.equal(await color(), "rgb(255, 0, 0)");
  write("style.css", "body { color: rgb(0, 0, 255); }\n");
  await until(async () => (await color()) === "rgb(0, 0, 255)", 15_000, "the new colour");
  assert.equal(await marked(c), true, "no reload");
  assert.equal(c.navigations, 1, "no navigation");
  const href = await c.evaluate(() => document.querySelector("link").href);
  assert.match(href, /\/style\.css\?ssibake-reload=\d+$/);
  await context.close();
});

test("a broken page shows the overlay, and a fixed one clears it", async () => {
  const context = await browser.newContext();
  const b = await open(context, "b.html");
  write("b.shtml", PAGE("b", '<!--#include virtual="/nope.html" --><script>window.__ran = 1</script>'));
  await until(() => b.evaluate(() => !!document.getElementById("ssibake-overlay")).catch(() => false), 15_000, "the overlay");
  assert.equal(b.statuses.at(-1), 500);
  const text = await b.evaluate(() => document.getElementById("ssibake-overlay").textContent);
  assert.match(text, /b\.shtml:1:\d+: error: `nope\.html` does not exist/);
  assert.match(text, /<script>window.__ran = 1<\/script>/, "the source line is shown as text");
  assert.equal(await b.evaluate(() => window.__ran), undefined, "nothing of the template ran");
  // The terminal printed it once, however often the page is asked for.
  await fetch(server.base + "b.html");
  await fetch(server.base + "b.html");
  assert.equal(server.stderr().split("`nope.html` does not exist").length - 1, 1, server.stderr());
  await connected(b);
  write("b.shtml", PAGE("b", '<!--#include virtual="/inc/nav.shtml" -->'));
  await until(async () => (await nav(b)) === "v2", 15_000, "the fixed page");
  assert.equal(await b.evaluate(() => !!document.getElementById("ssibake-overlay")), false);
  assert.equal(b.statuses.at(-1), 200);
  await context.close();
});

test("a page reconnects to a restarted server and reloads", async () => {
  const context = await browser.newContext();
  const c = await open(context, "c.html");
  const port = new URL(server.base).port;
  server.proc.kill();
  await new Promise((r) => server.proc.once("exit", r));
  write("c.shtml", PAGE("c", "<nav>after restart</nav>"));
  server = startServer(port);
  server.base = await server.url;
  await until(async () => (await nav(c)) === "after restart", 20_000, "the reload after the restart");
  assert.equal(await marked(c), false);
  await context.close();
});

test("save-to-reload time", async () => {
  const context = await browser.newContext();
  const a = await open(context, "a.html");
  const times = [];
  for (let i = 0; i < 7; i++) {
    await connected(a);
    await a.evaluate(() => (window.__mark = true));
    const saved = Date.now();
    write("inc/nav.shtml", `<nav>t${i}</nav>`);
    await until(async () => (await nav(a)) === `t${i}`, 15_000, "the reload");
    // The reloaded page's load event, on the same clock as the save.
    const loaded = await a.evaluate(() => performance.timeOrigin + performance.getEntriesByType("navigation")[0].loadEventEnd);
    times.push(Math.round(loaded - saved));
    await sleep(200);
  }
  const sorted = [...times].sort((x, y) => x - y);
  console.log(`save-to-reload: ${times.join(" ")} ms; median ${sorted[3]} ms, max ${sorted.at(-1)} ms`);
  assert.ok(sorted[3] > 0);
  await context.close();
});
