//! The `subnet/netmask` operand of ap_expr's `-ipmatch` and `-R`, as APR's
//! `apr_ipsubnet_create` reads it when the expression is parsed: an IPv4 or IPv6
//! address, optionally `/bits` or (IPv4) `/a.b.c.d`; without a mask, IPv4 may also be
//! written as a network prefix (`10`, `192.168.`), as in `Require ip`.
//!
//! Written by hand: the standard library's address parsers accept the strict forms
//! only, and these rules (which strings "look like" an address, the prefix form, the
//! mask syntax) are APR's own.

use std::net::Ipv6Addr;

/// A parsed subnet: `addr & mask == sub`, per address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subnet {
    /// An IPv4 network.
    V4 {
        /// The network address (already masked).
        sub: u32,
        /// The mask.
        mask: u32,
    },
    /// An IPv6 network.
    V6 {
        /// The network address (already masked).
        sub: u128,
        /// The mask.
        mask: u128,
    },
}

impl Subnet {
    /// Parses `ipstr[/mask]` as `apr_ipsubnet_create` does; `None` where Apache's
    /// parser reports "parsing of subnet/netmask failed".
    pub fn parse(text: &[u8]) -> Option<Subnet> {
        let (ip, mask) = match text.iter().position(|&b| b == b'/') {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        // APR takes an empty string for the empty prefix (every IPv4 address), but
        // Apache 2.4.71 refuses `-ipmatch ''` (observed: fixture if-ap-ipmatch).
        if text.is_empty() || !looks_like_ip(ip) {
            return None;
        }
        let ip = std::str::from_utf8(ip).ok()?;
        let mut subnet = if let Ok(v6) = ip.parse::<Ipv6Addr>() {
            if v6.to_ipv4_mapped().is_some() {
                // APR refuses ::ffff:a.b.c.d: write IPv4 subnets as IPv4.
                return None;
            }
            Subnet::V6 {
                sub: u128::from(v6),
                mask: u128::MAX,
            }
        } else if let Some(v4) = pton4(ip.as_bytes()) {
            Subnet::V4 {
                sub: v4,
                mask: u32::MAX,
            }
        } else if mask.is_none() {
            return network(ip.as_bytes());
        } else {
            return None;
        };
        if let Some(mask) = mask {
            let bits = strtol(mask);
            match (&mut subnet, bits) {
                (Subnet::V4 { mask: m, .. }, Some(b @ 1..=32)) => *m = u32::MAX << (32 - b),
                (Subnet::V6 { mask: m, .. }, Some(b @ 1..=128)) => *m = u128::MAX << (128 - b),
                (Subnet::V4 { mask: m, .. }, _) => *m = pton4(mask)?,
                (Subnet::V6 { .. }, _) => return None,
            }
        }
        Some(match subnet {
            Subnet::V4 { sub, mask } => Subnet::V4 {
                sub: sub & mask,
                mask,
            },
            Subnet::V6 { sub, mask } => Subnet::V6 {
                sub: sub & mask,
                mask,
            },
        })
    }

    /// `apr_ipsubnet_test`: an IPv4-mapped IPv6 address matches IPv4 subnets.
    pub fn contains(&self, addr: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self, addr) {
            (Subnet::V4 { sub, mask }, IpAddr::V4(a)) => u32::from(a) & mask == *sub,
            (Subnet::V4 { sub, mask }, IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|a| u32::from(a) & mask == *sub),
            (Subnet::V6 { sub, mask }, IpAddr::V6(a)) => {
                a.to_ipv4_mapped().is_none() && u128::from(a) & mask == *sub
            }
            (Subnet::V6 { .. }, IpAddr::V4(_)) => false,
        }
    }
}

/// APR's `looks_like_ip`: any `:` (IPv6), or only digits and dots.
fn looks_like_ip(s: &[u8]) -> bool {
    s.contains(&b':') || s.iter().all(|&b| b == b'.' || b.is_ascii_digit())
}

