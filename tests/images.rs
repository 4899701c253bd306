//! End to end: the images of a referred page are fetched under the fetch policy, hashed
//! (SHA-256, MD5, PDQ with its eight variants), preserved and matched against a PDQ list;
//! a flipped copy matches through a variant; an image on a refused address, a missing one and
//! one that is not an image are reported without failing the referral; a referral of an image
//! URL is hashed directly.

mod common;

use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const IMAGE: &str = "labelme/q0291.jpg";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("fixtures/pdq").join(name)).unwrap()
}

/// The published hash of a fixture image (`fixtures/pdq/expected.csv`).
fn published(name: &str) -> String {
    let csv = String::from_utf8(fixture("expected.csv")).unwrap();
    csv.lines()
        .find_map(|l| l.strip_prefix(&format!("{name},")))
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_string()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The site: a page with seven `<img>` (one twice), the images, a missing one and a fake one.
fn site(dir: &Path) {
    let original = fixture(IMAGE);
    std::fs::write(dir.join("a.jpg"), &original).unwrap();
    let flipped = image::load_from_memory(&original).unwrap().fliph();
    flipped.save(dir.join("flipped.png")).unwrap();
    std::fs::write(dir.join("b.jpg"), fixture("labelme/q2821.jpg")).unwrap();
    std::fs::write(dir.join("notimage.png"), "this is text, not a PNG").unwrap();
    std::fs::write(
        dir.join("page.html"),
        r#"<!doctype html><html lang="en"><head><title>Pictures</title></head><body>
<p>A synthetic page whose pictures go through the image stage.</p>
<img src="a.jpg"><img src="/flipped.png"><img src="a.jpg#again"><img src="b.jpg">
<img src="http://10.0.0.1/x.png"><img src="missing.png"><img src="notimage.png">
</body></html>"#,
    )
    .unwrap();
}

/// A PDQ list holding the published hash of the photo, and a SHA-256 list holding `b.jpg`'s.
fn lists(dir: &Path) {
    let write = |id: &str, extra: &str, entries: &str| {
        let d = dir.join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("list.toml"),
            format!(
                "id = \"{id}\"\nname = \"{id}\"\nkind = \"hashes\"\nowner = \"demo-unit\"\n\
                 trust = \"high\"\nversion = \"2026-11-01.1\"\n\
                 default_category = \"glorification_apology\"\n{extra}"
            ),
        )
        .unwrap();
        std::fs::write(d.join("entries.jsonl"), entries).unwrap();
    };
    write(
        "pdq-demo",
        "pdq_max_distance = 31\n",
        &format!(
            "{}\n",
            json!({"id": "q0291", "algorithm": "pdq", "hash": published(IMAGE)})
        ),
    );
    write(
        "sha-demo",
        "",
        &format!(
            "{}\n",
            json!({"id": "q2821", "algorithm": "sha256", "hash": sha256(&fixture("labelme/q2821.jpg"))})
        ),
    );
}

/// Serves `dir` like the harness's origin serves the fixture pages.
fn serve_dir(dir: &Path) -> Proc {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(bin())
        .args(["fixtures", "serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("fixture server output").unwrap();
        if line.starts_with("serving ") {
            break line.rsplit("http://").next().unwrap().trim().to_string();
        }
    };
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Proc {
        child,
        addr,
        log: None,
    }
}

fn refer(server: &Proc, url: &str) -> (Value, Value) {
    let (s, body) = post_json(server, None, &json!({ "url": url }));
    assert_eq!(s, 202, "{body}");
    let r = wait_final(server, body["referral_id"].as_str().unwrap(), WAIT);
    assert_eq!(r["status"], "routed", "{r}\n{}", server.log_text());
    let (s, case) = get_json(
        server,
        &format!("/v1/cases/{}", r["case_id"].as_str().unwrap()),
    );
    assert_eq!(s, 200, "{case}");
    (r, case)
}

fn image_item<'a>(case: &'a Value, url: &str) -> &'a Value {
    case["capture"]["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no capture.images in {case}"))
        .iter()
        .find(|i| i["url"] == url)
        .unwrap_or_else(|| panic!("no image {url} in {}", case["capture"]["images"]))
}

fn matches_on<'a>(case: &'a Value, url: &str) -> Vec<&'a Value> {
    case["classification"]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["image"]["url"] == url)
        .collect()
}

