//! The pages, rendered to HTML strings from the store's JSON (the same case JSON the API
//! returns). Pure functions: the handlers in `mod.rs` fetch, authorise and audit, these only
//! draw. Every value from a case is escaped; URLs of referred pages are shown as text, never
//! as links (an analyst should not open hostile content by a stray click).

use super::charts;
use super::dashboard::Figures;
use super::html::{self, esc, status_badge, time, url_enc, Span};
use serde_json::Value;
use std::fmt::Write;

/// What every page's header shows about who is signed in.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// `(agency, role, token id)` when signed in.
    pub who: Option<(String, String, String)>,
    pub csrf: String,
    pub may_submit: bool,
    pub may_view_cases: bool,
    pub may_dashboard: bool,
}

/// The page frame: header with navigation and sign-out, then `body`.
pub fn layout(chrome: &Chrome, title: &str, active: &str, body: &str) -> String {
    let mut nav = String::new();
    if chrome.who.is_some() {
        let mut link = |href: &str, key: &str, label: &str| {
            let class = if key == active {
                " class=\"active\""
            } else {
                ""
            };
            let _ = write!(nav, "<a href=\"{href}\"{class}>{label}</a>");
        };
        if chrome.may_view_cases || chrome.may_submit {
            link("/ui/", "home", "Submit &amp; queue");
        }
        if chrome.may_view_cases {
            link("/ui/cases", "cases", "Cases");
        }
        if chrome.may_dashboard {
            link("/ui/dashboard", "dashboard", "Dashboard");
        }
    }
    let who = match &chrome.who {
        Some((agency, role, token_id)) => format!(
            "<span class=\"who\" id=\"who\">{} · {} · token {}</span>\
             <form class=\"inline\" method=\"post\" action=\"/ui/logout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\" id=\"sign-out\">Sign out</button></form>",
            esc(agency),
            esc(role),
            esc(token_id),
            esc(&chrome.csrf)
        ),
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · triage</title><link rel=\"stylesheet\" href=\"/ui/static/app.css\">\
         <script src=\"/ui/static/app.js\" defer></script></head>\
         <body><header class=\"top\"><a class=\"brand\" href=\"/ui/\">triage</a><nav>{nav}</nav>{who}</header>\
         <main>{body}</main></body></html>\n",
        esc(title)
    )
}

/// How long an idle session lasts, for people ("12 hours", "90 minutes").
pub fn idle_text(minutes: u64) -> String {
    if minutes.is_multiple_of(60) {
        format!("{} hour(s)", minutes / 60)
    } else {
        format!("{minutes} minute(s)")
    }
}

