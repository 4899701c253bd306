//! Evidence against a loopback origin: captures become WARC files and custody entries; every
//! kind of tampering — a flipped byte, a truncation, a reordering, a deletion, in a WARC file or
//! in the log — is found and named; an export bundle checks out with python3 and openssl alone,
//! and stops checking out once touched.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use ingest::evidence::custody::{read_log, LOG_FILE};
use ingest::evidence::verify::{verify_vault, Report};
use ingest::evidence::warc::read_records;
use ingest::evidence::{export::export_case, CaptureContext, Preserved, Vault, VaultOptions};
use ingest::{FetchPolicy, Fetcher};
use tokio::net::TcpListener;
use url::Url;

const PAGE: &str = "<!doctype html><html lang=en><head><title>Report</title></head>\
                    <body><p>A news report about a court case.</p></body></html>";

async fn origin() -> SocketAddr {
    let app = Router::new()
        .route(
            "/",
            get(|| async { ([(CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route(
            "/moved",
            get(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(LOCATION, "/")],
                    "moved to /",
                )
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ingest-evidence-{name}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Setup {
    dir: PathBuf,
    vault: Vault,
    preserved: Vec<Preserved>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Setup {
    fn evidence(&self) -> PathBuf {
        self.dir.join("evidence")
    }
    fn verify(&self) -> Report {
        verify_vault(&self.evidence(), &self.vault.public_key()).unwrap()
    }
    fn log_path(&self) -> PathBuf {
        self.evidence().join(LOG_FILE)
    }
}

/// Three captures of two cases (one through a redirect), checkpointed.
async fn setup(name: &str, gzip: bool) -> Setup {
    let addr = origin().await;
    let dir = tempdir(name);
    let vault = Vault::open(
        &dir.join("evidence"),
        &dir.join("custody-key.pem"),
        VaultOptions { gzip },
    )
    .unwrap();
    let fetcher = Fetcher::new(FetchPolicy {
        allow_private: vec![addr],
        ..FetchPolicy::default()
    })
    .unwrap();
    let mut preserved = Vec::new();
    for (case, path) in [("case-a", "/moved"), ("case-b", "/"), ("case-a", "/moved")] {
        let c = fetcher
            .fetch(&Url::parse(&format!("http://{addr}{path}")).unwrap())
            .await
            .unwrap();
        let ctx = CaptureContext {
            case_id: case,
            referral_id: Some("r-1"),
            purpose: "capture",
            conversion: Some("A news report about a court case."),
            notes: serde_json::Value::Null,
        };
        preserved.push(vault.preserve(&c, &ctx).unwrap());
    }
    vault.checkpoint().unwrap().unwrap();
    Setup {
        dir,
        vault,
        preserved,
    }
}

fn problems(r: &Report) -> String {
    r.problems
        .iter()
        .map(|p| format!("[{}] {} {}", p.class, p.subject, p.issue))
        .collect::<Vec<_>>()
        .join("\n")
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

fn log_lines(s: &Setup) -> Vec<String> {
    std::fs::read_to_string(s.log_path())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(s: &Setup, lines: &[String]) {
    std::fs::write(s.log_path(), lines.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn captures_are_warc_files_with_records_per_hop_and_never_overwritten() {
    let s = setup("records", true).await;
    let r = s.verify();
    assert!(r.ok(), "{}", problems(&r));
    assert_eq!((r.entries, r.captures, r.files_checked), (4, 3, 3));
    assert_eq!(r.covered, 4);
    // The same URL fetched twice is two files and two entries.
    assert_ne!(s.preserved[0].file, s.preserved[2].file);
    let bytes = std::fs::read(s.evidence().join(&s.preserved[0].file)).unwrap();
    let records = read_records(&bytes).unwrap();
    let types: Vec<&str> = records
        .iter()
        .map(|r| r.get("WARC-Type").unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "warcinfo",
            "request",
            "response",
            "request",
            "response",
            "metadata",
            "conversion"
        ]
    );
    let redirect = &records[2];
    assert!(redirect
        .block
        .starts_with(b"HTTP/1.1 301 Moved Permanently\r\n"));
    assert!(
        redirect.block.ends_with(b"moved to /"),
        "the redirect body is kept"
    );
    let fin = &records[4];
    assert_eq!(fin.get("WARC-IP-Address"), Some("127.0.0.1"));
    assert!(fin.block.ends_with(PAGE.as_bytes()));
    assert_eq!(records[3].get("WARC-Concurrent-To"), Some(fin.id()));
    let meta: serde_json::Value = serde_json::from_slice(&records[5].block).unwrap();
    assert_eq!(meta["hops"].as_array().unwrap().len(), 2);
    assert_eq!(meta["hops"][0]["dns_answers"][0], "127.0.0.1");
    assert_eq!(meta["case_id"], "case-a");
    assert!(ingest::evidence::warc::check_digests(fin).is_none());
    // The log names the records and their digests.
    let log = read_log(&s.log_path()).unwrap();
    let entry = log.lines[1].entry.clone().unwrap();
    assert_eq!(entry.records.len(), 7);
    assert_eq!(entry.records[4].id, fin.id());
}

#[tokio::test]
async fn a_flipped_byte_in_a_warc_file_names_the_capture() {
    for gzip in [false, true] {
        let s = setup("flip-warc", gzip).await;
        let p = &s.preserved[1];
        let path = s.evidence().join(&p.file);
        let bytes = std::fs::read(&path).unwrap();
        // Plain: a byte of the page in the response record; gzip: one in a compressed member.
        let at = if gzip {
            bytes.len() / 2
        } else {
            find(&bytes, b"court case").unwrap()
        };
        flip(&path, at);
        let r = s.verify();
        assert_eq!(r.problems.len(), 1, "{}", problems(&r));
        let pr = &r.problems[0];
        assert!(
            pr.subject.contains(&p.capture_id) && pr.subject.contains("case-b"),
            "{}",
            problems(&r)
        );
        assert_eq!(pr.class, "altered");
        if !gzip {
            // Plain files are read record by record: the damaged record is named.
            let response = &p.records[2];
            assert_eq!(response.warc_type, "response");
            assert!(
                pr.issue.contains(&format!("record {}", response.id)),
                "{}",
                pr.issue
            );
            // A header field (not the block) altered is named too.
            flip(&path, at);
            let date = find(&bytes, b"WARC-Date: ").unwrap() + 12;
            flip(&path, date);
            let r = s.verify();
            assert_eq!(r.problems.len(), 1, "{}", problems(&r));
            assert!(
                r.problems[0].issue.contains("the header of record"),
                "{}",
                problems(&r)
            );
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn a_truncated_or_deleted_warc_file_is_named() {
    let s = setup("cut-warc", true).await;
    let cut = s.evidence().join(&s.preserved[0].file);
    let len = std::fs::metadata(&cut).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(len - 40)
        .unwrap();
    std::fs::remove_file(s.evidence().join(&s.preserved[1].file)).unwrap();
    let r = s.verify();
    assert_eq!(r.problems.len(), 2, "{}", problems(&r));
    let t = r
        .problems
        .iter()
        .find(|p| p.class == "truncated")
        .expect("truncation");
    assert!(
        t.subject.contains(&s.preserved[0].capture_id),
        "{}",
        problems(&r)
    );
    let m = r
        .problems
        .iter()
        .find(|p| p.class == "missing")
        .expect("deletion");
    assert!(
        m.subject.contains(&s.preserved[1].capture_id),
        "{}",
        problems(&r)
    );
}

#[tokio::test]
async fn an_altered_custody_entry_is_named_by_its_successor() {
    let s = setup("alter-entry", true).await;
    let mut lines = log_lines(&s);
    lines[1] = lines[1].replace("\"case_id\":\"case-a\"", "\"case_id\":\"case-x\"");
    write_lines(&s, &lines);
    let r = s.verify();
    assert_eq!(r.problems.len(), 1, "{}", problems(&r));
    assert_eq!(r.problems[0].subject, "custody entry 1 (line 2)");
    assert_eq!(r.problems[0].class, "altered");
}

#[tokio::test]
async fn an_altered_last_entry_is_caught_by_the_signed_checkpoint() {
    let s = setup("alter-last", true).await;
    let mut lines = log_lines(&s);
    let last = lines.len() - 1;
    lines[last] = lines[last].replace("\"status\":200", "\"status\":404");
    write_lines(&s, &lines);
    let r = s.verify();
    assert_eq!(r.problems.len(), 1, "{}", problems(&r));
    assert_eq!(r.problems[0].subject, "custody entry 3 (line 4)");
    assert!(
        r.problems[0].issue.contains("checkpoint"),
        "{}",
        problems(&r)
    );
}

#[tokio::test]
async fn reordered_entries_are_named() {
    let s = setup("reorder", true).await;
    let mut lines = log_lines(&s);
    lines.swap(1, 2);
    write_lines(&s, &lines);
    let r = s.verify();
    assert!(!r.ok());
    assert!(
        r.problems.iter().all(|p| p.class == "reordered"),
        "{}",
        problems(&r)
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.subject == "custody entry 2 (line 2)"),
        "{}",
        problems(&r)
    );
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let s = setup("delete", true).await;
    let mut lines = log_lines(&s);
    lines.remove(2);
    write_lines(&s, &lines);
    let r = s.verify();
    let missing: Vec<_> = r.problems.iter().filter(|p| p.class == "missing").collect();
    assert_eq!(missing.len(), 1, "{}", problems(&r));
    assert_eq!(missing[0].subject, "custody entry 2");
    // Its WARC file is now in no entry: reported, and never exported.
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains(&s.preserved[1].capture_id)),
        "{:?}",
        r.warnings
    );
}

#[tokio::test]
async fn a_truncated_log_is_caught_by_the_checkpoint() {
    let s = setup("truncate-log", true).await;
    let mut lines = log_lines(&s);
    lines.truncate(2);
    write_lines(&s, &lines);
    let r = s.verify();
    assert_eq!(r.problems.len(), 1, "{}", problems(&r));
    assert_eq!(r.problems[0].class, "truncated");
    assert!(
        r.problems[0].issue.contains("entries 2 to 3 were cut off"),
        "{}",
        problems(&r)
    );
}

#[tokio::test]
async fn a_forged_checkpoint_fails_its_signature() {
    let s = setup("forge-ck", true).await;
    let path = s.evidence().join("checkpoints.log");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"size\":4", "\"size\":3")).unwrap();
    let r = s.verify();
    assert_eq!(r.problems.len(), 1, "{}", problems(&r));
    assert_eq!(r.problems[0].class, "signature");
}

#[tokio::test]
async fn purges_are_logged_and_expected() {
    let s = setup("purge", true).await;
    let p = &s.preserved[0];
    s.vault
        .purge(
            "case-a",
            &p.capture_id,
            &p.file,
            &p.file_sha256,
            "retention ended",
        )
        .unwrap();
    assert!(!s.evidence().join(&p.file).exists());
    let r = s.verify();
    assert!(r.ok(), "{}", problems(&r));
    assert_eq!(r.purged, 1);
    // A file that no longer matches its digest is kept, not purged.
    let q = &s.preserved[1];
    flip(&s.evidence().join(&q.file), 100);
    let e = s
        .vault
        .purge(
            "case-b",
            &q.capture_id,
            &q.file,
            &q.file_sha256,
            "retention ended",
        )
        .unwrap_err();
    assert_eq!(e.kind(), "evidence_damaged");
    assert!(s.evidence().join(&q.file).exists());
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

#[tokio::test]
async fn an_export_bundle_checks_out_without_our_software() {
    let s = setup("export", true).await;
    let out = s.dir.join("bundle");
    let summary = export_case(&s.evidence(), s.vault.key(), "case-a", &out).unwrap();
    assert_eq!((summary.entries, summary.warc_files), (2, 2));
    for f in [
        "README.md",
        "verify.py",
        "public-key.pem",
        "checkpoint.txt",
        "checkpoint.sig",
        "custody.jsonl",
        "proofs.json",
        "SHA256SUMS",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    assert_eq!(std::fs::read_dir(out.join("warc")).unwrap().count(), 2);
    // Not a second time into the same folder.
    assert!(export_case(&s.evidence(), s.vault.key(), "case-a", &out).is_err());
    assert_eq!(
        export_case(
            &s.evidence(),
            s.vault.key(),
            "case-zzz",
            &s.dir.join("none")
        )
        .unwrap_err()
        .kind(),
        "not_found"
    );
    if !tool("python3") {
        eprintln!("python3 is not installed: the bundle's own verifier was not run");
        return;
    }
    let run = || {
        Command::new("python3")
            .arg(out.join("verify.py"))
            .output()
            .unwrap()
    };
    let ok = run();
    let text = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{text}");
    if tool("openssl") {
        assert!(text.contains("ok    checkpoint.txt is signed"), "{text}");
    }
    assert!(text.contains("all checks passed"));
    // Any change to a WARC file in the bundle fails it.
    let warc = std::fs::read_dir(out.join("warc"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    flip(&warc, 60);
    let bad = run();
    assert!(
        !bad.status.success(),
        "{}",
        String::from_utf8_lossy(&bad.stdout)
    );
}

#[tokio::test]
async fn a_damaged_log_is_refused_for_new_evidence() {
    let s = setup("refuse", true).await;
    let mut lines = log_lines(&s);
    lines[1] = lines[1].replace("case-a", "case-q");
    write_lines(&s, &lines);
    let e = Vault::open(
        &s.evidence(),
        &s.dir.join("custody-key.pem"),
        VaultOptions::default(),
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), "evidence_damaged");
    assert!(e.to_string().contains("line 3"), "{e}");
}
