#!/usr/bin/env python3
"""Groups the differences of a tree-fuzz run into classes.

Usage: scripts/tree-fuzz-classify.py <target>/tree-fuzz/summary.tsv

summary.tsv is written by tests/apache_tree_fuzz.rs: one line per differing directive
segment (or whole page) with the seed, the page, whether a .htaccess is on the page's
directory chain, whether the page was reached through a symlink, the generator's tag,
the directive, and the two segments (Rust {:?} strings). Prints, per class, the number
of segments and of distinct pages, and one example. The rules are heuristics on the tag
and on the shape of the two segments; "S99 other" is what they do not explain.
"""
import csv, sys, re, collections
csv.field_size_limit(10**9)
rows = list(csv.reader(open(sys.argv[1]), delimiter='\t', quoting=csv.QUOTE_NONE))[1:]
E = '[an error occurred while processing this directive]'
CUSTOM_E = ('[E!]', '<!-- oops -->', '[cfgE]')
def dec(s): return s[1:-1].replace('\\n', '\n').replace('\\"', '"')
def kind(s):
    t = dec(s).strip()
    if t == E: return 'E'
    if t in CUSTOM_E: return 'E:custom'
    t = t.rstrip(']').strip()
    if t == '(none)': return '(none)'
    if t in ('[undef', '-', '[cfgU'): return 'undef:custom'
    if re.fullmatch(r'\d+', t): return 'num'
    if re.fullmatch(r'\d{4}-\d\d-\d\d( \d\d:\d\d)?', t): return 'date:custom'
    if re.search(r'day, \d\d-\w\w\w-\d{4}', t): return 'date:default'
    if re.fullmatch(r'[\d,.]+[kM]?', t): return 'size'
    if t == '': return 'empty'
    if t in ('T', 'F'): return t
    return 'text'
