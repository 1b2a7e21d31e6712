//! Time formatting exactly like Apache's `ap_ht_time` on glibc: `config timefmt`, `flastmod`, `DATE_LOCAL`, `DATE_GMT`, `LAST_MODIFIED`.
//!
//! Apache formats times with `ap_ht_time` (server/util.c), which explodes the time with
//! APR (`apr_time_exp_lt`/`apr_time_exp_gmt` → `localtime_r`/`gmtime_r`), copies the fields
//! into a zeroed `struct tm` (`apr_strftime`, `tm_zone` left NULL) and calls the C library's
//! `strftime` in the C locale (httpd never calls `setlocale`). On Debian that is glibc's
//! `__strftime_internal` (time/strftime_l.c), so this module is a hand-written port of
//! glibc's rules. chrono's `strftime` is *not* usable: it rejects or panics on unknown
//! conversions, prints `%Z` as an offset, gives `%+ %v %f %:z` their own meanings, and has no
//! GNU widths, `^`/`#` flags or `E`/`O` modifiers (each difference is pinned by a test below).
//!
//! Zone data (offsets, DST flags, abbreviations) comes from the system tz database via jiff;
//! calendar arithmetic is done here on integers, the way glibc's `__offtime` does it.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Apache's default `timefmt` (`DEFAULT_TIME_FORMAT` in mod_include.c).
pub const DEFAULT_TIMEFMT: &[u8] = b"%A, %d-%b-%Y %H:%M:%S %Z";

/// `MAX_STRING_LEN` in httpd.h: the size of `ap_ht_time`'s format and output buffers.
const MAX_STRING_LEN: usize = 8192;

/// A `TZ` value that could not be understood as a tz database file or a POSIX TZ string.
///
/// glibc itself never fails here: it silently falls back to UTC (keeping an unparsable
/// name as the abbreviation), and a POSIX string with a DST name but no rules
/// (`ABC5DEF`) borrows the `posixrules` file's history. We refuse both rather than guess.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown time zone TZ={tz:?}: not a file in the tz database and not a POSIX TZ string \
     (a POSIX string with daylight saving time needs explicit rules, e.g. \
     EST5EDT,M3.2.0,M11.1.0)"
)]
pub struct ZoneError {
    /// The `TZ` value as given.
    pub tz: String,
}

/// A local time zone, as glibc would read it from `TZ`.
///
/// Accepts what glibc's `tzset` accepts: an optional leading `:`, then either a file in the
/// tz database (`America/New_York`, `EST5EDT`, an absolute path) or a POSIX TZ string
/// (`KST-9`, `AEST-10AEDT,M10.1.0,M4.1.0/3`). Backed by jiff (system tzdata).
#[derive(Clone, Debug)]
pub struct Zone {
    tz: TimeZone,
    names: Names,
}

/// What `localtime_r` reports for one instant.
struct LocalInfo {
    offset: i64,
    isdst: bool,
    abbr: Vec<u8>,
}

impl Zone {
    /// Coordinated Universal Time (what glibc uses for `TZ=""`; abbreviation `UTC`).
    pub fn utc() -> Zone {
        Zone {
            tz: TimeZone::UTC,
            names: Names::Fixed([b"UTC".to_vec(), b"UTC".to_vec()]),
        }
    }

    /// Reads a `TZ` value the way glibc's `tzset` does.
    ///
    /// `None` or empty means UTC: unlike glibc we never read `/etc/localtime`, so output does
    /// not depend on the machine. Unknown zones are an error (glibc would silently use UTC).
    pub fn from_tz(tz: Option<&str>) -> Result<Zone, ZoneError> {
        let raw = match tz {
            None | Some("") => return Ok(Zone::utc()),
            Some(s) => s,
        };
        // glibc tzset_internal: a leading ':' is dropped, then a tz file is tried first
        // (relative to TZDIR or /usr/share/zoneinfo, or an absolute path), and only if that
        // fails is the value parsed as a POSIX TZ string.
        let name = raw.strip_prefix(':').unwrap_or(raw);
        if name.is_empty() {
            return Ok(Zone::utc());
        }
        let path = if name.starts_with('/') {
            std::path::PathBuf::from(name)
        } else {
            let dir = std::env::var_os("TZDIR")
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "/usr/share/zoneinfo".into());
            std::path::Path::new(&dir).join(name)
        };
        if let Ok(data) = std::fs::read(&path) {
            if let (Ok(tz), Some(file)) = (TimeZone::tzif(name, &data), TzFile::parse(&data)) {
                return Ok(Zone {
                    tz,
                    names: Names::File(std::sync::Arc::new(file)),
                });
            }
        }
        if let Ok(tz) = TimeZone::posix(name) {
            return Ok(Zone {
                tz,
                names: Names::Fixed(posix_names(name.as_bytes())),
            });
        }
        // Fall back to jiff's own database lookup (e.g. a bundled or TZDIR-less layout).
        if let Ok(tz) = jiff::tz::db().get(name) {
            return Ok(Zone {
                tz,
                names: Names::Jiff,
            });
        }
        Err(ZoneError {
            tz: raw.to_string(),
        })
    }

    fn timestamp(secs: i64) -> Timestamp {
        // Outside jiff's range (years -9999..=9999) the nearest representable instant's
        // offset is used; glibc would extrapolate the POSIX rule, Apache never gets there.
        let s = secs.clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn info(&self, secs: i64) -> LocalInfo {
        let info = self.tz.to_offset_info(Self::timestamp(secs));
        LocalInfo {
            offset: i64::from(info.offset().seconds()),
            isdst: info.dst().is_dst(),
            abbr: info.abbreviation().as_bytes().to_vec(),
        }
    }

    /// glibc's global `tzname[2]` as left behind by `localtime_r(secs)`.
    fn tzname_after_localtime(&self, secs: i64) -> [Vec<u8>; 2] {
        match &self.names {
            Names::Fixed(n) => n.clone(),
            Names::File(file) => file.tzname_after_localtime(secs),
            Names::Jiff => self.jiff_tzname(secs),
        }
    }

    /// Approximation for zones that did not come from a readable tz file: the abbreviation
    /// in force, and the next one of the other kind.
    fn jiff_tzname(&self, secs: i64) -> [Vec<u8>; 2] {
        let here = self.info(secs);
        let mut names: [Option<Vec<u8>>; 2] = [None, None];
        names[usize::from(here.isdst)] = Some(here.abbr);
        for tr in self.tz.following(Self::timestamp(secs)).take(1000) {
            let d = usize::from(tr.dst().is_dst());
            if names[d].is_none() {
                names[d] = Some(tr.abbreviation().as_bytes().to_vec());
                break;
            }
        }
        let [std, dst] = names;
        let std = std.or_else(|| dst.clone()).unwrap_or_default();
        let dst = dst.unwrap_or_else(|| std.clone());
        [std, dst]
    }
}

