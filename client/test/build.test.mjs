// The committed dist/ files are what the Rust binary embeds (include_str!): they must be the
// build of src/ as it is now, and each must stay within 2.5 KB minified and gzipped, styles included.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { gzipSize } from "../scripts/build.mjs";
import { CLIENT, tmpdir } from "./helpers.mjs";

const FORMS = ["ssibake-update.js", "ssibake-update.mjs"];
const LIMIT = 2560; // 2.5 KB: the script with its styles

test("dist/ is up to date with src/ (run `npm run build` in client/ and commit dist/)", () => {
  const out = tmpdir("ssibake-build-");
  execFileSync(process.execPath, [path.join(CLIENT, "scripts", "build.mjs"), out], { stdio: "pipe" });
  for (const f of FORMS) {
    const fresh = fs.readFileSync(path.join(out, f), "utf8");
    const committed = fs.readFileSync(path.join(CLIENT, "dist", f), "utf8");
    assert.ok(fresh === committed, `dist/${f} is stale: rebuild with \`npm run build\` in client/`);
  }
  fs.rmSync(out, { recursive: true });
});

for (const f of FORMS) {
  test(`dist/${f} is at most ${LIMIT} bytes gzipped (level 9)`, (t) => {
    const code = fs.readFileSync(path.join(CLIENT, "dist", f));
    const size = gzipSize(code);
    t.diagnostic(`${f}: ${code.length} bytes minified, ${size} bytes gzipped`);
    assert.ok(size <= LIMIT, `dist/${f} is ${size} bytes gzipped, over the ${LIMIT}-byte budget`);
  });
}

test("the classic form is a plain script exposing window.ssibakeUpdate; the module exports the API", async () => {
  const classic = fs.readFileSync(path.join(CLIENT, "dist", "ssibake-update.js"), "utf8");
  assert.doesNotMatch(classic, /\bexport\b|\bimport\b/);
  const vm = await import("node:vm");
  new vm.Script(classic); // parses as a classic script
  const mjs = fs.readFileSync(path.join(CLIENT, "dist", "ssibake-update.mjs"), "utf8");
  assert.match(mjs, /export\{/);
  for (const name of ["init", "checkNow", "reload", "later", "skip", "stop"]) {
    assert.match(mjs, new RegExp(`\\bas ${name}\\b|[{,]${name}[,}]`), `module exports ${name}`);
  }
});