pub fn login(form_token: &str, message: Option<&str>, idle_minutes: u64) -> String {
    let msg = message
        .map(|m| {
            format!(
                "<div class=\"flash err\" id=\"login-error\">{}</div>",
                esc(m)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<section class=\"card login\"><h1>Sign in</h1>{msg}\
         <form method=\"post\" action=\"/ui/login\" id=\"login-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"token\">API token of your agency</label>\
         <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\" required>\
         <button class=\"primary\" type=\"submit\" id=\"sign-in\">Sign in</button></form>\
         <p class=\"muted\">Tokens are issued by an administrator (<code>triage admin token create</code>). \
         The session ends after {} without use, on sign-out, or when the token is revoked or expires.</p></section>",
        esc(form_token),
        idle_text(idle_minutes)
    );
    layout(&Chrome::default(), "Sign in", "", &body)
}

pub fn error(chrome: &Chrome, status: u16, message: &str) -> String {
    let body = format!(
        "<h1>{status}</h1><div class=\"flash err\" id=\"error\">{}</div><p><a href=\"/ui/\">Back</a></p>",
        esc(message)
    );
    layout(chrome, "Error", "", &body)
}

/// What a submission produced, shown above the queue.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The accepted referrals (`{referral_id, case_id, status, already_referred?}` each).
    Accepted(Vec<Value>),
    Refused(String),
}

/// Rows of the queue table (no-JS rendering; app.js redraws the same columns).
fn queue_rows(cases: &[Value]) -> String {
    if cases.is_empty() {
        return "<tr><td colspan=\"8\" class=\"muted\">Nothing referred yet.</td></tr>".into();
    }
    let mut out = String::new();
    for c in cases {
        let id = c["case_id"].as_str().unwrap_or_default();
        let status = c["status"].as_str().unwrap_or_default();
        let _ = write!(
            out,
            "<tr data-case-id=\"{}\" data-status=\"{}\"><td><a class=\"case-link\" href=\"/ui/cases/{}\">{}</a></td>\
             <td class=\"url\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"time\">{}</td></tr>",
            esc(id),
            esc(status),
            url_enc(id),
            esc(id),
            esc(c["canonical_url"].as_str().unwrap_or_default()),
            status_badge(status),
            esc(c["language"].as_str().unwrap_or_default()),
            esc(&join(&c["categories"])),
            esc(&join(&c["jurisdictions"])),
            c["referrals"].as_i64().unwrap_or(0),
            esc(c["updated_at"].as_str().unwrap_or_default()),
        );
    }
    out
}

fn join(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Home: the submit form (if allowed), what the last submission did, and the live queue.
pub fn home(chrome: &Chrome, outcome: Option<&Outcome>, cases: &[Value], version: &str) -> String {
    let mut body = String::from("<h1>Submit &amp; live queue</h1>");
    match outcome {
        Some(Outcome::Accepted(items)) => {
            let _ = write!(
                body,
                "<div class=\"flash ok\" id=\"submit-result\"><strong>{} referral(s) accepted.</strong><ul>",
                items.len()
            );
            for a in items {
                let case = a["case_id"].as_str().unwrap_or_default();
                let _ = write!(
                    body,
                    "<li>referral <code>{}</code> → case <a href=\"/ui/cases/{}\">{}</a> ({})",
                    esc(a["referral_id"].as_str().unwrap_or_default()),
                    url_enc(case),
                    esc(case),
                    esc(a["status"].as_str().unwrap_or_default())
                );
                if let Some(p) = a.get("already_referred").filter(|p| !p.is_null()) {
                    let _ = write!(
                        body,
                        " — <strong>already referred</strong> by {} at {}",
                        esc(p["by"].as_str().unwrap_or_default()),
                        time(p["at"].as_str().unwrap_or_default())
                    );
                }
                body.push_str("</li>");
            }
            body.push_str("</ul></div>");
        }
        Some(Outcome::Refused(why)) => {
            let _ = write!(
                body,
                "<div class=\"flash err\" id=\"submit-result\"><strong>Nothing was submitted:</strong> {}</div>",
                esc(why)
            );
        }
        None => {}
    }
    if chrome.may_submit {
        let _ = write!(
            body,
            "<section class=\"card\"><form class=\"submit\" method=\"post\" action=\"/ui/submit\" id=\"submit-form\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <div class=\"row\"><label>One URL<input type=\"text\" name=\"url\" id=\"url\" placeholder=\"https://…\" autocomplete=\"off\"></label>\
             <label>External reference (optional)<input type=\"text\" name=\"external_ref\" id=\"external_ref\" maxlength=\"256\"></label></div>\
             <label>Or paste a batch, one URL per line (blank lines and lines starting with # are skipped)\
             <textarea name=\"batch\" id=\"batch\"></textarea></label>\
             <label>Note for the case (optional)<input type=\"text\" name=\"note\" id=\"note\" maxlength=\"4096\"></label>\
             <p><button class=\"primary\" type=\"submit\" id=\"submit\">Submit</button></p></form></section>",
            esc(&chrome.csrf)
        );
    }
    if chrome.may_view_cases {
        let _ = write!(
            body,
            "<h2>Live queue</h2><p class=\"muted\"><span id=\"queue-updated\">Updated when the page loaded.</span> \
             <a href=\"/ui/\" id=\"refresh\">Refresh</a></p>\
             <table id=\"queue\" data-src=\"/ui/queue.json\" data-version=\"{}\"><thead><tr><th>case</th><th>URL</th><th>status</th>\
             <th>language</th><th>categories</th><th>routed to</th><th>referrals</th><th>updated</th></tr></thead>\
             <tbody>{}</tbody></table>",
            esc(version),
            queue_rows(cases)
        );
    }
    layout(chrome, "Submit & queue", "home", &body)
}

/// The filters of the case list, as submitted (raw strings, echoed back escaped).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub status: Option<String>,
    pub language: Option<String>,
    pub jurisdiction: Option<String>,
    pub category: Option<String>,
    pub since: Option<String>,
    /// Last day (inclusive) of creation, `YYYY-MM-DD`.
    pub until: Option<String>,
}

impl Filters {
    /// The query string of these filters (for the next-page link).
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("status", &self.status),
            ("language", &self.language),
            ("jurisdiction", &self.jurisdiction),
            ("category", &self.category),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", url_enc(v)));
            }
        }
        parts.join("&")
    }
}

