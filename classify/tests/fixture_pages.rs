//! The synthetic fixture pages (`fixtures/pages`, `fixtures/pages/MANIFEST.json`) against the
//! fixture lists (`fixtures/lists`): every page yields exactly the entries, suppressions and
//! language the manifest expects.
//!
//! The page text comes from a crude tag strip, not from `ingest` (classify must not depend on
//! it): comments and tags removed, block ends turned into line breaks, a handful of entities
//! decoded. Enough for these hand-written pages, not for the web.

use classify::{Classifier, Document};
use md5::Md5;
use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::lists::ListSet;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Decodes the page as its manifest entry says (utf-8 or windows-1251).
fn decode(bytes: &[u8], charset: &str) -> String {
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes())
        .unwrap_or_else(|| panic!("unknown charset {charset}"));
    let (text, _, had_errors) = enc.decode(bytes);
    assert!(!had_errors, "bytes are not {charset}");
    text.into_owned()
}

/// Visible text of a simple page: no comments, no tags, no `<head>` (the title is not body
/// text), block ends as line breaks.
fn visible_text(html: &str) -> String {
    let body = match (html.find("<body"), html.rfind("</body>")) {
        (Some(s), Some(e)) if s < e => &html[s..e],
        _ => html,
    };
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        let (end, skip) = if rest.starts_with("<!--") {
            (rest.find("-->").map_or(rest.len(), |i| i + 3), true)
        } else {
            (rest.find('>').map_or(rest.len(), |i| i + 1), false)
        };
        let tag = rest[..end].to_ascii_lowercase();
        if !skip
            && [
                "</p", "</h", "<br", "</li", "</div", "</header", "</nav", "</footer",
            ]
            .iter()
            .any(|t| tag.starts_with(t))
        {
            out.push('\n');
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    for (entity, c) in [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&nbsp;", "\u{a0}"),
        ("&amp;", "&"),
    ] {
        out = out.replace(entity, c);
    }
    out
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

#[test]
fn every_fixture_page_gives_its_expected_entries_and_language() {
    let root = fixtures();
    let set = ListSet::load_dir(&root.join("lists")).expect("fixture lists load");
    let classifier = Classifier::new(&set).expect("fixture lists compile");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("pages/MANIFEST.json")).expect("manifest"),
    )
    .expect("manifest is JSON");
    let pages = manifest["pages"].as_array().expect("pages");
    assert!(pages.len() >= 10, "{} pages", pages.len());

    for page in pages {
        let file = page["file"].as_str().unwrap();
        let bytes = std::fs::read(root.join("pages").join(file)).unwrap();
        let text = visible_text(&decode(&bytes, page["charset"].as_str().unwrap()));
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let md5 = hex::encode(Md5::digest(&bytes));
        let r = classifier.classify(&Document {
            text: &text,
            sha256: Some(&sha256),
            md5: Some(&md5),
            url: None,
            images: &[],
        });

        let id = |m: &shared::Match| format!("{}/{}", m.list, m.entry);
        let counted: BTreeSet<String> = r
            .matches
            .iter()
            .filter(|m| m.suppressed_by.is_none())
            .map(id)
            .collect();
        let suppressed: BTreeSet<String> = r
            .matches
            .iter()
            .filter(|m| m.suppressed_by.is_some())
            .map(id)
            .collect();
        let allow: BTreeSet<String> = r
            .matches
            .iter()
            .filter_map(|m| m.suppressed_by.clone())
            .collect();
        assert_eq!(counted, strings(&page["expect_entries"]), "{file}: entries");
        assert_eq!(
            suppressed,
            strings(&page["expect_suppressed"]),
            "{file}: suppressed"
        );
        assert_eq!(allow, strings(&page["expect_allow"]), "{file}: allow");
        let categories: BTreeSet<String> = r
            .categories
            .iter()
            .map(|c| {
                serde_json::to_value(c.id)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            categories,
            strings(&page["expect_categories"]),
            "{file}: categories"
        );

        // Every span points at the text that matched, and every tricky occurrence is matched
        // where it stands in the page (traditional Chinese, tatweel, zero-width space, …).
        for m in &r.matches {
            if let Some([s, e]) = m.span {
                assert_eq!(Some(&text[s..e]), m.matched_text.as_deref(), "{file}");
            }
        }
        for t in page["tricky"].as_array().unwrap() {
            let entry = t["entry"].as_str().unwrap();
            let want = t["text"].as_str().unwrap();
            // A prefix entry matches the start of the word only: the span lies inside.
            let inside = |m: &shared::Match| {
                let Some([s, e]) = m.span else { return false };
                text.match_indices(want)
                    .any(|(at, w)| at <= s && e <= at + w.len())
            };
            assert!(
                r.matches.iter().any(|m| id(m) == entry && inside(m)),
                "{file}: {entry} should match inside {want:?} as it stands"
            );
        }

        let lang = r.language.as_ref().map(|g| g.code.as_str());
        assert_eq!(
            lang,
            page["lang"].as_str(),
            "{file}: language {:?}",
            r.language
        );
    }
}
