//! Lists written to disk as partners ship them, loaded by `shared`, compiled and matched.

use classify::{Classifier, Document};
use shared::lists::ListSet;
use std::fs;
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triage-classify-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn write_list(root: &Path, id: &str, toml: &str, entries: &str) {
    let d = root.join(id);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("list.toml"), toml).unwrap();
    fs::write(d.join("entries.jsonl"), entries).unwrap();
}

fn meta(id: &str, kind: &str, extra: &str) -> String {
    format!(
        "id = '{id}'\nname = '{id}'\nkind = '{kind}'\nowner = 'fr-pharos'\ntrust = 'medium'\n\
         version = '2026-11-01.1'\n{extra}\n"
    )
}

#[test]
fn multilingual_lists_from_disk() {
    let d = tmpdir("multi");
    write_list(
        &d,
        "kw-demo",
        &meta(
            "kw-demo",
            "keywords",
            "default_category = 'glorification_apology'",
        ),
        concat!(
            "{\"id\":\"en-1\",\"term\":\"Islamic State\",\"lang\":\"eng\"}\n",
            "{\"id\":\"ru-1\",\"term\":\"ИГИЛ\",\"lang\":\"rus\",\"category\":\"extremism\"}\n",
            "{\"id\":\"ar-1\",\"term\":\"داعش\",\"lang\":\"ara\",\"weight\":2}\n",
            "{\"id\":\"zh-1\",\"term\":\"伊斯兰国\",\"lang\":\"cmn\"}\n",
        ),
    );
    write_list(
        &d,
        "allow-demo",
        &meta("allow-demo", "keywords", "negative = true"),
        "{\"id\":\"a-1\",\"term\":\"запрещённая в России организация ИГИЛ\"}\n",
    );
    write_list(
        &d,
        "off",
        &meta(
            "off",
            "keywords",
            "enabled = false\ndefault_category = 'extremism'",
        ),
        "{\"id\":\"o-1\",\"term\":\"news\"}\n",
    );
    let set = ListSet::load_dir(&d).unwrap();
    let c = Classifier::new(&set).unwrap();
    let c2 = c.clone();
    let text = "News: Islamic State claims denied.\n\
                Запрещённая в России организация И\u{200B}ГИЛ упомянута; ИГИЛ снова.\n\
                بيان منسوب إلى داعـش.\n\
                记者报道了伊斯兰国的消息。";
    let r = std::thread::spawn(move || c2.classify(&Document::text(text)))
        .join()
        .unwrap();
    let got: Vec<(&str, &str, bool)> = r
        .matches
        .iter()
        .map(|m| {
            (
                m.entry.as_str(),
                m.matched_text.as_deref().unwrap(),
                m.suppressed_by.is_some(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("en-1", "Islamic State", false),
            ("ru-1", "И\u{200B}ГИЛ", true),
            ("ru-1", "ИГИЛ", false),
            ("ar-1", "داعـش", false),
            ("zh-1", "伊斯兰国", false),
        ]
    );
    for m in &r.matches {
        let [s, e] = m.span.unwrap();
        assert_eq!(&text[s..e], m.matched_text.as_deref().unwrap());
        assert_eq!(
            (m.source.as_str(), m.trust.as_str()),
            ("fr-pharos", "medium")
        );
    }
    assert_eq!(
        r.matches[1].suppressed_by.as_deref(),
        Some("allow-demo/a-1")
    );

    let json = serde_json::to_value(&r).unwrap();
    assert!(json.get("id").is_none());
    assert_eq!(json["matches"][0]["kind"], "keyword");
    assert_eq!(json["matches"][0]["list"], "kw-demo");
    assert_eq!(json["categories"][0]["id"], "glorification_apology");
    assert_eq!(
        json["categories"][0]["evidence"],
        serde_json::json!(["en-1", "ar-1", "zh-1"])
    );
    assert!(
        json["languages"].as_array().unwrap().len() >= 2,
        "{}",
        json["languages"]
    );
}

#[test]
fn a_bad_regex_is_reported_with_its_file_and_line() {
    let d = tmpdir("badre");
    write_list(
        &d,
        "re",
        &meta("re", "regex", "default_category = 'extremism'"),
        "{\"id\":\"r1\",\"pattern\":\"ok\"}\n\n{\"id\":\"r2\",\"pattern\":\"[z-a]\"}\n",
    );
    let set = ListSet::load_dir(&d).unwrap();
    let err = Classifier::new(&set).unwrap_err().to_string();
    let want = format!(
        "{}:3: entry \"r2\"",
        d.join("re").join("entries.jsonl").display()
    );
    assert!(err.starts_with(&want), "{err}");
}