/// Where glibc's `tzname[]` comes from for a zone.
#[derive(Clone, Debug)]
enum Names {
    /// A POSIX TZ string: `tzset` sets the standard and DST names once.
    Fixed([Vec<u8>; 2]),
    /// A tz file: `localtime_r` recomputes the names from the file's transitions.
    File(std::sync::Arc<TzFile>),
    /// Found only through jiff's database: approximated from jiff's transitions.
    Jiff,
}

/// What glibc's `__tzfile_read` keeps of a TZif file, for `tzname[]` only.
#[derive(Debug)]
struct TzFile {
    transitions: Vec<i64>,
    type_idxs: Vec<usize>,
    /// (isdst, abbreviation) per local time type.
    types: Vec<(bool, Vec<u8>)>,
    /// Standard and DST names of the POSIX footer, used after the last transition.
    footer: Option<[Vec<u8>; 2]>,
}

/// The standard and DST names of a POSIX TZ string (`EST5EDT,...` → EST, EDT; `KST-9` →
/// KST twice; `<+0330>-3:30` → +0330), as glibc's `__tzset_parse_tz` names them.
fn posix_names(spec: &[u8]) -> [Vec<u8>; 2] {
    fn name(s: &[u8]) -> (Vec<u8>, &[u8]) {
        if s.first() == Some(&b'<') {
            let end = s.iter().position(|&c| c == b'>').unwrap_or(s.len());
            (s[1..end].to_vec(), s.get(end + 1..).unwrap_or(&[]))
        } else {
            let n = s.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            (s[..n].to_vec(), &s[n..])
        }
    }
    let (std, rest) = name(spec);
    let skip = rest
        .iter()
        .take_while(|&&c| c == b'+' || c == b'-' || c == b':' || c.is_ascii_digit())
        .count();
    let rest = &rest[skip..];
    let dst = if rest
        .first()
        .is_some_and(|&c| c == b'<' || c.is_ascii_alphabetic())
    {
        name(rest).0
    } else {
        std.clone()
    };
    [std, dst]
}

