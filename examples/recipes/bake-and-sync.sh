#!/usr/bin/env bash
# bake-and-sync.sh: bake once, then copy the same bytes to every server.
#
#   bake-and-sync.sh SITE OUT TARGET...
#
# Bakes SITE into OUT (a local directory kept between runs: the next bake is
# incremental and keeps the revved files of the last builds), then copies OUT to
# each TARGET with `rsync -a` (a local directory, or `host:/srv/www` over ssh),
# so every server gets the same bytes and the same modification times (hence
# the same Last-Modified and ETag). A failed bake copies nothing.
#
# The copy is ordered so that no server, and no client polling any of them,
# ever sees a page or a version whose files are missing:
#   1. assets: every file but the pages and the version file, on every server;
#   2. pages (*.html, *.htm, *.shtml), on every server;
#   3. the version file (/version.json), on every server, and only then the
#      removal of files the new build no longer has (`--delete-after`).
# ssibake's record (.ssibake/) is not copied. Files are compared by content
# (--checksum), not by size and time: with SOURCE_DATE_EPOCH or --stable-mtimes
# two versions of a file can have the same size and the same time (the version
# file does whenever the build ID keeps its length), which rsync's quick check
# would take for the same file and skip.
#
# Environment: SSIBAKE (the binary, default `ssibake`), SSIBAKE_FLAGS (more
# options for the bake, e.g. `--stable-mtimes --mtime-from git`), RSYNC (default
# `rsync`), RSYNC_FLAGS (e.g. `-e "ssh -p 2222"`). The version file is
# /version.json (with --version-file); point the update-notice client at it.
set -euo pipefail

SSIBAKE=${SSIBAKE:-ssibake}
RSYNC=${RSYNC:-rsync}
if [ $# -lt 3 ]; then
    echo "usage: $0 SITE OUT TARGET..." >&2
    exit 2
fi
site=$1
out=$2
shift 2

# shellcheck disable=SC2086 # SSIBAKE_FLAGS is a list of options
"$SSIBAKE" --root "$site" --out "$out" --version-file /version.json --quiet ${SSIBAKE_FLAGS:-}

pages=(--exclude='*.html' --exclude='*.htm' --exclude='*.shtml')
record=(--exclude=/.ssibake/)
version=(--exclude=/version.json)

sync() { # sync STEP TARGET RSYNC-OPTIONS...
    local step=$1 target=$2
    shift 2
    echo "bake-and-sync: $step -> $target"
    # shellcheck disable=SC2086 # RSYNC_FLAGS is a list of options
    "$RSYNC" -a --checksum --out-format='  %n' ${RSYNC_FLAGS:-} "$@" "$out/" "$target/"
}

for target in "$@"; do sync "1/3 assets" "$target" "${record[@]}" "${version[@]}" "${pages[@]}"; done
for target in "$@"; do sync "2/3 pages" "$target" "${record[@]}" "${version[@]}"; done
for target in "$@"; do sync "3/3 version" "$target" "${record[@]}" --delete-after; done
echo "bake-and-sync: $out copied to $# servers"
