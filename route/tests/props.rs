//! Property test: random cases over the fixture pack keep every invariant of ROUTING.md
//! (see `common::invariants`), and routing is deterministic.

mod common;

use proptest::prelude::*;
use shared::{
    Category, Confidence, Flags, Host, HostCandidate, HostFactor, Hoster, PlatformInfo, Referring,
    RouteCase,
};
use std::sync::OnceLock;

fn pack() -> &'static route::RulePack {
    static PACK: OnceLock<route::RulePack> = OnceLock::new();
    PACK.get_or_init(common::pack)
}

/// States the pack knows, plus the UK alias, one state it does not know and one malformed code.
fn state() -> impl Strategy<Value = String> {
    let mut codes = pack().jurisdictions();
    codes.extend(["UK", "BR", "XXX"].map(String::from));
    proptest::sample::select(codes)
}

fn categories() -> impl Strategy<Value = Vec<Category>> {
    proptest::sample::subsequence(Category::ALL.to_vec(), 0..=6)
}

fn platform() -> impl Strategy<Value = PlatformInfo> {
    (
        "[a-z]{4,8}",
        proptest::option::of(state()),
        proptest::option::of(state()),
        any::<(bool, bool)>(),
        proptest::collection::vec(state(), 0..3),
        categories(),
    )
        .prop_map(|(id, main, rep, (eu, areas), local, covers)| PlatformInfo {
            id,
            main_establishment: main,
            legal_representative: rep,
            // Both the contract's flag and the data-driven list.
            service_areas: if areas { vec!["EU".into()] } else { vec![] },
            offers_services_in_eu: eu,
            local_presence: local,
            policy_covers: covers,
        })
}

/// What host determination may have seen: CDN addresses, ccTLDs, registrars, unlocated IPs.
fn candidate() -> impl Strategy<Value = HostCandidate> {
    (
        proptest::option::of(state()),
        proptest::sample::select(vec![
            HostFactor::MainEstablishment,
            HostFactor::LegalRepresentative,
            HostFactor::Hoster,
            HostFactor::ServerIp,
            HostFactor::Registrar,
            HostFactor::Cctld,
        ]),
        proptest::sample::select(vec![Confidence::High, Confidence::Medium, Confidence::Low]),
        any::<bool>(),
    )
        .prop_map(|(jurisdiction, factor, confidence, cdn)| HostCandidate {
            jurisdiction,
            factor,
            confidence,
            cdn,
            source: "prop".into(),
        })
}

fn host() -> impl Strategy<Value = Host> {
    let mut ids = pack().platform_ids();
    ids.push("nosuchplatform".into());
    (
        any::<bool>(),
        prop_oneof![
            Just((None, None)),
            platform().prop_map(|p| (Some(p), None)),
            proptest::sample::select(ids).prop_map(|id| (None, Some(id))),
        ],
        proptest::option::of((
            proptest::option::of("[a-z]{3,6}"),
            proptest::option::of(state()),
            categories(),
        )),
        proptest::option::of(state()),
        proptest::collection::vec(candidate(), 0..3),
    )
        .prop_map(
            |(self_hosted, (platform, platform_id), hoster, server_country, candidates)| Host {
                self_hosted,
                platform,
                platform_id,
                hoster: hoster.map(|(id, country, policy_covers)| Hoster {
                    id,
                    country,
                    policy_covers,
                }),
                server_country,
                candidates,
            },
        )
}

fn case() -> impl Strategy<Value = RouteCase> {
    (
        state(),
        categories(),
        any::<[bool; 4]>(),
        host(),
        proptest::option::of(0i64..4_000_000_000),
    )
        .prop_map(|(r, categories, b, host, at)| RouteCase {
            case_id: "p".into(),
            referring: Referring {
                jurisdiction: r,
                agency: "a".into(),
            },
            categories,
            flags: Flags {
                tco_danger_assessed: b[0],
                purpose_exempt: b[1] && b[2],
                terrorist_threat: b[3],
            },
            want_evidence: b[2],
            host,
            at: at.and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_decision_keeps_the_invariants(case in case()) {
        let d = pack().route(&case);
        if let Err(e) = common::invariants(pack(), &case, &d) {
            return Err(TestCaseError::fail(format!("{e}\ncase: {}\ndecision: {}",
                serde_json::to_string(&case).unwrap(), serde_json::to_string_pretty(&d).unwrap())));
        }
        prop_assert_eq!(&d, &pack().route(&case));
        // Explaining changes nothing in the decision.
        prop_assert_eq!(&d, &pack().explain(&case).decision);
    }
}