#[test]
fn page_images_are_fetched_hashed_preserved_and_matched() {
    let root = tempdir("images");
    let (www, list_dir) = (root.join("www"), root.join("lists"));
    std::fs::create_dir_all(&www).unwrap();
    site(&www);
    lists(&list_dir);
    let origin = serve_dir(&www);
    let server = start_server(
        &root.join("data"),
        &[&origin.addr],
        &["--lists", list_dir.to_str().unwrap()],
    );
    let base = format!("http://{}", origin.addr);
    let (_, case) = refer(&server, &format!("{base}/page.html"));

    // The photo: digests of the served bytes, its PDQ hash, the match at distance ≤ 2.
    let a = image_item(&case, &format!("{base}/a.jpg"));
    assert_eq!(a["status"], 200, "{a}");
    assert_eq!(a["sha256"], sha256(&fixture(IMAGE)));
    assert_eq!(a["pdq"]["quality"], 100);
    assert_eq!(a["pdq"]["matchable"], true);
    assert_eq!(a["pdq"]["hash"].as_str().unwrap().len(), 64);
    assert!(a["evidence"]["file"].is_string(), "{a}");
    let m = matches_on(&case, &format!("{base}/a.jpg"));
    assert_eq!(m.len(), 1, "{}", case["classification"]);
    assert_eq!(
        (&m[0]["list"], &m[0]["entry"], &m[0]["kind"]),
        (&json!("pdq-demo"), &json!("q0291"), &json!("pdq"))
    );
    assert_eq!(m[0]["image"]["variant"], "original");
    assert!(m[0]["image"]["distance"].as_u64().unwrap() <= 2, "{}", m[0]);
    assert_eq!(m[0]["source"], "demo-unit");
    assert_eq!(m[0]["list_version"], "2026-11-01.1");

    // The mirrored copy matches the same entry through the flip variant.
    let m = matches_on(&case, &format!("{base}/flipped.png"));
    assert_eq!(m.len(), 1, "{}", case["classification"]);
    assert_eq!(m[0]["entry"], "q0291");
    assert_eq!(m[0]["image"]["variant"], "flipy");
    assert!(m[0]["image"]["distance"].as_u64().unwrap() <= 2, "{}", m[0]);

    // Exact SHA-256 of another image.
    let m = matches_on(&case, &format!("{base}/b.jpg"));
    assert_eq!(m.len(), 1);
    assert_eq!(
        (&m[0]["list"], &m[0]["kind"]),
        (&json!("sha-demo"), &json!("sha256"))
    );
    assert!(m[0]["image"].get("distance").is_none());

    // Refused, missing and fake images are reported; the referral went on.
    let refused = image_item(&case, "http://10.0.0.1/x.png");
    assert_eq!(refused["error"]["kind"], "blocked_address", "{refused}");
    assert_eq!(refused["error"]["refused"], true);
    let missing = image_item(&case, &format!("{base}/missing.png"));
    assert_eq!(
        (&missing["status"], &missing["error"]["kind"]),
        (&json!(404), &json!("http_status"))
    );
    let fake = image_item(&case, &format!("{base}/notimage.png"));
    assert_eq!(fake["pdq_error"]["kind"], "unsupported_format", "{fake}");
    assert_eq!(fake["sha256"], sha256(b"this is text, not a PNG"));
    // a.jpg#again is a.jpg: fetched once.
    assert_eq!(case["capture"]["images"].as_array().unwrap().len(), 6);
    // The image matches carry the case's category.
    let cats = &case["classification"]["categories"];
    assert_eq!(cats[0]["id"], "glorification_apology", "{cats}");
    let evidence: Vec<&str> = cats[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(evidence, ["q0291", "q2821"], "{cats}");

    // Every image response is preserved like the page (the refused one had none).
    let captures = case["preservation"]["captures"].as_array().unwrap();
    let purposes: Vec<&str> = captures
        .iter()
        .map(|c| c["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(
        purposes.iter().filter(|p| **p == "image").count(),
        5,
        "{purposes:?}"
    );
    assert_eq!(purposes.iter().filter(|p| **p == "capture").count(), 1);

    let page = metrics(&server);
    for (outcome, n) in [
        ("hashed", 3.0),
        ("refused", 1.0),
        ("http_error", 1.0),
        ("undecodable", 1.0),
    ] {
        let name = format!("triage_images_total{{outcome=\"{outcome}\"}}");
        assert_eq!(metric_value(&page, &name), Some(n), "{name}\n{page}");
    }
    assert_eq!(
        metric_value(&page, "triage_pdq_hashes_total{quality=\"80_to_100\"}"),
        Some(3.0)
    );

    // A referral of the mirrored image's own URL: hashed directly, the content is the image.
    let (_, case) = refer(&server, &format!("{base}/flipped.png"));
    let item = image_item(&case, &format!("{base}/flipped.png"));
    assert_eq!(item["source"], "content");
    let m = matches_on(&case, &format!("{base}/flipped.png"));
    assert_eq!(m.len(), 1, "{}", case["classification"]);
    assert_eq!(m[0]["image"]["variant"], "flipy");
}
