#!/usr/bin/env python3
"""Benchmarks a whole bake against `cp -r` of the same tree, side by side.

    python3 scripts/bench.py [--pages 5000,20000] [--runs 5] [--disk /tmp] [--no-strace]
                             [--build static|dist|release]

For each size: a site from `examples/gen_site.rs` (seeded, so every run bakes the same
tree) on tmpfs (/dev/shm); then, alternating in one loop so drift hits both alike:
`cp -r site copy` and `ssibake --root site --out dist --full` into a fresh output,
each measured as a whole process (wall, user+sys CPU, peak RSS from wait4). Medians
and the ratio bake/cp. Then -j1 against -j2, a one-asset redeploy into the existing
output (incremental), one page with 20 stamps to /dev/null against `cat`, the system
calls per page and per asset (strace -c -f), and the same full bake on a disk
(--disk, a fresh directory per run) for comparison; last, the divan benches of the
parser and the evaluator (`cargo bench`), medians in bytes per second. Prints a
Markdown table.

The binary measured is the deploy build (`--build static`, the default: the `dist`
profile, LTO and one codegen unit, linked statically, as the README's Install
section builds it); `--build release` measures `cargo build --release`.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRIPLE = "x86_64-unknown-linux-gnu"
BUILDS = {
    "static": (["--profile", "dist", "--target", TRIPLE], f"target/{TRIPLE}/dist",
               {"RUSTFLAGS": "-C target-feature=+crt-static"}),
    "dist": (["--profile", "dist"], "target/dist", {}),
    "release": (["--release"], "target/release", {}),
}
BIN = REPO / "target/release/ssibake"
GEN = REPO / "target/release/examples/gen_site"


def divan(args):
    """Runs a divan bench; returns {name: (median time, median throughput)}."""
    out = subprocess.run(["cargo", "bench", "--quiet"] + args, cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    # A row is two lines: "├─ name  fastest │ slowest │ median │ mean │ ..." then the
    # throughputs, "│  fastest │ slowest │ median │ ..." (without the leading bar on
    # the last row).
    rows, name = {}, None
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("\u2502")]
        if line.startswith(("\u251c", "\u2570")) and len(cells) >= 4:
            name = cells[0].lstrip("\u251c\u2570\u2500 ").split()[0]
            rows[name] = [cells[2]]
        elif name and len(cells) >= 4:
            rows[name].append(cells[3] if cells[0] == "" else cells[2])
            name = None
    return rows


def run(cmd, cwd=None, env=None):
    """Runs `cmd`; returns (wall seconds, cpu seconds, peak RSS in KiB)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{err}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def rm(path):
    shutil.rmtree(path, ignore_errors=True)


def med(xs):
    return statistics.median(xs)


def bake_cmd(site, out, jobs=None, full=True):
    cmd = [str(BIN), "--root", str(site), "--out", str(out), "-q"]
    if full:
        cmd.append("--full")
    if jobs:
        cmd += ["-j", str(jobs)]
    return cmd


def full_vs_cp(base, site, runs, jobs=None):
    cp, bake = [], []
    for _ in range(runs):
        rm(base / "copy")
        cp.append(run(["cp", "-r", str(site), str(base / "copy")]))
        rm(base / "dist")
        bake.append(run(bake_cmd(site, base / "dist", jobs)))
    rm(base / "copy")
    return cp, bake


