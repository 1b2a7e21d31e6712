// The built-in notice's looks and accessibility, in headless Debian Chromium: screenshots (light,
// dark, a 375 px phone, Korean), touch targets, dark mode, reduced motion, the CSS custom
// properties and the container option, and an axe-core audit of the notice.
//
// The screenshots go to a temporary directory, or to SSIBAKE_SCREENSHOTS (a directory; the
// README's come from `SSIBAKE_SCREENSHOTS=screenshots node --test test/looks.test.mjs`).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { bake, checkBaker, copyApp, launch, serve, tmpdir, until } from "./helpers.mjs";

const NOTICE = ".ssibake-update";
const SHOTS = process.env.SSIBAKE_SCREENSHOTS ? path.resolve(process.env.SSIBAKE_SCREENSHOTS) : tmpdir("ssibake-shots-");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const DESKTOP = { viewport: { width: 720, height: 450 }, deviceScaleFactor: 2 };

let browser, server, first, second;
before(async () => {
  checkBaker();
  fs.mkdirSync(SHOTS, { recursive: true });
  const app = copyApp();
  first = bake(app);
  fs.writeFileSync(path.join(app, "content.html"), "<p>Second release.</p>\n");
  second = bake(app);
  server = await serve(first);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
});

/**
 * A fresh context (`options`: viewport, colour scheme, ...) with `file` open on the first build;
 * the second build goes live and the page is asked at once (checkNow). Resolves when the notice
 * is complete and its entrance animation is over; the second build stays live. `setup(page)`
 * runs before the check.
 */
async function asked(file, options = {}, setup) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  server.root = first;
  await page.goto(`${server.origin}/${file}?tab=looks`);
  await page.waitForFunction(() => window.ssibakeUpdate);
  if (setup) await setup(page);
  server.root = second;
  await page.evaluate(() => window.ssibakeUpdate.checkNow());
  // The second build stays live (its page is checked too): going back to the first would make
  // the next poll take the notice away. Tests run one at a time, each closing its context.
  await page.locator(`${NOTICE} button`).last().waitFor({ timeout: 10_000 });
  await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished)));
  return { context, page };
}

const box = (page, sel) => page.locator(sel).boundingBox();
const style = (page, sel, props) =>
  page.locator(sel).evaluate((el, props) => {
    const s = getComputedStyle(el);
    return Object.fromEntries(props.map((p) => [p, s.getPropertyValue(p)]));
  }, props);
/** Relative luminance of an `rgb(...)` colour (WCAG). */
const luminance = (rgb) => {
  const [r, g, b] = rgb.match(/[\d.]+/g).map(Number).map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
/** A screenshot of the whole viewport, into SHOTS. */
const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, name), animations: "disabled" });