/// The choices offered by the filter form.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub languages: Vec<String>,
    pub jurisdictions: Vec<String>,
    pub categories: Vec<String>,
}

pub fn cases(
    chrome: &Chrome,
    f: &Filters,
    choices: &Choices,
    rows: &[Value],
    next_cursor: Option<&str>,
    problem: Option<&str>,
) -> String {
    let any = || vec![(String::new(), "any".to_string())];
    let opts = |list: &[String]| {
        let mut o = any();
        o.extend(list.iter().map(|x| (x.clone(), x.clone())));
        o
    };
    let mut statuses = any();
    statuses.extend(
        ["queued", "fetching", "classified", "routed", "failed"]
            .iter()
            .map(|s| (s.to_string(), s.to_string())),
    );
    let mut body = String::from("<h1>Cases</h1>");
    if let Some(p) = problem {
        let _ = write!(
            body,
            "<div class=\"flash err\" id=\"filter-error\">{}</div>",
            esc(p)
        );
    }
    let _ = write!(
        body,
        "<section class=\"card\"><form class=\"filters\" method=\"get\" action=\"/ui/cases\" id=\"filters\">\
         <label>Status{}</label><label>Language{}</label><label>Routed to{}</label><label>Category{}</label>\
         <label>Created from{}</label><label>to (inclusive){}</label><button class=\"primary\" type=\"submit\">Filter</button> <a href=\"/ui/cases\">Clear</a></form></section>",
        html::select("status", &statuses, f.status.as_deref()),
        html::select("language", &opts(&choices.languages), f.language.as_deref()),
        html::select("jurisdiction", &opts(&choices.jurisdictions), f.jurisdiction.as_deref()),
        html::select("category", &opts(&choices.categories), f.category.as_deref()),
        format_args!(
            "<input type=\"date\" name=\"since\" id=\"f-since\" value=\"{}\">",
            esc(f.since.as_deref().unwrap_or_default())
        ),
        format_args!(
            "<input type=\"date\" name=\"until\" id=\"f-until\" value=\"{}\">",
            esc(f.until.as_deref().unwrap_or_default())
        ),
    );
    body.push_str(
        "<table id=\"cases\"><thead><tr><th>case</th><th>title / URL</th><th>status</th><th>language</th>\
         <th>categories</th><th>routed to</th><th>first referred by</th><th>referrals</th><th>created</th></tr></thead><tbody>",
    );
    if rows.is_empty() {
        body.push_str("<tr><td colspan=\"9\" class=\"muted\">No case matches.</td></tr>");
    }
    for c in rows {
        let id = c["case_id"].as_str().unwrap_or_default();
        let title = c["title"].as_str().unwrap_or_default();
        let _ = write!(
            body,
            "<tr data-case-id=\"{}\"><td><a class=\"case-link\" href=\"/ui/cases/{}\">{}</a></td>\
             <td class=\"url\">{}<div class=\"muted\">{}</div></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"time\">{}</td></tr>",
            esc(id),
            url_enc(id),
            esc(id),
            esc(title),
            esc(c["canonical_url"].as_str().unwrap_or_default()),
            status_badge(c["status"].as_str().unwrap_or_default()),
            esc(c["language"].as_str().unwrap_or_default()),
            esc(&join(&c["categories"])),
            esc(&join(&c["jurisdictions"])),
            esc(c["first_agency"].as_str().unwrap_or_default()),
            c["referrals"].as_i64().unwrap_or(0),
            time(c["created_at"].as_str().unwrap_or_default()),
        );
    }
    body.push_str("</tbody></table>");
    if let Some(cur) = next_cursor {
        let q = f.query();
        let sep = if q.is_empty() { "" } else { "&" };
        let _ = write!(
            body,
            "<p class=\"pager\"><a id=\"older\" href=\"{}\">Older cases →</a></p>",
            esc(&format!("/ui/cases?{q}{sep}cursor={}", url_enc(cur)))
        );
    }
    layout(chrome, "Cases", "cases", &body)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_default()
}

/// Optional string field, escaped, or an em dash.
fn opt(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::Null => "—".into(),
        Value::String(x) => esc(x),
        other => esc(&other.to_string()),
    }
}

/// The spans of a classification's matches that point into the text.
pub fn spans(classification: &Value) -> Vec<Span> {
    classification["matches"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let sp = m["span"].as_array()?;
            Some(Span {
                start: sp.first()?.as_u64()? as usize,
                end: sp.get(1)?.as_u64()? as usize,
                label: format!("{}/{}", s(m, "list"), s(m, "entry")),
            })
        })
        .collect()
}

