//! Import and export of partner formats: every fixture file imports, exports and imports again
//! to the same entries, every fixture list exports and imports back to its own entries, and
//! bad rows are named by file, line and column.

use shared::lists::export::{export, ExportError};
use shared::lists::import::{import, Format, ImportOptions};
use shared::lists::{Entries, HashAlgorithm, List, ListSet, MatchMode, Trust};
use shared::Category;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn opts(format: Format, category: Option<Category>) -> ImportOptions {
    ImportOptions {
        format,
        list_id: "imported".into(),
        name: None,
        owner: "partner-demo".into(),
        trust: Trust::Medium,
        version: "2026-11-01.1".into(),
        category,
        negative: false,
        lang: None,
        match_mode: None,
        pdq_max_distance: None,
    }
}

fn import_file(path: &Path, o: &ImportOptions) -> List {
    let bytes = std::fs::read(path).unwrap();
    match import(path, &bytes, o) {
        Ok(i) => i.list,
        Err(p) => panic!("{path:?}: {:#?}", p.0),
    }
}

fn export_to_vec(format: Format, list: &List) -> Vec<u8> {
    let mut out = Vec::new();
    export(format, list, &mut out).unwrap();
    out
}

/// Imports `bytes` as `format` and returns the entries without line numbers.
fn reimport(format: Format, bytes: &[u8], o: &ImportOptions) -> Entries {
    let o = ImportOptions {
        format,
        ..o.clone()
    };
    let mut e = match import(Path::new("exported"), bytes, &o) {
        Ok(i) => i.list.entries,
        Err(p) => panic!(
            "re-import failed: {:#?}\n{}",
            p.0,
            String::from_utf8_lossy(bytes)
        ),
    };
    e.clear_lines();
    e
}

fn without_lines(e: &Entries) -> Entries {
    let mut e = e.clone();
    e.clear_lines();
    e
}

#[test]
fn tat_csv_keeps_every_column() {
    let o = opts(Format::TatCsv, Some(Category::PublicProvocation));
    let list = import_file(&fixtures().join("lists-import/tat-hashes.csv"), &o);
    let Entries::Hashes(h) = &list.entries else {
        panic!()
    };
    assert_eq!(h.len(), 5);
    assert_eq!(h[0].id, "41001");
    assert_eq!(h[0].algorithm, HashAlgorithm::Pdq);
    assert_eq!(h[0].metadata["ideology"], "islamist");
    assert_eq!(h[0].metadata["file_type"], "image");
    assert_eq!(h[0].metadata["updated_on"], "2026-03-02T08:30:00Z");
    assert_eq!(h[1].algorithm, HashAlgorithm::Md5);
    assert_eq!(h[3].algorithm, HashAlgorithm::Pdq, "lower-case pdq");
    assert!(!h[3].enabled, "deleted = True disables the entry");
    assert!(h[0].enabled);
    assert_eq!(h[4].hash, h[4].hash.to_lowercase());
    assert!(
        !h[4].metadata.contains_key("updated_on"),
        "empty cells are not kept"
    );
    assert_eq!(h[0].line, 2);
    assert_eq!(
        list.meta.default_category,
        Some(Category::PublicProvocation)
    );
    assert_eq!(list.meta.owner, "partner-demo");

    let csv = export_to_vec(Format::TatCsv, &list);
    let text = String::from_utf8(csv.clone()).unwrap();
    assert!(
        text.starts_with(
            "id,hash_digest,algorithm,deleted,created_on,file_type,ideology,updated_on\n"
        ),
        "{text}"
    );
    assert_eq!(
        reimport(Format::TatCsv, &csv, &o),
        without_lines(&list.entries)
    );
}