impl TzFile {
    /// Parses the parts of a TZif file glibc uses (64-bit data when version ≥ 2).
    fn parse(data: &[u8]) -> Option<TzFile> {
        fn be32(d: &[u8], at: usize) -> Option<usize> {
            let b = d.get(at..at + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        fn header(d: &[u8], at: usize) -> Option<[usize; 6]> {
            if d.get(at..at + 4)? != b"TZif" {
                return None;
            }
            let mut c = [0; 6];
            for (k, v) in c.iter_mut().enumerate() {
                *v = be32(d, at + 20 + 4 * k)?;
            }
            Some(c)
        }
        // Counts in file order: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
        let mut at = 0;
        let mut c = header(data, at)?;
        let mut width = 4;
        if *data.get(4)? != 0 {
            at += 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
            c = header(data, at)?;
            width = 8;
        }
        let [isut, isstd, leaps, timecnt, typecnt, charcnt] = c;
        let mut p = at + 44;
        let mut transitions = Vec::with_capacity(timecnt);
        for _ in 0..timecnt {
            let b = data.get(p..p + width)?;
            transitions.push(if width == 8 {
                i64::from_be_bytes(b.try_into().ok()?)
            } else {
                i64::from(i32::from_be_bytes(b.try_into().ok()?))
            });
            p += width;
        }
        let type_idxs: Vec<usize> = data
            .get(p..p + timecnt)?
            .iter()
            .map(|&b| usize::from(b))
            .collect();
        p += timecnt;
        let ttinfo = data.get(p..p + typecnt * 6)?;
        p += typecnt * 6;
        let chars = data.get(p..p + charcnt)?;
        p += charcnt + leaps * (width + 4) + isstd + isut;
        let mut types = Vec::with_capacity(typecnt);
        for t in ttinfo.chunks(6) {
            let idx = usize::from(t[5]).min(chars.len());
            let abbr = &chars[idx..];
            let end = abbr.iter().position(|&b| b == 0).unwrap_or(abbr.len());
            types.push((t[4] != 0, abbr[..end].to_vec()));
        }
        if type_idxs.iter().any(|&i| i >= types.len()) || types.is_empty() {
            return None;
        }
        let footer = if width == 8 && data.get(p) == Some(&b'\n') {
            let rest = &data[p + 1..];
            let spec = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
            (!spec.is_empty()).then(|| posix_names(spec))
        } else {
            None
        };
        Some(TzFile {
            transitions,
            type_idxs,
            types,
            footer,
        })
    }

    /// glibc 2.36 `__tzfile_compute(timer, use_localtime=1)`: the `tzname[]` it leaves.
    fn tzname_after_localtime(&self, t: i64) -> [Vec<u8>; 2] {
        let tr = &self.transitions;
        let n = tr.len();
        let mut names: [Option<&[u8]>; 2] = [None, None];
        if n == 0 || t < tr[0] {
            // Before any transition: the first non-DST type, and the first DST type.
            let mut i = 0;
            while i < self.types.len() && self.types[i].0 {
                names[1] = names[1].or(Some(&self.types[i].1));
                i += 1;
            }
            if i == self.types.len() {
                i = 0;
            }
            names[0] = Some(&self.types[i].1);
            if names[1].is_none() {
                names[1] = self.types[i..]
                    .iter()
                    .find(|ty| ty.0)
                    .map(|ty| ty.1.as_slice());
            }
        } else if t >= tr[n - 1] && self.footer.is_some() {
            // After the last transition the POSIX footer's names are used.
            return self.footer.clone().unwrap_or_default();
        } else {
            // The type in force, then the first later transition of the other kind.
            let i = tr.partition_point(|&x| x <= t);
            let (dst, abbr) = &self.types[self.type_idxs[i - 1]];
            names[usize::from(*dst)] = Some(abbr);
            for &ty in &self.type_idxs[i..] {
                let (d, abbr) = &self.types[ty];
                let d = usize::from(*d);
                if names[d].is_none() {
                    names[d] = Some(abbr);
                    if names[1 - d].is_some() {
                        break;
                    }
                }
            }
            if names[0].is_none() {
                names[0] = names[1];
            }
        }
        let std = names[0].unwrap_or(&self.types[0].1).to_vec();
        let dst = names[1].map_or_else(|| std.clone(), <[u8]>::to_vec);
        [std, dst]
    }
}

/// The fields of a C `struct tm` that `apr_strftime` fills in (`tm_zone` stays NULL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tm {
    sec: i32,
    min: i32,
    hour: i32,
    mday: i32,
    mon: i32,
    /// Years since 1900.
    year: i32,
    wday: i32,
    yday: i32,
    isdst: i32,
    gmtoff: i64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1..=12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month 1..=12, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Keeps `tm_year` inside a C `int` (glibc's `localtime_r` fails beyond that).
const SECS_LIMIT: i64 = 60_000_000_000_000_000;

/// Breaks local seconds (already shifted by the offset) into calendar fields, like glibc's
/// `__offtime`.
fn explode(local: i64, isdst: bool, gmtoff: i64) -> Tm {
    let days = local.div_euclid(86_400);
    let rem = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Tm {
        sec: (rem % 60) as i32,
        min: (rem / 60 % 60) as i32,
        hour: (rem / 3600) as i32,
        mday: day as i32,
        mon: (month - 1) as i32,
        year: (year - 1900) as i32,
        wday: (days + 4).rem_euclid(7) as i32,
        yday: (days - days_from_civil(year, 1, 1)) as i32,
        isdst: i32::from(isdst),
        gmtoff,
    }
}

/// `localtime_r` (via `apr_time_exp_lt`).
fn local_tm(zone: &Zone, secs: i64) -> Tm {
    let info = zone.info(secs);
    explode(secs.saturating_add(info.offset), info.isdst, info.offset)
}

/// `gmtime_r` (via `apr_time_exp_gmt`): `tm_isdst` 0, `tm_gmtoff` 0.
fn gmt_tm(secs: i64) -> Tm {
    explode(secs, false, 0)
}

/// Formats `secs` (Unix time) like Apache's `ap_ht_time(pool, t, fmt, gmt)`.
///
/// Local time in `zone` (or GMT when `gmt`), glibc `strftime` rules, C locale, cut to 8191
/// bytes. The format ends at its first NUL byte, as a C string would.
///
/// `secs` is what APR hands to `localtime_r`: `apr_time_t / 1_000_000` with C's truncating
/// division, so a negative mtime with a fraction rounds *up* (−1.5 s → −1), not down.
///
/// With `gmt`, Apache first rewrites `%Z` to `GMT` and `%z` to `+0000` (see
/// [`gmt_rewrite`]) and then formats the GMT fields; glibc's `%s` (`mktime`) reads those
/// fields as *local* time, so `%s` is off by the zone's offset exactly as in Apache.
/// A `%Z` that escapes the rewrite (`%#Z`, `%10Z`) prints glibc's `tzname[0]`, which we take
/// as it stands after `localtime_r` of the same instant (the process state varies in Apache).
pub fn ht_time(fmt: &[u8], secs: i64, zone: &Zone, gmt: bool) -> Vec<u8> {
    let secs = secs.clamp(-SECS_LIMIT, SECS_LIMIT);
    let fmt = match memchr::memchr(0, fmt) {
        Some(n) => &fmt[..n],
        None => fmt,
    };
    let (tm, fmt) = if gmt {
        (gmt_tm(secs), gmt_rewrite(fmt))
    } else {
        (local_tm(zone, secs), fmt.to_vec())
    };
    let mut ctx = Ctx {
        zone,
        tz_state: secs,
    };
    let mut out = Out {
        buf: Vec::new(),
        max: MAX_STRING_LEN,
    };
    // strftime's return code is ignored by ap_ht_time: when the next item does not fit,
    // glibc stops and what was written so far stays in the buffer. (The bytes after it
    // are uninitialised stack in Apache; we end the output there.)
    let _ = strftime(&mut out, &fmt, &tm, &mut ctx);
    out.buf
}

/// `ap_ht_time`'s format rewrite for `gmt`: `%Z` → `GMT`, `%z` → `+0000`, `%%` skipped.
///
/// Only a `%` *immediately* followed by `Z`/`z` is rewritten (`%#Z`, `%-z` are not). The
/// rewritten format lives in an 8192-byte buffer: copying stops once 8186 bytes are written.
pub fn gmt_rewrite(fmt: &[u8]) -> Vec<u8> {
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let mut tf: Vec<u8> = Vec::with_capacity(fmt.len().min(MAX_STRING_LEN));
    let mut f = 0;
    // Mirrors `for (strp = tf, f = fmt; strp < tf + sizeof(tf) - 6 && (*strp = *f); f++, strp++)`.
    while tf.len() < MAX_STRING_LEN - 6 && at(f) != 0 {
        let c = at(f);
        if c == b'%' {
            match at(f + 1) {
                b'%' => {
                    tf.extend_from_slice(b"%%");
                    f += 2;
                    continue;
                }
                b'Z' => {
                    tf.extend_from_slice(b"GMT");
                    f += 2;
                    continue;
                }
                b'z' => {
                    tf.extend_from_slice(b"+0000");
                    f += 2;
                    continue;
                }
                _ => {}
            }
        }
        tf.push(c);
        f += 1;
    }
    tf
}

/// The process-global state glibc's `strftime` reads besides `struct tm`.
struct Ctx<'a> {
    zone: &'a Zone,
    /// The instant of the last `localtime_r` call, which decides `tzname[]`.
    tz_state: i64,
}

/// strftime's output buffer: `buf.len()` is glibc's `i`, `max` its `maxsize`.
struct Out {
    buf: Vec<u8>,
    max: usize,
}

/// glibc's `return 0`: the output buffer is full.
struct Full;

/// Flags, width and modifier of one conversion.
#[derive(Clone, Copy)]
struct Spec {
    /// `_`, `-`, `0` or 0 for none.
    pad: u8,
    /// -1 when no width was given.
    width: i64,
    to_up: bool,
    to_low: bool,
    modifier: u8,
}

impl Out {
    /// glibc's `add` macro: pads to `width` (zeros only for the `0` flag, else spaces),
    /// then appends `bytes`; fails when the whole item does not fit.
    fn add(&mut self, spec: &Spec, bytes: &[u8]) -> Result<(), Full> {
        let n = bytes.len() as i64;
        let delta = spec.width - n;
        let incr = n + delta.max(0);
        if incr as u64 >= (self.max - self.buf.len()) as u64 {
            return Err(Full);
        }
        if delta > 0 {
            let fill = if spec.pad == b'0' { b'0' } else { b' ' };
            self.buf.resize(self.buf.len() + delta as usize, fill);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// glibc's `cpy`: `add` with the case conversion (`to_lowcase` wins over `to_uppcase`).
    fn cpy(&mut self, spec: &Spec, bytes: &[u8]) -> Result<(), Full> {
        if spec.to_low {
            self.add(spec, &bytes.to_ascii_lowercase())
        } else if spec.to_up {
            self.add(spec, &bytes.to_ascii_uppercase())
        } else {
            self.add(spec, bytes)
        }
    }

    fn room(&self) -> u64 {
        (self.max - self.buf.len()) as u64
    }
}

const ABDAY: [&[u8]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const DAY: [&[u8]; 7] = [
    b"Sunday",
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
];
const ABMON: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
const MON: [&[u8]; 12] = [
    b"January",
    b"February",
    b"March",
    b"April",
    b"May",
    b"June",
    b"July",
    b"August",
    b"September",
    b"October",
    b"November",
    b"December",
];

fn name_of<'a>(table: &[&'a [u8]], idx: i32) -> &'a [u8] {
    usize::try_from(idx)
        .ok()
        .and_then(|i| table.get(i).copied())
        .unwrap_or(b"?")
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// glibc's `iso_week_days`: days from the start of the first ISO week of the year to `yday`.
fn iso_week_days(yday: i64, wday: i64) -> i64 {
    let big_enough_multiple_of_7 = (366 / 7 + 2) * 7;
    yday - (yday - wday + 4 + big_enough_multiple_of_7) % 7 + 4 - 1
}

/// A port of glibc 2.36 `__strftime_internal` for the C locale, writing into `out`.
fn strftime(out: &mut Out, fmt: &[u8], tm: &Tm, ctx: &mut Ctx<'_>) -> Result<(), Full> {
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let hour12 = match tm.hour {
        h if h > 12 => h - 12,
        0 => 12,
        h => h,
    };
    let mut f = 0usize;
    while at(f) != 0 {
        if at(f) != b'%' {
            out.add(&Spec::plain(), &[at(f)])?;
            f += 1;
            continue;
        }
        let mut spec = Spec::plain();
        let mut change_case = false;
        loop {
            f += 1;
            match at(f) {
                c @ (b'_' | b'-' | b'0') => spec.pad = c,
                b'^' => spec.to_up = true,
                b'#' => change_case = true,
                _ => break,
            }
        }
        if at(f).is_ascii_digit() {
            let mut width: i64 = 0;
            while at(f).is_ascii_digit() {
                // glibc saturates the width at INT_MAX.
                width = (width * 10 + i64::from(at(f) - b'0')).min(i64::from(i32::MAX));
                f += 1;
            }
            spec.width = width;
        }
        if matches!(at(f), b'E' | b'O') {
            spec.modifier = at(f);
            f += 1;
        }
        let e = spec.modifier == b'E';
        let width = spec.width;
        let number = move |d: i64| -> i64 { d.max(width) };
        let res: Conv = match at(f) {
            b'%' if spec.modifier != 0 => Conv::Bad,
            b'%' => Conv::Add(b"%"),
            b'a' | b'A' if spec.modifier != 0 => Conv::Bad,
            c @ (b'a' | b'A') => {
                if change_case {
                    spec.to_up = true;
                    spec.to_low = false;
                }
                Conv::Cpy(name_of(if c == b'a' { &ABDAY } else { &DAY }, tm.wday))
            }
            c @ (b'b' | b'h' | b'B') => {
                if change_case {
                    spec.to_up = true;
                    spec.to_low = false;
                }
                // `%Ob`/`%OB` use the alternative (nominative) month names, which in the C
                // locale are the same strings.
                if e {
                    Conv::Bad
                } else {
                    Conv::Cpy(name_of(if c == b'B' { &MON } else { &ABMON }, tm.mon))
                }
            }
            b'c' if spec.modifier == b'O' => Conv::Bad,
            // C locale D_T_FMT; `%Ec` falls back to it because ERA_D_T_FMT is empty.
            b'c' => Conv::Sub(b"%a %b %e %H:%M:%S %Y"),
            // `%EC`: no era in the C locale, so the plain century.
            b'C' => {
                let year = i64::from(tm.year) + 1900;
                Conv::Num(1, year / 100 - i64::from(year % 100 < 0))
            }
            b'x' if spec.modifier == b'O' => Conv::Bad,
            b'x' => Conv::Sub(b"%m/%d/%y"),
            b'D' if spec.modifier != 0 => Conv::Bad,
            b'D' => Conv::Sub(b"%m/%d/%y"),
            b'd' | b'e' | b'H' | b'I' | b'k' | b'l' | b'j' | b'M' | b'm' | b'S' | b'U' | b'V'
            | b'g' | b'G' | b'W' | b'w'
                if e =>
            {
                Conv::Bad
            }
            b'd' => Conv::Num(2, tm.mday.into()),
            b'e' => Conv::SpaceNum(2, tm.mday.into()),
            b'F' if spec.modifier != 0 => Conv::Bad,
            b'F' => Conv::Sub(b"%Y-%m-%d"),
            b'H' => Conv::Num(2, tm.hour.into()),
            b'I' => Conv::Num(2, hour12.into()),
            b'k' => Conv::SpaceNum(2, tm.hour.into()),
            b'l' => Conv::SpaceNum(2, hour12.into()),
            b'j' => Conv::Num(3, 1 + i64::from(tm.yday)),
            b'M' => Conv::Num(2, tm.min.into()),
            b'm' => Conv::Num(2, 1 + i64::from(tm.mon)),
            b'n' => Conv::Add(b"\n"),
            b't' => Conv::Add(b"\t"),
            c @ (b'P' | b'p') => {
                if c == b'P' {
                    spec.to_low = true;
                }
                if change_case {
                    spec.to_up = false;
                    spec.to_low = true;
                }
                Conv::Cpy(if tm.hour > 11 { b"PM" } else { b"AM" })
            }
            b'R' => Conv::Sub(b"%H:%M"),
            b'r' => Conv::Sub(b"%I:%M:%S %p"),
            b'S' => Conv::Num(2, tm.sec.into()),
            b's' => Conv::Seconds,
            b'X' if spec.modifier == b'O' => Conv::Bad,
            b'X' | b'T' => Conv::Sub(b"%H:%M:%S"),
            b'u' => Conv::Num(1, (i64::from(tm.wday) - 1 + 7) % 7 + 1),
            b'U' => Conv::Num(2, (i64::from(tm.yday) - i64::from(tm.wday) + 7) / 7),
            c @ (b'V' | b'g' | b'G') => {
                let (yday, wday) = (i64::from(tm.yday), i64::from(tm.wday));
                let mut year = i64::from(tm.year) + 1900;
                let mut days = iso_week_days(yday, wday);
                if days < 0 {
                    // This ISO week belongs to the previous year.
                    year -= 1;
                    days = iso_week_days(yday + 365 + i64::from(is_leap(year)), wday);
                } else {
                    let d = iso_week_days(yday - (365 + i64::from(is_leap(year))), wday);
                    if d >= 0 {
                        year += 1;
                        days = d;
                    }
                }
                match c {
                    b'g' => Conv::Num(2, (year % 100 + 100) % 100),
                    b'G' => Conv::Num(1, year),
                    _ => Conv::Num(2, days / 7 + 1),
                }
            }
            b'W' => Conv::Num(
                2,
                (i64::from(tm.yday) - (i64::from(tm.wday) - 1 + 7) % 7 + 7) / 7,
            ),
            b'w' => Conv::Num(1, tm.wday.into()),
            // `%EY`: no era in the C locale, so the plain year; `%OY` is rejected.
            b'Y' if spec.modifier == b'O' => Conv::Bad,
            b'Y' => Conv::Num(1, i64::from(tm.year) + 1900),
            b'y' => Conv::Num(2, (i64::from(tm.year) % 100 + 100) % 100),
            b'Z' => {
                if change_case {
                    spec.to_up = false;
                    spec.to_low = true;
                }
                Conv::Zone
            }
            b'z' => Conv::Offset,
            // glibc: "% at end of format" prints what precedes, like an unknown conversion.
            0 => {
                f -= 1;
                Conv::Bad
            }
            _ => Conv::Bad,
        };
        match res {
            Conv::Add(s) => out.add(&spec, s)?,
            Conv::Cpy(s) => out.cpy(&spec, s)?,
            Conv::Sub(sub) => {
                // glibc measures the sub-format, `add`s it as one item (so the width pads
                // it), and upper-cases it for `^`; `#` and lower-casing do not apply.
                let mut inner = Out {
                    buf: Vec::new(),
                    max: usize::MAX,
                };
                let _ = strftime(&mut inner, sub, tm, ctx);
                let s = if spec.to_up {
                    inner.buf.to_ascii_uppercase()
                } else {
                    inner.buf
                };
                out.add(&spec, &s)?;
            }
            Conv::Num(d, v) => do_number(out, spec, number(d), v as i32)?,
            Conv::SpaceNum(d, v) => {
                // Force `_` unless overridden by `0` or `-`.
                if spec.pad != b'0' && spec.pad != b'-' {
                    spec.pad = b'_';
                }
                do_number(out, spec, number(d), v as i32)?;
            }
            Conv::Seconds => {
                // glibc `%s` is `mktime` of a copy of the fields: they are read as local
                // time with the given tm_isdst. For DATE_GMT the GMT fields are therefore
                // shifted by the zone's offset (Apache's off-by-offset `%s`).
                let t = mktime(ctx, tm);
                let digits = t.unsigned_abs().to_string().into_bytes();
                sign_and_padding(out, spec, 1, t < 0, &digits)?;
            }
            Conv::Zone => {
                // tm_zone is NULL (apr_strftime), so glibc prints tzname[tm_isdst].
                let names = ctx.zone.tzname_after_localtime(ctx.tz_state);
                let zone: &[u8] = match tm.isdst {
                    0 | 1 => &names[tm.isdst as usize],
                    d if d > 1 => b"?",
                    _ => b"",
                };
                out.cpy(&spec, zone)?;
            }
            Conv::Offset => {
                // The sign is `add`ed on its own (so a width pads it), then the number is
                // formatted with the same width: glibc prints `%6z` as "     -000500".
                let mut diff = tm.gmtoff;
                if diff < 0 {
                    out.add(&spec, b"-")?;
                    diff = -diff;
                } else {
                    out.add(&spec, b"+")?;
                }
                diff /= 60;
                do_number(out, spec, number(4), ((diff / 60) * 100 + diff % 60) as i32)?;
            }
            Conv::Bad => {
                // Unknown conversion: copy it from the nearest '%' back from here, with
                // flags and width (so it is padded to the width, and `^` upper-cases it).
                let start = fmt[..=f].iter().rposition(|&c| c == b'%').unwrap_or(f);
                out.cpy(&spec, &fmt[start..=f])?;
            }
        }
        f += 1;
    }
    Ok(())
}

/// What one conversion prints, before flags are applied.
enum Conv {
    Add(&'static [u8]),
    Cpy(&'static [u8]),
    Sub(&'static [u8]),
    Num(i64, i64),
    SpaceNum(i64, i64),
    Seconds,
    Zone,
    Offset,
    Bad,
}

impl Spec {
    fn plain() -> Spec {
        Spec {
            pad: 0,
            width: -1,
            to_up: false,
            to_low: false,
            modifier: 0,
        }
    }
}

/// glibc's `do_number` (the `O` modifier has no alternative digits in the C locale).
fn do_number(out: &mut Out, spec: Spec, digits: i64, value: i32) -> Result<(), Full> {
    let s = value.unsigned_abs().to_string().into_bytes();
    sign_and_padding(out, spec, digits, value < 0, &s)
}

/// glibc's `do_number_sign_and_padding`.
fn sign_and_padding(
    out: &mut Out,
    mut spec: Spec,
    digits: i64,
    negative: bool,
    magnitude: &[u8],
) -> Result<(), Full> {
    let mut s = Vec::with_capacity(magnitude.len() + 1);
    if negative {
        s.push(b'-');
    }
    s.extend_from_slice(magnitude);
    let mut body: &[u8] = &s;
    if spec.pad != b'-' {
        let padding = digits - s.len() as i64;
        if padding > 0 {
            if spec.pad == b'_' {
                if padding as u64 >= out.room() {
                    return Err(Full);
                }
                out.buf.resize(out.buf.len() + padding as usize, b' ');
                spec.width = if spec.width > padding {
                    spec.width - padding
                } else {
                    0
                };
            } else {
                if digits as u64 >= out.room() {
                    return Err(Full);
                }
                if negative {
                    body = &s[1..];
                    out.buf.push(b'-');
                }
                out.buf.resize(out.buf.len() + padding as usize, b'0');
                spec.width = 0;
            }
        }
    }
    out.cpy(&spec, body)
}

/// glibc's `__mktime_internal` with `localtime_r` in `ctx.zone`, as `%s` calls it.
///
/// The offset guess that glibc keeps in a static starts at 0 here; for every local time
/// tried in the tests the result does not depend on it.
fn mktime(ctx: &mut Ctx<'_>, tp: &Tm) -> i64 {
    let zone = ctx.zone;
    let convert = |t: i64| local_tm(zone, t);
    let (sec, min, hour, mday, mon) = (tp.sec, tp.min, tp.hour, tp.mday, tp.mon);
    let isdst = tp.isdst;
    let mon_remainder = mon % 12;
    let negative_mon_remainder = i32::from(mon_remainder < 0);
    let mon_years = mon / 12 - negative_mon_remainder;
    let year = i64::from(tp.year) + i64::from(mon_years);
    let mon_idx = (mon_remainder + 12 * negative_mon_remainder) as i64;
    let full_year = year + 1900;
    let yday = days_from_civil(full_year, mon_idx + 1, 1) - days_from_civil(full_year, 1, 1)
        + i64::from(mday)
        - 1;
    let isdst_differ = |a: i32, b: i32| (a == 0) != (b == 0) && a >= 0 && b >= 0;
    // Seconds between the requested fields and a struct tm (glibc `tm_diff`/`ydhms_diff`).
    let diff = |tm: &Tm| -> i64 {
        let req = (days_from_civil(full_year, 1, 1) + yday) * 86_400
            + i64::from(hour) * 3600
            + i64::from(min) * 60
            + i64::from(sec);
        let got = (days_from_civil(i64::from(tm.year) + 1900, 1, 1) + i64::from(tm.yday)) * 86_400
            + i64::from(tm.hour) * 3600
            + i64::from(tm.min) * 60
            + i64::from(tm.sec);
        req - got
    };
    let t0 = (days_from_civil(full_year, 1, 1) + yday) * 86_400
        + i64::from(hour) * 3600
        + i64::from(min) * 60
        + i64::from(sec);
    let (mut t, mut t1, mut t2) = (t0, t0, t0);
    let mut dst2 = 0;
    let mut remaining_probes = 6;
    let mut tm;
    let result = 'search: {
        loop {
            tm = convert(t);
            let dt = diff(&tm);
            if dt == 0 {
                break;
            }
            if t == t1
                && t != t2
                && (tm.isdst < 0
                    || if isdst < 0 {
                        dst2 <= i32::from(tm.isdst != 0)
                    } else {
                        (isdst != 0) != (tm.isdst != 0)
                    })
            {
                // Oscillating around a spring-forward gap: glibc returns this time.
                break 'search t;
            }
            remaining_probes -= 1;
            if remaining_probes == 0 {
                break 'search -1;
            }
            t1 = t2;
            t2 = t;
            t += dt;
            dst2 = i32::from(tm.isdst != 0);
        }
        if isdst_differ(isdst, tm.isdst) {
            // Look for a neighbouring time with the requested tm_isdst and use its offset.
            let stride: i64 = 601_200;
            let delta_bound: i64 = 536_454_000 / 2 + stride;
            let mut delta = stride;
            while delta < delta_bound {
                for direction in [-1i64, 1] {
                    let ot = t + delta * direction;
                    let otm = convert(ot);
                    if !isdst_differ(isdst, otm.isdst) {
                        break 'search ot + diff(&otm);
                    }
                }
                delta += stride;
            }
            break 'search -1;
        }
        t
    };
    // localtime_r inside mktime leaves tzname[] describing the instant it ended on.
    if result != -1 {
        ctx.tz_state = result;
    }
    result
}

/// `2026-11-23T12:00:00Z`.
#[cfg_attr(not(feature = "bake"), allow(dead_code))]
pub(crate) fn rfc3339(secs: i64) -> String {
    Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> Zone {
        Zone::from_tz(Some("America/New_York")).unwrap()
    }

    // 2001-02-03 04:05:06 UTC = Fri 2001-02-02 23:05:06 EST (ssi-semantics §5).
    const T: i64 = 981_173_106;

    fn fmt(f: &str, t: i64, z: &Zone, gmt: bool) -> String {
        String::from_utf8(ht_time(f.as_bytes(), t, z, gmt)).unwrap()
    }

    #[test]
    fn default_format() {
        assert_eq!(
            fmt("%A, %d-%b-%Y %H:%M:%S %Z", T, &ny(), false),
            "Friday, 02-Feb-2001 23:05:06 EST"
        );
        assert_eq!(DEFAULT_TIMEFMT, b"%A, %d-%b-%Y %H:%M:%S %Z");
        assert_eq!(
            fmt("%A, %d-%b-%Y %H:%M:%S %Z", T, &ny(), true),
            "Saturday, 03-Feb-2001 04:05:06 GMT"
        );
        assert_eq!(fmt("%Z %z", T, &Zone::utc(), false), "UTC +0000");
        assert_eq!(fmt("%Z", T, &Zone::from_tz(None).unwrap(), false), "UTC");
        assert_eq!(
            fmt("%Z", T, &Zone::from_tz(Some("")).unwrap(), false),
            "UTC"
        );
    }

    #[test]
    fn research_table() {
        let z = ny();
        let cases = [
            ("%e", " 2"),
            ("%k/%l", "23/11"),
            ("%P/%p", "pm/PM"),
            ("%s", "981173106"),
            ("%Z", "EST"),
            ("%z", "-0500"),
            ("%c", "Fri Feb  2 23:05:06 2001"),
            ("%x/%X/%r", "02/02/01/23:05:06/11:05:06 PM"),
            (
                "%j %U %W %G %V %g %u %w %C %y %D %F %T %R %h",
                "033 04 05 2001 05 01 5 5 20 01 02/02/01 2001-02-02 23:05:06 23:05 Feb",
            ),
            ("%n%t%%", "\n\t%"),
            ("%-d %_d", "2  2"),
            ("%Q", "%Q"),
            ("%", "%"),
            ("abc%", "abc%"),
            ("%+", "%+"),
            ("%v", "%v"),
            ("%f", "%f"),
            ("%:z", "%:z"),
            ("%5Y", "02001"),
            ("%010s", "0981173106"),
            ("%^a/%^B/%#Z/%#p", "FRI/FEBRUARY/est/pm"),
            ("%Ey %Od %Ec", "01 02 Fri Feb  2 23:05:06 2001"),
            ("%5Q", "  %5Q"),
            ("%10", "       %10"),
        ];
        for (f, want) in cases {
            assert_eq!(fmt(f, T, &z, false), want, "format {f:?}");
        }
    }

    #[test]
    fn gmt_mode_rewrites_and_shifts_s() {
        let z = ny();
        // `%_z` escapes the rewrite: glibc pads the sign and the number separately.
        assert_eq!(
            fmt("%Z|%z|%%Z|%%z|%#Z|%_z", T, &z, true),
            "GMT|+0000|%Z|%z|est|+   0"
        );
        // mktime reads the GMT fields as New York local time: +5 h in winter ...
        assert_eq!(fmt("%s", T, &z, true), (T + 18_000).to_string());
        // ... and, with tm_isdst = 0 from gmtime, still +5 h (not +4 h) in summer.
        let summer = 1_719_835_200; // 2024-07-01 12:00 UTC
        assert_eq!(fmt("%s", summer, &z, true), (summer + 18_000).to_string());
        assert_eq!(fmt("%s", summer, &z, false), summer.to_string());
        assert_eq!(fmt("%s", T, &Zone::utc(), true), T.to_string());
    }

    #[test]
    fn gmt_rewrite_exact() {
        assert_eq!(
            gmt_rewrite(b"%Z%z%%Z%%%z%-%Z%"),
            b"GMT+0000%%Z%%+0000%-GMT%".to_vec()
        );
        // The rewrite buffer holds 8186 copied bytes at most.
        let long = vec![b'a'; 9000];
        assert_eq!(gmt_rewrite(&long).len(), 8186);
        let mut edge = vec![b'a'; 8185];
        edge.extend_from_slice(b"%zxyz");
        let r = gmt_rewrite(&edge);
        assert_eq!(&r[8185..], b"+0000");
    }

    #[test]
    fn truncation_and_nul() {
        let z = Zone::utc();
        let long = "a".repeat(9000);
        assert_eq!(ht_time(long.as_bytes(), T, &z, false).len(), 8191);
        // An item that does not fit is dropped whole.
        let mut f = "a".repeat(8188);
        f.push_str("%A");
        assert_eq!(ht_time(f.as_bytes(), T, &z, false).len(), 8188);
        assert_eq!(ht_time(b"ab\0%Y", T, &z, false), b"ab".to_vec());
        assert_eq!(ht_time(b"", T, &z, false), b"".to_vec());
    }

    #[test]
    fn zones_and_errors() {
        assert!(Zone::from_tz(Some("Not/AZone")).is_err());
        let e = Zone::from_tz(Some("Not/AZone")).unwrap_err();
        assert!(e.to_string().contains("Not/AZone"));
        let seoul = Zone::from_tz(Some(":Asia/Seoul")).unwrap();
        assert_eq!(fmt("%H %Z %z", T, &seoul, false), "13 KST +0900");
        let kst = Zone::from_tz(Some("KST-9")).unwrap();
        assert_eq!(fmt("%H %Z %z", T, &kst, false), "13 KST +0900");
        let ny = ny();
        assert_eq!(fmt("%Z %z", 1_719_835_200, &ny, false), "EDT -0400");
        // Local mean time before 1883: offset seconds are dropped by %z.
        assert_eq!(fmt("%Z %z", -3_000_000_000, &ny, false), "LMT -0456");
    }

    /// Each place where chrono's strftime differs from glibc: chrono's output differs and
    /// ours matches glibc (values checked against glibc in `glibc_diff`).
    #[test]
    fn chrono_differs_from_glibc() {
        use chrono::{FixedOffset, TimeZone as _};
        use std::fmt::Write as _;
        let dt = FixedOffset::west_opt(5 * 3600)
            .unwrap()
            .timestamp_opt(T, 0)
            .unwrap();
        let chrono_fmt = |f: &str| -> Option<String> {
            let mut s = String::new();
            write!(s, "{}", dt.format(f)).ok().map(|_| s)
        };
        let z = ny();
        let cases: [(&str, &str); 14] = [
            ("%Z", "EST"),
            ("%+", "%+"),
            ("%v", "%v"),
            ("%f", "%f"),
            ("%:z", "%:z"),
            ("%Q", "%Q"),
            ("abc%", "abc%"),
            ("%5Y", "02001"),
            ("%010s", "0981173106"),
            ("%^a", "FRI"),
            ("%#Z", "est"),
            ("%Ey", "01"),
            ("%Od", "02"),
            ("%10", "       %10"),
        ];
        for (f, glibc) in cases {
            let ours = fmt(f, T, &z, false);
            assert_eq!(ours, glibc, "ours, format {f:?}");
            assert_ne!(
                chrono_fmt(f).as_deref(),
                Some(glibc),
                "chrono agrees on {f:?}"
            );
        }
    }

    /// Differential test against the real glibc on this machine: `struct tm` filled the
    /// way `apr_strftime` fills it (zeroed, fields copied, `tm_zone` NULL), after
    /// `localtime_r` (and `gmtime_r` for GMT), under `TZ` set process-wide.
    #[allow(unsafe_code)]
    mod glibc {
        use super::super::*;
        use std::ffi::CString;
        use std::sync::Mutex;

        /// TZ and tzset are process-global.
        static TZ_LOCK: Mutex<()> = Mutex::new(());

        extern "C" {
            fn tzset();
        }

        /// Apache's `%Z`/`%z` rewrite, written independently of `gmt_rewrite`.
        fn reference_rewrite(fmt: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < fmt.len() {
                match (fmt[i], fmt.get(i + 1)) {
                    (b'%', Some(b'%')) => out.extend_from_slice(b"%%"),
                    (b'%', Some(b'Z')) => out.extend_from_slice(b"GMT"),
                    (b'%', Some(b'z')) => out.extend_from_slice(b"+0000"),
                    (c, _) => {
                        out.push(c);
                        i += 1;
                        continue;
                    }
                }
                i += 2;
            }
            out
        }

        fn c_ht_time(tz: &str, fmt: &[u8], t: i64, gmt: bool) -> Vec<u8> {
            std::env::set_var("TZ", tz);
            let tt: libc::time_t = t;
            // SAFETY: plain libc calls on valid, owned buffers; TZ is serialised by TZ_LOCK.
            unsafe {
                tzset();
                let mut lt: libc::tm = std::mem::zeroed();
                libc::localtime_r(&tt, &mut lt);
                let src = if gmt {
                    let mut g: libc::tm = std::mem::zeroed();
                    libc::gmtime_r(&tt, &mut g);
                    g
                } else {
                    lt
                };
                let mut tm: libc::tm = std::mem::zeroed();
                tm.tm_sec = src.tm_sec;
                tm.tm_min = src.tm_min;
                tm.tm_hour = src.tm_hour;
                tm.tm_mday = src.tm_mday;
                tm.tm_mon = src.tm_mon;
                tm.tm_year = src.tm_year;
                tm.tm_wday = src.tm_wday;
                tm.tm_yday = src.tm_yday;
                tm.tm_isdst = src.tm_isdst;
                tm.tm_gmtoff = src.tm_gmtoff;
                let f = if gmt {
                    reference_rewrite(fmt)
                } else {
                    fmt.to_vec()
                };
                let cf = CString::new(f).unwrap();
                let mut buf = vec![0u8; 8192];
                libc::strftime(buf.as_mut_ptr().cast(), 8192, cf.as_ptr(), &tm);
                // On overflow glibc returns 0 and leaves what it wrote (buf was zeroed).
                let n = buf.iter().position(|&b| b == 0).unwrap_or(8191).min(8191);
                buf.truncate(n);
                buf
            }
        }

        const ZONES: &[&str] = &[
            "America/New_York",
            "Asia/Seoul",
            ":Asia/Seoul",
            "Europe/London",
            "Europe/Dublin",
            "UTC",
            "Australia/Lord_Howe",
            "America/St_Johns",
            "Asia/Kolkata",
            "EST5EDT",
            "KST-9",
            "AEST-10AEDT,M10.1.0,M4.1.0/3",
            "<+0330>-3:30",
            "Europe/Moscow",
            "America/Sao_Paulo",
            "Pacific/Apia",
            "Africa/Casablanca",
            "Asia/Tehran",
            "Pacific/Kiritimati",
            "America/Caracas",
        ];

        const FORMATS: &[&str] = &[
            "%a|%A|%b|%B|%h|%c|%C|%d|%D|%e|%F|%g|%G|%H|%I|%j|%k|%l|%m|%M|%n|%p|%P|%r|%R|%S|%t|%T|%u|%U|%V|%w|%W|%x|%X|%y|%Y|%z|%Z|%%",
            "%s",
            "%A, %d-%b-%Y %H:%M:%S %Z",
            "%_d|%-d|%0e|%-e|%_H|%-H|%_j|%-j|%_y|%^a|%^A|%^b|%^B|%#a|%#A|%#b|%#B|%#p|%#P|%^p|%^P|%#Z|%^Z|%^#Z|%#^p|%#c|%^c|%#x",
            "%5Y|%10s|%010s|%-10s|%_10s|%-010s|%3d|%03d|%_3d|%-3d|%6z|%-6z|%_6z|%06z|%1z|%10Z|%010Z|%-10Z|%8a|%08b|%12c|%^30c|%5n|%05t|%4%|%3p|%_4G|%-4C|%1j",
            "%Ec|%EC|%Ex|%EX|%Ey|%EY|%Od|%Oe|%OH|%OI|%Om|%OM|%OS|%Ou|%OU|%OV|%Ow|%OW|%Oy|%Ob|%OB|%Oh|%EZ|%Oz|%ER|%OT|%Ok|%Ol|%Oj|%Os|%En|%Ot|%Er|%Ep|%OP|%OC|%Og|%OG",
            "%Ea|%EA|%Eb|%EB|%Oc|%Ox|%OX|%OY|%ED|%EF|%E%|%O%|%Ed|%Ee|%EH|%EI|%Ej|%Em|%EM|%ES|%EU|%EV|%Eg|%EG|%Ew|%EW|%Ek|%El|%#Eb|%^Ea|%^Eb|%Eq|%EE|%EO|%OE",
            "%q|%Q|%+|%v|%f|%:z|%5Q|%-5Q|%05Q|%^q|%#q|%N|%L|%i|%J|%K|%o|%1|%\u{e9}|%\t| %|%@|%{|%_",
            "abc%",
            "%",
            "%5",
            "%E",
            "%_",
            "%^#",
            "%10E",
            "%%%",
            "%-%Z%-%z|%%Z|%%%Z|%5_d|%_-5d|%-_5d|%0_5d|%_05d|%-05d|%0-5d",
            "%G-W%V-%u %g %U %W %j",
            "%99d|%099Y|%_99H",
            "ab%2147483647dcd",
            "ab%99999999999999dcd",
            "",
            "plain text, no conversions",
        ];

        fn times() -> Vec<i64> {
            let mut v = vec![
                0,
                -1,
                981_173_106,
                1_719_835_200,
                1_710_053_999, // 2024-03-10 06:59:59 UTC, just before NY spring forward
                1_710_054_000,
                1_710_055_800, // GMT fields 07:30 -> local 02:30 (gap) for %s in GMT mode
                1_730_613_599, // 2024-11-03 05:59:59 UTC, NY fall back
                1_730_613_600,
                1_730_615_400,
                1_104_451_200, // 2004-12-31
                1_104_537_600, // 2005-01-01
                1_104_624_000, // 2005-01-02
                1_230_508_800, // 2008-12-29
                1_262_476_800, // 2010-01-03
                1_356_912_000, // 2012-12-31
                951_782_400,   // 2000-02-29
                946_684_799,   // 1999-12-31 23:59:59
                -3_000_000_000,
                -2_208_988_800,
                -2_500_000_000,
                -62_135_596_800, // 0001-01-01
                -62_167_219_200, // 0000-01-01
                -70_000_000_000,
                4_102_444_800,
                32_503_680_000,
                253_402_300_799,
                2_147_483_647,
                2_147_483_648,
                1_711_846_800, // 2024-03-31 01:00 UTC (EU change)
                1_712_419_200, // 2024-04-07 (Lord Howe / AU change)
                1_727_877_600, // 2024-10-06 (AU change)
            ];
            // A sweep across weekdays, year ends and hours.
            let mut t = 788_918_400; // 1995-01-01
            while t < 1_924_992_000 {
                v.push(t);
                t += 37 * 86_400 + 13 * 3600 + 7 * 60 + 11;
            }
            for y in 1995..2030 {
                let base = days_from_civil(y, 12, 28) * 86_400;
                for d in 0..7 {
                    v.push(base + d * 86_400 + 43_200);
                }
            }
            v
        }

        #[test]
        fn glibc_diff() {
            let _g = TZ_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            let saved = std::env::var_os("TZ");
            let times = times();
            let mut failures = Vec::new();
            let mut count = 0usize;
            for tz in ZONES {
                let zone = Zone::from_tz(Some(tz)).unwrap();
                for &t in &times {
                    for fmt in FORMATS {
                        for gmt in [false, true] {
                            let want = c_ht_time(tz, fmt.as_bytes(), t, gmt);
                            let got = ht_time(fmt.as_bytes(), t, &zone, gmt);
                            count += 1;
                            if want != got {
                                failures.push(format!(
                                    "TZ={tz} t={t} gmt={gmt} fmt={fmt:?}\n  glibc {:?}\n  ours  {:?}",
                                    String::from_utf8_lossy(&want),
                                    String::from_utf8_lossy(&got)
                                ));
                            }
                        }
                    }
                }
            }
            match saved {
                Some(v) => std::env::set_var("TZ", v),
                None => std::env::remove_var("TZ"),
            }
            assert!(
                failures.is_empty(),
                "{} of {count} differ:\n{}",
                failures.len(),
                failures
                    .iter()
                    .take(40)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }

        /// Long outputs: the 8191-byte cut, items that do not fit, partial padding.
        #[test]
        fn glibc_overflow() {
            let _g = TZ_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            let zone = Zone::from_tz(Some("America/New_York")).unwrap();
            for n in 8170..8195 {
                for tail in [
                    "%d", "%A", "%_10d", "%010d", "%-10d", "%6z", "%c", "%^c", "%10Q", "%s", "%%",
                    "x%", "%Z",
                ] {
                    let mut f = "a".repeat(n);
                    f.push_str(tail);
                    f.push('b');
                    let want = c_ht_time("America/New_York", f.as_bytes(), super::T, false);
                    let got = ht_time(f.as_bytes(), super::T, &zone, false);
                    assert_eq!(want, got, "n={n} tail={tail:?}");
                }
            }
        }
    }
}