REQVARS = ['QUERY_STRING_UNESCAPED','QUERY_STRING','REQUEST_METHOD','SCRIPT_NAME','REQUEST_URI','SERVER_PROTOCOL','GATEWAY_INTERFACE','DOCUMENT_PATH_INFO','PATH_INFO']
def classify(r):
    seed, page, ht, link, tag, d, a, o = r
    ka, ko = kind(a), kind(o)
    t = re.sub(r'^(in include: )+', '', tag)
    if tag.startswith('whole page: no ssibake output'):
        return 'W1 page reached through a directory symlink is not baked (no output file)' if link == 'via-link' else 'W1b no output file'
    m = re.match(r'whole page: Apache parses, ssibake copies raw \((.*)\)', tag)
    if m:
        n = m.group(1)
        if n in ('a.shtml.html', 'notes.shtml.txt'):
            return 'W2 multi-extension name with a .shtml token not baked (a.shtml.html, notes.shtml.txt)'
        if n == 'UPPER.SHTML':
            return 'W3 upper-case .SHTML not baked (Apache lower-cases extensions; the --pages glob is case-sensitive)'
        return 'W4 .htaccess turns INCLUDES on (AddOutputFilter/SetOutputFilter/AddHandler/XBitHack) - ignored'
    if tag.startswith('whole page: ssibake parses'):
        return 'W5 .htaccess turns INCLUDES off (Options -Includes/-IncludesNOEXEC, RemoveOutputFilter .shtml) - ignored'
    if tag.startswith('whole page: Apache answers'):
        return 'W6 Apache refuses the page (%s)' % tag
    depth = len(re.findall('in include: ', tag))
    if ka == 'E:custom' and ko == 'E':
        return 'S1 SSIErrorMsg from .htaccess ignored (Apache prints the custom text)'
    if ka == 'undef:custom' and ko == '(none)':
        return 'S2 SSIUndefinedEcho from .htaccess ignored'
    if ka == 'date:custom' or (ka == 'num' and ko == 'date:default') or (ka=='date:default' and ko=='num'):
        return 'S3 SSITimeFormat from .htaccess ignored (or #config timefmt scope in includes)'
    if t.startswith('echo '):
        v = t.split()[1]
        if v in REQVARS and ko in ('(none)', 'undef:custom'):
            return 'S4 request variable %s undefined in ssibake' % v
        if v in ('QUERY_STRING', 'QUERY_STRING_UNESCAPED'):
            return 'S5 QUERY_STRING(_UNESCAPED) after/inside include virtual="...?query" (Apache re-sets them from the sub-request)'
        if v == 'NOPE':
            return 'S2 SSIUndefinedEcho from .htaccess ignored'
        return 'S6 echo other: %s %s/%s' % (v, ka, ko)
    if t.startswith('if %{REQUEST_URI}'):
        return 'S7 %{REQUEST_URI} in #if expr refused by ssibake'
    if t.startswith('if legacy') or t.startswith('if ap-syntax'):
        return 'S8 SSILegacyExprParser from .htaccess ignored'
    if '[included file parsed by Apache only]' in t:
        if re.search(r'a\.shtml\.html|notes\.shtml\.txt|"//page|UPPER', t) or 'a.shtml.html' in d or 'notes.shtml.txt' in d:
            return 'S9 included multi-extension .shtml file (a.shtml.html, notes.shtml.txt) not parsed by ssibake'
        return 'S10 included file parsed by Apache only (.htaccess AddOutputFilter/XBitHack/SetOutputFilter of the target)'
    if '[included file parsed by ssibake only]' in t:
        return 'S11 included .shtml parsed by ssibake only (target directory .htaccess turns INCLUDES off)'
    m = re.match(r'(include|fsize|flastmod) (virtual|file) (.*)', t)
    if m:
        dv, attr, rest = m.groups()
        if dv == 'include' and ka == 'text' and ko == 'E' and re.search(r'img\.png|x\.css|data\.json', rest):
            return 'S12b include of a non-text/* file allowed by Apache (.htaccess Options +Includes lifts the text/* check, or AddType/ForceType), refused by ssibake'
        if 'data.json.foo' in rest or 'file:data.json' in rest or 'img.png' in rest or 'x.css' in rest:
            if ka == 'E' and dv == 'include':
                return 'S12 include of a non-text/* type (data.json.foo, img.png, x.css...) refused by Apache, included by ssibake'
        if '+pathinfo' in rest:
            return 'S13 fsize/flastmod with path info (Apache ignores it; ssibake errors)' if dv != 'include' else 'S13b include with path info'
        if re.search(r'dir/\(|special "(\.|\./|/|\?x=1|/\?x=1|)"|symlink-dir/\(', rest) and attr == 'virtual':
            return 'S14 %s virtual of a directory with trailing slash (or . "" ./ ?x=1): Apache uses the DirectoryIndex file' % ('include' if dv=='include' else 'fsize/flastmod')
        if re.search(r'dir\(|symlink-dir\(|dir/\(|special "(\.|\./|)"', rest):
            return 'S15 %s of a directory without trailing slash or by file=: Apache 301 -> error, ssibake reports the directory' % dv
        if re.search(r'%XX|encoded|\[pct\]|%zz|bare%|%00|%2f|"%', rest):
            return 'S16 %%-encoding in %s=: %s' % (attr, rest)
        if 'special "?x=1"' in rest or '+query' in rest or '+bare?' in rest:
            return 'S17 query string on %s %s=' % (dv, attr)
        if ka == 'E:custom' or ko == 'E:custom':
            return 'S1 SSIErrorMsg from .htaccess ignored (Apache prints the custom text)'
        if dv == 'include' and depth >= 10:
            return 'S19 include at the 10-level nesting limit (self-recursion): difference below it'
        return 'S99 other %s %s: %s [%s/%s]' % (dv, attr, rest, ka, ko)
    if t.startswith('config') or t.startswith('flastmod file (itself)'):
        return 'S18 %s [%s/%s]' % (t, ka, ko)
    return 'S99 other: %s [%s/%s]' % (t, ka, ko)
segs = collections.Counter(); pages = collections.defaultdict(set); ex = {}
for r in rows:
    c = classify(r)
    segs[c] += 1; pages[c].add((r[0], r[1]))
    ex.setdefault(c, (r[0], r[1], r[5][:120]))
for c, n in sorted(segs.items(), key=lambda x: (-len(pages[x[0]]))):
    print('%4d seg %4d pages  %s   e.g. seed %s %s %s' % (n, len(pages[c]), c, *ex[c]))
allp = set((r[0], r[1]) for r in rows)
print(len(allp), 'differing pages')
