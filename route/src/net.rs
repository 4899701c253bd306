//! IP → country / ASN tables for host determination, read from CSV.
//!
//! One file is a header line and one row per network. Columns are found by name, so the lite
//! exports of the usual GeoIP/ASN vendors load as they are or after a one-line conversion (see
//! `fixtures/legal/README.md`, "Network table"); unknown columns are ignored:
//!
//! - the network: `network` (CIDR, IPv4 or IPv6), or `start_ip` and `end_ip` (an inclusive
//!   range, split into CIDR blocks here);
//! - `country_code` (ISO 3166-1 alpha-2), or `country` when it holds a two-letter code;
//! - `asn` (`AS64500` or `64500`), or `autonomous_system_number`;
//! - `as_name` or `autonomous_system_organization`; `as_domain`;
//! - `kind`: `hosting`, `cdn`, `isp` or empty (a CDN is also recognised by its AS number in the
//!   pack's hosters).
//!
//! Lookup is longest-prefix match: one hash map per prefix length, probed from the longest
//! length present, so nested blocks (a CDN /24 inside an ISP /16) resolve to the inner one.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    Unknown,
    Hosting,
    Cdn,
    Isp,
}

impl NetKind {
    fn parse(s: &str) -> Option<NetKind> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "" => NetKind::Unknown,
            "hosting" => NetKind::Hosting,
            "cdn" => NetKind::Cdn,
            "isp" => NetKind::Isp,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            NetKind::Unknown => "unknown",
            NetKind::Hosting => "hosting",
            NetKind::Cdn => "cdn",
            NetKind::Isp => "isp",
        }
    }
}

/// What a table says about one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetInfo {
    /// The matching block, e.g. `198.51.100.0/24`.
    pub network: String,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_name: Option<String>,
    pub kind: NetKind,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    country: Option<[u8; 2]>,
    asn: Option<u32>,
    kind: NetKind,
}

/// One loaded table.
#[derive(Debug, Clone, Default)]
pub struct NetTable {
    pub source: PathBuf,
    rows: Vec<Row>,
    /// (prefix length, masked address → row), longest first.
    v4: Vec<(u8, HashMap<u32, u32>)>,
    v6: Vec<(u8, HashMap<u128, u32>)>,
    /// AS names are shared by many rows: kept once per AS number.
    as_names: BTreeMap<u32, String>,
}

/// A problem in a table, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetProblem {
    pub line: usize,
    pub message: String,
}

fn mask4(ip: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        ip & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(ip: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        ip & (u128::MAX << (128 - u32::from(len)))
    }
}

/// Splits a quoted CSV line (RFC 4180 quoting, no embedded newlines).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut field));
            at_start = true;
        } else {
            field.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(field);
    Ok(out)
}

/// `a.b.c.d/len` or `x::/len` → (address, length).
fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (ip, len) = s
        .trim()
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not a CIDR block (address/length)"))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= max)
        .ok_or_else(|| format!("{len:?} is not a prefix length (0-{max})"))?;
    let host_bits_set = match ip {
        IpAddr::V4(a) => mask4(u32::from(a), len) != u32::from(a),
        IpAddr::V6(a) => mask6(u128::from(a), len) != u128::from(a),
    };
    if host_bits_set {
        return Err(format!("{s:?} has host bits set below the prefix"));
    }
    Ok((ip, len))
}

/// The CIDR blocks covering the inclusive range `lo..=hi` of a `bits`-bit address space.
fn range_to_cidrs(mut lo: u128, hi: u128, bits: u32) -> Vec<(u128, u8)> {
    let mut out = Vec::new();
    while lo <= hi {
        // Largest block aligned at lo that does not pass hi.
        let mut size_log = if lo == 0 {
            bits
        } else {
            lo.trailing_zeros().min(bits)
        };
        while size_log > 0 {
            let last = lo.checked_add((1u128 << size_log) - 1);
            match last {
                Some(l) if l <= hi => break,
                _ => size_log -= 1,
            }
        }
        out.push((lo, (bits - size_log) as u8));
        match lo.checked_add(1u128 << size_log) {
            Some(n) => lo = n,
            None => break,
        }
        if bits < 128 && lo >= (1u128 << bits) {
            break;
        }
    }
    out
}

fn parse_asn(s: &str) -> Result<Option<u32>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let digits = t
        .strip_prefix("AS")
        .or_else(|| t.strip_prefix("as"))
        .unwrap_or(t);
    digits
        .parse::<u32>()
        .map(Some)
        .map_err(|_| format!("{t:?} is not an AS number"))
}