/// The case page. `may_download`: whether the WARC download links are shown.
pub fn case(chrome: &Chrome, c: &Value, may_download: bool) -> String {
    let id = s(c, "case_id");
    let cl = &c["classification"];
    let mut b = String::new();
    let title = c["title"].as_str().filter(|t| !t.trim().is_empty());
    let _ = write!(
        b,
        "<h1 id=\"case-title\">{}</h1><section class=\"card\"><dl class=\"facts\">\
         <dt>case</dt><dd><code id=\"case-id\">{}</code> {}</dd>\
         <dt>URL</dt><dd><code id=\"case-url\">{}</code></dd>\
         <dt>first referred</dt><dd>by {} at {} (referral <code>{}</code>)</dd>",
        esc(title.unwrap_or(s(c, "canonical_url"))),
        esc(id),
        status_badge(s(c, "status")),
        esc(s(c, "canonical_url")),
        esc(s(&c["first_referral"], "agency")),
        time(s(&c["first_referral"], "at")),
        esc(s(&c["first_referral"], "referral_id")),
    );
    if let Some(r) = c.get("reason").filter(|r| !r.is_null()) {
        let _ = write!(
            b,
            "<dt>reason</dt><dd id=\"case-reason\"><code>{}</code> {}</dd>",
            esc(s(r, "kind")),
            esc(s(r, "message"))
        );
    }
    // Language and shares.
    let lang = &cl["language"];
    let language = if lang.is_object() {
        format!(
            "<span id=\"language\">{}</span> (confidence {:.2}{}{})",
            esc(s(lang, "code")),
            lang["confidence"].as_f64().unwrap_or(0.0),
            if lang["script"].is_string() {
                ", script "
            } else {
                ""
            },
            esc(s(lang, "script"))
        )
    } else if cl.is_object() {
        "<span id=\"language\">not determined</span> (too little text)".into()
    } else {
        "<span id=\"language\">—</span> (not classified yet)".into()
    };
    let _ = write!(b, "<dt>language</dt><dd>{language}</dd>");
    if let Some(shares) = cl["languages"].as_array().filter(|a| !a.is_empty()) {
        b.push_str("<dt>shares</dt><dd class=\"shares\" id=\"shares\">");
        for sh in shares {
            let _ = write!(
                b,
                "<span class=\"badge\">{} {:.0}%</span>",
                esc(s(sh, "code")),
                sh["share"].as_f64().unwrap_or(0.0) * 100.0
            );
        }
        b.push_str("</dd>");
    }
    if let Some(cats) = cl["categories"].as_array().filter(|a| !a.is_empty()) {
        b.push_str("<dt>categories</dt><dd id=\"categories\">");
        for (i, cat) in cats.iter().enumerate() {
            let _ = write!(
                b,
                "{}<strong>{}</strong> {:.2} <span class=\"muted\">({})</span>",
                if i > 0 { "; " } else { "" },
                esc(s(cat, "id")),
                cat["score"].as_f64().unwrap_or(0.0),
                esc(&join(&cat["evidence"]))
            );
        }
        b.push_str("</dd>");
    }
    let juris = join(&c["jurisdictions"]);
    if !juris.is_empty() {
        let _ = write!(b, "<dt>routed to</dt><dd>{}</dd>", esc(&juris));
    }
    b.push_str("</dl></section>");

    // The extracted text with the matches marked.
    b.push_str("<h2>Extracted text</h2>");
    match c["text"].as_str() {
        Some(text) if !text.is_empty() => {
            let (marked, skipped) = html::highlight(text, &spans(cl));
            if skipped > 0 {
                let _ = write!(
                    b,
                    "<p class=\"muted\">{skipped} span(s) could not be shown: they do not fall on the text's characters.</p>"
                );
            }
            let _ = write!(
                b,
                "<div class=\"text\" id=\"text\" lang=\"{}\">{marked}</div>",
                esc(s(lang, "code"))
            );
        }
        _ => b.push_str("<p class=\"muted\" id=\"text\">No text was extracted (yet).</p>"),
    }

    // List entries with provenance.
    b.push_str("<h2>Matched list entries</h2>");
    match cl["matches"].as_array().filter(|a| !a.is_empty()) {
        None => b.push_str("<p class=\"muted\">No list entry matched.</p>"),
        Some(ms) => {
            b.push_str(
                "<table id=\"matches\"><thead><tr><th>list</th><th>entry</th><th>kind</th><th>term</th><th>matched text</th>\
                 <th>category</th><th>owner</th><th>trust</th><th>list version</th><th>span (bytes)</th><th>note</th></tr></thead><tbody>",
            );
            for m in ms {
                let span = m["span"]
                    .as_array()
                    .map(|a| {
                        format!(
                            "{}–{}",
                            a.first().unwrap_or(&Value::Null),
                            a.get(1).unwrap_or(&Value::Null)
                        )
                    })
                    .unwrap_or_else(|| "whole document".into());
                let mut note = String::new();
                if let Some(by) = m["suppressed_by"].as_str() {
                    let _ = write!(note, "suppressed by {}", esc(by));
                } else if let Some(why) = m["suppressed_reason"].as_str() {
                    let _ = write!(note, "suppressed: {}", esc(why));
                }
                if let Some(img) = m.get("image").filter(|i| i.is_object()) {
                    let _ = write!(note, "image <code>{}</code>", esc(s(img, "url")));
                    if let Some(d) = img["distance"].as_u64() {
                        let _ = write!(note, ", PDQ distance {d}");
                    }
                }
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{note}</td></tr>",
                    esc(s(m, "list")),
                    esc(s(m, "entry")),
                    esc(s(m, "kind")),
                    opt(m, "term"),
                    opt(m, "matched_text"),
                    esc(s(m, "category")),
                    esc(s(m, "source")),
                    esc(s(m, "trust")),
                    esc(s(m, "list_version")),
                    esc(&span),
                );
            }
            b.push_str("</tbody></table>");
        }
    }

    decision(&mut b, &c["decision"]);

    // Referrals and deconfliction.
    b.push_str("<h2>Referrals</h2>");
    if let Some(notes) = c["deconfliction"].as_array().filter(|a| !a.is_empty()) {
        b.push_str(
            "<div class=\"flash ok\" id=\"deconfliction\"><strong>Deconfliction</strong><ul>",
        );
        for n in notes {
            let _ = write!(
                b,
                "<li>{} at {}: {}</li>",
                esc(s(n, "agency")),
                time(s(n, "at")),
                n["note"]
                    .as_str()
                    .map(esc)
                    .unwrap_or_else(|| "referred the same content".into())
            );
        }
        b.push_str("</ul></div>");
    }
    b.push_str(
        "<table id=\"referrals\"><thead><tr><th>referral</th><th>agency</th><th>status</th><th>received</th>\
         <th>note</th><th>external ref</th></tr></thead><tbody>",
    );
    for r in c["referrals"].as_array().into_iter().flatten() {
        if r["redacted"] == true {
            let _ = write!(
                b,
                "<tr class=\"redacted\"><td class=\"muted\">another agency's referral</td><td>{}</td><td></td><td class=\"time\">{}</td><td class=\"muted\" colspan=\"2\">details withheld</td></tr>",
                esc(s(r, "agency")),
                time(s(r, "received_at")),
            );
            continue;
        }
        let _ = write!(
            b,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"time\">{}</td><td>{}</td><td>{}</td></tr>",
            opt(r, "referral_id"),
            esc(s(r, "agency")),
            r["status"].as_str().map(status_badge).unwrap_or_default(),
            time(r["received_at"].as_str().or(r["at"].as_str()).unwrap_or_default()),
            opt(r, "note"),
            opt(r, "external_ref"),
        );
    }
    b.push_str("</tbody></table>");

    evidence(&mut b, c, id, may_download);
    layout(chrome, title.unwrap_or(id), "cases", &b)
}