describe("looks", { timeout: 120_000 }, () => {
  test("light: Reload is the primary button, in the app's colours; a close button; above the app's fixed footer", async () => {
    const { context, page } = await asked("app.html", { ...DESKTOP, colorScheme: "light" });
    const notice = page.locator(NOTICE);
    const reload = notice.getByRole("button", { name: "Reload" });
    const later = notice.getByRole("button", { name: "Later" });
    assert.equal(await notice.getByRole("button", { name: "Close" }).count(), 1, "a close button");
    // The app set --ssibake-accent to its brand colour (test/app/css/app.css).
    const brand = await page.evaluate(() => {
      const p = document.createElement("p");
      p.style.color = "var(--brand)";
      document.body.append(p);
      const c = getComputedStyle(p).color;
      p.remove();
      return c;
    });
    const r = await style(page, `${NOTICE} button:first-of-type`, ["background-color", "color", "font-weight"]);
    const l = await style(page, `${NOTICE} button:nth-of-type(2)`, ["background-color"]);
    assert.equal(await reload.evaluate((el) => el.matches("button:first-of-type")), true);
    assert.equal(r["background-color"], brand, "Reload in the app's accent colour");
    assert.notEqual(l["background-color"], r["background-color"], "Later is not a primary button");
    assert.ok(Number(r["font-weight"]) >= 600, "Reload stands out");
    // Bottom right, and above the app's footer (the app moved it up with --ssibake-bottom).
    const b = await box(page, NOTICE);
    const footer = await box(page, "footer");
    assert.ok(b.y + b.height <= footer.y, `notice ${JSON.stringify(b)} over the footer ${JSON.stringify(footer)}`);
    assert.ok(b.x + b.width > 720 - 40 && b.x > 720 / 3, "bottom right");
    assert.ok(await later.isVisible());
    await shot(page, "light.png");
    await context.close();
  });

  test("dark: follows prefers-color-scheme, with no app colours as with them", async () => {
    for (const file of ["index.html", "app.html"]) {
      const { context, page } = await asked(file, { ...DESKTOP, colorScheme: "dark" });
      const s = await style(page, NOTICE, ["background-color", "color"]);
      assert.ok(luminance(s["background-color"]) < 0.1, `${file}: dark background ${s["background-color"]}`);
      assert.ok(luminance(s.color) > 0.6, `${file}: light text ${s.color}`);
      if (file === "app.html") await shot(page, "dark.png");
      await context.close();
    }
  });

  test("a 375 px phone: 44 px touch targets, one row of buttons, above the footer, a small part of the screen", async (t) => {
    const { context, page } = await asked("app.html", { ...PHONE, colorScheme: "light" });
    await shot(page, "phone.png");
    const vp = page.viewportSize();
    const b = await box(page, NOTICE);
    const buttons = await page.locator(`${NOTICE} button`).all();
    assert.equal(buttons.length, 4);
    const rows = new Set();
    for (const button of buttons) {
      const bb = await button.boundingBox();
      const name = (await button.getAttribute("aria-label")) || (await button.innerText());
      assert.ok(bb.width >= 44 && bb.height >= 44, `${name}: ${bb.width} x ${bb.height} px, under 44 px`);
      assert.ok(bb.x >= b.x && bb.x + bb.width <= b.x + b.width, `${name} sticks out of the notice`);
      rows.add(Math.round(bb.y));
    }
    assert.equal(rows.size, 1, "the four buttons (close included) are one row");
    assert.ok(b.x >= 0 && b.x + b.width <= vp.width, "within the screen's width");
    const footer = await box(page, "footer");
    assert.ok(b.y + b.height <= footer.y, `notice ${JSON.stringify(b)} over the footer ${JSON.stringify(footer)}`);
    const share = (b.width * b.height) / (vp.width * vp.height);
    t.diagnostic(`notice on 375 x 667: ${Math.round(b.width)} x ${Math.round(b.height)} px, ${(share * 100).toFixed(1)}% of the screen`);
    assert.ok(share <= 0.13, `the notice covers ${(share * 100).toFixed(1)}% of the screen`);
    await context.close();
  });

  test("Korean: the page's language, and the same layout", async () => {
    const { context, page } = await asked("app-ko.html", { ...DESKTOP, colorScheme: "light" });
    const notice = page.locator(NOTICE);
    assert.match(await notice.locator("p").innerText(), /새 버전/);
    for (const name of ["새로고침", "나중에", "이 버전 건너뛰기", "닫기"]) {
      assert.equal(await notice.getByRole("button", { name }).count(), 1, name);
    }
    await shot(page, "korean.png");
    await context.close();
  });

  test("motion: a short entrance, none with prefers-reduced-motion", async () => {
    for (const reducedMotion of ["no-preference", "reduce"]) {
      const { context, page } = await asked("index.html", { reducedMotion });
      const { "animation-name": name } = await style(page, NOTICE, ["animation-name"]);
      assert.equal(name, reducedMotion === "reduce" ? "none" : "ssibake-in", reducedMotion);
      await context.close();
    }
  });

  test("themable: colours, font, radius and corner from CSS custom properties", async () => {
    const { context, page } = await asked("index.html", { ...DESKTOP, colorScheme: "light" }, (page) =>
      page.addStyleTag({
        content:
          ":root { --ssibake-bg: rgb(255, 251, 230); --ssibake-fg: rgb(59, 47, 0); --ssibake-accent: rgb(146, 64, 14);" +
          " --ssibake-accent-fg: rgb(255, 255, 255); --ssibake-font: italic 17px/1.5 serif; --ssibake-radius: 2px;" +
          " --ssibake-top: 10px; --ssibake-bottom: auto; --ssibake-left: 10px; --ssibake-right: auto }",
      }),
    );
    const s = await style(page, NOTICE, ["background-color", "color", "font-style", "font-size", "border-top-left-radius"]);
    assert.deepEqual(s, {
      "background-color": "rgb(255, 251, 230)",
      color: "rgb(59, 47, 0)",
      "font-style": "italic",
      "font-size": "17px",
      "border-top-left-radius": "2px",
    });
    const r = await style(page, `${NOTICE} button:first-of-type`, ["background-color", "color"]);
    assert.deepEqual(r, { "background-color": "rgb(146, 64, 14)", color: "rgb(255, 255, 255)" });
    const b = await box(page, NOTICE);
    assert.deepEqual([b.x, b.y], [10, 10], "top left");
    await context.close();
  });

  test("an element the app provides: the notice renders into it, in the page's flow", async () => {
    const { context, page } = await asked("index.html", { ...DESKTOP }, (page) =>
      page.evaluate(() => {
        const slot = document.createElement("div");
        slot.id = "slot";
        document.querySelector("h1").after(slot);
        window.ssibakeUpdate.init({ container: "#slot" });
      }),
    );
    assert.equal(await page.locator(`#slot > ${NOTICE}`).count(), 1, "inside #slot");
    assert.equal((await style(page, NOTICE, ["position"])).position, "static");
    const [slot, h1] = [await box(page, "#slot"), await box(page, "h1")];
    assert.ok(slot.y >= h1.y + h1.height && slot.height > 40, "it takes its place in the page");
    await context.close();
  });

  test("the close button means Later, and the focus goes back", async () => {
    const { context, page } = await asked("app.html", { ...DESKTOP });
    // The app's last link comes just before the notice (at the end of <body>) in the tab order.
    await page.locator("footer a").last().focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Close", "close is last in the tab order");
    await page.keyboard.press("Enter");
    await until(async () => (await page.locator(NOTICE).count()) === 0, 3000, "the notice to go");
    assert.equal(await page.evaluate(() => document.activeElement.textContent), "Settings", "the focus went back");
    const snooze = await page.evaluate(() => Object.values(localStorage).map((v) => JSON.parse(v).s)[0]);
    assert.ok(snooze > Date.now(), "a Later snooze is running");
    await context.close();
  });
});