/// Columns of a header, by name.
struct Columns {
    network: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    country: Option<usize>,
    asn: Option<usize>,
    as_name: Option<usize>,
    kind: Option<usize>,
}

impl Columns {
    fn find(header: &[String]) -> Result<Columns, String> {
        let pos = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| header.iter().position(|h| h.trim().eq_ignore_ascii_case(n)))
        };
        let c = Columns {
            network: pos(&["network", "cidr"]),
            start: pos(&["start_ip", "ip_start", "range_start"]),
            end: pos(&["end_ip", "ip_end", "range_end"]),
            country: pos(&["country_code", "country_iso_code", "country"]),
            asn: pos(&["asn", "autonomous_system_number"]),
            as_name: pos(&["as_name", "autonomous_system_organization", "as_org"]),
            kind: pos(&["kind"]),
        };
        if c.network.is_none() && (c.start.is_none() || c.end.is_none()) {
            return Err(
                "the header needs a `network` column, or `start_ip` and `end_ip` columns".into(),
            );
        }
        if c.country.is_none() && c.asn.is_none() {
            return Err(
                "the header needs a `country_code` (or `country`) or an `asn` column".into(),
            );
        }
        Ok(c)
    }
}

impl NetTable {
    /// Parses a table; every bad row is a problem with its line, the good rows are kept.
    pub fn parse(source: PathBuf, text: &str) -> (NetTable, Vec<NetProblem>) {
        let mut t = NetTable {
            source,
            ..NetTable::default()
        };
        let mut problems = Vec::new();
        let mut v4: BTreeMap<u8, HashMap<u32, u32>> = BTreeMap::new();
        let mut v6: BTreeMap<u8, HashMap<u128, u32>> = BTreeMap::new();
        let mut lines = text.lines().enumerate().filter(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        });
        let Some((hline, header)) = lines.next() else {
            problems.push(NetProblem {
                line: 1,
                message: "empty table: a header line is needed".into(),
            });
            return (t, problems);
        };
        let cols = match split_csv(header).and_then(|h| Columns::find(&h)) {
            Ok(c) => c,
            Err(e) => {
                problems.push(NetProblem {
                    line: hline + 1,
                    message: e,
                });
                return (t, problems);
            }
        };
        for (i, line) in lines {
            let n = i + 1;
            let mut bad = |m: String| {
                problems.push(NetProblem {
                    line: n,
                    message: m,
                })
            };
            let f = match split_csv(line) {
                Ok(f) => f,
                Err(e) => {
                    bad(e);
                    continue;
                }
            };
            let get = |c: Option<usize>| c.and_then(|i| f.get(i)).map(|s| s.trim()).unwrap_or("");
            let country = match get(cols.country) {
                "" => None,
                c if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                    let u = c.to_ascii_uppercase();
                    let u = if u == "UK" { "GB".to_string() } else { u };
                    let b = u.as_bytes();
                    Some([b[0], b[1]])
                }
                c => {
                    bad(format!("{c:?} is not a two-letter country code"));
                    continue;
                }
            };
            let asn = match parse_asn(get(cols.asn)) {
                Ok(a) => a,
                Err(e) => {
                    bad(e);
                    continue;
                }
            };
            let Some(kind) = NetKind::parse(get(cols.kind)) else {
                bad(format!(
                    "kind {:?} is not one of hosting, cdn, isp",
                    get(cols.kind)
                ));
                continue;
            };
            let blocks: Vec<(IpAddr, u8)> = if cols.network.is_some() {
                match parse_cidr(get(cols.network)) {
                    Ok(b) => vec![b],
                    Err(e) => {
                        bad(e);
                        continue;
                    }
                }
            } else {
                let (s, e) = (get(cols.start), get(cols.end));
                match (s.parse::<IpAddr>(), e.parse::<IpAddr>()) {
                    (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(b))) if a <= b => {
                        range_to_cidrs(u128::from(u32::from(a)), u128::from(u32::from(b)), 32)
                            .into_iter()
                            .map(|(lo, len)| (IpAddr::V4(std::net::Ipv4Addr::from(lo as u32)), len))
                            .collect()
                    }
                    (Ok(IpAddr::V6(a)), Ok(IpAddr::V6(b))) if a <= b => {
                        range_to_cidrs(u128::from(a), u128::from(b), 128)
                            .into_iter()
                            .map(|(lo, len)| (IpAddr::V6(std::net::Ipv6Addr::from(lo)), len))
                            .collect()
                    }
                    _ => {
                        bad(format!(
                            "{s:?}-{e:?} is not a range of two addresses of one family, low to high"
                        ));
                        continue;
                    }
                }
            };
            if country.is_none() && asn.is_none() {
                bad("the row names neither a country nor an AS number".into());
                continue;
            }
            let idx = t.rows.len() as u32;
            t.rows.push(Row { country, asn, kind });
            if let (Some(a), name) = (asn, get(cols.as_name)) {
                if !name.is_empty() {
                    t.as_names.entry(a).or_insert_with(|| name.to_string());
                }
            }
            for (ip, len) in blocks {
                let dup = match ip {
                    IpAddr::V4(a) => v4.entry(len).or_default().insert(u32::from(a), idx),
                    IpAddr::V6(a) => v6.entry(len).or_default().insert(u128::from(a), idx),
                };
                if dup.is_some() {
                    bad(format!("{ip}/{len} is listed twice; the later row wins"));
                }
            }
        }
        t.v4 = v4.into_iter().rev().collect();
        t.v6 = v6.into_iter().rev().collect();
        (t, problems)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The most specific block holding `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<NetInfo> {
        let (idx, network) = match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().find_map(|(len, m)| {
                    let k = mask4(a, *len);
                    m.get(&k)
                        .map(|i| (*i, format!("{}/{len}", std::net::Ipv4Addr::from(k))))
                })?
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().find_map(|(len, m)| {
                    let k = mask6(a, *len);
                    m.get(&k)
                        .map(|i| (*i, format!("{}/{len}", std::net::Ipv6Addr::from(k))))
                })?
            }
        };
        let r = self.rows[idx as usize];
        Some(NetInfo {
            network,
            country: r.country.map(|c| String::from_utf8_lossy(&c).into_owned()),
            asn: r.asn,
            as_name: r.asn.and_then(|a| self.as_names.get(&a).cloned()),
            kind: r.kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> (NetTable, Vec<NetProblem>) {
        NetTable::parse(PathBuf::from("t.csv"), text)
    }

    #[test]
    fn longest_prefix_wins_and_quotes_are_read() {
        let (t, p) = table(
            "network,country_code,asn,as_name,kind\n\
             203.0.113.0/24,US,AS64503,\"Cloud, Inc.\",hosting\n\
             203.0.113.200/29,IR,64507,,\n\
             2001:db8::/32,DE,,,\n",
        );
        assert!(p.is_empty(), "{p:?}");
        let a = t.lookup("203.0.113.201".parse().unwrap()).unwrap();
        assert_eq!(a.country.as_deref(), Some("IR"));
        assert_eq!(a.network, "203.0.113.200/29");
        let b = t.lookup("203.0.113.1".parse().unwrap()).unwrap();
        assert_eq!(
            (b.country.as_deref(), b.asn, b.as_name.as_deref()),
            (Some("US"), Some(64503), Some("Cloud, Inc."))
        );
        assert_eq!(b.kind, NetKind::Hosting);
        assert_eq!(
            t.lookup("2001:db8:5::1".parse().unwrap())
                .unwrap()
                .country
                .as_deref(),
            Some("DE")
        );
        assert!(t.lookup("192.0.2.1".parse().unwrap()).is_none());
    }

    #[test]
    fn ranges_become_blocks() {
        let (t, p) = table("start_ip,end_ip,country_code\n10.0.0.5,10.0.1.0,NL\n");
        assert!(p.is_empty(), "{p:?}");
        for ip in ["10.0.0.5", "10.0.0.255", "10.0.1.0"] {
            assert!(t.lookup(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["10.0.0.4", "10.0.1.1"] {
            assert!(t.lookup(ip.parse().unwrap()).is_none(), "{ip}");
        }
        assert_eq!(
            range_to_cidrs(0, u128::from(u32::MAX), 32),
            vec![(0, 0)],
            "the whole space is one block"
        );
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let (t, p) = table(
            "network,country_code,asn,kind\n\
             # comment\n\
             192.0.2.0/33,DE,,\n\
             192.0.2.1/24,DE,,\n\
             192.0.2.0/24,Germany,,\n\
             192.0.2.0/24,DE,ASX,\n\
             192.0.2.0/24,DE,,edge\n\
             192.0.2.0/24,,,\n\
             192.0.2.0/24,DE,,\n",
        );
        let lines: Vec<usize> = p.iter().map(|x| x.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7, 8], "{p:?}");
        assert_eq!(t.len(), 1);
        let (_, p) = table("ip,country\n1.2.3.4,DE\n");
        assert!(p[0].message.contains("network"), "{p:?}");
    }
}