fn decision(b: &mut String, d: &Value) {
    b.push_str("<h2>Decision</h2>");
    if !d.is_object() {
        b.push_str("<p class=\"muted\" id=\"decision\">Not routed yet.</p>");
        return;
    }
    let _ = write!(
        b,
        "<p class=\"muted\" id=\"decision\">rules {} (legal data reviewed {})</p>",
        esc(s(d, "rules_version")),
        esc(s(d, "last_reviewed"))
    );
    b.push_str(
        "<table id=\"targets\"><thead><tr><th>path</th><th>jurisdiction</th><th>addressee</th><th>framework</th>\
         <th>categories</th><th>deadline</th><th>copy to</th><th>reasons and statutes</th></tr></thead><tbody>",
    );
    for t in d["targets"].as_array().into_iter().flatten() {
        let path = match t["kind"].as_str() {
            Some(k) => format!("{} ({})", s(t, "path"), k),
            None => s(t, "path").to_string(),
        };
        let mut reasons = String::from("<ul class=\"reasons\">");
        for r in t["reasons"].as_array().into_iter().flatten() {
            let _ = write!(reasons, "<li>{}</li>", esc(r.as_str().unwrap_or_default()));
        }
        reasons.push_str("</ul>");
        let _ = write!(
            b,
            "<tr><td><strong>{}</strong></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{reasons}</td></tr>",
            esc(&path),
            esc(s(t, "jurisdiction")),
            opt(t, "addressee"),
            opt(t, "framework"),
            esc(&join(&t["categories"])),
            opt(t, "deadline"),
            opt(t, "copy_to"),
        );
    }
    b.push_str("</tbody></table>");
    if let Some(dc) = d["dual_criminality"].as_array().filter(|a| !a.is_empty()) {
        b.push_str(
            "<h3>Dual criminality</h3><table id=\"dual-criminality\"><thead><tr><th>category</th><th>requested state</th>\
             <th>result</th><th>basis (statutes)</th></tr></thead><tbody>",
        );
        for x in dc {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(s(x, "category")),
                esc(s(x, "requested")),
                esc(s(x, "result")),
                esc(s(x, "basis"))
            );
        }
        b.push_str("</tbody></table>");
    }
    if let Some(rv) = d["review"].as_array().filter(|a| !a.is_empty()) {
        b.push_str("<h3>For human review</h3><ul id=\"review\">");
        for x in rv {
            let _ = write!(
                b,
                "<li><strong>{}</strong> {} <span class=\"muted\">— {}</span></li>",
                opt(x, "category"),
                esc(s(x, "decide")),
                esc(s(x, "reason"))
            );
        }
        b.push_str("</ul>");
    }
    let mut more = String::new();
    for x in d["dropped"].as_array().into_iter().flatten() {
        let _ = write!(
            more,
            "<li>dropped {}: {}</li>",
            esc(s(x, "category")),
            esc(s(x, "reason"))
        );
    }
    for x in d["notes"].as_array().into_iter().flatten() {
        let _ = write!(more, "<li>{}</li>", esc(x.as_str().unwrap_or_default()));
    }
    for x in d["clocks"].as_array().into_iter().flatten() {
        let _ = write!(
            more,
            "<li>clock {} ({}, {}): due {} — {}</li>",
            esc(s(x, "clock")),
            esc(s(x, "jurisdiction")),
            esc(s(x, "duration")),
            x["due_at"].as_str().map(time).unwrap_or_else(|| "—".into()),
            esc(s(x, "basis"))
        );
    }
    if !more.is_empty() {
        let _ = write!(b, "<h3>Notes and legal clocks</h3><ul>{more}</ul>");
    }
}

