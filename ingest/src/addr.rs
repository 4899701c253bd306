//! The address policy: which URLs and socket addresses the fetcher may reach. Pure functions,
//! applied to the requested URL, to every redirect hop, to every DNS answer and to the peer
//! after connecting.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use crate::error::{FetchError, Target};
use crate::policy::{normalize_name, FetchPolicy};

/// True for every address that is not global unicast, i.e. must never be fetched.
/// See [`blocked_reason`] for the ranges.
pub fn is_blocked_ip(ip: IpAddr) -> bool {
    blocked_reason(ip).is_some()
}

/// Why `ip` must not be fetched ("a loopback address", …), or `None` for a global unicast
/// address.
///
/// IPv6 forms that embed an IPv4 address — mapped `::ffff:0:0/96`, compatible `::/96`, NAT64
/// `64:ff9b::/96` and 6to4 `2002::/16` — are judged on the embedded address, so an IPv6-only
/// network with DNS64 can still fetch public IPv4 sites. Teredo `2001::/32` (its IPv4 is
/// obfuscated) and the local-use NAT64 prefix `64:ff9b:1::/48` (operator-chosen layout) are
/// blocked outright.
pub fn blocked_reason(ip: IpAddr) -> Option<String> {
    blocked(ip).map(|(_, why)| why)
}

/// The class of a blocked address (`loopback`, `private`, `metadata`, …): a short, closed set of
/// names for metrics and logs. An IPv6 form embedding IPv4 has the class of the embedded address.
pub fn blocked_class(ip: IpAddr) -> Option<&'static str> {
    blocked(ip).map(|(class, _)| class)
}

