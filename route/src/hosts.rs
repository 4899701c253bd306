//! Host determination: what ingest saw (the final URL's host name, the address the response
//! came from) becomes the case's [`Host`] — the platform, or for a self-hosted site its hoster
//! and server country — with every connecting factor as a [`HostCandidate`]:
//!
//! - host name → platform table (`platforms.toml` domains): main establishment and legal
//!   representative, high confidence;
//! - address → network tables (country, AS number) → hoster by AS number (`[hosters.*]`):
//!   hoster's country and server location, medium confidence; a CDN's address (by the row's
//!   `kind` or the hoster's `cdn` flag) is recorded with `cdn: true`, low confidence, and never
//!   becomes the server country — the CDN becomes the addressee of a referral instead;
//! - host name → country-code TLD, low confidence.
//!
//! Private and loopback addresses are not looked up (they say nothing about a state).

use crate::model::Pack;
use crate::net::{NetInfo, NetKind};
use shared::{Confidence, Host, HostCandidate, HostFactor, Hoster};
use std::net::IpAddr;

/// Parses `ip`, `ip:port` or `[v6]:port`.
pub(crate) fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    None
}

fn not_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64 // 100.64/10 CGNAT
        }
        IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_unspecified()
                || (a.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (a.segments()[0] & 0xffc0) == 0xfe80 // link local
        }
    }
}

/// Every table's answer merged: each field from the first table that has it.
fn lookup(pack: &Pack, ip: IpAddr) -> Option<(NetInfo, String)> {
    let mut out: Option<(NetInfo, String)> = None;
    for t in &pack.networks {
        let Some(i) = t.lookup(ip) else { continue };
        match &mut out {
            None => out = Some((i, t.source.display().to_string())),
            Some((o, _)) => {
                if o.country.is_none() {
                    o.country = i.country;
                }
                if o.asn.is_none() {
                    o.asn = i.asn;
                    o.as_name = i.as_name;
                }
                if o.kind == NetKind::Unknown {
                    o.kind = i.kind;
                }
            }
        }
    }
    out
}

pub(crate) fn determine(pack: &Pack, host_name: Option<&str>, addr: Option<&str>) -> Host {
    let mut host = Host::default();
    let name = host_name.map(|h| {
        h.trim()
            .trim_end_matches('.')
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    });
    let name_is_ip = name.as_deref().and_then(parse_addr).is_some();
    let platform = name
        .as_deref()
        .filter(|_| !name_is_ip)
        .and_then(|n| crate::platform_for(pack, n));
    if let Some(p) = &platform {
        let source = format!(
            "platform {} (domain {})",
            p.id,
            name.as_deref().unwrap_or("")
        );
        for (j, factor) in [
            (&p.main_establishment, HostFactor::MainEstablishment),
            (&p.legal_representative, HostFactor::LegalRepresentative),
        ] {
            if let Some(j) = j {
                host.candidates.push(HostCandidate {
                    jurisdiction: Some(j.clone()),
                    factor,
                    confidence: Confidence::High,
                    cdn: false,
                    source: source.clone(),
                });
            }
        }
    }
    host.self_hosted = platform.is_none();
    host.platform = platform;

    let ip = addr
        .and_then(parse_addr)
        .or_else(|| name.as_deref().filter(|_| name_is_ip).and_then(parse_addr));
    if let Some(ip) = ip {
        if not_public(ip) {
            host.candidates.push(HostCandidate {
                jurisdiction: None,
                factor: HostFactor::ServerIp,
                confidence: Confidence::Low,
                cdn: false,
                source: format!("{ip}: a private or loopback address, not located"),
            });
        } else {
            match lookup(pack, ip) {
                None => host.candidates.push(HostCandidate {
                    jurisdiction: None,
                    factor: HostFactor::ServerIp,
                    confidence: Confidence::Low,
                    cdn: false,
                    source: format!("{ip}: in no network table"),
                }),
                Some((info, table)) => located(pack, &mut host, ip, &info, &table),
            }
        }
    }

    if let Some(cc) = name
        .as_deref()
        .filter(|_| !name_is_ip)
        .and_then(shared::jurisdiction::cctld_country)
    {
        let tld = name
            .as_deref()
            .and_then(|n| n.rsplit('.').next())
            .unwrap_or_default()
            .to_string();
        host.candidates.push(HostCandidate {
            jurisdiction: Some(cc),
            factor: HostFactor::Cctld,
            confidence: Confidence::Low,
            cdn: false,
            source: format!("country-code TLD .{tld} (registry)"),
        });
    }
    host.candidates.sort_by_key(|c| (c.factor, c.confidence));
    host
}

/// An address the network tables know: server location, hoster, or CDN.
fn located(pack: &Pack, host: &mut Host, ip: IpAddr, info: &NetInfo, table: &str) {
    let hoster = info
        .asn
        .and_then(|a| pack.asns.get(&a))
        .and_then(|id| pack.hosters.get(id));
    let cdn = info.kind == NetKind::Cdn || hoster.is_some_and(|h| h.cdn);
    let as_label = match (info.asn, &info.as_name) {
        (Some(a), Some(n)) => format!("AS{a} {n}"),
        (Some(a), None) => format!("AS{a}"),
        (None, _) => "no AS number".to_string(),
    };
    let source = format!(
        "{ip} in {} ({as_label}{}; {table})",
        info.network,
        if cdn { ", CDN" } else { "" }
    );
    host.candidates.push(HostCandidate {
        jurisdiction: info.country.clone(),
        factor: HostFactor::ServerIp,
        confidence: if cdn {
            Confidence::Low
        } else {
            Confidence::Medium
        },
        cdn,
        source: source.clone(),
    });
    if let Some(h) = hoster {
        if !cdn {
            host.candidates.push(HostCandidate {
                jurisdiction: h.country.clone(),
                factor: HostFactor::Hoster,
                confidence: Confidence::Medium,
                cdn: false,
                source: format!(
                    "{} ({as_label}), incorporated in {}",
                    h.id,
                    h.country.as_deref().unwrap_or("?")
                ),
            });
        }
    }
    if !host.self_hosted {
        return; // a platform's own establishment decides; the address is only recorded
    }
    if cdn {
        // The CDN is who we can reach (its abuse desk), not where the content is.
        host.hoster = Some(Hoster {
            id: Some(hoster.map_or_else(|| as_label.clone(), |h| h.id.clone())),
            country: None,
            policy_covers: hoster.map(|h| h.policy_covers.clone()).unwrap_or_default(),
        });
        return;
    }
    host.server_country = info.country.clone();
    if let Some(h) = hoster {
        host.hoster = Some(Hoster {
            id: Some(h.id.clone()),
            country: h.country.clone(),
            policy_covers: h.policy_covers.clone(),
        });
    }
}
