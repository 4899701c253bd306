//! Host determination from what ingest saw (final URL host, response address) over the fixture
//! platform and network tables; and a real vendor export plugged in beside them.

mod common;

use route::RulePack;
use shared::{Category, Confidence, Flags, Host, HostFactor, Path, Referring, RouteCase};

fn case(r: &str, cats: &[Category], host: Host, evidence: bool) -> RouteCase {
    RouteCase {
        case_id: "h".into(),
        referring: Referring {
            jurisdiction: r.into(),
            agency: "a".into(),
        },
        categories: cats.to_vec(),
        flags: Flags::default(),
        want_evidence: evidence,
        host,
        at: None,
    }
}

/// (factor, jurisdiction, confidence, cdn) of every candidate, in rank order.
fn cands(h: &Host) -> Vec<(HostFactor, Option<&str>, Confidence, bool)> {
    h.candidates
        .iter()
        .map(|c| (c.factor, c.jurisdiction.as_deref(), c.confidence, c.cdn))
        .collect()
}

#[test]
fn a_platform_domain_wins_over_the_server_address() {
    let pack = common::pack();
    let h = pack.determine_host(Some("WWW.video.example.test."), Some("192.0.2.10:443"));
    assert!(!h.self_hosted);
    assert_eq!(h.platform.as_ref().unwrap().id, "examplevideo");
    assert_eq!(
        h.server_country, None,
        "the platform's establishment decides"
    );
    assert_eq!(
        cands(&h),
        vec![
            (
                HostFactor::MainEstablishment,
                Some("IE"),
                Confidence::High,
                false
            ),
            (HostFactor::Hoster, Some("DE"), Confidence::Medium, false),
            (HostFactor::ServerIp, Some("DE"), Confidence::Medium, false),
        ]
    );
    let d = pack.route(&case("FR", &[Category::PublicProvocation], h, false));
    assert_eq!(d.targets[0].path, Path::RemovalOrder);
    assert_eq!(d.targets[0].copy_to.as_deref(), Some("IE"));
}

#[test]
fn a_self_hosted_site_gets_its_hoster_and_server_country() {
    let pack = common::pack();
    let h = pack.determine_host(Some("news.example.ru"), Some("192.0.2.70:80"));
    assert!(h.self_hosted);
    assert_eq!(h.server_country.as_deref(), Some("RU"));
    let hoster = h.hoster.as_ref().unwrap();
    assert_eq!(hoster.id.as_deref(), Some("examplehost-ru"));
    assert_eq!(hoster.country.as_deref(), Some("RU"));
    assert!(hoster.policy_covers.contains(&Category::Extremism));
    assert_eq!(
        cands(&h),
        vec![
            (HostFactor::Hoster, Some("RU"), Confidence::Medium, false),
            (HostFactor::ServerIp, Some("RU"), Confidence::Medium, false),
            (HostFactor::Cctld, Some("RU"), Confidence::Low, false),
        ]
    );
    assert!(
        h.candidates[1].source.contains("AS64502"),
        "{:?}",
        h.candidates
    );
    // RU refers: hosted at home, domestic removal; the hoster is the addressee.
    let d = pack.route(&case("RU", &[Category::Extremism], h, true));
    assert_eq!(d.targets.len(), 1, "{d:#?}");
    assert_eq!(d.targets[0].path, Path::Domestic);
    assert_eq!(d.targets[0].addressee.as_deref(), Some("examplehost-ru"));
}

#[test]
fn a_cdn_address_is_never_the_host() {
    let pack = common::pack();
    for addr in ["198.51.100.7:443", "[2001:db8:cd5::1]:443"] {
        let h = pack.determine_host(Some("blog.example"), Some(addr));
        assert!(h.self_hosted);
        assert_eq!(h.server_country, None, "{addr}");
        let hoster = h.hoster.as_ref().unwrap();
        assert_eq!(hoster.id.as_deref(), Some("examplecdn"));
        assert_eq!(hoster.country, None, "the CDN's country is not the host");
        assert_eq!(
            cands(&h),
            vec![(HostFactor::ServerIp, Some("US"), Confidence::Low, true)],
            "{addr}"
        );
        // FR wants evidence: no request to the CDN's state; a human finds the origin; the CDN's
        // abuse desk gets the referral.
        let d = pack.route(&case("FR", &[Category::RecruitmentSolicitation], h, true));
        assert!(
            d.targets.iter().all(|t| t.path != Path::MlaRequest),
            "{d:#?}"
        );
        let referral = d
            .targets
            .iter()
            .find(|t| t.path == Path::PlatformReferral)
            .unwrap();
        assert_eq!(referral.addressee.as_deref(), Some("examplecdn"));
        assert!(d.review.iter().any(|r| r.decide.contains("origin server")));
    }
}