fn evidence(b: &mut String, c: &Value, id: &str, may_download: bool) {
    b.push_str("<h2>Evidence</h2>");
    let cap = &c["capture"];
    if cap.is_object() {
        let _ = write!(
            b,
            "<section class=\"card\"><dl class=\"facts\" id=\"capture\">\
             <dt>fetched</dt><dd>{} → HTTP {} {} at {}</dd>\
             <dt>content SHA-256</dt><dd><code>{}</code></dd><dt>content MD5</dt><dd><code>{}</code></dd>\
             <dt>size</dt><dd>{}</dd><dt>server address</dt><dd><code>{}</code></dd></dl></section>",
            esc(s(cap, "final_url")),
            opt(cap, "status"),
            esc(s(cap, "content_type")),
            time(s(cap, "fetched_at")),
            esc(s(cap, "sha256")),
            esc(s(cap, "md5")),
            html::bytes(cap["body_len"].as_u64().unwrap_or(0)),
            esc(s(cap, "remote_addr")),
        );
    }
    let p = &c["preservation"];
    let caps = p["captures"].as_array().cloned().unwrap_or_default();
    if caps.is_empty() {
        b.push_str("<p class=\"muted\">No preserved capture.</p>");
    } else {
        b.push_str(
            "<table id=\"evidence\"><thead><tr><th>capture</th><th>purpose</th><th>HTTP</th><th>WARC file SHA-256</th>\
             <th>size</th><th>custody entry</th><th>captured</th><th>kept until</th><th>file</th></tr></thead><tbody>",
        );
        for e in &caps {
            let capture_id = s(e, "capture_id");
            let file = if !e["purged_at"].is_null() {
                format!("purged {}", time(s(e, "purged_at")))
            } else if may_download {
                format!(
                    "<a class=\"download\" href=\"/ui/cases/{}/evidence/{}\" download>download WARC</a>",
                    url_enc(id),
                    url_enc(capture_id)
                )
            } else {
                "<span class=\"muted\">no download permission</span>".into()
            };
            let _ = write!(
                b,
                "<tr data-capture-id=\"{}\"><td><code>{}</code></td><td>{}{}</td><td>{}</td><td><code class=\"sha256\">{}</code></td>\
                 <td>{}</td><td>#{}</td><td class=\"time\">{}</td><td class=\"time\">{}</td><td>{file}</td></tr>",
                esc(capture_id),
                esc(capture_id),
                esc(s(e, "purpose")),
                e["truncated"].as_str().map(|t| format!(" (truncated: {})", esc(t))).unwrap_or_default(),
                opt(e, "status"),
                esc(s(e, "file_sha256")),
                html::bytes(e["file_bytes"].as_u64().unwrap_or(0)),
                e["custody_seq"].as_i64().unwrap_or(-1),
                time(s(e, "captured_at")),
                time(s(e, "retain_until")),
            );
        }
        b.push_str("</tbody></table>");
    }
    let mut facts = String::new();
    if let Some(r) = p["retain_until"].as_str() {
        let _ = write!(facts, "<dt>retention in force</dt><dd>until {}", time(r));
        if let Some(why) = p["extended_reason"].as_str() {
            let _ = write!(facts, " (extended: {})", esc(why));
        }
        facts.push_str("</dd>");
    }
    let l = &p["liveness"];
    if l.is_object() {
        let _ =
            write!(
            facts,
            "<dt>liveness</dt><dd>{} ({} host), {} check(s), last seen live {}, next check {}</dd>",
            esc(s(l, "state")),
            esc(s(l, "host_kind")),
            l["checks"].as_i64().unwrap_or(0),
            l["last_live_at"].as_str().map(time).unwrap_or_else(|| "—".into()),
            l["next_check_at"].as_str().map(time).unwrap_or_else(|| "—".into()),
        );
    }
    if let Some(o) = p["offline_at"].as_str() {
        let _ = write!(
            facts,
            "<dt>offline since</dt><dd>{} — {}</dd>",
            time(o),
            opt(p, "offline_reason")
        );
    }
    if !facts.is_empty() {
        let _ = write!(b, "<section class=\"card\"><dl class=\"facts\" id=\"preservation\">{facts}</dl></section>");
    }
}

