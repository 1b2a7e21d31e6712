#!/usr/bin/env python3
"""Seeds the fuzz corpora from fixtures/: writes fuzz/corpus/{parse,render,tree}/.

- parse: every file of every fixture's site/ (up to 64 KiB), as it is;
- render: two option bytes, a fixture's page, "\\n\\0\\0\\n", one of its other files;
- tree: twelve option bytes, then each file of the fixture's site/ as
  KIND NAME "\\n" CONTENT, separated by "\\n\\0\\0\\n" (see fuzz_targets/tree.rs);
  every other seed also gets the hostile entries (a FIFO, symlinks out of the root
  to a file and to a directory, a symlink in, a dangling and a looping symlink, a
  large sparse page) and a page whose directives name them.

Run from anywhere: python3 fuzz/seed_corpus.py. Seeds are named by their SHA-1,
as libFuzzer names what it adds, so running it again adds nothing twice.
"""
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
CORPUS = os.path.join(HERE, "corpus")
SEP = b"\n\0\0\n"
MAX = 64 * 1024

# Kind bytes of fuzz_targets/tree.rs (Kind::from_byte: the byte modulo 16; the
# byte divided by 16 chooses a symlink out's target).
FILE, FIFO, LINK_OUT, LINK_IN, DANGLING, LOOP, SPARSE = 0, 9, 10, 12, 13, 14, 15
HOSTILE = [
    (FIFO, b"pipe.html", b""),
    (LINK_OUT, b"out.html", b""),  # to the secret file, absolute
    (LINK_OUT + 16, b"sub/rel.html", b""),  # relative, ../../outside/secret.txt
    (LINK_OUT + 32, b"outdir", b""),  # to the outside directory
    (LINK_IN, b"alias.html", b"index.shtml"),
    (DANGLING, b"dead.html", b""),
    (LOOP, b"loop", b""),
    (SPARSE, b"big", b"<p>big</p>"),
    (
        FILE,
        b"hostile.shtml",
        b'<!--#include virtual="/pipe.html" --><!--#include virtual="/out.html" -->'
        b'<!--#include virtual="/sub/rel.html" --><!--#include virtual="/outdir/secret.txt" -->'
        b'<!--#include file="../outside/secret.txt" --><!--#fhash virtual="/pipe.html" -->'
        b'<!--#frev virtual="/alias.html" --><!--#include virtual="/big.shtml" -->'
        b'<!--#flastmod virtual="/dead.html" --><!--#fsize file="loop/loop/alias.html" -->',
    ),
]


def site_files(case):
    root = os.path.join(FIXTURES, case, "site")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            if os.path.getsize(path) > MAX:
                continue
            rel = os.path.relpath(path, root).encode()
            with open(path, "rb") as f:
                out.append((rel, f.read()))
    return out


def save(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        return 1
    return 0


def main():
    cases = sorted(
        c for c in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, c, "site"))
    )
    written = {"parse": 0, "render": 0, "tree": 0}
    for i, case in enumerate(cases):
        files = site_files(case)
        if not files:
            continue
        pages = [c for r, c in files if r.endswith((b".shtml", b".html"))] or [files[0][1]]
        for rel, content in files:
            written["parse"] += save("parse", content)
        others = [c for _, c in files[1:]] or [b""]
        written["render"] += save("render", bytes([i & 1, (i >> 1) & 1]) + pages[0] + SEP + others[0])
        options = bytes((i * 37 + k * 11) % 256 for k in range(12))
        entries = [(FILE, r, c) for r, c in files[:16]]
        if i % 2 == 0:
            entries += HOSTILE
        tree = SEP.join(bytes([kind]) + name + b"\n" + content for kind, name, content in entries)
        written["tree"] += save("tree", options + tree)
    print(f"seed_corpus.py: {len(cases)} fixtures -> new seeds {written} in {CORPUS}", file=sys.stderr)


if __name__ == "__main__":
    main()
