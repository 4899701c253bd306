//! Entry governance as the classifier applies it: disabled and expired entries load but never
//! match, the suppression hook (the service's flood quarantine) takes an entry's matches out of
//! the scores, and URL entries meet fetched URLs by their match key.

use classify::{Classifier, Document};
use shared::lists::ListSet;
use shared::{Category, Match};
use std::fs;
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triage-gov-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn write_list(root: &Path, id: &str, kind: &str, extra: &str, entries: &str) {
    let d = root.join(id);
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("list.toml"),
        format!(
            "id = '{id}'\nname = '{id}'\nkind = '{kind}'\nowner = 'de-bka'\ntrust = 'high'\n\
             version = '7'\n{extra}\n"
        ),
    )
    .unwrap();
    fs::write(d.join("entries.jsonl"), entries).unwrap();
}

fn classifier(dir: &Path) -> Classifier {
    Classifier::new(&ListSet::load_dir(dir).unwrap()).unwrap()
}

fn entries(doc: &Document<'_>, c: &Classifier) -> Vec<String> {
    c.classify(doc)
        .matches
        .iter()
        .map(|m| m.entry.clone())
        .collect()
}

#[test]
fn disabled_and_expired_entries_never_match() {
    let d = tmpdir("expiry");
    write_list(
        &d,
        "kw",
        "keywords",
        "default_category = 'extremism'",
        concat!(
            "{\"id\":\"live\",\"term\":\"Hizb ut-Tahrir\"}\n",
            "{\"id\":\"off\",\"term\":\"Islamic State\",\"enabled\":false}\n",
            "{\"id\":\"gone\",\"term\":\"Daesh\",\"expires\":\"2020-01-01T00:00:00Z\"}\n",
            "{\"id\":\"later\",\"term\":\"al-Shabaab\",\"expires\":\"2999-01-01T00:00:00Z\"}\n",
        ),
    );
    write_list(
        &d,
        "allow",
        "keywords",
        "negative = true",
        "{\"id\":\"stale-allow\",\"term\":\"al-Shabaab\",\"expires\":\"2020-01-01T00:00:00Z\"}\n",
    );
    let c = classifier(&d);
    let doc = "Reports on Hizb ut-Tahrir, Islamic State, Daesh and al-Shabaab.";
    let r = c.classify(&Document::text(doc));
    let got: Vec<(&str, bool)> = r
        .matches
        .iter()
        .map(|m| (m.entry.as_str(), m.suppressed_by.is_some()))
        .collect();
    // The expired allow-list entry suppresses nothing.
    assert_eq!(got, [("live", false), ("later", false)]);
    assert_eq!(r.categories[0].evidence, ["live", "later"]);
}

#[test]
fn the_suppression_hook_takes_matches_out_of_the_scores() {
    let d = tmpdir("hook");
    write_list(
        &d,
        "kw",
        "keywords",
        "default_category = 'extremism'",
        concat!(
            "{\"id\":\"a\",\"term\":\"Hizb ut-Tahrir\"}\n",
            "{\"id\":\"b\",\"term\":\"Islamic State\",\"category\":\"public_provocation\"}\n",
        ),
    );
    let c = classifier(&d);
    let doc = Document::text("Hizb ut-Tahrir; Islamic State; Islamic State again.");
    let plain = c.classify(&doc);
    assert_eq!(plain.categories.len(), 2);

    let mut asked = Vec::new();
    let r = c.classify_with(&doc, &mut |m: &Match| {
        asked.push(m.entry.clone());
        (m.entry == "b").then(|| ("quarantine".to_string(), "quarantined".to_string()))
    });
    // Asked once per entry, not per occurrence.
    asked.sort();
    assert_eq!(asked, ["a", "b"]);
    let b: Vec<&Match> = r.matches.iter().filter(|m| m.entry == "b").collect();
    assert_eq!(b.len(), 2);
    assert!(b
        .iter()
        .all(|m| m.suppressed_by.as_deref() == Some("quarantine")
            && m.suppressed_reason.as_deref() == Some("quarantined")));
    assert_eq!(r.categories.len(), 1);
    assert_eq!(r.categories[0].id, Category::Extremism);
    assert_eq!(r.categories[0].evidence, ["a"]);
    let a = r.matches.iter().find(|m| m.entry == "a").unwrap();
    assert_eq!(
        (a.suppressed_by.as_ref(), a.list_version.as_str()),
        (None, "7")
    );
}

#[test]
fn url_entries_match_by_their_match_key() {
    let d = tmpdir("urls");
    write_list(
        &d,
        "u",
        "urls",
        "default_category = 'recruitment_solicitation'",
        concat!(
            "{\"id\":\"u1\",\"url\":\"https://videos.example/~demo/clip?b=2&a=1\"}\n",
            "{\"id\":\"u2\",\"url\":\"https://videos.example/%D0%B8\"}\n",
        ),
    );
    let c = classifier(&d);
    let doc = |url| Document {
        url: Some(url),
        ..Document::text("")
    };
    for (url, want) in [
        (
            "HTTPS://WWW.Videos.Example.:443/%7Edemo/clip?a=1&utm_source=x&b=2#t",
            vec!["u1"],
        ),
        (
            "https://videos.example/%7edemo/clip?a=1&b=2&gclid=9",
            vec!["u1"],
        ),
        ("https://videos.example/%d0%b8", vec!["u2"]),
        ("https://videos.example/и", vec!["u2"]),
        ("https://videos.example/~demo/clip?a=1", vec![]),
        ("https://videos.example/~demo/clip?a=1&b=3", vec![]),
    ] {
        assert_eq!(entries(&doc(url), &c), want, "{url}");
    }
}
