//! Property test: random cases over the fixture pack keep every invariant of ROUTING.md
//! (see `common::invariants`), and routing is deterministic.

mod common;

use proptest::prelude::*;
use shared::{Category, Flags, Host, Hoster, PlatformInfo, Referring, RouteCase};
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
        any::<bool>(),
        proptest::collection::vec(state(), 0..3),
        categories(),
    )
        .prop_map(|(id, main, rep, eu, local, covers)| PlatformInfo {
            id,
            main_establishment: main,
            legal_representative: rep,
            offers_services_in_eu: eu,
            local_presence: local,
            policy_covers: covers,
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
    )
        .prop_map(
            |(self_hosted, (platform, platform_id), hoster, server_country)| Host {
                self_hosted,
                platform,
                platform_id,
                hoster: hoster.map(|(id, country, policy_covers)| Hoster {
                    id,
                    country,
                    policy_covers,
                }),
                server_country,
            },
        )
}

fn case() -> impl Strategy<Value = RouteCase> {
    (state(), categories(), any::<[bool; 4]>(), host()).prop_map(|(r, categories, b, host)| {
        RouteCase {
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
        }
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
        prop_assert_eq!(d, pack().route(&case));
    }
}