pub fn dashboard(
    chrome: &Chrome,
    f: &Figures,
    days: u32,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> String {
    let mut b = format!(
        "<h1>Dashboard</h1><p class=\"muted\">Over the cases you may see, created in the last {days} day(s) \
         ({} to {}, UTC): <strong id=\"total-cases\">{}</strong> case(s), <strong id=\"total-referrals\">{}</strong> referral(s). \
         Window: <a href=\"/ui/dashboard?days=7\">7</a> · <a href=\"/ui/dashboard?days=30\">30</a> · <a href=\"/ui/dashboard?days=90\">90</a> days.</p>",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d"),
        f.cases,
        f.referrals
    );
    let _ = write!(
        b,
        "<section class=\"card\" id=\"chart-day\"><h2>Referrals per day</h2>{}</section><div class=\"grid2\">",
        charts::per_day("Referrals per day", &f.per_day, from, to)
    );
    for (id, title, items) in [
        ("chart-language", "Cases by language", &f.by_language),
        ("chart-path", "Cases by legal path", &f.by_path),
        (
            "chart-jurisdiction",
            "Cases by jurisdiction routed to",
            &f.by_jurisdiction,
        ),
        ("chart-category", "Cases by category", &f.by_category),
        ("chart-status", "Cases by status", &f.by_status),
    ] {
        let _ = write!(
            b,
            "<section class=\"card\" id=\"{id}\"><h2>{}</h2>{}</section>",
            esc(title),
            charts::bars(title, items)
        );
    }
    b.push_str("</div>");
    layout(chrome, "Dashboard", "dashboard", &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chrome() -> Chrome {
        Chrome {
            who: Some(("fr-pharos".into(), "analyst".into(), "0123456789ab".into())),
            csrf: "c5rf".into(),
            may_submit: true,
            may_view_cases: true,
            may_dashboard: true,
        }
    }

    fn hostile_case() -> Value {
        // Text: `<img src=x onerror=alert(1)> ИГИЛ "q"`; ИГИЛ is bytes 29..37.
        let text = "<img src=x onerror=alert(1)> ИГИЛ \"q\"";
        assert_eq!(&text[29..37], "ИГИЛ");
        json!({
            "case_id": "c-1",
            "canonical_url": "http://evil.example/<script>",
            "status": "routed",
            "title": "<script>alert('t')</script>",
            "text": text,
            "first_referral": {"agency": "fr-pharos", "at": "2025-01-01T00:00:00.000Z", "referral_id": "r-1"},
            "classification": {
                "language": {"code": "rus", "confidence": 0.9, "script": "Cyrillic"},
                "languages": [{"code": "rus", "share": 0.75}, {"code": "eng", "share": 0.25}],
                "matches": [{"list": "kw-demo", "entry": "kw-ru-02", "kind": "keyword", "term": "игил",
                             "category": "glorification_apology", "source": "fr-pharos", "span": [29, 37],
                             "matched_text": "ИГИЛ", "list_version": "2025-01.1", "trust": "high"}],
                "categories": [{"id": "glorification_apology", "score": 0.6, "evidence": ["kw-ru-02"]}]
            },
            "decision": {"rules_version": "legal-x", "targets": [{"path": "removal_order", "jurisdiction": "FR",
                "categories": ["glorification_apology"], "reasons": ["FR: Code pénal art. 421-2-5 <b>"]}],
                "dual_criminality": [{"category": "glorification_apology", "requested": "IE", "result": "pass", "basis": "IE statute"}],
                "review": []},
            "referrals": [{"referral_id": "r-1", "agency": "fr-pharos", "status": "routed", "received_at": "2025-01-01T00:00:00.000Z", "note": "<i>n</i>"}],
            "deconfliction": [{"agency": "de-bka", "at": "2025-01-02T00:00:00.000Z", "note": "already referred by fr-pharos"}],
            "jurisdictions": ["FR"],
            "preservation": {"captures": [{"capture_id": "cap-1", "purpose": "capture", "file_sha256": "ab12", "file_bytes": 10,
                "custody_seq": 1, "captured_at": "2025-01-01T00:00:00.000Z", "retain_until": "2025-07-01T00:00:00.000Z", "purged_at": null, "status": 200}],
                "retain_until": "2025-07-01T00:00:00.000Z", "liveness": null}
        })
    }

    #[test]
    fn the_case_page_escapes_hostile_text_and_marks_the_match() {
        let html = case(&chrome(), &hostile_case(), true);
        assert!(
            !html.contains("<img src=x"),
            "raw markup from the page leaked"
        );
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<i>n</i>") && !html.contains("421-2-5 <b>"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; <mark title=\"kw-demo/kw-ru-02\">ИГИЛ</mark> &quot;q&quot;"));
        assert!(html.contains("rus 75%") && html.contains("eng 25%"));
        assert!(html.contains("Code pénal art. 421-2-5 &lt;b&gt;"));
        assert!(html.contains("IE statute"));
        assert!(html.contains("already referred by fr-pharos"));
        assert!(html.contains("href=\"/ui/cases/c-1/evidence/cap-1\""));
        assert!(html.contains("<code class=\"sha256\">ab12</code>"));
        // No inline script or style anywhere (the CSP forbids them).
        assert!(
            !html.contains("style=")
                && !html.contains("onclick")
                && html.matches("<script").count() == 1
        );
    }

    #[test]
    fn idle_time_reads_naturally() {
        assert_eq!(idle_text(720), "12 hour(s)");
        assert_eq!(idle_text(90), "90 minute(s)");
        assert!(login("t", None, 720).contains("after 12 hour(s) without use"));
    }

    #[test]
    fn no_download_link_without_permission() {
        let html = case(&chrome(), &hostile_case(), false);
        assert!(!html.contains("/evidence/cap-1"));
        assert!(html.contains("no download permission"));
    }

    #[test]
    fn the_home_page_has_the_csrf_token_in_its_forms() {
        let html = home(&chrome(), None, &[], "v0");
        assert_eq!(
            html.matches("name=\"csrf\" value=\"c5rf\"").count(),
            2,
            "submit and sign-out forms"
        );
        let mut c = chrome();
        c.may_submit = false;
        assert!(!home(&c, None, &[], "v0").contains("submit-form"));
    }

    #[test]
    fn filters_round_trip_into_the_next_page_link() {
        let f = Filters {
            status: Some("routed".into()),
            language: Some("r&u".into()),
            ..Default::default()
        };
        let html = cases(
            &chrome(),
            &f,
            &Choices::default(),
            &[],
            Some("2025|c-1"),
            None,
        );
        assert!(
            html.contains(
                "href=\"/ui/cases?status=routed&amp;language=r%26u&amp;cursor=2025%7Cc-1\""
            ),
            "{html}"
        );
    }
}
