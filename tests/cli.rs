//! The command line of CONTRACTS.md: JSON shapes and exit codes.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn classify_jsonl_streams_one_line_per_input_line_in_order() {
    let input = concat!(
        "{\"id\": 1, \"text\": \"Суд арестовал троих участников ИГИЛ по делу о вербовке молодёжи в Казани.\"}\n",
        "not json\n",
        "{\"id\": \"three\", \"html\": \"<html><body><p>Police said the suspects had links to the Islamic State group.</p></body></html>\"}\n",
        "{\"id\": 4}\n",
    );
    let out = triage(&["classify", "--jsonl"], Some(input));
    assert_eq!(out.status.code(), Some(1), "two bad lines make exit 1");
    let lines: Vec<Value> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[0]["language"]["code"], "rus");
    assert!(
        !lines[0]["matches"].as_array().unwrap().is_empty(),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["error"]["kind"], "invalid_input");
    assert!(lines[1]["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("line 2"));
    assert_eq!(lines[2]["id"], "three");
    assert_eq!(lines[2]["language"]["code"], "eng");
    assert!(lines[3]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("text"));
}

#[test]
fn classify_a_fixture_page() {
    let out = triage(&["classify", "fixtures/pages/zh-news.html"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(v["language"]["code"], "cmn");
    assert!(!v["matches"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn route_the_worked_example() {
    // ES refers; platform established in DE, offers EU services; recruitment.
    let case = r#"{"case_id": "w1", "referring": {"jurisdiction": "ES", "agency": "es-citco"},
        "categories": ["recruitment_solicitation"], "host": {"self_hosted": false,
        "platform": {"id": "p", "main_establishment": "DE", "offers_services_in_eu": true,
                     "policy_covers": ["recruitment_solicitation"]}}}"#;
    let out = triage(&["route"], Some(case));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    let t = &d["targets"][0];
    assert_eq!(t["path"], "removal_order", "{d}");
    assert_eq!(t["jurisdiction"], "ES");
    assert_eq!(t["copy_to"], "DE");
    assert_eq!(t["deadline"], "PT1H");
    assert_eq!(d["dual_criminality"][0]["result"], "not_required");

    let out = triage(
        &["route", "--jsonl"],
        Some(&format!(
            "{}\n{{\"case_id\": 5}}\n",
            case.replace('\n', " ")
        )),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains("invalid_case"));
}

#[test]
fn fetch_prints_the_capture_and_refusals_exit_3() {
    let origin = start_origin();
    let url = origin.url("/ru-cp1251.html");
    let out = triage(&["fetch", "--allow-private", &origin.addr, &url], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["md5"].as_str().unwrap().len(), 32);
    assert_eq!(
        v["charset"].as_str().unwrap().to_ascii_lowercase(),
        "windows-1251"
    );
    assert_eq!(v["language"], "rus");
    assert!(!v["hops"].as_array().unwrap().is_empty());

    // The same origin without --allow-private: refused by policy.
    let out = triage(&["--json", "fetch", &url], None);
    assert_eq!(out.status.code(), Some(3));
    let e: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert!(
        matches!(
            e["error"]["kind"].as_str(),
            Some("blocked_address") | Some("port")
        ),
        "{e}"
    );
    let out = triage(&["--json", "fetch", "ftp://example.test/x"], None);
    assert_eq!(out.status.code(), Some(3));
    let e: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(e["error"]["kind"], "scheme");
    let out = triage(&["fetch", "http://user:pw@example.test/"], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("triage: "));
    // An over-long URL is input rejected with the same kind the API gives it.
    let long = format!("http://example.test/{}", "a".repeat(10_000));
    let out = triage(&["--json", "fetch", &long], None);
    assert_eq!(out.status.code(), Some(1));
    let e: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(e["error"]["kind"], "too_long", "{e}");
}

#[test]
fn lists_and_data_checks() {
    let out = triage(&["lists", "check", "fixtures/lists"], None);
    assert!(
        out.status.success(),
        "{}{}",
        stdout_of(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout_of(&out).contains("no problems"));
    let out = triage(&["data", "check", "fixtures/legal"], None);
    assert!(
        out.status.success(),
        "{}{}",
        stdout_of(&out),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempdir("cli-lists");
    let list = dir.join("rx");
    std::fs::create_dir_all(&list).unwrap();
    std::fs::write(list.join("list.toml"), "id='rx'\nname='R'\nkind='regex'\nowner='x'\ntrust='low'\nversion='1'\ndefault_category='extremism'\n").unwrap();
    std::fs::write(
        list.join("entries.jsonl"),
        "{\"id\":\"a\",\"pattern\":\"ok\"}\n{\"id\":\"b\",\"pattern\":\"(unclosed\"}\n",
    )
    .unwrap();
    let out = triage(&["lists", "check", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout_of(&out).contains("rx/entries.jsonl:2"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn check_config_validates_without_network() {
    let out = triage(&["check-config"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempdir("cli-config");
    let f = dir.join("c.toml");
    std::fs::write(&f, "[[agencies]]\nid = \"x\"\njurisdiction = \"Narnia\"\n").unwrap();
    let out = triage(
        &["--json", "check-config", "--config", f.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let e: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("Narnia"),
        "{e}"
    );
    let out = triage(&["no-such-command"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn submit_posts_urls_and_prints_referral_ids() {
    let origin = start_origin();
    let data = tempdir("cli-submit");
    let server = start_server(&data, &[&origin.addr], &[]);
    let urls = format!(
        "# demo\n{}\n\n{}\n",
        origin.url("/en-news.html"),
        origin.url("/en-weather.html")
    );
    // Without a token the server refuses, and the command says so.
    let out = triage(&["submit", "--server", &server.url("")], Some(&urls));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401")
            || String::from_utf8_lossy(&out.stderr).contains("token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = triage(
        &[
            "submit",
            "--server",
            &server.url(""),
            "--token",
            ADMIN_TOKEN,
        ],
        Some(&urls),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = stdout_of(&out).lines().map(str::to_string).collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        assert!(id.starts_with("r-"));
        assert_eq!(
            wait_final(&server, id, std::time::Duration::from_secs(60))["status"],
            "routed"
        );
    }
    let out = triage(
        &[
            "submit",
            "--server",
            &server.url(""),
            "--token",
            ADMIN_TOKEN,
        ],
        Some("ftp://example.test/\n"),
    );
    assert_eq!(out.status.code(), Some(1));
}
