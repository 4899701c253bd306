//! The analysts' web page over HTTP: sign-in, CSRF, sessions, scopes, escaping of hostile page
//! text, the `<mark>` of a match, and the WARC download's digest. The real binary on port 0,
//! a loopback origin serving a hostile page, cookies handled by hand (no redirects followed).

mod common;

use common::*;
use reqwest::blocking::{Client, Response};
use reqwest::header;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// A page whose title and text carry markup and script, plus a keyword of the fixture lists
/// (kw-demo/kw-ru-02, ИГИЛ) so that a span is marked. Served as bytes, not from fixtures/pages
/// (those are the language corpus).
const HOSTILE: &str = "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\">\
<title>&lt;script&gt;alert('title')&lt;/script&gt; Новости</title></head><body><main>\
<h1>Сводка &lt;img src=x onerror=alert(1)&gt; за неделю</h1>\
<p>Сотрудники полиции сообщили о задержании сторонника ИГИЛ &lt;/mark&gt;&lt;script&gt;alert(2)&lt;/script&gt; \
в Зареченской области. По данным следствия, мужчина распространял материалы в закрытых чатах \
и публиковал чужие видеозаписи. Возбуждено уголовное дело, суд избрал меру пресечения.</p>\
<p>\"Кавычки\" и 'апострофы' &amp; амперсанды остаются текстом.</p></main></body></html>";

/// Two agencies: the admin's demo-unit (FR) and de-bka (DE).
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let f = dir.join("triage.toml");
    std::fs::write(
        &f,
        "default_agency = \"demo-unit\"\n\
         [[agencies]]\nid = \"demo-unit\"\njurisdiction = \"FR\"\n\
         [[agencies]]\nid = \"de-bka\"\njurisdiction = \"DE\"\n",
    )
    .unwrap();
    f
}

fn http() -> Client {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The value a response sets for cookie `name` (`Some("")` when it clears it).
fn set_cookie(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            let (k, val) = first.split_once('=')?;
            (k.trim() == name).then(|| val.trim().to_string())
        })
}

fn location(resp: &Response) -> String {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The value of the first `name="csrf" value="…"` in a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// A signed-in browser, as far as HTTP goes.
struct Session<'a> {
    server: &'a Proc,
    cookie: String,
}

impl<'a> Session<'a> {
    fn get(&self, path: &str) -> Response {
        http()
            .get(self.server.url(path))
            .header(header::COOKIE, format!("triage_session={}", self.cookie))
            .send()
            .unwrap()
    }
    fn page(&self, path: &str) -> (u16, String) {
        let r = self.get(path);
        let s = r.status().as_u16();
        (s, r.text().unwrap())
    }
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        http()
            .post(self.server.url(path))
            .header(header::COOKIE, format!("triage_session={}", self.cookie))
            .form(form)
            .send()
            .unwrap()
    }
    fn csrf(&self) -> String {
        let (s, html) = self.page("/ui/");
        assert_eq!(s, 200, "{html}");
        csrf_of(&html)
    }
}

/// GET the sign-in form: its pre-session cookie and CSRF token.
fn login_form(server: &Proc) -> (String, String) {
    let r = http().get(server.url("/ui/login")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let pre = set_cookie(&r, "triage_login").expect("pre-session cookie");
    let html = r.text().unwrap();
    (pre, csrf_of(&html))
}

fn post_login(server: &Proc, cookie: Option<&str>, csrf: &str, token: &str) -> Response {
    let mut req = http()
        .post(server.url("/ui/login"))
        .form(&[("csrf", csrf), ("token", token)]);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("triage_login={c}"));
    }
    req.send().unwrap()
}

fn sign_in<'a>(server: &'a Proc, token: &str) -> Session<'a> {
    let (pre, csrf) = login_form(server);
    let r = post_login(server, Some(&pre), &csrf, token);
    assert_eq!(
        r.status().as_u16(),
        303,
        "sign-in refused: {}",
        r.text().unwrap_or_default()
    );
    assert_eq!(location(&r), "/ui/");
    let cookie = set_cookie(&r, "triage_session").expect("session cookie");
    Session { server, cookie }
}