describe("accessibility", { timeout: 120_000 }, () => {
  for (const [file, lang] of [
    ["index.html", "English"],
    ["ko.html", "Korean"],
  ]) {
    for (const colorScheme of ["light", "dark"]) {
      test(`axe-core finds no violations in the notice (${lang}, ${colorScheme})`, async (t) => {
        const { context, page } = await asked(file, { ...DESKTOP, colorScheme });
        await page.addScriptTag({ path: AXE });
        // Also with a button focused and hovered: focus ring and hover colours count too.
        await page.locator(`${NOTICE} button`).nth(1).focus();
        // Every WCAG 2.0-2.2 A and AA rule and axe's best practices, on the notice.
        const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];
        const r = await page.evaluate(
          ([sel, values]) => window.axe.run({ include: [sel] }, { runOnly: { type: "tag", values } }),
          [NOTICE, tags],
        );
        const found = r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
        assert.deepEqual(found, [], `axe-core ${r.testEngine.version}`);
        const passed = r.passes.map((p) => p.id);
        for (const id of ["color-contrast", "button-name", "aria-allowed-role", "target-size"]) {
          assert.ok(passed.includes(id), `axe-core checked ${id} (passed: ${passed.join(", ")})`);
        }
        const review = r.incomplete.map((v) => `${v.id} (${v.nodes.map((n) => n.any.map((c) => c.message).join("; ")).join(" | ")})`);
        t.diagnostic(`axe-core ${r.testEngine.version}: ${r.passes.length} rules passed, no violations; to review by hand: ${review.join(", ") || "none"}`);
        await context.close();
      });
    }
  }
});