fn blocked(ip: IpAddr) -> Option<(&'static str, String)> {
    match ip {
        IpAddr::V4(v4) => ipv4_reason(v4).map(|(class, why)| (class, why.to_string())),
        IpAddr::V6(v6) => ipv6_reason(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// An IPv4 range: network, prefix length, class, wording.
type V4Range = ([u8; 4], u32, &'static str, &'static str);

fn ipv4_reason(ip: Ipv4Addr) -> Option<(&'static str, &'static str)> {
    // Order matters only for the wording: the metadata address sits inside CGNAT.
    const TABLE: &[V4Range] = &[
        (
            [100, 100, 100, 200],
            32,
            "metadata",
            "a cloud metadata address",
        ),
        (
            [169, 254, 169, 254],
            32,
            "metadata",
            "a cloud metadata address",
        ),
        (
            [0, 0, 0, 0],
            8,
            "unspecified",
            "an unspecified (\"this network\") address",
        ),
        ([10, 0, 0, 0], 8, "private", "a private address"),
        ([100, 64, 0, 0], 10, "cgnat", "a carrier-grade NAT address"),
        ([127, 0, 0, 0], 8, "loopback", "a loopback address"),
        ([169, 254, 0, 0], 16, "link_local", "a link-local address"),
        ([172, 16, 0, 0], 12, "private", "a private address"),
        (
            [192, 0, 0, 0],
            24,
            "reserved",
            "an IETF protocol assignment address",
        ),
        (
            [192, 0, 2, 0],
            24,
            "documentation",
            "a documentation address",
        ),
        (
            [192, 88, 99, 0],
            24,
            "reserved",
            "a 6to4 relay anycast address",
        ),
        ([192, 168, 0, 0], 16, "private", "a private address"),
        (
            [198, 18, 0, 0],
            15,
            "benchmarking",
            "a benchmarking address",
        ),
        (
            [198, 51, 100, 0],
            24,
            "documentation",
            "a documentation address",
        ),
        (
            [203, 0, 113, 0],
            24,
            "documentation",
            "a documentation address",
        ),
        ([224, 0, 0, 0], 4, "multicast", "a multicast address"),
        (
            [255, 255, 255, 255],
            32,
            "broadcast",
            "the broadcast address",
        ),
        ([240, 0, 0, 0], 4, "reserved", "a reserved address"),
    ];
    TABLE
        .iter()
        .find(|(net, bits, _, _)| in_v4(ip, *net, *bits))
        .map(|(_, _, class, why)| (*class, *why))
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn embedded_v4(bits: u128) -> Ipv4Addr {
    Ipv4Addr::from((bits & 0xffff_ffff) as u32)
}

fn ipv6_reason(ip: Ipv6Addr) -> Option<(&'static str, String)> {
    let bits = u128::from(ip);
    let embedded = |v4: Ipv4Addr, form: &str| {
        ipv4_reason(v4).map(|(class, why)| (class, format!("{form} address embedding {v4}, {why}")))
    };
    if ip.is_unspecified() {
        return Some(("unspecified", "an unspecified address".into()));
    }
    if ip.is_loopback() {
        return Some(("loopback", "a loopback address".into()));
    }
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96) {
        return embedded(embedded_v4(bits), "an IPv4-mapped IPv6");
    }
    if in_v6(ip, [0; 8], 96) {
        return embedded(embedded_v4(bits), "an IPv4-compatible IPv6");
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return embedded(embedded_v4(bits), "a NAT64");
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        // 6to4: the IPv4 address is in bits 16..48.
        return embedded(
            Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32),
            "a 6to4",
        );
    }
    type V6Range = ([u16; 8], u32, &'static str, &'static str);
    const TABLE: &[V6Range] = &[
        (
            [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
            128,
            "metadata",
            "a cloud metadata address",
        ),
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "nat64_local",
            "a local-use NAT64 address",
        ),
        (
            [0x100, 0, 0, 0, 0, 0, 0, 0],
            64,
            "reserved",
            "a discard-only address",
        ),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            32,
            "teredo",
            "a Teredo address",
        ),
        (
            [0x2001, 0x2, 0, 0, 0, 0, 0, 0],
            48,
            "benchmarking",
            "a benchmarking address",
        ),
        (
            [0x2001, 0x10, 0, 0, 0, 0, 0, 0],
            28,
            "reserved",
            "an ORCHID address",
        ),
        (
            [0x2001, 0x20, 0, 0, 0, 0, 0, 0],
            28,
            "reserved",
            "an ORCHIDv2 address",
        ),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "documentation",
            "a documentation address",
        ),
        (
            [0x3fff, 0, 0, 0, 0, 0, 0, 0],
            20,
            "documentation",
            "a documentation address",
        ),
        (
            [0xfc00, 0, 0, 0, 0, 0, 0, 0],
            7,
            "private",
            "a unique-local (private) address",
        ),
        (
            [0xfe80, 0, 0, 0, 0, 0, 0, 0],
            10,
            "link_local",
            "a link-local address",
        ),
        (
            [0xfec0, 0, 0, 0, 0, 0, 0, 0],
            10,
            "private",
            "a site-local address",
        ),
        (
            [0xff00, 0, 0, 0, 0, 0, 0, 0],
            8,
            "multicast",
            "a multicast address",
        ),
    ];
    if let Some((_, _, class, why)) = TABLE
        .iter()
        .find(|(net, bits, _, _)| in_v6(ip, *net, *bits))
    {
        return Some((class, (*why).into()));
    }
    // Global unicast is 2000::/3; everything else is reserved or unassigned.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some(("reserved", "a reserved address (not global unicast)".into()));
    }
    None
}

/// True for `localhost` and `*.localhost`, which resolve to loopback by convention (RFC 6761)
/// and are refused without asking DNS.
fn is_localhost_name(name: &str) -> bool {
    let name = normalize_name(name);
    name == "localhost" || name.ends_with(".localhost")
}

/// Checks a URL before any connection: scheme (first, before any host logic, because the `url`
/// crate does not normalise hosts of other schemes), userinfo, port and IP-literal hosts.
/// Names are vetted later, on their DNS answers.
pub fn check_url(url: &Url, policy: &FetchPolicy) -> Result<(), FetchError> {
    check_hop(url, policy, 0)
}