/// Polls the queue JSON until `case_id` is routed or failed.
fn wait_case(s: &Session, case_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = s.get("/ui/queue.json");
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().unwrap();
        if let Some(c) = v["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["case_id"] == case_id)
        {
            if c["status"] == "routed" || c["status"] == "failed" {
                return c.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "case {case_id} not final: {v}\n{}",
            s.server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct World {
    server: Proc,
    page_url: String,
    data: std::path::PathBuf,
}

fn world(name: &str) -> World {
    let origin = loopback_origin(|_| html_response(HOSTILE));
    let dir = tempdir(name);
    let cfg = config(&dir);
    let server = start_server(
        &dir.join("db"),
        &[&origin],
        &["--config", cfg.to_str().unwrap()],
    );
    World {
        page_url: format!("http://{origin}/news/1"),
        server,
        data: dir,
    }
}

#[test]
fn pages_need_a_session_and_browsers_are_sent_to_the_page() {
    let w = world("web-nosession");
    let s = &w.server;
    for path in [
        "/ui/",
        "/ui/cases",
        "/ui/dashboard",
        "/ui/cases/c-x",
        "/ui/cases/c-x/evidence/y",
    ] {
        let r = http().get(s.url(path)).send().unwrap();
        assert_eq!(r.status().as_u16(), 303, "{path}");
        assert!(
            location(&r).starts_with("/ui/login"),
            "{path}: {}",
            location(&r)
        );
    }
    // A made-up session cookie is no session.
    let r = http()
        .get(s.url("/ui/cases"))
        .header(
            header::COOKIE,
            format!("triage_session={}", "ab".repeat(32)),
        )
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let r = http().get(s.url("/ui/queue.json")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Posting without a session changes nothing and leads to the sign-in page.
    let r = http()
        .post(s.url("/ui/submit"))
        .form(&[("url", "http://example.org/")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    // GET / : a browser goes to the page, an API client gets the JSON index.
    let r = http()
        .get(s.url("/"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .unwrap();
    assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/ui/"));
    let r = http().get(s.url("/")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401, "the index needs a token too");
    let r = http()
        .get(s.url("/"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().unwrap()["service"], "triage");
    // The sign-in page and the assets carry the CSP and need no session.
    let r = http().get(s.url("/ui/login")).send().unwrap();
    let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = r.text().unwrap();
    assert!(
        !html.contains("style=") && !html.contains("<script>"),
        "inline script or style: {html}"
    );
    for (path, ty) in [
        ("/ui/static/app.js", "text/javascript"),
        ("/ui/static/app.css", "text/css"),
    ] {
        let r = http().get(s.url(path)).send().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with(ty));
    }
}

#[test]
fn sign_in_refuses_bad_tokens_and_forms_without_csrf() {
    let w = world("web-signin");
    let s = &w.server;
    let token = create_token(s, "demo-unit", "analyst");
    // A wrong token: 401 (counted against the address), no session.
    let (pre, csrf) = login_form(s);
    let r = post_login(s, Some(&pre), &csrf, "trg_000000000000_not-a-real-secret");
    assert_eq!(r.status().as_u16(), 401);
    assert!(set_cookie(&r, "triage_session").is_none());
    assert!(r.text().unwrap().contains("not accepted"));
    // The right token without the form's CSRF pair: refused, no session.
    let r = post_login(s, None, &csrf, &token);
    assert_eq!(r.status().as_u16(), 403);
    assert!(set_cookie(&r, "triage_session").is_none());
    let r = post_login(s, Some(&pre), "0".repeat(64).as_str(), &token);
    assert_eq!(r.status().as_u16(), 403);
    // With both: a session, HttpOnly and SameSite=Strict, limited to /ui.
    let (pre, csrf) = login_form(s);
    let r = post_login(s, Some(&pre), &csrf, &token);
    assert_eq!(r.status().as_u16(), 303);
    let raw = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("triage_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(raw.contains(attr), "{raw}");
    }
    let session = Session {
        server: s,
        cookie: set_cookie(&r, "triage_session").unwrap(),
    };
    let (status, html) = session.page("/ui/");
    assert_eq!(status, 200);
    assert!(
        html.contains("demo-unit") && html.contains("analyst"),
        "{html}"
    );

    // A POST without the session's CSRF token is refused and submits nothing.
    let r = session.post("/ui/submit", &[("url", w.page_url.as_str())]);
    assert_eq!(r.status().as_u16(), 403);
    let r = session.post("/ui/submit", &[("url", w.page_url.as_str()), ("csrf", "x")]);
    assert_eq!(r.status().as_u16(), 403);
    let (_, cases) = get_json(s, "/v1/cases");
    assert_eq!(cases["cases"].as_array().unwrap().len(), 0, "{cases}");
    let r = session.post("/ui/logout", &[]);
    assert_eq!(
        r.status().as_u16(),
        403,
        "sign-out needs the CSRF token too"
    );

    // Sign out: the cookie stops working.
    let csrf = session.csrf();
    let r = session.post("/ui/logout", &[("csrf", csrf.as_str())]);
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(set_cookie(&r, "triage_session").as_deref(), Some(""));
    let r = session.get("/ui/");
    assert_eq!(r.status().as_u16(), 303);

    // A revoked token ends its sessions at the next request.
    let session = sign_in(s, &token);
    assert_eq!(session.get("/ui/").status().as_u16(), 200);
    let id = token.split('_').nth(1).unwrap();
    let (st, v) = post_json_to(
        s,
        &format!("/v1/admin/tokens/{id}/revoke"),
        Some(ADMIN_TOKEN),
        &json!({}),
    );
    assert_eq!(st, 200, "{v}");
    let r = session.get("/ui/cases");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(location(&r), "/ui/login?m=token_refused");
    assert_eq!(session.get("/ui/queue.json").status().as_u16(), 401);
    let (pre, csrf) = login_form(s);
    assert_eq!(
        post_login(s, Some(&pre), &csrf, &token).status().as_u16(),
        401
    );
}

#[test]
fn case_page_escapes_hostile_text_marks_matches_and_stays_in_scope() {
    let w = world("web-case");
    let s = &w.server;
    let fr = sign_in(s, &create_token(s, "demo-unit", "analyst"));
    let csrf = fr.csrf();
    // One URL through the form (the same core as the API).
    let r = fr.post(
        "/ui/submit",
        &[
            ("csrf", csrf.as_str()),
            ("url", w.page_url.as_str()),
            ("note", "<b>from the web</b>"),
        ],
    );
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().unwrap();
    assert!(html.contains("1 referral(s) accepted"), "{html}");
    let at = html.find("href=\"/ui/cases/c-").unwrap() + 16;
    let case_id = html[at..].split('"').next().unwrap().to_string();
    let row = wait_case(&fr, &case_id);
    assert_eq!(row["status"], "routed", "{row}");
    // Counted under the channel it came through.
    let m = metrics(s);
    assert_eq!(
        metric_value(&m, "triage_referrals_received_total{source=\"web\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&m, "triage_referrals_received_total{source=\"api\"}"),
        None
    );

    let (status, page) = fr.page(&format!("/ui/cases/{case_id}"));
    assert_eq!(status, 200, "{page}");
    // Hostile text stays text: nothing from the page becomes markup.
    for raw in [
        "<script>alert",
        "<img src=x",
        "</mark><script>",
        "<b>from the web</b>",
    ] {
        assert!(!page.contains(raw), "{raw:?} reached the page unescaped");
    }
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(page.contains("&lt;/mark&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
    assert!(page.contains("&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;"));
    assert!(
        page.contains("&lt;b&gt;from the web&lt;/b&gt;"),
        "the note is shown, escaped"
    );
    // The keyword is marked, naming its list entries (two lists carry it).
    assert!(page.contains(">ИГИЛ</mark>"), "{page}");
    let mark = &page[page.find("<mark").unwrap()..];
    assert!(
        mark.starts_with("<mark title=\"kw-demo/kw-ru-02"),
        "{}",
        &mark[..80]
    );
    // Language, list provenance, decision with statutes, evidence digest.
    assert!(page.contains("<span id=\"language\">rus</span>"));
    for needle in [
        "kw-demo",
        "kw-partner",
        "fr-pharos",
        "list version",
        "reasons and statutes",
        "Code pénal",
        "WARC file SHA-256",
    ] {
        assert!(page.contains(needle), "{needle:?} missing");
    }
    assert_eq!(page.matches("<script").count(), 1, "only the app.js tag");
    assert!(!page.contains("style="));

    // The WARC download: the bytes whose SHA-256 the page shows.
    let open = "<code class=\"sha256\">";
    let at = page.find(open).unwrap() + open.len();
    let shown = page[at..].split('<').next().unwrap().to_string();
    assert_eq!(shown.len(), 64);
    let at = page.find("/evidence/").unwrap();
    let start = page[..at].rfind('"').unwrap() + 1;
    let href = page[start..].split('"').next().unwrap().to_string();
    let r = fr.get(&href);
    assert_eq!(r.status().as_u16(), 200, "{href}");
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/warc");
    assert!(r.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    let bytes = r.bytes().unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), shown);
    assert!(bytes.len() > 100);

    // A WARC file that no longer matches its recorded digest is not handed out.
    let (_, api_case) = get_json(s, &format!("/v1/cases/{case_id}"));
    let file = api_case["preservation"]["captures"][0]["file"]
        .as_str()
        .unwrap()
        .to_string();
    let on_disk = w.data.join("db").join("evidence").join(&file);
    let mut tampered = std::fs::read(&on_disk).unwrap();
    tampered.push(b'!');
    std::fs::write(&on_disk, &tampered).unwrap();
    let r = fr.get(&href);
    assert_eq!(r.status().as_u16(), 500);
    let body = r.text().unwrap();
    assert!(
        body.contains("does not match its recorded SHA-256"),
        "{body}"
    );

    // Both the view and the download are in the audit log, via the web.
    let (_, audit) = get_json(s, &format!("/v1/audit?case_id={case_id}"));
    let entries = audit["entries"].as_array().unwrap();
    for action in ["case.view", "evidence.download", "referral.submit"] {
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == action && e["via"] == "web"),
            "{action} via web not audited: {audit}"
        );
    }

    // The case list and dashboard show it to its agency.
    let (_, list) = fr.page("/ui/cases?status=routed&language=rus");
    assert!(list.contains(&case_id));
    // A list is audited with the cases it showed (as the API's `case.list`), not just a count:
    // the case list with its filters, and the live queue.
    let (_, audit) = get_json(s, "/v1/audit?action=case.list&limit=1000");
    for (page, filters) in [
        ("cases", json!("status=routed&language=rus")),
        ("queue", Value::Null),
    ] {
        assert!(
            audit["entries"].as_array().unwrap().iter().any(|e| {
                e["via"] == "web"
                    && e["detail"]["page"] == page
                    && e["detail"]["filters"] == filters
                    && e["detail"]["case_ids"] == json!([case_id])
            }),
            "the {page} page's audit entry does not name the case it showed: {audit}"
        );
    }
    let (_, list) = fr.page("/ui/cases?status=failed");
    assert!(!list.contains(&case_id));
    // The range filter, around the day the case was created (not "today": midnight may pass).
    let (_, created) = get_json(s, &format!("/v1/cases/{case_id}"));
    let today = chrono::NaiveDate::parse_from_str(
        &created["created_at"].as_str().unwrap()[..10],
        "%Y-%m-%d",
    )
    .unwrap();
    let yesterday = today.pred_opt().unwrap();
    let (_, list) = fr.page(&format!("/ui/cases?since={yesterday}&until={today}"));
    assert!(
        list.contains(&case_id),
        "created on the last day of the range"
    );
    let (_, list) = fr.page(&format!("/ui/cases?until={yesterday}"));
    assert!(!list.contains(&case_id), "created the day after the range");
    let (_, list) = fr.page("/ui/cases?category=no_such_thing");
    assert!(list.contains("Filter not applied"), "a bad filter is named");
    let (st, dash) = fr.page("/ui/dashboard");
    assert_eq!(st, 200);
    assert!(
        dash.contains("<strong id=\"total-cases\">1</strong>"),
        "{dash}"
    );
    assert!(dash.contains("<svg") && dash.contains("rus: 1"));

    // Another agency's analyst: the case does not exist for it, on every page.
    let de = sign_in(s, &create_token(s, "de-bka", "analyst"));
    let (st_missing, missing) = de.page("/ui/cases/c-00000000000000000000000000000000");
    let (st_other, other) = de.page(&format!("/ui/cases/{case_id}"));
    assert_eq!((st_other, st_missing), (404, 404));
    assert!(!other.contains("ИГИЛ") && !other.contains(&w.page_url));
    let strip = |p: &str| {
        p.replace(&case_id, "")
            .replace("c-00000000000000000000000000000000", "")
    };
    assert_eq!(
        strip(&other),
        strip(&missing),
        "a hidden case reads like a missing one"
    );
    assert_eq!(de.get(&href).status().as_u16(), 404);
    let (_, list) = de.page("/ui/cases");
    assert!(!list.contains(&case_id));
    let q: Value = de.get("/ui/queue.json").json().unwrap();
    assert_eq!(q["cases"].as_array().unwrap().len(), 0, "{q}");
    let (_, dash) = de.page("/ui/dashboard");
    assert!(dash.contains("<strong id=\"total-cases\">0</strong>"));

    // Once de-bka refers the same content it sees the case, warned that it was referred
    // already, with demo-unit's referral cut down to agency and time.
    let csrf = de.csrf();
    let r = de.post(
        "/ui/submit",
        &[("csrf", csrf.as_str()), ("url", w.page_url.as_str())],
    );
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().unwrap();
    assert!(
        html.contains(&case_id) && html.contains("already referred</strong> by demo-unit"),
        "{html}"
    );
    let (st, page) = de.page(&format!("/ui/cases/{case_id}"));
    assert_eq!(st, 200);
    assert!(page.contains("another agency's referral") && page.contains("details withheld"));
    assert!(
        !page.contains("from the web"),
        "demo-unit's note leaked to de-bka"
    );
    assert!(page.contains("id=\"deconfliction\""));

    // A submitter sees its own referrals but no dashboard and no evidence download.
    let sub = sign_in(s, &create_token(s, "demo-unit", "submitter"));
    assert_eq!(sub.get("/ui/dashboard").status().as_u16(), 403);
    assert_eq!(sub.get(&href).status().as_u16(), 403);
    // An operator has no page at all.
    let op = sign_in(s, &create_token(s, "demo-unit", "operator"));
    assert_eq!(op.get("/ui/").status().as_u16(), 403);
    assert_eq!(op.get("/ui/cases").status().as_u16(), 403);
}

#[test]
fn a_pasted_batch_is_all_or_nothing_and_names_the_bad_line() {
    let w = world("web-batch");
    let s = &w.server;
    let fr = sign_in(s, &create_token(s, "demo-unit", "analyst"));
    let csrf = fr.csrf();
    let bad = format!("{}\n\n# comment\nftp://files.example/x\n", w.page_url);
    let r = fr.post(
        "/ui/submit",
        &[("csrf", csrf.as_str()), ("batch", bad.as_str())],
    );
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().unwrap();
    assert!(
        html.contains("Nothing was submitted") && html.contains("URL 2 (ftp://files.example/x)"),
        "{html}"
    );
    let (_, cases) = get_json(s, "/v1/cases");
    assert_eq!(cases["cases"].as_array().unwrap().len(), 0);
    let good = format!("{}\n{}?page=2\n", w.page_url, w.page_url);
    let r = fr.post(
        "/ui/submit",
        &[("csrf", csrf.as_str()), ("batch", good.as_str())],
    );
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().unwrap().contains("2 referral(s) accepted"));
}

/// `[web] secure_cookies = true` (behind a TLS-terminating proxy) marks the session cookie
/// `Secure`; the default leaves it off, since `triage serve` itself speaks plain HTTP.
#[test]
fn web_settings_come_from_the_config() {
    let session_cookie_of = |name: &str, extra: &str| -> String {
        let dir = tempdir(name);
        let cfg = config(&dir);
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str(extra);
        std::fs::write(&cfg, text).unwrap();
        let server = start_server(&dir.join("db"), &[], &["--config", cfg.to_str().unwrap()]);
        let (pre, csrf) = login_form(&server);
        let r = post_login(&server, Some(&pre), &csrf, ADMIN_TOKEN);
        assert_eq!(r.status().as_u16(), 303);
        r.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("triage_session="))
            .expect("session cookie")
            .to_string()
    };
    let plain = session_cookie_of("web-cookie-plain", "");
    assert!(
        plain.contains("HttpOnly") && plain.contains("SameSite=Strict"),
        "{plain}"
    );
    assert!(!plain.contains("Secure"), "{plain}");
    let secure = session_cookie_of(
        "web-cookie-secure",
        "[web]\nsecure_cookies = true\nsession_idle_minutes = 30\n",
    );
    assert!(secure.contains("; Secure"), "{secure}");
}