def strace_counts(site, out):
    rm(out)
    log = out.with_suffix(".strace")
    subprocess.run(
        ["strace", "-f", "-c", "-o", str(log)] + bake_cmd(site, out),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    total = 0
    for line in log.read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] == "total":
            total = int(parts[3]) if len(parts) >= 5 else int(parts[2])
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", default="5000,20000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--disk", default="/tmp")
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--build", choices=sorted(BUILDS), default="static")
    a = ap.parse_args()
    global BIN
    flags, outdir, env = BUILDS[a.build]
    BIN = REPO / outdir / "ssibake"
    if not a.no_build:
        subprocess.run(["cargo", "build", "--quiet", "--bin", "ssibake"] + flags, cwd=REPO,
                       check=True, env={**os.environ, **env})
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "gen_site"],
                       cwd=REPO, check=True)
    print(f"binary: {BIN.relative_to(REPO)} (--build {a.build})", file=sys.stderr)
    rows = []
    for n in [int(x) for x in a.pages.split(",")]:
        base = Path(f"/dev/shm/ssibake-bench-{n}")
        rm(base)
        base.mkdir(parents=True)
        site = base / "site"
        subprocess.run([str(GEN), str(n), str(site), "1"], check=True, stdout=subprocess.DEVNULL)
        size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
        files = sum(1 for f in site.rglob("*") if f.is_file())
        subprocess.run(["cat"] + [str(f) for f in site.rglob("*.css")], stdout=subprocess.DEVNULL)

        cp, bake = full_vs_cp(base, site, a.runs)
        cp_wall, cp_cpu = med([r[0] for r in cp]), med([r[1] for r in cp])
        b_wall, b_cpu = med([r[0] for r in bake]), med([r[1] for r in bake])
        peak = max(r[2] for r in bake)
        rows.append((f"{n:,} pages ({size / 2**20:.0f} MiB, {files:,} files): full bake, tmpfs",
                     f"{b_wall * 1000:.0f} ms", f"{cp_wall * 1000:.0f} ms", f"{b_wall / cp_wall:.2f}x",
                     f"CPU {b_cpu / cp_cpu:.2f}x; peak {peak / 1024:.0f} MiB"))

        _, j1 = full_vs_cp(base, site, max(3, a.runs // 2), jobs=1)
        _, j2 = full_vs_cp(base, site, max(3, a.runs // 2), jobs=2)
        w1, w2 = med([r[0] for r in j1]), med([r[0] for r in j2])
        rows.append((f"{n:,} pages: -j1 / -j2", f"{w1 * 1000:.0f} / {w2 * 1000:.0f} ms", "",
                     f"{w1 / w2:.2f}x speed-up", ""))

        # One-asset redeploy into the existing output (incremental).
        rm(base / "dist")
        run(bake_cmd(site, base / "dist"))
        # An asset no partial stamps (a101: a .js file), so only the pages that
        # stamp it change.
        asset = site / "assets/js/a101.js"
        re, cps = [], []
        for i in range(a.runs):
            asset.write_bytes(asset.read_bytes() + b"/* %d */\n" % i)
            re.append(run(bake_cmd(site, base / "dist", full=False)))
            rm(base / "copy")
            cps.append(run(["cp", "-r", str(site), str(base / "copy")]))
        rw, cw = med([r[0] for r in re]), med([r[0] for r in cps])
        rows.append((f"{n:,} pages: one-asset redeploy", f"{rw * 1000:.0f} ms", f"{cw * 1000:.0f} ms",
                     f"{rw / cw:.2f}x", f"peak {max(r[2] for r in re) / 1024:.0f} MiB"))

        if not a.no_strace and shutil.which("strace"):
            calls = strace_counts(site, base / "dist-strace")
            pages = n + 12
            assets = files - pages
            rows.append((f"{n:,} pages: system calls, full bake", f"{calls:,}", "",
                         f"{calls / pages:.1f} per page", f"({pages:,} templates, {assets:,} other files)"))

        # The same on a disk, a fresh directory per run.
        disk = Path(a.disk) / f"ssibake-bench-disk-{n}"
        rm(disk)
        disk.mkdir(parents=True)
        shutil.copytree(site, disk / "site")
        dcp, dbake = [], []
        for r in range(max(3, a.runs // 2)):
            dcp.append(run(["cp", "-r", str(disk / "site"), str(disk / f"copy{r}")]))
            dbake.append(run(bake_cmd(disk / "site", disk / f"dist{r}")))
        dw, dc = med([r[0] for r in dbake]), med([r[0] for r in dcp])
        rows.append((f"{n:,} pages: full bake, disk ({a.disk})", f"{dw * 1000:.0f} ms", f"{dc * 1000:.0f} ms",
                     f"{dw / dc:.2f}x", "fresh directory per run"))
        rm(disk)
        rm(base)

    # One page with 20 stamps against cat.
    base = Path("/dev/shm/ssibake-bench-page")
    rm(base)
    site = base / "site"
    (site / "a").mkdir(parents=True)
    page = ['<!--#config timefmt="%s" -->']
    for i in range(20):
        (site / f"a/f{i}.css").write_text("x" * (i + 1))
        page.append(f'<link href="/a/f{i}.css?<!--#flastmod virtual="/a/f{i}.css" -->">')
    page.append("<p>" + "text " * 2000 + "</p>")
    (site / "index.shtml").write_text("\n".join(page))
    ps, cs = [], []
    for _ in range(60):
        ps.append(run([str(BIN), "--root", str(site), str(site / "index.shtml")])[0])
        cs.append(run(["cat", str(site / "index.shtml")])[0])
    pw, cw = med(ps), med(cs)
    rows.append(("one page, 20 stamps, to /dev/null", f"{pw * 1e3:.2f} ms", f"{cw * 1e3:.2f} ms (cat)",
                 f"{pw / cw:.2f}x", "whole process"))
    rm(base)

    # The parser and the evaluator alone (divan, 1 MiB inputs; medians).
    parse = divan(["-p", "ssibake-grammar", "--bench", "parse"])
    for name, what in [("dense", "directive-dense (one every 55 bytes)"),
                       ("dense_200", "one directive every 200 bytes"),
                       ("comments", "comment-heavy"), ("free", "directive-free")]:
        if name in parse and len(parse[name]) == 2:
            rows.append((f"parser, {what}", parse[name][1], "", "", f"{parse[name][0]} per MiB"))
    render = divan(["--bench", "render"])
    for name, what in [("evaluate", "evaluator, a 20-stamp 5-include page from memory"),
                       ("page_end_to_end", "one page end to end in-process (new Baker, disk)")]:
        if name in render and len(render[name]) == 2:
            rows.append((what, render[name][1], "", "", f"{render[name][0]} per page"))

    print("| measurement | ssibake | cp -r | ratio | notes |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