#[test]
fn nested_blocks_unknown_asns_and_private_addresses() {
    let pack = common::pack();
    // 203.0.113.200/29 (IR) inside 203.0.113.128/25 (TR): the longer prefix wins.
    let h = pack.determine_host(Some("site.example"), Some("203.0.113.201"));
    assert_eq!(h.server_country.as_deref(), Some("IR"));
    assert_eq!(h.hoster, None, "AS64507 is in no hoster entry");
    assert!(h.candidates[0].source.contains("203.0.113.200/29"));
    let h = pack.determine_host(Some("site.example"), Some("203.0.113.130"));
    assert_eq!(h.server_country.as_deref(), Some("TR"));

    for addr in ["127.0.0.1:8081", "10.1.2.3", "[::1]:80", "[fd00::1]:80"] {
        let h = pack.determine_host(Some("localhost"), Some(addr));
        assert_eq!(h.server_country, None, "{addr}");
        assert_eq!(
            cands(&h),
            vec![(HostFactor::ServerIp, None, Confidence::Low, false)],
            "{addr}"
        );
    }
    // An IP literal as the host name is looked up too, and has no ccTLD.
    let h = pack.determine_host(Some("192.0.2.130"), None);
    assert_eq!(h.server_country.as_deref(), Some("KZ"));
    assert!(h.candidates.iter().all(|c| c.factor != HostFactor::Cctld));
    // Nothing known at all.
    let h = pack.determine_host(None, None);
    assert!(h.self_hosted && h.candidates.is_empty() && h.hoster.is_none());
    assert_eq!(
        pack.lookup_ip("192.0.2.200").unwrap().as_name.as_deref(),
        Some("Example Colocation NL")
    );
}

/// A copy of the fixture pack with extra network tables appended to `pack.toml`.
fn pack_with(tables: &[(&str, &str)]) -> (std::path::PathBuf, Result<RulePack, route::PackError>) {
    let dir = std::env::temp_dir().join(format!(
        "route-hosts-{}-{}",
        std::process::id(),
        tables.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(common::fixture_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut names = vec!["\"networks.csv\"".to_string()];
    for (name, text) in tables {
        std::fs::write(dir.join(name), text).unwrap();
        names.push(format!("{name:?}"));
    }
    let pack_toml = std::fs::read_to_string(dir.join("pack.toml")).unwrap();
    let pack_toml = pack_toml.replace(
        "networks = [\"networks.csv\"]",
        &format!("networks = [{}]", names.join(", ")),
    );
    std::fs::write(dir.join("pack.toml"), pack_toml).unwrap();
    let p = RulePack::load(&dir);
    (dir, p)
}

#[test]
fn vendor_exports_plug_in_beside_the_fixture_table() {
    // IPinfo Lite's columns as exported; MaxMind's GeoLite2 ASN columns; a DB-IP style range
    // file with a header added. Documentation addresses only.
    let ipinfo = "network,country,country_code,continent,continent_code,asn,as_name,as_domain\n\
                  100.64.0.0/10,Germany,DE,Europe,EU,AS64510,\"Big Host, GmbH\",bighost.test\n\
                  2001:db8:ff::/48,Netherlands,NL,Europe,EU,AS64511,Cloud NL,cloudnl.test\n";
    let asn = "network,autonomous_system_number,autonomous_system_organization\n\
               198.18.0.0/15,64500,ExampleCDN\n";
    let dbip = "start_ip,end_ip,country_code\n198.18.0.0,198.19.255.255,FR\n";
    let (dir, pack) = pack_with(&[("ipinfo.csv", ipinfo), ("asn.csv", asn), ("dbip.csv", dbip)]);
    let pack = pack.expect("the vendor tables load");
    // Fields merge across tables: country from the range file, AS number from the ASN file,
    // which is the CDN's: never the host.
    let info = pack.lookup_ip("198.18.5.5").unwrap();
    assert_eq!(info.asn, Some(64500));
    let h = pack.determine_host(Some("x.example"), Some("198.18.5.5"));
    assert_eq!(
        cands(&h),
        vec![(HostFactor::ServerIp, Some("FR"), Confidence::Low, true)]
    );
    assert_eq!(h.hoster.unwrap().id.as_deref(), Some("examplecdn"));
    // The IPinfo rows: the country code column, not the country name, is used.
    let h = pack.determine_host(Some("x.example"), Some("[2001:db8:ff::9]:443"));
    assert_eq!(h.server_country.as_deref(), Some("NL"));
    let rows: Vec<usize> = pack.network_rows().iter().map(|r| r.1).collect();
    assert_eq!(rows, vec![10, 2, 1, 1]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_network_row_is_refused_with_file_and_line() {
    let bad = "network,country_code,asn\n192.0.2.0/24,DE,AS1\n192.0.2.0/99,DE,AS1\n";
    let (dir, pack) = pack_with(&[("bad.csv", bad)]);
    let err = pack.expect_err("a bad row refuses the pack");
    assert!(
        err.findings().iter().any(|f| f.file.ends_with("bad.csv")
            && f.line == Some(3)
            && f.message.contains("prefix length")),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
