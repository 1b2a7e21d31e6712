#!/usr/bin/env bash
# Benchmark: bake a generated 20,000-page site and compare with `cp -r` of the same tree.
# Usage: scripts/bench-bake.sh [PAGES]   (needs hyperfine: apt-get install hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-20000}
work=$(mktemp -d /tmp/ssibake-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet --bin ssibake --example gen_site
./target/release/examples/gen_site "$pages" "$work/site"
du -sh "$work/site"
hyperfine --warmup 1 --runs 5 \
  --prepare "rm -rf $work/copy $work/dist" \
  --command-name "cp -r" "cp -r $work/site $work/copy" \
  --command-name "cp -a (keeps times)" "cp -a $work/site $work/copy" \
  --command-name "ssibake --out" "./target/release/ssibake --quiet --root $work/site --out $work/dist"