/// `apr_inet_pton(AF_INET)`: exactly four decimal octets.
fn pton4(s: &[u8]) -> Option<u32> {
    let mut octets = 0;
    let mut addr = 0u32;
    for part in s.split(|&b| b == b'.') {
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = part.iter().try_fold(0u32, |v, &d| {
            Some(v * 10 + u32::from(d - b'0')).filter(|&v| v <= 255)
        })?;
        addr = addr << 8 | v;
        octets += 1;
    }
    (octets == 4).then_some(addr)
}

/// APR's `parse_network`: one to four decimal octets, each ending in `.` or the
/// end (`10.` is `10.0.0.0/8`); the mask covers the octets given.
fn network(s: &[u8]) -> Option<Subnet> {
    // APR copies it into a buffer of `sizeof "255.255.255.255"` bytes.
    if s.len() > "255.255.255.255".len() {
        return None;
    }
    let (mut sub, mut mask, mut shift, mut rest) = (0u32, 0u32, 24i32, s);
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || shift < 0 {
            return None;
        }
        let octet: u32 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        if octet > 255 {
            return None;
        }
        rest = match rest.get(digits) {
            None => &[],
            Some(b'.') => &rest[digits + 1..],
            Some(_) => return None,
        };
        sub |= octet << shift;
        mask |= 0xff << shift;
        shift -= 8;
    }
    Some(Subnet::V4 { sub, mask })
}

/// `strtol(s, &end, 10)` that must consume the whole string: leading white space and
/// a sign are allowed. `None` when something is left over or nothing was read.
fn strtol(s: &[u8]) -> Option<i64> {
    let t = s.trim_ascii_start();
    let (neg, t) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = t.iter().fold(0i64, |v, &d| {
        v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(s: &str) -> Option<(String, String)> {
        match Subnet::parse(s.as_bytes())? {
            Subnet::V4 { sub, mask } => Some((
                Ipv4Addr::from(sub).to_string(),
                Ipv4Addr::from(mask).to_string(),
            )),
            Subnet::V6 { .. } => panic!("{s} is not IPv4"),
        }
    }

    fn pair(a: &str, b: &str) -> Option<(String, String)> {
        Some((a.into(), b.into()))
    }

    #[test]
    fn apr_subnet_forms() {
        assert_eq!(v4("10.1.2.3"), pair("10.1.2.3", "255.255.255.255"));
        assert_eq!(v4("10.1.2.3/8"), pair("10.0.0.0", "255.0.0.0"));
        assert_eq!(v4("10.1.2.3/255.255.0.0"), pair("10.1.0.0", "255.255.0.0"));
        assert_eq!(v4("10"), pair("10.0.0.0", "255.0.0.0"));
        assert_eq!(v4("0"), pair("0.0.0.0", "255.0.0.0"));
        assert_eq!(v4("192.168."), pair("192.168.0.0", "255.255.0.0"));
        assert_eq!(v4("10.0.0.0/ 8"), pair("10.0.0.0", "255.0.0.0"));
        // Refused: not address-like, a prefix with a mask, a bad mask, v4-mapped v6.
        for bad in [
            "a b",
            "10/8",
            "10.0.0.0/0",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "10..1",
            "256",
            "1.2.3.4.5",
            "::ffff:1.2.3.4",
            "::1/255.0.0.0",
            "10.0.0.0/8x",
        ] {
            assert_eq!(Subnet::parse(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(v4(""), None);
        assert_eq!(v4("."), None);
    }

    #[test]
    fn matching() {
        let net = Subnet::parse(b"10.0.0.0/8").unwrap();
        assert!(net.contains("10.9.9.9".parse().unwrap()));
        assert!(net.contains("::ffff:10.9.9.9".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let v6 = Subnet::parse(b"2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8::1".parse().unwrap()));
        assert!(!v6.contains("10.9.9.9".parse().unwrap()));
    }
}
