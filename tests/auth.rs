//! End to end for accounts, roles, isolation, audit and limits, on the real binary: agencies
//! cannot read each other's referrals or cases; a partner sees only what is routed to its
//! jurisdiction; operators and submitters are held to their roles; expired, revoked and
//! rotated-out tokens are refused; every view, list and submission is in the audit log; rate
//! limits answer 429 with Retry-After; security headers on every response and no CORS; the
//! first start prints the admin token once.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("triage.toml");
    std::fs::write(
        &path,
        format!(
            r#"default_agency = "demo-unit"
{extra}
[fetch]
allowed_ports = [80, 443]
[fetch.resolve]
"video.example.test" = ["127.0.0.1"]

[[agencies]]
id = "demo-unit"
jurisdiction = "FR"
[[agencies]]
id = "fr-a"
jurisdiction = "FR"
[[agencies]]
id = "de-b"
jurisdiction = "DE"
[[agencies]]
id = "ie-p"
jurisdiction = "IE"
[[agencies]]
id = "ops"
jurisdiction = "FR"
"#
        ),
    )
    .unwrap();
    path
}

/// A server with the agencies of [`write_config`], its data dir and the config path.
fn server_with(name: &str, origin: Option<&Proc>, extra: &str) -> (Proc, PathBuf, PathBuf) {
    let dir = tempdir(name);
    let config = write_config(&dir, extra);
    let data = dir.join("data");
    let origins: Vec<&str> = origin.iter().map(|o| o.addr.as_str()).collect();
    let server = start_server(&data, &origins, &["--config", config.to_str().unwrap()]);
    (server, data, config)
}