pub(crate) fn check_hop(url: &Url, policy: &FetchPolicy, hop: usize) -> Result<(), FetchError> {
    let at = || Target::new(hop, url);
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(FetchError::Scheme {
            at: at(),
            scheme: scheme.to_string(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Userinfo { at: at() });
    }
    let port = url.port_or_known_default().unwrap_or(0);
    let ip = match url.host() {
        None => {
            return Err(FetchError::InvalidUrl {
                what: at().to_string(),
                reason: "it has no host".into(),
            })
        }
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(Host::Domain(name)) => {
            if is_localhost_name(name) {
                return Err(FetchError::BlockedAddress {
                    at: at(),
                    class: "loopback",
                    reason: format!("{name} is a localhost name"),
                });
            }
            // The exact address is not known yet; a port reachable only through an
            // allow_private entry is settled when the name's answers are vetted.
            let private_port = policy.allow_private.iter().any(|sa| sa.port() == port);
            if !policy.allowed_ports.contains(&port) && !private_port {
                return Err(FetchError::Port { at: at(), port });
            }
            return Ok(());
        }
    };
    refuse_socket(SocketAddr::new(ip, port), policy, at, None)
}

/// The rule for every address the fetcher would connect to: exactly an `allow_private` entry,
/// or a global unicast address on an allowed port. `name` is the host name the address came
/// from, for the wording of a refusal.
pub(crate) fn refuse_socket(
    sa: SocketAddr,
    policy: &FetchPolicy,
    at: impl FnOnce() -> Target,
    name: Option<&str>,
) -> Result<(), FetchError> {
    if policy.allow_private.contains(&sa) {
        return Ok(());
    }
    if let Some((class, why)) = blocked(sa.ip()) {
        let ip = sa.ip();
        let reason = match name {
            Some(name) => format!("{name} resolves to {ip}, {why}"),
            None => format!("{ip} is {why}"),
        };
        return Err(FetchError::BlockedAddress {
            at: at(),
            class,
            reason,
        });
    }
    if !policy.allowed_ports.contains(&sa.port()) {
        return Err(FetchError::Port {
            at: at(),
            port: sa.port(),
        });
    }
    Ok(())
}

/// Parses a referred URL for fetching. It must pass the shared referral rules
/// ([`shared::url::canonical_url`]: length, http(s), no userinfo), but the URL fetched is the one
/// given, without its fragment: the canonical form drops `www.` and tracking parameters, which
/// may select a different server or page.
pub fn parse_target(input: &str) -> Result<Url, FetchError> {
    use shared::url::UrlError;
    let input = input.trim();
    let at = || Target {
        hop: 0,
        url: input.to_string(),
    };
    shared::url::canonical_url(input).map_err(|e| match e {
        UrlError::Scheme(scheme) => FetchError::Scheme { at: at(), scheme },
        UrlError::Userinfo => FetchError::Userinfo { at: at() },
        too_long @ UrlError::TooLong(_) => FetchError::TooLong {
            what: format!("{input:?}"),
            reason: too_long.to_string(),
        },
        other => FetchError::InvalidUrl {
            what: format!("{input:?}"),
            reason: other.to_string(),
        },
    })?;
    // canonical_url parsed this same (trimmed) input, so it parses here too.
    let mut url = Url::parse(input).expect("accepted by canonical_url");
    url.set_fragment(None);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_global_addresses_are_blocked() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "100.100.100.200",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.170",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::a9fe:a9fe",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::8.8.8.8",
            "2002:a9fe:a9fe::",
            "2002:7f00:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:10::1",
            "2001:20::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "4000::1",
        ] {
            assert!(is_blocked_ip(ip(s)), "{s} should be blocked");
        }
    }

    #[test]
    fn global_addresses_pass() {
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_blocked_ip(ip(s)), "{s} should pass");
        }
    }

    #[test]
    fn reasons_name_the_range_and_the_embedded_address() {
        assert_eq!(blocked_reason(ip("10.0.0.1")).unwrap(), "a private address");
        assert_eq!(
            blocked_reason(ip("169.254.169.254")).unwrap(),
            "a cloud metadata address"
        );
        assert_eq!(
            blocked_reason(ip("::ffff:127.0.0.1")).unwrap(),
            "an IPv4-mapped IPv6 address embedding 127.0.0.1, a loopback address"
        );
    }

    #[test]
    fn classes_are_a_closed_set_and_follow_the_embedded_address() {
        for (s, class) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "metadata"),
            ("2002:a00:1::", "private"),
            ("fd00:ec2::254", "metadata"),
            ("fd12::1", "private"),
            ("100.64.1.1", "cgnat"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
        ] {
            assert_eq!(blocked_class(ip(s)), Some(class), "{s}");
        }
        assert_eq!(blocked_class(ip("8.8.8.8")), None);
    }

    fn refused(url: &str, policy: &FetchPolicy) -> &'static str {
        let url = Url::parse(url).unwrap();
        check_url(&url, policy).expect_err(url.as_str()).kind()
    }

    #[test]
    fn urls_are_checked_scheme_first_then_userinfo_port_and_literal() {
        let p = FetchPolicy::default();
        for u in [
            "gopher://127.0.0.1:6379/",
            "file:///etc/passwd",
            "ftp://example.com/",
        ] {
            assert_eq!(refused(u, &p), "scheme", "{u}");
        }
        for u in [
            "dict://x/",
            "ldap://x/",
            "data:text/html,hi",
            "javascript:alert(1)",
        ] {
            assert_eq!(refused(u, &p), "scheme", "{u}");
        }
        assert_eq!(refused("http://user:pass@example.com/", &p), "userinfo");
        assert_eq!(
            refused("http://a@169.254.169.254@evil.test/", &p),
            "userinfo"
        );
        for port in [22, 25, 6379, 9092] {
            assert_eq!(refused(&format!("http://example.com:{port}/"), &p), "port");
        }
        for u in [
            "http://127.0.0.1/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://foo.localhost/",
            "http://[::1]/",
            "http://0/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://017700000001/",
            "http://127.1/",
            "http://①②⑦.0.0.1/",
            "http://127.0.0.1./",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://100.100.100.200/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "https://255.255.255.255/",
        ] {
            assert_eq!(refused(u, &p), "blocked_address", "{u}");
        }
        // The backslash makes the metadata address the host (browser parsing), still refused.
        assert_eq!(
            refused("http://169.254.169.254\\@evil.test/", &p),
            "blocked_address"
        );
        assert!(check_url(&Url::parse("https://example.com/a").unwrap(), &p).is_ok());
        assert!(check_url(&Url::parse("http://8.8.8.8/").unwrap(), &p).is_ok());
    }

    #[test]
    fn allow_private_is_one_exact_socket() {
        let p = FetchPolicy {
            allow_private: vec!["127.0.0.1:8080".parse().unwrap()],
            ..FetchPolicy::default()
        };
        assert!(check_url(&Url::parse("http://127.0.0.1:8080/x").unwrap(), &p).is_ok());
        // Both the address and the port are wrong; the address is the more telling reason.
        assert_eq!(refused("http://127.0.0.1:8081/", &p), "blocked_address");
        assert_eq!(refused("http://127.0.0.1/", &p), "blocked_address");
        assert_eq!(refused("http://127.0.0.2:8080/", &p), "blocked_address");
        assert_eq!(
            refused("http://[::ffff:127.0.0.1]:8080/", &p),
            "blocked_address"
        );
        // A public address on the private entry's port is still outside the port allowlist.
        assert_eq!(refused("http://8.8.8.8:8080/", &p), "port");
        // A name on that port passes here; its answers are vetted at resolution.
        assert!(check_url(&Url::parse("http://origin.test:8080/").unwrap(), &p).is_ok());
    }

    #[test]
    fn parse_target_uses_the_shared_rules_but_keeps_the_url() {
        let u = parse_target(" https://www.Example.com/a?utm_source=x#f ").unwrap();
        assert_eq!(u.as_str(), "https://www.example.com/a?utm_source=x");
        assert_eq!(parse_target("gopher://x/").unwrap_err().kind(), "scheme");
        assert_eq!(
            parse_target("http://u@x.test/").unwrap_err().kind(),
            "userinfo"
        );
        assert_eq!(parse_target("not a url").unwrap_err().kind(), "invalid_url");
        assert_eq!(parse_target("").unwrap_err().kind(), "invalid_url");
    }
}