#[test]
fn te_csv_keeps_types_tags_and_deletions() {
    let o = opts(Format::TeCsv, Some(Category::GlorificationApology));
    let list = import_file(&fixtures().join("lists-import/te-signals.csv"), &o);
    let Entries::Hashes(h) = &list.entries else {
        panic!()
    };
    assert_eq!(h.len(), 4);
    assert_eq!(
        h.iter().map(|e| e.algorithm).collect::<Vec<_>>(),
        [
            HashAlgorithm::Pdq,
            HashAlgorithm::Md5,
            HashAlgorithm::Md5,
            HashAlgorithm::Sha256
        ]
    );
    assert_eq!(h[1].metadata["type"], "HASH_VIDEO_MD5");
    assert!(!h[0].metadata.contains_key("type"));
    assert!(!h[2].enabled, "should_delete = true disables the entry");
    assert_eq!(
        h[3].metadata["tags"],
        "media_type_photo;reviewed, second pass"
    );
    assert_eq!(h[3].metadata["status"], "NON_MALICIOUS");

    let csv = export_to_vec(Format::TeCsv, &list);
    let text = String::from_utf8(csv.clone()).unwrap();
    assert!(text.contains(",HASH_VIDEO_MD5,"), "{text}");
    assert!(
        text.contains("\"media_type_photo;reviewed, second pass\""),
        "{text}"
    );
    assert_eq!(
        reimport(Format::TeCsv, &csv, &o),
        without_lines(&list.entries)
    );
    // The same hashes cross over to the TAT layout and back.
    let tat = export_to_vec(Format::TatCsv, &list);
    let back = reimport(
        Format::TatCsv,
        &tat,
        &opts(Format::TatCsv, Some(Category::GlorificationApology)),
    );
    let Entries::Hashes(b) = back else { panic!() };
    assert_eq!(b.len(), 4);
    assert_eq!(b[2].hash, h[2].hash);
    assert!(!b[2].enabled);
}

#[test]
fn plain_terms_and_urls() {
    let mut o = opts(Format::Terms, Some(Category::GlorificationApology));
    let bytes = std::fs::read(fixtures().join("lists-import/terms.txt")).unwrap();
    let imported = import(Path::new("terms.txt"), &bytes, &o).unwrap();
    assert_eq!(imported.duplicates, 1);
    let Entries::Keywords(k) = &imported.list.entries else {
        panic!()
    };
    let terms: Vec<&str> = k.iter().map(|e| e.term.as_str()).collect();
    assert_eq!(
        terms,
        [
            "Islamic State",
            "Daesh",
            "#ISIS_demo_hashtag",
            "Hizb ut-Tahrir",
            "вербовк",
            "old slogan demo",
            "seasonal demo term"
        ]
    );
    assert!(
        k[0].id.starts_with("t-") && k[0].id.len() == 18,
        "{}",
        k[0].id
    );
    assert_eq!(k[3].id, "ht-1");
    assert_eq!(k[3].category, Some(Category::Extremism));
    assert_eq!(k[4].match_mode, MatchMode::Prefix);
    assert_eq!(k[4].lang.as_deref(), Some("rus"));
    assert!(!k[5].enabled);
    assert!(k[6].expires.is_some());
    let out = export_to_vec(Format::Terms, &imported.list);
    assert!(String::from_utf8_lossy(&out).starts_with("Islamic State\nDaesh\tlang=eng\n"));
    assert_eq!(
        reimport(Format::Terms, &out, &o),
        without_lines(&imported.list.entries)
    );
    // A default lang and match from the command line.
    o.lang = Some("eng".into());
    o.match_mode = Some(MatchMode::Substring);
    let l = import(Path::new("t"), b"Islamic State\n", &o).unwrap().list;
    let Entries::Keywords(k) = &l.entries else {
        panic!()
    };
    assert_eq!(
        (k[0].lang.as_deref(), k[0].match_mode),
        (Some("eng"), MatchMode::Substring)
    );

    let o = opts(Format::Urls, Some(Category::RecruitmentSolicitation));
    let list = import_file(&fixtures().join("lists-import/urls.txt"), &o);
    let Entries::Urls(u) = &list.entries else {
        panic!()
    };
    assert_eq!(u[0].url, "http://recruit-portal.example/join");
    assert_eq!(u[1].url, "https://files.fundraise-demo.test/campaign/42/");
    assert_eq!(u[1].category, Some(Category::TerroristFinancing));
    assert_eq!(u[2].id, "vid-2");
    assert_eq!(
        u[2].expires.unwrap().to_rfc3339(),
        "2027-06-30T10:00:00+00:00"
    );
    let out = export_to_vec(Format::Urls, &list);
    assert_eq!(
        reimport(Format::Urls, &out, &o),
        without_lines(&list.entries)
    );
}