fn token_id(token: &str) -> &str {
    token.split('_').nth(1).unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("not a case list: {list}"))
        .iter()
        .map(|c| c["case_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn submit(server: &Proc, token: &str, body: Value) -> Value {
    let (s, acc) = post_json(server, Some(token), &body);
    assert_eq!(s, 202, "{acc}");
    let r = wait_final(server, acc["referral_id"].as_str().unwrap(), WAIT);
    assert_eq!(r["status"], "routed", "{r}");
    r
}

#[test]
fn agencies_are_isolated_and_partners_see_only_what_is_routed_to_them() {
    let origin = start_origin();
    let port = origin.addr.rsplit(':').next().unwrap().to_string();
    let (server, _data, _) = server_with("isolation", Some(&origin), "");
    let fr = create_token(&server, "fr-a", "submitter");
    let de = create_token(&server, "de-b", "submitter");
    let de_analyst = create_token(&server, "de-b", "analyst");
    let ie = create_token(&server, "ie-p", "partner");
    let ops = create_token(&server, "ops", "operator");

    // fr-a refers a page on the Irish-established platform; de-b refers a plain page, then the
    // same platform page (deconflicted onto fr-a's case).
    let platform_url = format!("http://video.example.test:{port}/ru-news.html");
    let fr_ref = submit(
        &server,
        &fr,
        json!({"url": platform_url, "note": "fr-a private note", "external_ref": "FR-REF-1"}),
    );
    let de_ref = submit(
        &server,
        &de,
        json!({"url": origin.url("/en-news.html"), "note": "de-b private note"}),
    );
    let de_ref2 = submit(
        &server,
        &de,
        json!({"url": platform_url, "note": "de-b second note"}),
    );
    let platform_case = fr_ref["case_id"].as_str().unwrap().to_string();
    let de_case = de_ref["case_id"].as_str().unwrap().to_string();
    assert_eq!(de_ref2["case_id"], platform_case.as_str());
    // The agency and jurisdiction are the token's.
    assert_eq!(
        (&fr_ref["agency"], &fr_ref["jurisdiction"]),
        (&json!("fr-a"), &json!("FR"))
    );
    assert_eq!(
        (&de_ref["agency"], &de_ref["jurisdiction"]),
        (&json!("de-b"), &json!("DE"))
    );

    // What the admin sees: the premises of the partner checks below.
    let (_, all) = get_json(&server, "/v1/cases");
    assert_eq!(ids(&all), {
        let mut v = vec![platform_case.clone(), de_case.clone()];
        v.sort();
        v
    });
    let (_, pc) = get_json(&server, &format!("/v1/cases/{platform_case}"));
    let (_, dc) = get_json(&server, &format!("/v1/cases/{de_case}"));
    assert!(
        pc["jurisdictions"]
            .as_array()
            .unwrap()
            .contains(&json!("IE")),
        "{pc}"
    );
    assert!(
        !dc["jurisdictions"]
            .as_array()
            .unwrap()
            .contains(&json!("IE")),
        "{dc}"
    );
    assert!(
        pc.to_string().contains("fr-a private note") && pc.to_string().contains("de-b second note")
    );

    // Agency A cannot read agency B's referral or case (404, as if missing), nor list it.
    let get = |t: &str, p: &str| get_json_as(&server, Some(t), p);
    let rid = |r: &Value| r["referral_id"].as_str().unwrap().to_string();
    assert_eq!(get(&fr, &format!("/v1/referrals/{}", rid(&fr_ref))).0, 200);
    let (s, v) = get(&fr, &format!("/v1/referrals/{}", rid(&de_ref)));
    assert_eq!((s, &v["error"]["kind"]), (404, &json!("not_found")), "{v}");
    assert_eq!(get(&fr, &format!("/v1/referrals/{}", rid(&de_ref2))).0, 404);
    let (s, v) = get(&fr, &format!("/v1/cases/{de_case}"));
    assert_eq!((s, &v["error"]["kind"]), (404, &json!("not_found")), "{v}");
    assert_eq!(
        get(&fr, "/v1/cases").1["cases"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        ids(&get(&fr, "/v1/cases").1),
        std::slice::from_ref(&platform_case)
    );
    // The shared case is filed under DE too (de-b's referral of it); B's own case is not A's.
    assert_eq!(
        ids(&get(&fr, "/v1/cases?jurisdiction=DE").1),
        std::slice::from_ref(&platform_case)
    );
    // B sees both of its cases; in the shared one, A's note and reference are cut.
    assert_eq!(ids(&get(&de, "/v1/cases").1), ids(&all));
    let (s, shared) = get(&de, &format!("/v1/cases/{platform_case}"));
    assert_eq!(s, 200, "{shared}");
    let text = shared.to_string();
    assert!(text.contains("de-b second note"), "{shared}");
    assert!(
        !text.contains("fr-a private note") && !text.contains("FR-REF-1"),
        "{shared}"
    );
    assert!(!text.contains(&rid(&fr_ref)), "{shared}");
    assert_eq!(
        shared["first_referral"]["agency"], "fr-a",
        "deconfliction stays visible"
    );
    assert_eq!(shared["deconfliction"][0]["agency"], "de-b");
    // A's own view of the shared case shows its note but not B's.
    let mine = get(&fr, &format!("/v1/cases/{platform_case}"))
        .1
        .to_string();
    assert!(mine.contains("fr-a private note") && !mine.contains("de-b second note"));

    // The partner of IE sees only the case routed to IE, and nobody's notes.
    assert_eq!(
        ids(&get(&ie, "/v1/cases").1),
        std::slice::from_ref(&platform_case)
    );
    let (s, v) = get(&ie, &format!("/v1/cases/{platform_case}"));
    assert_eq!(s, 200, "{v}");
    assert!(!v.to_string().contains("private note") && !v.to_string().contains("second note"));
    assert_eq!(get(&ie, &format!("/v1/cases/{de_case}")).0, 404);
    assert_eq!(get(&ie, &format!("/v1/referrals/{}", rid(&fr_ref))).0, 404);
    // A DE analyst sees its agency's referrals and what is routed to DE.
    assert_eq!(ids(&get(&de_analyst, "/v1/cases").1), ids(&all));

    // Roles: a partner and an operator cannot submit; an operator reads /metrics but no
    // cases; a submitter reads no metrics and reloads no lists; only an admin reads the audit.
    let url = json!({"url": origin.url("/en-weather.html")});
    for t in [&ie, &ops] {
        let (s, v) = post_json(&server, Some(t), &url);
        assert_eq!((s, &v["error"]["kind"]), (403, &json!("forbidden")), "{v}");
    }
    let metrics_as = |t: &str| {
        client()
            .get(server.url("/metrics"))
            .bearer_auth(t)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(metrics_as(&ops), 200);
    assert_eq!(metrics_as(&fr), 403);
    assert_eq!(metrics_as(&ie), 403);
    assert_eq!(get(&ops, "/v1/cases").0, 403);
    assert_eq!(get(&ops, &format!("/v1/cases/{de_case}")).0, 403);
    let (s, v) = post_json_to(&server, "/v1/lists/reload", Some(&fr), &json!({}));
    assert_eq!((s, &v["error"]["kind"]), (403, &json!("forbidden")), "{v}");
    assert_eq!(get(&fr, "/v1/audit").0, 403);
    assert_eq!(get(&de_analyst, "/v1/audit").0, 403);
    assert_eq!(get(&fr, "/v1/admin/tokens").0, 403);
    let (s, _) = post_json_to(
        &server,
        "/v1/admin/tokens",
        Some(&de_analyst),
        &json!({"agency": "de-b", "role": "admin"}),
    );
    assert_eq!(s, 403);
    // No token at all: 401 everywhere but the probes.
    for p in ["/v1/cases", "/metrics", "/v1/lists", "/v1/audit"] {
        assert_eq!(get_json_as(&server, None, p).0, 401, "{p}");
    }
    assert_eq!(get_json_as(&server, None, "/healthz").0, 200);
    assert_eq!(get_json_as(&server, None, "/readyz").0, 200);

    // The body cannot name another agency, in a single referral or in a batch.
    let (s, v) = post_json(
        &server,
        Some(&fr),
        &json!({"url": origin.url("/fa-news.html"), "agency": "de-b"}),
    );
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("from the token"),
        "{v}"
    );
    let (s, v) = post_json(
        &server,
        Some(&fr),
        &json!({"referrals": [{"url": origin.url("/fa-news.html"), "agency": "de-b"}]}),
    );
    assert_eq!(s, 422, "{v}");
    let (s, v) = post_json(
        &server,
        Some(&fr),
        &json!({"url": origin.url("/fa-news.html"), "jurisdiction": "DE"}),
    );
    assert_eq!(s, 422, "{v}");

    // Metrics count the refusals by reason.
    let m = metrics(&server);
    assert!(
        metric_value(&m, "triage_auth_denials_total{reason=\"forbidden\"}").unwrap() >= 10.0,
        "{m}"
    );
    assert!(
        metric_value(&m, "triage_auth_denials_total{reason=\"missing\"}").unwrap() >= 4.0,
        "{m}"
    );
}

#[test]
fn every_submission_view_and_list_is_audited_and_only_admins_read_the_log() {
    let origin = start_origin();
    let (server, data, config) = server_with("audit", Some(&origin), "");
    let fr = create_token(&server, "fr-a", "analyst");
    let r = submit(&server, &fr, json!({"url": origin.url("/en-news.html")}));
    let case_id = r["case_id"].as_str().unwrap().to_string();
    let referral_id = r["referral_id"].as_str().unwrap().to_string();
    assert_eq!(
        get_json_as(&server, Some(&fr), &format!("/v1/cases/{case_id}")).0,
        200
    );
    assert_eq!(
        get_json_as(&server, Some(&fr), "/v1/cases?status=routed").0,
        200
    );
    // A view that found nothing is no view of a case.
    assert_eq!(
        get_json_as(&server, Some(&fr), "/v1/cases/c-nothing").0,
        404
    );

    let (s, v) = get_json(&server, &format!("/v1/audit?case_id={case_id}"));
    assert_eq!(s, 200, "{v}");
    let entries = v["entries"].as_array().unwrap();
    let of = |action: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["who"]["agency"] == "fr-a")
            .collect()
    };
    let submitted = of("referral.submit");
    assert_eq!(submitted.len(), 1, "{v:#}");
    assert_eq!(submitted[0]["detail"]["referral_id"], referral_id.as_str());
    assert_eq!(submitted[0]["who"]["token_id"], token_id(&fr));
    assert_eq!(submitted[0]["who"]["role"], "analyst");
    assert_eq!(submitted[0]["via"], "api");
    assert!(submitted[0]["at"].as_str().unwrap().starts_with("20"));
    assert!(submitted[0]["detail"]["url"]
        .as_str()
        .unwrap()
        .contains("/en-news.html"));
    assert_eq!(of("case.view").len(), 1, "{v:#}");
    // wait_final read the referral as the admin: audited under the admin's token.
    assert!(entries
        .iter()
        .any(|e| e["action"] == "referral.view" && e["who"]["token_id"] != token_id(&fr)));
    // Lists are audited with the query and the ids they returned.
    let (_, lists) = get_json(&server, "/v1/audit?action=case.list&agency=fr-a");
    let l = &lists["entries"][0];
    assert_eq!(l["detail"]["query"]["status"], "routed", "{lists}");
    assert_eq!(l["detail"]["case_ids"], json!([case_id]));
    assert!(
        get_json(&server, "/v1/audit?action=case.view").1["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["case_id"] == case_id.as_str()),
        "the 404 was not audited as a view"
    );
    // Paging forwards.
    let (_, p1) = get_json(&server, "/v1/audit?limit=2");
    let after = p1["next_after"].as_i64().unwrap();
    let (_, p2) = get_json(&server, &format!("/v1/audit?limit=2&after={after}"));
    assert_eq!(p2["entries"][0]["seq"].as_i64(), Some(after + 1));
    assert_eq!(get_json(&server, "/v1/audit?limit=0").0, 400);

    // Only the admin reads the log.
    let (s, v) = get_json_as(&server, Some(&fr), "/v1/audit");
    assert_eq!((s, &v["error"]["kind"]), (403, &json!("forbidden")), "{v}");
    let m = metrics(&server);
    assert!(
        metric_value(&m, "triage_audit_entries_total{action=\"case.view\"}").unwrap() >= 1.0,
        "{m}"
    );

    // The command line reads the same log (while the server runs) and the chain verifies.
    let cfg = config.to_str().unwrap();
    let d = data.to_str().unwrap();
    let admin_audit = |args: &[&str]| {
        let mut all = vec!["admin", "audit", "--config", cfg, "--data-dir", d];
        all.extend_from_slice(args);
        triage(&all, None)
    };
    let out = admin_audit(&["--json", "--case", &case_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|e| e["action"] == "referral.submit"),
        "{lines:?}"
    );
    let out = admin_audit(&["--verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout_of(&out).contains("audit log intact"),
        "{}",
        stdout_of(&out)
    );
    drop(server);

    // Tampering with an entry (triggers dropped first) is found.
    let db = rusqlite::Connection::open(data.join("triage.sqlite")).unwrap();
    db.execute_batch(
        "DROP TRIGGER audit_no_update; UPDATE audit SET agency = 'someone-else' WHERE seq = 2;",
    )
    .unwrap();
    drop(db);
    let out = admin_audit(&["--verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken at entry 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn expired_revoked_and_rotated_out_tokens_are_refused() {
    let (server, data, config) = server_with("expiry", None, "");
    let short = create_token_with(
        &server,
        &json!({"agency": "fr-a", "role": "analyst", "expires_in": "2s"}),
    );
    let revoked = create_token(&server, "fr-a", "analyst");
    let old = create_token(&server, "de-b", "submitter");
    let get = |t: &str| get_json_as(&server, Some(t), "/v1/cases");
    assert_eq!(get(&short).0, 200);
    assert_eq!(get(&revoked).0, 200);
    assert_eq!(get(&old).0, 200);

    // Revoked from the command line while the server runs: refused at once.
    let out = triage(
        &[
            "admin",
            "token",
            "revoke",
            token_id(&revoked),
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, v) = get(&revoked);
    assert_eq!(
        (s, &v["error"]["kind"]),
        (401, &json!("unauthorized")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("revoked"),
        "{v}"
    );

    // Rotated over the API with a 2 s grace: both work now, only the new one afterwards.
    let (s, rot) = post_json_to(
        &server,
        &format!("/v1/admin/tokens/{}/rotate", token_id(&old)),
        Some(ADMIN_TOKEN),
        &json!({"grace": "2s"}),
    );
    assert_eq!(s, 201, "{rot}");
    let new = rot["token"].as_str().unwrap().to_string();
    assert_eq!(
        (&rot["agency"], &rot["role"]),
        (&json!("de-b"), &json!("submitter"))
    );
    assert_eq!(rot["rotated_from"], token_id(&old));
    assert_eq!(get(&new).0, 200);
    assert_eq!(get(&old).0, 200, "the old token works during the grace");

    std::thread::sleep(Duration::from_millis(2500));
    let (s, v) = get(&short);
    assert_eq!(s, 401, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("expired"),
        "{v}"
    );
    let (s, v) = get(&old);
    assert_eq!(s, 401, "the old token stops after the grace: {v}");
    assert_eq!(get(&new).0, 200);
    let m = metrics(&server);
    assert_eq!(
        metric_value(&m, "triage_auth_denials_total{reason=\"revoked\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "triage_auth_denials_total{reason=\"expired\"}"),
        Some(2.0),
        "{m}"
    );

    // The list shows states and never a secret.
    let (s, list) = get_json(&server, "/v1/admin/tokens");
    assert_eq!(s, 200, "{list}");
    let text = list.to_string();
    for t in [&short, &revoked, &old, &new] {
        assert!(
            !text.contains(t.rsplit('_').next().unwrap()),
            "a secret in the list: {text}"
        );
    }
    let state = |t: &str| {
        list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == token_id(t))
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state(&short), "expired");
    assert_eq!(state(&revoked), "revoked");
    assert_eq!(state(&new), "active");
    // Token administration is audited.
    let (_, a) = get_json(&server, "/v1/audit?action=token.rotate");
    assert_eq!(a["entries"][0]["detail"]["new_token_id"], token_id(&new));
    let (_, a) = get_json(&server, "/v1/audit?action=token.revoke");
    assert_eq!(a["entries"][0]["via"], "cli");

    // Bad requests name the field.
    let (s, v) = post_json_to(
        &server,
        "/v1/admin/tokens",
        Some(ADMIN_TOKEN),
        &json!({"agency": "nobody", "role": "analyst"}),
    );
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("agency:"),
        "{v}"
    );
    let (s, v) = post_json_to(
        &server,
        "/v1/admin/tokens",
        Some(ADMIN_TOKEN),
        &json!({"agency": "fr-a", "role": "root"}),
    );
    assert!(
        s == 422 && v["error"]["message"].as_str().unwrap().starts_with("role:"),
        "{v}"
    );
    let (s, _) = post_json_to(
        &server,
        "/v1/admin/tokens/000000000000/revoke",
        Some(ADMIN_TOKEN),
        &json!({}),
    );
    assert_eq!(s, 404);

    // The command line makes tokens the server accepts, and lists them without secrets.
    let cli_token = create_token_cli(&data, Some(&config), "ie-p", "partner");
    assert!(cli_token.starts_with("trg_"), "{cli_token}");
    assert_eq!(get(&cli_token).0, 200);
    let out = triage(
        &[
            "admin",
            "token",
            "list",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    let listed = stdout_of(&out);
    assert!(
        listed.contains(token_id(&cli_token)) && listed.contains("partner"),
        "{listed}"
    );
    assert!(!listed.contains(cli_token.rsplit('_').next().unwrap()));
    let out = triage(
        &[
            "admin",
            "token",
            "create",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--agency",
            "nobody",
            "--role",
            "analyst",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let (server, _data, _) = server_with(
        "ratelimit",
        None,
        "[limits]\nrequests_per_second = 0.5\nburst = 3\nfailed_auth_per_minute = 4\n",
    );
    // The admin's bucket pays for the creation; the new token has its own.
    let t = create_token(&server, "fr-a", "analyst");
    let mut statuses = vec![];
    let mut last = None;
    for _ in 0..4 {
        let resp = client()
            .get(server.url("/v1/cases"))
            .bearer_auth(&t)
            .send()
            .unwrap();
        statuses.push(resp.status().as_u16());
        last = Some(resp);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let resp = last.unwrap();
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let v: Value = resp.json().unwrap();
    assert_eq!(v["error"]["kind"], "rate_limited");
    assert_eq!(v["error"]["retry_after"], wait);
    // Another token is not held back by this one.
    assert_eq!(get_json(&server, "/v1/cases").0, 200);

    // Failed authentication from one address: after 4 failures, 429 for everything but the
    // probes, even with a good token.
    for _ in 0..4 {
        assert_eq!(
            get_json_as(&server, Some("trg_000000000000_nonsense"), "/v1/cases").0,
            401
        );
    }
    let resp = client()
        .get(server.url("/v1/cases"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(get_json_as(&server, None, "/healthz").0, 200);
}

#[test]
fn security_headers_on_every_response_cors_off_and_bodies_limited() {
    let (server, _data, _) = server_with("headers", None, "");
    let c = client();
    let check = |resp: &reqwest::blocking::Response, what: &str| {
        let h = resp.headers();
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            "{what}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{what}");
        assert!(h.contains_key("permissions-policy"), "{what}");
        assert!(
            !h.keys().any(|k| k.as_str().starts_with("access-control-")),
            "{what}: {h:?}"
        );
    };
    let evil = "https://evil.example";
    for (resp, what) in [
        (
            c.get(server.url("/healthz"))
                .header("origin", evil)
                .send()
                .unwrap(),
            "healthz",
        ),
        (
            c.get(server.url("/v1/cases"))
                .header("origin", evil)
                .send()
                .unwrap(),
            "401",
        ),
        (
            c.get(server.url("/v1/cases"))
                .header("origin", evil)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .unwrap(),
            "cases",
        ),
        (
            c.get(server.url("/nope"))
                .header("origin", evil)
                .send()
                .unwrap(),
            "404",
        ),
        (
            c.request(reqwest::Method::OPTIONS, server.url("/v1/referrals"))
                .header("origin", evil)
                .header("access-control-request-method", "POST")
                .send()
                .unwrap(),
            "preflight",
        ),
    ] {
        check(&resp, what);
    }
    let resp = c
        .get(server.url("/v1/cases"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");

    // Bodies declared over max_body_bytes are refused before any handler reads them, on
    // every route (raw HTTP: the answer comes before the body is sent).
    for path in [
        "/v1/referrals",
        "/v1/admin/tokens",
        "/v1/cases/c-x/retention",
        "/v1/lists/reload",
    ] {
        let head = raw_post_head(&server, path, 1024 * 1024 + 1);
        assert!(head.starts_with("http/1.1 413"), "{path}: {head}");
        assert!(head.contains("x-frame-options: deny"), "{path}: {head}");
    }
    // A chunked body (no length given) over the limit is cut off too.
    let big = format!(
        "{{\"url\": \"http://example.org/{}\"}}",
        "a".repeat(1024 * 1024)
    );
    let stream = std::io::Cursor::new(big.into_bytes());
    let resp = c
        .post(server.url("/v1/referrals"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(reqwest::blocking::Body::new(stream))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    drop(server);

    // With an allow-list, exactly the listed origin gets CORS headers.
    let (server, _data, _) = server_with(
        "cors",
        None,
        "cors_allowed_origins = [\"https://ui.example.org\"]\n",
    );
    let resp = c
        .get(server.url("/v1/cases"))
        .header("origin", "https://ui.example.org")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://ui.example.org"
    );
    let resp = c
        .request(reqwest::Method::OPTIONS, server.url("/v1/referrals"))
        .header("origin", "https://ui.example.org")
        .header("access-control-request-method", "POST")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert!(resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    let resp = c
        .get(server.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
}

#[test]
fn first_start_prints_an_admin_token_once() {
    let dir = tempdir("bootstrap");
    let data = dir.join("data");
    let mut server = start_server_without_admin_env(&data, &[]);
    let log = server.log_text();
    assert_eq!(log.matches("ADMIN TOKEN").count(), 1, "{log}");
    let token = log
        .lines()
        .find(|l| l.starts_with("trg_"))
        .unwrap_or_else(|| panic!("no token line: {log}"))
        .trim()
        .to_string();
    assert_eq!(log.matches(&token).count(), 1, "printed once: {log}");
    assert_eq!(get_json_as(&server, Some(&token), "/v1/cases").0, 200);
    assert_eq!(
        get_json_as(&server, Some(&token), "/v1/admin/tokens").0,
        200
    );
    assert!(server.terminate().success());

    // Second start: nothing printed; the first token still works.
    let server = start_server_without_admin_env(&data, &[]);
    let log = server.log_text();
    assert!(
        !log.contains("ADMIN TOKEN") && !log.contains(&token),
        "{log}"
    );
    assert!(!log.contains(&token[..20]));
    assert_eq!(get_json_as(&server, Some(&token), "/v1/cases").0, 200);
    drop(server);

    // A config still carrying tokens is refused with directions.
    let cfg = dir.join("old.toml");
    std::fs::write(
        &cfg,
        "default_agency = 'x'\n[[agencies]]\nid = 'x'\njurisdiction = 'FR'\ntoken = 'a-token-in-clear-0123456789'\n",
    )
    .unwrap();
    let out = triage(
        &[
            "serve",
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            dir.join("d2").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("triage admin token create"), "{err}");
}

/// Sends only the head of a POST declaring `len` body bytes; returns the response (lower case).
fn raw_post_head(server: &Proc, path: &str, len: usize) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).to_lowercase()
}
