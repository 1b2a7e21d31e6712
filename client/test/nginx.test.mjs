// The client against a real server's headers: Debian's nginx (helpers.nginx(), NGINX or
// /usr/sbin/nginx) on 127.0.0.1 with its own config in a temporary directory, in headless
// Chromium, through a TCP relay (helpers.wireTap()) that keeps the bytes as they went over the
// wire. The README's bytes-per-hour figure comes from here:
//
//   SSIBAKE_SHOW_WIRE=1 node --test --test-name-pattern="nginx" test/nginx.test.mjs
//
// Without nginx the tests are skipped loudly, except under CI=true, where that is a failure.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { NGINX, POLL, bake, checkBaker, copyApp, launch, nginx, tmpdir, until, versionOf, wireTap } from "./helpers.mjs";

const INTERVAL = POLL * 1000;
const ONE_INTERVAL = INTERVAL * 1.1 + 1000;
const NOTICE = ".ssibake-update";
const CI = ["true", "1"].includes(process.env.CI);
const missing = !fs.existsSync(NGINX);
if (missing) {
  const msg = `nginx: no nginx at ${NGINX} (apt-get install -y nginx, see .ci/run)`;
  if (CI) throw new Error(`${msg}; CI=true: the nginx tests must not be skipped`);
  console.error(`\n${"#".repeat(72)}\n##  ${msg}\n##  SKIPPING the nginx tests (they would fail under CI=true)\n${"#".repeat(72)}\n`);
}

describe("against nginx", { timeout: 90_000, skip: missing && `no nginx at ${NGINX}` }, () => {
  let app, site, server, tap, browser, context, page;
  before(async () => {
    checkBaker();
    app = copyApp();
    // The directory nginx serves, which the second test uploads into file by file.
    site = tmpdir("ssibake-site-");
    fs.cpSync(bake(app), site, { recursive: true });
    server = await nginx(site);
    tap = await wireTap(server.port);
    browser = await launch();
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(`${tap.origin}/index.html?tab=n`);
    await page.evaluate(() => (window.__sameDocument = true));
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await tap?.close();
    await server?.close();
  });

  const polls = () => server.log().filter((e) => e.uri === "/version.json" && e.tab === "n");

  test("unchanged polls through nginx are 304s: the bytes on the wire", async (t) => {
    await until(() => polls().length >= 3 && tap.get("/version.json").length >= 3, 3 * ONE_INTERVAL + 3000, "three polls");
    const log = polls();
    assert.deepEqual(
      log.slice(1).map((p) => p.status),
      log.slice(1).map(() => 304),
    );
    assert.equal(await page.locator(NOTICE).count(), 0);
    // The third poll: what the relay saw is what nginx counted.
    const p = log[2];
    const wire = tap.get("/version.json")[2];
    assert.equal(wire.request.length, p.requestLength, "request bytes: relay and nginx's $request_length");
    assert.equal(wire.response.length, p.bytesSent, "response bytes: relay and nginx's $bytes_sent");
    const response = wire.response.toString("latin1");
    assert.match(response, /^HTTP\/1\.1 304 Not Modified\r\n/);
    for (const h of ["Server: nginx", "ETag:", "Last-Modified:", "Cache-Control: no-cache"]) assert.ok(response.includes(h), h);
    // Per hour at the default interval: 300 s plus 5% mean jitter.
    const total = p.requestLength + p.bytesSent;
    const perHour = 3600 / (300 * 1.05);
    t.diagnostic(
      `nginx, one unchanged poll: request ${p.requestLength} B + 304 response ${p.bytesSent} B = ${total} B; ` +
        `${perHour.toFixed(2)} polls/hour at the default 300 s interval => ${Math.round(perHour * total)} B/hour ` +
        `(at most ${Math.round(12 * total)} B/hour with no jitter)`,
    );
    if (process.env.SSIBAKE_SHOW_WIRE) {
      for (const line of (wire.request.toString("latin1") + response).split("\r\n")) t.diagnostic(line);
    }
  });

  test("a deploy through nginx, the version file first: the page's checks are 304s until the pages arrive; then the notice, and Reload lands on the new build", async () => {
    fs.writeFileSync(path.join(app, "content.html"), "<p>Second release.</p>\n");
    const out = bake(app);
    const latest = versionOf(out).buildId;
    const pageChecks = () => server.log().filter((e) => e.uri === "/index.html?tab=n").slice(1); // [0]: the navigation
    fs.copyFileSync(path.join(out, "version.json"), path.join(site, "version.json"));
    await until(() => pageChecks().length >= 2, 3 * ONE_INTERVAL + 3000, "two checks of the page");
    assert.deepEqual(
      pageChecks().slice(0, 2).map((e) => e.status),
      [304, 304],
      "nginx answers the unchanged page's conditional check with a 304",
    );
    assert.equal(await page.locator(NOTICE).count(), 0, "no notice while the page is the old build");
    fs.cpSync(out, site, { recursive: true, force: true });
    await page.locator(NOTICE).getByRole("button", { name: "Reload" }).waitFor({ timeout: ONE_INTERVAL + 3000 });
    assert.equal(pageChecks().at(-1).status, 200, "the changed page");
    assert.ok(await page.evaluate(() => window.__sameDocument), "never reloads by itself");
    await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Reload" }).click()]);
    assert.equal(await page.locator("#build").innerText(), latest, "Reload landed on the new build");
    const n = polls().length;
    await until(() => polls().length >= n + 1, ONE_INTERVAL + 1000, "a poll after the reload");
    assert.equal(await page.locator(NOTICE).count(), 0, "the new build is not asked about");
  });
});
