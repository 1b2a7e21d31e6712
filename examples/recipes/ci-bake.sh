#!/usr/bin/env bash
# ci-bake.sh: fail a CI job when the committed golden output is not what the
# site bakes to.
#
#   ci-bake.sh [--update] [SITE [GOLDEN]]      (defaults: site golden)
#
# Without --update it bakes SITE and compares the result with GOLDEN
# (`ssibake --check`): exit 0 when identical, 4 with a unified diff per differing
# file on standard output, 1 on template errors, 2 on a usage error, 3 when a
# file cannot be read or written. With --update it rewrites
# GOLDEN instead; commit the result.
#
# A fresh clone gives every file the time of the clone, so `flastmod` (and
# LAST_MODIFIED) would never match a committed output. The script therefore bakes
# a scratch copy of SITE in which every file has the same time, SSIBAKE_EPOCH
# (default 1700000000), which is also the time DATE_LOCAL and DATE_GMT show; TZ
# defaults to UTC. SITE itself is not touched. Keep GOLDEN outside SITE.
#
# Environment: SSIBAKE (the binary, default `ssibake`), SSIBAKE_EPOCH, TZ.
set -euo pipefail

SSIBAKE=${SSIBAKE:-ssibake}
update=
if [ "${1:-}" = --update ]; then
    update=1
    shift
fi
site=${1:-site}
golden=${2:-golden}
epoch=${SSIBAKE_EPOCH:-1700000000}
export SOURCE_DATE_EPOCH="$epoch" TZ="${TZ:-UTC}"

if [ ! -d "$site" ]; then
    echo "ci-bake.sh: no site directory \`$site\`" >&2
    exit 2
fi
if [ -n "$update" ]; then
    mkdir -p "$golden"
elif [ ! -d "$golden" ]; then
    echo "ci-bake.sh: no golden output \`$golden\` (make it with: $0 --update $site $golden)" >&2
    exit 2
fi
golden=$(cd "$golden" && pwd)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The copy has the site's name, so diagnostics read `site/index.shtml:3:5`.
name=$(basename "$(cd "$site" && pwd)")
mkdir "$scratch/$name"
cp -R "$site/." "$scratch/$name/"
find "$scratch/$name" -exec touch -h -d "@$epoch" {} +
cd "$scratch"

if [ -n "$update" ]; then
    "$SSIBAKE" --root "$name" --out "$golden" --quiet
    echo "ci-bake.sh: updated $golden" >&2
else
    "$SSIBAKE" --root "$name" --out "$golden" --check
fi
