// Builds dist/ssibake-update.mjs (ES module) and dist/ssibake-update.js (classic script) from
// src/: core.js (with notice.css put in) plus the form's own tail, minified with terser (a locked dev-dependency, so the
// output is reproducible; test/build.test.mjs rebuilds and compares with the committed files).
//
//   node scripts/build.mjs [OUT_DIR]     (default: dist/)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { minify } from "terser";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = (name) => readFileSync(join(root, "src", name), "utf8");

/**
 * src/notice.css without its comments and needless spaces. Only what that file uses is handled:
 * no strings, no `url()`; a space before `:` or `(` is kept (a descendant combinator, `and (`).
 */
export function minifyCss(css) {
  return css
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\s+/g, " ")
    .replace(/ ?([{};,>]) ?/g, "$1")
    .replace(/: /g, ":")
    .replace(/;}/g, "}")
    .trim();
}

/** Returns `{ "ssibake-update.mjs": code, "ssibake-update.js": code }`. */
export async function build() {
  const css = minifyCss(src("notice.css"));
  if (!src("core.js").includes('"__CSS__"')) throw new Error('src/core.js has no "__CSS__"');
  const core = src("core.js").replace('"__CSS__"', () => JSON.stringify(css));
  const forms = {
    "ssibake-update.mjs": { code: core + "\n" + src("module.js"), module: true },
    "ssibake-update.js": { code: "(() => {\n" + core + "\n" + src("classic.js") + "\n})();\n", module: false },
  };
  const out = {};
  for (const [name, { code, module }] of Object.entries(forms)) {
    const r = await minify(code, {
      module,
      ecma: 2020,
      compress: { passes: 3, unsafe_arrows: true },
      mangle: true,
      format: { comments: false },
    });
    out[name] = r.code + "\n";
  }
  return out;
}

/** Size of `code` gzipped at level 9, as the size test and README measure it. */
export const gzipSize = (code) => gzipSync(Buffer.from(code), { level: 9 }).length;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] || join(root, "dist"));
  mkdirSync(dir, { recursive: true });
  for (const [name, code] of Object.entries(await build())) {
    writeFileSync(join(dir, name), code);
    console.log(`${name}: ${Buffer.byteLength(code)} bytes minified, ${gzipSize(code)} bytes gzipped`);
  }
}