#[test]
fn every_fixture_list_exports_and_imports_back() {
    let set = ListSet::load_dir(&fixtures().join("lists")).unwrap();
    let mut checked = 0;
    for list in &set.lists {
        let formats: &[Format] = match list.entries {
            Entries::Hashes(_) => &[Format::TatCsv, Format::TeCsv],
            Entries::Keywords(_) => &[Format::Terms],
            Entries::Urls(_) => &[Format::Urls],
            Entries::Regex(_) => {
                let err = export(Format::Terms, list, &mut Vec::new()).unwrap_err();
                assert!(matches!(err, ExportError::WrongKind { .. }), "{err}");
                continue;
            }
        };
        for &f in formats {
            let bytes = export_to_vec(f, list);
            let o = ImportOptions {
                negative: list.meta.negative,
                ..opts(f, list.meta.default_category)
            };
            assert_eq!(
                reimport(f, &bytes, &o),
                without_lines(&list.entries),
                "{} as {}",
                list.meta.id,
                f.as_str()
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked}");
}

#[test]
fn bad_rows_are_named_by_line_and_column() {
    let path = fixtures().join("lists-import/bad-tat.csv");
    let bytes = std::fs::read(&path).unwrap();
    let err = import(
        &path,
        &bytes,
        &opts(Format::TatCsv, Some(Category::PublicProvocation)),
    )
    .unwrap_err();
    let lines: Vec<String> = err.0.iter().map(|p| p.to_string()).collect();
    let has = |line: &str, text: &str| {
        lines
            .iter()
            .any(|l| l.contains(&format!("bad-tat.csv:{line}: ")) && l.contains(text))
    };
    assert!(
        has("3", "column `algorithm`") && has("3", "TMK"),
        "{lines:#?}"
    );
    assert!(
        has("4", "column `hash_digest`") && has("4", "32 hex digits"),
        "{lines:#?}"
    );
    assert!(
        has("5", "column `deleted`") && has("5", "maybe"),
        "{lines:#?}"
    );
    assert!(has("6", "column `id`") && has("6", "line 2"), "{lines:#?}");
    assert!(has("7", "not a valid CSV row"), "{lines:#?}");
    assert_eq!(lines.len(), 5, "{lines:#?}");

    // No category anywhere.
    let err = import(
        Path::new("x.csv"),
        b"hash_digest,algorithm\n",
        &opts(Format::TatCsv, None),
    )
    .unwrap_err();
    assert!(err.0[0].message.contains("--category"), "{:?}", err.0);
    // Plain lines: a line naming its category passes, one without is named by its line.
    for (format, name, text) in [
        (
            Format::Terms,
            "t.txt",
            &b"a term\tcategory=extremism\nanother term\n"[..],
        ),
        (
            Format::Urls,
            "u.txt",
            &b"https://example.com/a\tcategory=extremism\nhttps://example.com/b\n"[..],
        ),
    ] {
        let err = import(Path::new(name), text, &opts(format, None)).unwrap_err();
        let lines: Vec<String> = err.0.iter().map(|p| p.to_string()).collect();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].starts_with(&format!("{name}:2: no category")),
            "{lines:#?}"
        );
    }
    // Missing columns, bad plain fields, bad options.
    let err = import(
        Path::new("x.csv"),
        b"hash,algo\n",
        &opts(Format::TeCsv, Some(Category::Extremism)),
    )
    .unwrap_err();
    assert!(
        err.0[0].to_string().starts_with("x.csv:1: header row")
            && err.0[0].message.contains("`indicator`"),
        "{:?}",
        err.0
    );
    let err = import(
        Path::new("t.txt"),
        b"ok\nterm\tcolour=red\nterm2\tweight=heavy\n\nx\texpires=tomorrow\n",
        &opts(Format::Terms, Some(Category::Extremism)),
    )
    .unwrap_err();
    let lines: Vec<String> = err.0.iter().map(|p| p.to_string()).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with("t.txt:2: field `colour`"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("t.txt:3: field `weight`"),
        "{lines:#?}"
    );
    assert!(
        lines[2].starts_with("t.txt:5: field `expires`"),
        "{lines:#?}"
    );
    let mut o = opts(Format::Urls, Some(Category::Extremism));
    o.pdq_max_distance = Some(300);
    let err = import(Path::new("u.txt"), b"ftp://example.com/\n", &o).unwrap_err();
    let lines: Vec<String> = err.0.iter().map(|p| p.to_string()).collect();
    assert!(
        lines.iter().any(|l| l.contains("pdq_max_distance")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("u.txt:1: url:")),
        "{lines:#?}"
    );
}
