// Test helpers: baking the example app (with the real ssibake binary, or a stand-in), a small
// static server that counts version-file requests per tab, and Chromium.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

export const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = path.join(CLIENT, "..");
export const APP = path.join(CLIENT, "test", "app");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Poll interval and snooze the example app is baked with (seconds). */
export const POLL = 1.5;
export const SNOOZE = 2;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const made = [];
/** A new temporary directory, removed when the test process exits. */
export function tmpdir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
process.on("exit", () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

/** Copies the example app's templates to a fresh directory the test may edit. */
export function copyApp() {
  const dir = tmpdir("ssibake-app-");
  fs.cpSync(APP, dir, { recursive: true });
  return dir;
}

// ---- baking -----------------------------------------------------------------------------------

// TEMPORARY SWITCH: SSIBAKE_TEST_STANDIN=1 bakes with standInBake() below instead of the real
// binary, for as long as the binary lacks --out/--version-file/--emit-client. Remove it (and
// standInBake) once the bake contract has landed in src/cli.rs.
export const STANDIN = process.env.SSIBAKE_TEST_STANDIN === "1";

export const BIN = process.env.SSIBAKE_BIN || path.join(REPO, "target", "debug", "ssibake");

/** Throws unless the binary implements the bake contract (or the stand-in is switched on). */
export function checkBaker() {
  if (STANDIN) return;
  if (!fs.existsSync(BIN)) throw new Error(`ssibake binary not found at ${BIN} (set SSIBAKE_BIN or run cargo build)`);
  const help = spawnSync(BIN, ["--help"], { encoding: "utf8" }).stdout || "";
  for (const flag of ["--out", "--version-file", "--emit-client", "--build-id"]) {
    if (!help.includes(flag)) {
      throw new Error(
        `${BIN} has no ${flag}: the bake contract is not implemented yet. ` +
          "SSIBAKE_TEST_STANDIN=1 runs these tests with a JavaScript stand-in meanwhile.",
      );
    }
  }
}

/**
 * Bakes `app` into a new directory and returns it:
 * `ssibake --root APP --out OUT --version-file /version.json --emit-client EMIT -D ...`.
 */
export function bake(app, { emit = "/ssibake-update.js", buildId, defines = {} } = {}) {
  const out = tmpdir("ssibake-out-");
  const defs = { POLL, SNOOZE, ...defines };
  if (STANDIN) {
    standInBake(app, out, { emit, buildId, defines: defs });
    return out;
  }
  const args = ["--root", app, "--out", out, "--version-file", "/version.json", "--emit-client", emit];
  if (buildId) args.push("--build-id", buildId);
  for (const [k, v] of Object.entries(defs)) args.push("-D", `${k}=${v}`);
  const r = spawnSync(BIN, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssibake ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  return out;
}

/** `ssibake client [--module]`: the embedded script. */
export function printedClient(module) {
  if (STANDIN) return fs.readFileSync(path.join(CLIENT, "dist", module ? "ssibake-update.mjs" : "ssibake-update.js"), "utf8");
  const r = spawnSync(BIN, module ? ["client", "--module"] : ["client"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssibake client failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

export function versionOf(out) {
  return JSON.parse(fs.readFileSync(path.join(out, "version.json"), "utf8"));
}

// The stand-in (TEMPORARY, see STANDIN): understands only what the example app uses
// (#echo var, #include virtual), hashes every input into the build ID.
function standInBake(app, out, { emit, buildId, defines }) {
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(path.relative(app, p));
    }
  };
  walk(app);
  const h = createHash("sha256");
  for (const f of files) h.update(f + "\0").update(fs.readFileSync(path.join(app, f))).update("\0");
  h.update(JSON.stringify(defines));
  const vars = { ...defines, BUILD_ID: buildId || h.digest("hex").slice(0, 16), BUILD_DATE: new Date().toISOString() };
  const render = (text) =>
    text
      .replace(/<!--#include virtual="\/([^"]+)" -->/g, (_, p) => render(fs.readFileSync(path.join(app, p), "utf8")))
      .replace(/<!--#echo var="(\w+)" -->/g, (_, v) => vars[v] ?? "(none)");
  for (const f of files) {
    const dest = path.join(out, f.endsWith(".shtml") ? f.slice(0, -6) + ".html" : f);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    if (f.endsWith(".shtml")) fs.writeFileSync(dest, render(fs.readFileSync(path.join(app, f), "utf8")));
    else fs.copyFileSync(path.join(app, f), dest);
  }
  fs.copyFileSync(path.join(CLIENT, "dist", emit.endsWith(".mjs") ? "ssibake-update.mjs" : "ssibake-update.js"), path.join(out, emit));
  fs.writeFileSync(
    path.join(out, "version.json"),
    JSON.stringify({ buildId: vars.BUILD_ID, builtAt: new Date().toISOString().replace(/\.\d+Z$/, "Z") }) + "\n",
  );
}

// ---- the static server ------------------------------------------------------------------------

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".css": "text/css" };

/**
 * Serves `root` (switch deploys with `server.root = newDir`, as a symlink swap would) on
 * 127.0.0.1 with strong ETags, `Cache-Control: no-cache` and 304s for `If-None-Match`.
 * Every request to /version.json is logged with the tab that made it (the `tab` query
 * parameter of the page, read from the Referer), its status and its bytes on the wire; every
 * request for a page, with its `tab` and whether it was a navigation or a fetch.
 */
export async function serve(root) {
  const log = [];
  const pages = [];
  const server = http.createServer((req, res) => {
    const sock = req.socket;
    const bytesIn = sock.bytesRead - (sock.seenRead || 0);
    sock.seenRead = sock.bytesRead;
    const url = new URL(req.url, "http://x");
    let file = path.join(server.root, decodeURIComponent(url.pathname));
    if (file.endsWith("/")) file += "index.html";
    let body;
    try {
      body = fs.readFileSync(file);
    } catch {
      res.writeHead(404).end("not found");
      return;
    }
    const etag = `"${createHash("sha1").update(body).digest("base64url").slice(0, 16)}"`;
    const headers = { ETag: etag, "Cache-Control": "no-cache", "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" };
    // `server.failing = 503` makes the version file fail (a broken deploy, a proxy error).
    const failing = url.pathname === "/version.json" && server.failing;
    const status = failing || (req.headers["if-none-match"] === etag ? 304 : 200);
    if (url.pathname === "/version.json") {
      let tab = null;
      try {
        tab = new URL(req.headers.referer).searchParams.get("tab");
      } catch {}
      const head = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) head.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      const entry = { at: Date.now(), tab, status, bytesIn, bytesOut: 0, request: head.join("\r\n") + "\r\n\r\n", response: "" };
      log.push(entry);
      res.on("finish", () => {
        entry.response = res._header; // the status line and headers exactly as sent
        entry.bytesOut = sock.bytesWritten - (sock.seenWritten || 0);
        sock.seenWritten = sock.bytesWritten;
      });
    } else {
      // Pages are logged too: a navigation, or the client's own check of its page (a fetch).
      if (path.extname(file) === ".html") {
        const mode = req.headers["sec-fetch-mode"];
        pages.push({ at: Date.now(), path: url.pathname, tab: url.searchParams.get("tab"), status, fetch: mode !== "navigate" });
      }
      res.on("finish", () => (sock.seenWritten = sock.bytesWritten));
    }
    res.writeHead(status, headers).end(status === 200 ? body : undefined);
  });
  server.root = root;
  server.log = log;
  server.polls = (tab) => log.filter((e) => tab === undefined || e.tab === tab);
  /** The client's own requests for its page (not navigations), by tab. */
  server.pageChecks = (tab) => pages.filter((e) => e.fetch && (tab === undefined || e.tab === tab));
  server.pages = pages;
  server.keepAliveTimeout = 60_000; // like a typical production server; avoids reconnects between polls
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  server.origin = `http://127.0.0.1:${server.address().port}`;
  return server;
}

// ---- nginx ------------------------------------------------------------------------------------

export const NGINX = process.env.NGINX || "/usr/sbin/nginx";

/** A port that was free a moment ago on 127.0.0.1. */
async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Debian's nginx (NGINX, default /usr/sbin/nginx) serving `root` on 127.0.0.1, with its own
 * config, pid, logs and temp files in a temporary directory. The config is Debian's default
 * http block (sendfile, tcp_nopush, mime.types, gzip on) plus what the README asks of a site:
 * `Cache-Control: no-cache` on /version.json. `root` is reached through a symlink, so
 * `server.root = dir` deploys as a symlink swap would. `server.log()` reads the access log:
 * per request its time, status, URI, Referer and nginx's own byte counts (`$request_length`,
 * `$bytes_sent`: the request and the response as on the wire).
 */
export async function nginx(root) {
  const dir = tmpdir("ssibake-nginx-");
  const port = await freePort();
  const link = path.join(dir, "site");
  fs.symlinkSync(root, link);
  fs.mkdirSync(path.join(dir, "tmp"));
  const mime = fs.existsSync("/etc/nginx/mime.types")
    ? "include /etc/nginx/mime.types;"
    : "types { text/html html; application/json json; text/javascript js mjs; text/css css; }";
  const t = (name) => path.join(dir, "tmp", name);
  const conf = `
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    ${mime}
    default_type application/octet-stream;
    gzip on;
    log_format wire '$msec $status $request_length $bytes_sent $request_uri "$http_referer"';
    access_log ${dir}/access.log wire;
    client_body_temp_path ${t("body")};
    proxy_temp_path ${t("proxy")};
    fastcgi_temp_path ${t("fastcgi")};
    uwsgi_temp_path ${t("uwsgi")};
    scgi_temp_path ${t("scgi")};
    server {
        listen 127.0.0.1:${port};
        root ${link};
        location = /version.json { add_header Cache-Control no-cache; }
    }
}
`;
  fs.writeFileSync(path.join(dir, "nginx.conf"), conf);
  const proc = spawn(NGINX, ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", path.join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => proc.on("exit", r));
  // Up when it accepts a connection.
  await until(
    async () => {
      if (proc.exitCode !== null) {
        const log = fs.existsSync(path.join(dir, "error.log")) ? fs.readFileSync(path.join(dir, "error.log"), "utf8") : "";
        throw new Error(`nginx exited (${proc.exitCode}):\n${err}${log}`);
      }
      return new Promise((r) => {
        const c = net.connect(port, "127.0.0.1", () => (c.end(), r(true)));
        c.on("error", () => r(false));
      });
    },
    10_000,
    "nginx to listen",
  );
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    set root(dir2) {
      const tmp = link + ".new";
      fs.symlinkSync(dir2, tmp);
      fs.renameSync(tmp, link);
    },
    get root() {
      return fs.readlinkSync(link);
    },
    log() {
      const file = path.join(dir, "access.log");
      if (!fs.existsSync(file)) return [];
      return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const [msec, status, requestLength, bytesSent, uri, referer] = line.split(" ");
          let tab = null;
          try {
            tab = new URL(JSON.parse(referer)).searchParams.get("tab");
          } catch {}
          return { at: Math.round(Number(msec) * 1000), status: Number(status), requestLength: Number(requestLength), bytesSent: Number(bytesSent), uri, tab };
        });
    },
    async close() {
      proc.kill("SIGQUIT"); // graceful, like `nginx -s quit`
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * A TCP relay on 127.0.0.1 in front of `port` that keeps every request and response as it
 * went over the wire: `exchanges` holds `{request, response}` Buffers in order (on a kept-alive
 * connection a new exchange starts when the client sends after an answer).
 */
export async function wireTap(port) {
  const exchanges = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    let cur = null;
    client.on("data", (d) => {
      if (!cur || cur.res.length) exchanges.push((cur = { req: [], res: [] }));
      cur.req.push(d);
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      cur?.res.push(d);
      client.write(d);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    /** The exchanges whose request line is `GET <path>...`, joined into Buffers. */
    get(p) {
      return exchanges
        .map((e) => ({ request: Buffer.concat(e.req), response: Buffer.concat(e.res) }))
        .filter((e) => e.request.toString("latin1").startsWith(`GET ${p}`));
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

// ---- Chromium ---------------------------------------------------------------------------------

/** Throws unless Chromium and playwright-core are installed (never downloads a browser). */
export async function loadPlaywright() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  return (await import("playwright-core")).chromium;
}

/** Headless Debian Chromium through playwright-core; a fresh profile per launch. */
export async function launch() {
  const chromium = await loadPlaywright();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Chromium without Playwright, driven over a bare CDP WebSocket. Playwright keeps every page it
 * attaches to "visible" (its focus emulation counts as a capture of the tab), so a real hidden
 * tab needs a browser Playwright is not attached to: here a tab created with
 * `Target.createTarget({background: true})` is a background tab of the window, and
 * `document.visibilityState` is "hidden" in it until `Target.activateTarget`.
 */
export async function rawChromium() {
  const dir = tmpdir("ssibake-chromium-");
  const proc = spawn(CHROMIUM, [...CHROMIUM_ARGS, `--user-data-dir=${dir}`, "--remote-debugging-port=0", "about:blank"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const wsUrl = await new Promise((resolve, reject) => {
    let err = "";
    const t = setTimeout(() => reject(new Error("Chromium did not start:\n" + err)), 30_000);
    proc.stderr.on("data", (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) clearTimeout(t), resolve(m[1]);
    });
    proc.on("exit", (c) => reject(new Error(`Chromium exited (${c}):\n${err}`)));
  });
  // Node 22 has a global WebSocket; on Node 20 use the `ws` that playwright-core bundles.
  const WS = globalThis.WebSocket || createRequire(import.meta.url)("playwright-core/lib/utilsBundle").ws;
  const ws = new WS(wsUrl);
  await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
  let id = 0;
  const pending = new Map();
  ws.onmessage = (e) => {
    const m = JSON.parse(typeof e.data === "string" ? e.data : e.data.toString());
    if (m.id && pending.has(m.id)) {
      const [ok, fail] = pending.get(m.id);
      pending.delete(m.id);
      m.error ? fail(new Error(JSON.stringify(m.error))) : ok(m.result);
    }
  };
  const send = (method, params = {}, sessionId) =>
    new Promise((ok, fail) => {
      pending.set(++id, [ok, fail]);
      ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  return {
    send,
    /** Opens `url` in a tab; returns `{targetId, evaluate(expr)}`. */
    async open(url, { background = false } = {}) {
      const { targetId } = await send("Target.createTarget", { url, background, newWindow: false });
      const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
      const evaluate = async (expression) =>
        (await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true }, sessionId)).result.value;
      return { targetId, evaluate, activate: () => send("Target.activateTarget", { targetId }) };
    },
    async close() {
      try {
        await send("Browser.close");
      } catch {}
      ws.close();
      // Wait for Chromium to be gone before its profile is removed (at exit, see tmpdir).
      const gone = new Promise((r) => (proc.exitCode !== null ? r() : proc.on("exit", r)));
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      proc.kill();
      await gone;
      clearTimeout(t);
    },
  };
}

/** Waits until `fn()` is truthy (checked every 50 ms), or throws after `ms`. */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
