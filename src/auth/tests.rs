//! Unit tests of accounts: hashing, parsing, expiry, the permission matrix, scope SQL and the
//! audit chain.

use super::*;
use crate::store::{self, CaseFilter, NewReferral};
use rusqlite::Connection;
use serde_json::json;

fn db() -> Connection {
    let c = Connection::open_in_memory().unwrap();
    init(&c).unwrap();
    c
}

fn new_token(agency: &str, role: Role, days: i64) -> tokens::NewToken {
    tokens::NewToken {
        agency: agency.into(),
        role,
        label: "t".into(),
        expires_at: chrono::Utc::now() + chrono::Duration::days(days),
        created_by: "test".into(),
        rotated_from: None,
    }
}

#[test]
fn tokens_have_the_documented_form_and_only_their_hash_is_stored() {
    let (id, t) = tokens::generate().unwrap();
    assert_eq!(tokens::parse(&t), Some(id.as_str()));
    assert_eq!(id.len(), 12);
    assert!(
        t.starts_with(&format!("trg_{id}_")) && t.len() == 4 + 12 + 1 + 43,
        "{t}"
    );
    let (id2, t2) = tokens::generate().unwrap();
    assert_ne!((id.clone(), t.clone()), (id2, t2.clone()));
    let h = tokens::hash(&t);
    assert_eq!(h.len(), 64);
    assert_eq!(h, tokens::hash(&t));
    assert_ne!(h, tokens::hash(&t2));
    for bad in [
        "",
        "trg_",
        "trg_0123456789ab",
        "trg_0123456789AB_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "trg_0123456789a_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "trg_0123456789ab_short",
        "trg_0123456789ab_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa aaaa",
        "xyz_0123456789ab_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        assert_eq!(tokens::parse(bad), None, "{bad:?}");
    }
    assert!(tokens::constant_eq("abc", "abc"));
    assert!(!tokens::constant_eq("abc", "abd"));
    assert!(!tokens::constant_eq("abc", "abcd"));

    let mut c = db();
    let (row, token) = tokens::create(&c, &new_token("a", Role::Analyst, 1)).unwrap();
    let stored: String = c
        .query_row("SELECT hash FROM tokens WHERE id = ?1", [&row.id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, tokens::hash(&token));
    let everything: String = c
        .query_row(
            "SELECT id || hash || agency || role || label || created_by FROM tokens",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!everything.contains(token.rsplit('_').next().unwrap()));
    assert_eq!(
        tokens::find_by_token(&mut c, &token).unwrap(),
        Some(row.clone())
    );
    // Right id, wrong secret: not found.
    let forged = format!("trg_{}_{}", row.id, "A".repeat(43));
    assert_eq!(tokens::find_by_token(&mut c, &forged).unwrap(), None);
    assert_eq!(tokens::find_by_id(&mut c, &row.id).unwrap(), Some(row));
}

#[test]
fn expiry_revocation_and_rotation() {
    let now = chrono::Utc::now();
    let mut c = db();
    let (row, _) = tokens::create(&c, &new_token("a", Role::Submitter, 1)).unwrap();
    assert_eq!(row.state(now), "active");
    assert!(!row.expired_at(now));
    assert!(row.expired_at(now + chrono::Duration::days(2)));
    assert_eq!(row.state(now + chrono::Duration::days(2)), "expired");
    let unreadable = tokens::TokenRow {
        expires_at: "soon".into(),
        ..row.clone()
    };
    assert!(
        unreadable.expired_at(now),
        "an unreadable expiry fails closed"
    );

    let r = tokens::rotate(
        &c,
        &row.id,
        chrono::Duration::minutes(5),
        chrono::Duration::days(30),
        "test",
    )
    .unwrap()
    .unwrap();
    assert_eq!((r.new.agency.as_str(), r.new.role), ("a", Role::Submitter));
    assert_eq!(r.new.rotated_from.as_deref(), Some(row.id.as_str()));
    assert!(!r.old.expired_at(now + chrono::Duration::minutes(4)));
    assert!(r.old.expired_at(now + chrono::Duration::minutes(6)));
    assert!(tokens::find_by_token(&mut c, &r.token).unwrap().is_some());
    // The grace never lengthens a token's life.
    let (short, _) = tokens::create(
        &c,
        &tokens::NewToken {
            expires_at: now + chrono::Duration::seconds(30),
            ..new_token("a", Role::Analyst, 1)
        },
    )
    .unwrap();
    let r2 = tokens::rotate(
        &c,
        &short.id,
        chrono::Duration::hours(5),
        chrono::Duration::days(1),
        "t",
    )
    .unwrap()
    .unwrap();
    assert_eq!(r2.old.expires_at, short.expires_at);

    assert!(matches!(
        tokens::revoke(&c, &row.id).unwrap(),
        tokens::Revoked::Now(_)
    ));
    assert!(matches!(
        tokens::revoke(&c, &row.id).unwrap(),
        tokens::Revoked::Already(_)
    ));
    assert!(matches!(
        tokens::revoke(&c, "nope").unwrap(),
        tokens::Revoked::NoToken
    ));
    let err = tokens::rotate(
        &c,
        &row.id,
        chrono::Duration::zero(),
        chrono::Duration::days(1),
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("revoked"), "{err}");
    assert!(tokens::rotate(
        &c,
        "nope",
        chrono::Duration::zero(),
        chrono::Duration::days(1),
        "t"
    )
    .unwrap()
    .is_none());
}

#[test]
fn bootstrap_makes_one_admin_token_or_takes_the_environments() {
    let mut c = db();
    let first = tokens::bootstrap(&mut c, "demo-unit", None).unwrap();
    let tokens::Bootstrap::Created(row, token) = first else {
        panic!("{first:?}")
    };
    assert_eq!((row.role, row.agency.as_str()), (Role::Admin, "demo-unit"));
    assert!(tokens::parse(&token).is_some());
    // Audited, without the secret.
    let created = audit::query(
        &c,
        &audit::Filter {
            action: Some("token.create".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(
        (
            created[0]["who"]["token_id"].as_str(),
            created[0]["via"].as_str()
        ),
        (Some(row.id.as_str()), Some("serve"))
    );
    assert!(!created[0].to_string().contains(&token));
    assert_eq!(
        tokens::bootstrap(&mut c, "demo-unit", None).unwrap(),
        tokens::Bootstrap::Existing
    );
    // Once the admin is revoked, the next start makes a new one.
    tokens::revoke(&c, &row.id).unwrap();
    assert!(matches!(
        tokens::bootstrap(&mut c, "demo-unit", None).unwrap(),
        tokens::Bootstrap::Created(..)
    ));

    let mut c = db();
    let err = tokens::bootstrap(&mut c, "x", Some("too-short")).unwrap_err();
    assert!(err.to_string().contains("shorter than 32"), "{err}");
    let env = "an-operator-chosen-admin-token-0123456789";
    let tokens::Bootstrap::FromEnv(id) = tokens::bootstrap(&mut c, "x", Some(env)).unwrap() else {
        panic!()
    };
    let found = tokens::find_by_token(&mut c, env).unwrap().unwrap();
    assert_eq!((found.id, found.role), (id.clone(), Role::Admin));
    assert_eq!(
        tokens::bootstrap(&mut c, "x", Some(env)).unwrap(),
        tokens::Bootstrap::Existing
    );
    // A revoked secret is not brought back by a restart with the same environment.
    tokens::revoke(&c, &id).unwrap();
    let err = tokens::bootstrap(&mut c, "x", Some(env)).unwrap_err();
    assert!(err.to_string().contains("used before"), "{err}");
}

#[test]
fn durations_parse_and_nonsense_is_named() {
    assert_eq!(
        tokens::parse_duration("90d").unwrap(),
        chrono::Duration::days(90)
    );
    assert_eq!(
        tokens::parse_duration("12h").unwrap(),
        chrono::Duration::hours(12)
    );
    assert_eq!(
        tokens::parse_duration("2s").unwrap(),
        chrono::Duration::seconds(2)
    );
    assert_eq!(
        tokens::parse_duration("7").unwrap(),
        chrono::Duration::days(7)
    );
    for bad in ["", "d", "1w", "-1d", "1.5h", "99999d"] {
        assert!(tokens::parse_duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_permission_matrix() {
    use Permission::*;
    let all = Permission::ALL;
    let allowed = |role: Role| -> Vec<Permission> {
        let p = Principal {
            token_id: "t".into(),
            agency: "a".into(),
            jurisdiction: "FR".into(),
            role,
        };
        all.into_iter().filter(|x| p.may(*x)).collect()
    };
    assert_eq!(allowed(Role::Submitter), vec![Submit, ViewCases]);
    assert_eq!(
        allowed(Role::Analyst),
        vec![
            Submit,
            ViewCases,
            ExtendRetention,
            DownloadEvidence,
            ViewDashboard,
            ViewLists
        ]
    );
    assert_eq!(
        allowed(Role::Partner),
        vec![ViewCases, DownloadEvidence, ViewDashboard, ViewLists]
    );
    assert_eq!(allowed(Role::Operator), vec![ViewMetrics, ViewLists]);
    assert_eq!(allowed(Role::Admin), all.to_vec());
    let op = Principal {
        token_id: "t".into(),
        agency: "ops".into(),
        jurisdiction: "FR".into(),
        role: Role::Operator,
    };
    let e = op.require(Submit).unwrap_err();
    assert_eq!((e.status(), e.kind()), (StatusCode::FORBIDDEN, "forbidden"));
    assert!(e.message().contains("operator"), "{}", e.message());
    assert_eq!(op.scope(), Scope::None);
    for r in Role::ALL {
        assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
    }
    assert!("root".parse::<Role>().is_err());
}

#[test]
fn bearer_headers_are_parsed_strictly() {
    let h = |v: &str| {
        let mut m = HeaderMap::new();
        m.insert(header::AUTHORIZATION, v.parse().unwrap());
        m
    };
    assert_eq!(bearer(&h("Bearer abc")), Ok("abc"));
    assert_eq!(bearer(&h("bearer  abc ")), Ok("abc"));
    assert_eq!(bearer(&HeaderMap::new()), Err(Denial::Missing));
    assert_eq!(bearer(&h("Basic YWJj")), Err(Denial::Malformed));
    assert_eq!(bearer(&h("Bearer")), Err(Denial::Malformed));
    assert_eq!(bearer(&h("Bearer ")), Err(Denial::Malformed));
}

/// Three cases: c-fr referred by fr-a and routed to FR; c-de referred by de-b and routed to DE
/// and (copy) IE; c-both referred by de-b first, then fr-a, routed to DE.
fn store_with_cases() -> crate::store::Store {
    let dir = std::env::temp_dir().join(format!("triage-auth-{}", uuid::Uuid::now_v7()));
    let s = crate::store::Store::open(&dir).unwrap();
    let r = |id: &str, case: &str, agency: &str, j: &str| NewReferral {
        id: id.into(),
        case_id: case.into(),
        url: format!("http://{case}.example/"),
        canonical_url: format!("http://{case}.example/"),
        agency: agency.into(),
        jurisdiction: j.into(),
        note: Some(format!("note of {agency}")),
        external_ref: Some(format!("ref-{agency}")),
        categories_hint: vec![],
    };
    s.call_sync(|c| {
        store::insert_referrals(c, &[r("r1", "c-fr", "fr-a", "FR")])?;
        store::insert_referrals(c, &[r("r2", "c-de", "de-b", "DE")])?;
        store::insert_referrals(c, &[r("r3", "c-both", "de-b", "DE")])?;
        store::insert_referrals(c, &[r("r4", "c-both", "fr-a", "FR")])?;
        let d = json!({"targets": []});
        store::finish(c, "r1", "c-fr", &d, &["FR".into()])?;
        store::finish(c, "r2", "c-de", &d, &["DE".into(), "IE".into()])?;
        store::finish(c, "r3", "c-both", &d, &["DE".into()])?;
        Ok(())
    })
    .unwrap();
    s
}

fn visible(s: &crate::store::Store, scope: Scope) -> Vec<String> {
    let mut ids: Vec<String> = s
        .call_sync(|c| {
            store::list_cases(
                c,
                &CaseFilter {
                    limit: 50,
                    scope,
                    ..Default::default()
                },
            )
        })
        .unwrap()
        .iter()
        .map(|v| v["case_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn scopes_filter_case_lists_and_views_in_sql() {
    let s = store_with_cases();
    let own = |a: &str| Scope::OwnReferrals { agency: a.into() };
    assert_eq!(visible(&s, Scope::All), ["c-both", "c-de", "c-fr"]);
    assert_eq!(visible(&s, Scope::None), Vec::<String>::new());
    assert_eq!(visible(&s, Scope::default()), Vec::<String>::new());
    assert_eq!(visible(&s, own("fr-a")), ["c-both", "c-fr"]);
    assert_eq!(visible(&s, own("de-b")), ["c-both", "c-de"]);
    assert_eq!(visible(&s, own("nobody")), Vec::<String>::new());
    assert_eq!(
        visible(
            &s,
            Scope::Routed {
                jurisdiction: "IE".into()
            }
        ),
        ["c-de"]
    );
    assert_eq!(
        visible(
            &s,
            Scope::Routed {
                jurisdiction: "DE".into()
            }
        ),
        ["c-both", "c-de"]
    );
    // Analyst: own referrals OR routed to its jurisdiction.
    assert_eq!(
        visible(
            &s,
            Scope::Agency {
                agency: "ie-c".into(),
                jurisdiction: "IE".into()
            }
        ),
        ["c-de"]
    );
    assert_eq!(
        visible(
            &s,
            Scope::Agency {
                agency: "fr-a".into(),
                jurisdiction: "FR".into()
            }
        ),
        ["c-both", "c-fr"]
    );
    // A quote in an agency id is a bound value, not SQL.
    assert_eq!(visible(&s, own("x' OR '1'='1")), Vec::<String>::new());

    // The scope composes with the other filters and with paging.
    let page = s
        .call_sync(|c| {
            store::list_cases(
                c,
                &CaseFilter {
                    limit: 1,
                    jurisdiction: Some("DE".into()),
                    scope: own("fr-a"),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["case_id"], "c-both");

    // Views: outside the scope is None (a 404), inside it other agencies' referrals are cut.
    let view = |id: &str, scope: Scope| {
        s.call_sync(|c| store::case_view_scoped(c, id, &scope))
            .unwrap()
    };
    assert!(view("c-de", own("fr-a")).is_none());
    assert!(view("c-missing", Scope::All).is_none());
    let v = view("c-both", own("fr-a")).unwrap();
    let text = v.to_string();
    assert!(
        text.contains("note of fr-a") && text.contains("ref-fr-a"),
        "{v}"
    );
    assert!(
        !text.contains("note of de-b") && !text.contains("ref-de-b"),
        "{v}"
    );
    assert!(
        !text.contains("\"r3\""),
        "the other agency's referral id leaks: {v}"
    );
    assert_eq!(v["first_referral"]["agency"], "de-b");
    assert_eq!(v["referrals"][0]["redacted"], true);
    assert_eq!(v["referrals"][0]["agency"], "de-b");
    assert_eq!(v["deconfliction"][0]["referral_id"], "r4");
    assert!(v["deconfliction"][0]["note"]
        .as_str()
        .unwrap()
        .contains("already referred by de-b"));
    // A partner has no referrals of its own: every referral is cut.
    let p = view(
        "c-both",
        Scope::Routed {
            jurisdiction: "DE".into(),
        },
    )
    .unwrap();
    assert!(!p.to_string().contains("note of"), "{p}");
    // The admin sees everything.
    let a = view("c-both", Scope::All).unwrap().to_string();
    assert!(a.contains("note of de-b") && a.contains("note of fr-a") && a.contains("\"r3\""));
}

fn who(agency: &str) -> Principal {
    Principal {
        token_id: "0123456789ab".into(),
        agency: agency.into(),
        jurisdiction: "FR".into(),
        role: Role::Analyst,
    }
}

#[test]
fn the_audit_log_is_hash_linked_and_append_only() {
    let c = db();
    assert_eq!(audit::verify(&c).unwrap().entries, 0);
    let e = |i: i64| {
        audit::Entry::new(
            &who("fr-a"),
            "api",
            "case.view",
            Some(&format!("c-{i}")),
            json!({"i": i}),
        )
    };
    assert_eq!(audit::append(&c, &[e(1), e(2)]).unwrap(), vec![1, 2]);
    assert_eq!(audit::append(&c, &[e(3), e(4)]).unwrap(), vec![3, 4]);
    let ok = audit::verify(&c).unwrap();
    assert_eq!((ok.entries, ok.broken.clone()), (4, None));
    assert_ne!(ok.head, audit::GENESIS);

    let rows = audit::query(
        &c,
        &audit::Filter {
            case_id: Some("c-3".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["who"]["agency"], "fr-a");
    assert_eq!(rows[0]["who"]["role"], "analyst");
    assert_eq!(rows[0]["action"], "case.view");
    assert_eq!(rows[0]["detail"]["i"], 3);
    let page = audit::query(
        &c,
        &audit::Filter {
            after: Some(2),
            limit: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(page[0]["seq"], 3);

    // The triggers refuse changes.
    let err = c
        .execute("UPDATE audit SET agency = 'x' WHERE seq = 2", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(c.execute("DELETE FROM audit WHERE seq = 2", []).is_err());

    // Someone who drops the triggers and edits a row is caught by the chain.
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    c.execute("UPDATE audit SET detail = '{\"i\":99}' WHERE seq = 2", [])
        .unwrap();
    let bad = audit::verify(&c).unwrap();
    assert_eq!(bad.broken.as_ref().map(|b| b.0), Some(2), "{bad:?}");
    assert_eq!(bad.entries, 1);
    assert!(bad.broken.unwrap().1.contains("changed"));

    // Removing a row in the middle is caught too.
    let c = db();
    audit::append(&c, &[e(1), e(2), e(3)]).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2;")
        .unwrap();
    let bad = audit::verify(&c).unwrap();
    assert_eq!(bad.broken.as_ref().map(|b| b.0), Some(3), "{bad:?}");
    assert!(bad.broken.unwrap().1.contains("missing"));
    assert_eq!(audit::action_label("case.view"), "case.view");
    assert_eq!(audit::action_label("made.up"), "other");
}
