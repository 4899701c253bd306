//! Hash matching of a document's images: PDQ against per-list thresholds, the quality gate,
//! rotated and flipped copies through the dihedral variants, exact digests of images, and the
//! governance rules (allow lists, disabled and expired entries, the suppression hook) applied
//! to them. The images are Meta's reference photos in `fixtures/pdq/`, and the list hashes
//! their published hashes (`fixtures/pdq/expected.csv`).

use classify::pdq::{
    bits_from_hex, bits_to_hex, distance, hash_image_bytes_dihedral, hash_image_bytes_for_matching,
    DecodeLimits, DihedralHashes,
};
use classify::{Classifier, Document, ImageEvidence};
use image::ImageFormat;
use md5::Md5;
use sha2::{Digest, Sha256};
use shared::lists::{
    Entries, HashAlgorithm, HashEntry, KeywordEntry, List, ListKind, ListMeta, ListSet, MatchMode,
    Trust,
};
use shared::{Category, Classification, MatchKind};
use std::io::Cursor;
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/pdq")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The published (Python reference) hash of a fixture image.
fn published(name: &str) -> String {
    let csv = String::from_utf8(fixture("expected.csv")).unwrap();
    csv.lines()
        .find_map(|l| l.strip_prefix(&format!("{name},")))
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("{name} not in expected.csv"))
        .to_string()
}

/// `hex` with its first `n` bits flipped.
fn flip_bits(hex: &str, n: usize) -> String {
    let mut bits = bits_from_hex(hex).unwrap();
    for k in 0..n {
        bits[k / 8] ^= 1 << (k % 8);
    }
    bits_to_hex(&bits)
}

fn meta(id: &str, negative: bool, pdq_max_distance: Option<u32>) -> ListMeta {
    ListMeta {
        id: id.into(),
        name: id.into(),
        kind: ListKind::Hashes,
        owner: format!("owner-{id}"),
        trust: Trust::High,
        version: "2026-11-01.1".into(),
        negative,
        enabled: true,
        default_category: (!negative).then_some(Category::GlorificationApology),
        pdq_max_distance,
    }
}

fn entry(id: &str, algorithm: HashAlgorithm, hash: &str) -> HashEntry {
    HashEntry {
        id: id.into(),
        algorithm,
        hash: hash.into(),
        category: None,
        entity: None,
        quality: None,
        enabled: true,
        expires: None,
        metadata: Default::default(),
        line: 1,
    }
}

fn pdq(id: &str, hash: &str) -> HashEntry {
    entry(id, HashAlgorithm::Pdq, hash)
}

fn hashes(meta: ListMeta, entries: Vec<HashEntry>) -> List {
    let entries_path = PathBuf::from(format!("lists/{}/entries.jsonl", meta.id));
    List {
        meta,
        entries: Entries::Hashes(entries),
        entries_path,
    }
}

fn keywords(id: &str, term: &str) -> List {
    let meta = ListMeta {
        kind: ListKind::Keywords,
        ..meta(id, false, None)
    };
    List {
        entries_path: PathBuf::from(format!("lists/{id}/entries.jsonl")),
        meta,
        entries: Entries::Keywords(vec![KeywordEntry {
            id: "k1".into(),
            term: term.into(),
            lang: None,
            category: None,
            weight: None,
            match_mode: MatchMode::Word,
            enabled: true,
            expires: None,
            line: 1,
        }]),
    }
}

fn build(lists: Vec<List>) -> Classifier {
    Classifier::new(&ListSet { lists }).unwrap()
}

fn hashed(bytes: &[u8]) -> DihedralHashes {
    hash_image_bytes_for_matching(bytes, &DecodeLimits::default()).unwrap()
}

fn png_of(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

/// Classifies a page whose text is `text` and whose images are `(url, hashes)`.
fn classify_images(
    c: &Classifier,
    text: &str,
    images: &[(&str, &DihedralHashes)],
) -> Classification {
    let images: Vec<ImageEvidence> = images
        .iter()
        .map(|&(url, h)| ImageEvidence {
            url,
            pdq: Some(h),
            ..ImageEvidence::default()
        })
        .collect();
    c.classify(&Document {
        images: &images,
        ..Document::text(text)
    })
}

/// `list/entry` of the matches, `!` before suppressed ones.
fn ids(c: &Classification) -> Vec<String> {
    c.matches
        .iter()
        .map(|m| {
            let bang = if m.suppressed_by.is_some() { "!" } else { "" };
            format!("{bang}{}/{}", m.list, m.entry)
        })
        .collect()
}

const IMAGE: &str = "labelme/q0291.jpg";

#[test]
fn pdq_match_names_image_distance_variant_and_quality() {
    let h = hashed(&fixture(IMAGE));
    let want = published(IMAGE);
    let d = distance(&h.original().bits, &bits_from_hex(&want).unwrap());
    assert!(
        d <= 2,
        "our hash of {IMAGE} is {d} bits from the published one"
    );
    let c = build(vec![hashes(
        meta("pdq", false, None),
        vec![pdq("p1", &want)],
    )]);
    assert_eq!(c.stats().pdq, 1);
    let r = classify_images(&c, "", &[("http://origin.test/a.jpg", &h)]);
    assert_eq!(ids(&r), ["pdq/p1"]);
    let m = &r.matches[0];
    assert_eq!(m.kind, MatchKind::Pdq);
    assert_eq!(m.term.as_deref(), Some(want.as_str()));
    let img = m.image.as_ref().unwrap();
    assert_eq!(img.url, "http://origin.test/a.jpg");
    assert_eq!(img.distance, Some(d));
    assert_eq!(img.variant.as_deref(), Some("original"));
    assert_eq!(img.quality, Some(100));
    assert!(m.span.is_none() && m.matched_text.is_none());
    assert_eq!(r.categories[0].evidence, ["p1"]);
    assert_eq!(r.categories[0].score, 0.95);
}

#[test]
fn each_list_holds_hits_to_its_own_threshold() {
    let h = hashed(&fixture(IMAGE));
    let base = bits_to_hex(&h.original().bits);
    // The same near-duplicate, 20 bits away, in three lists with different thresholds.
    let near = flip_bits(&base, 20);
    let far = flip_bits(&base, 40);
    let c = build(vec![
        hashes(
            meta("default31", false, None),
            vec![pdq("n", &near), pdq("f", &far)],
        ),
        hashes(meta("strict10", false, Some(10)), vec![pdq("n", &near)]),
        hashes(meta("loose20", false, Some(20)), vec![pdq("n", &near)]),
        hashes(meta("wide45", false, Some(45)), vec![pdq("f", &far)]),
    ]);
    let r = classify_images(&c, "", &[("http://origin.test/a.jpg", &h)]);
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, ["default31/n", "loose20/n", "wide45/f"]);
    for m in &r.matches {
        let d = m.image.as_ref().unwrap().distance.unwrap();
        assert_eq!(d, if m.entry == "n" { 20 } else { 40 });
    }
}

#[test]
fn quality_below_50_is_never_matched() {
    let h = hashed(&fixture(IMAGE));
    let c = build(vec![hashes(
        meta("pdq", false, None),
        vec![pdq("p1", &bits_to_hex(&h.original().bits))],
    )]);
    let q49 = DihedralHashes { quality: 49, ..h };
    let q50 = DihedralHashes { quality: 50, ..h };
    let r = classify_images(&c, "", &[("http://o.test/49.jpg", &q49)]);
    assert!(r.matches.is_empty(), "{:?}", r.matches);
    let r = classify_images(&c, "", &[("http://o.test/50.jpg", &q50)]);
    assert_eq!(ids(&r), ["pdq/p1"]);
    assert_eq!(r.matches[0].image.as_ref().unwrap().quality, Some(50));
    // A real low-quality image: Meta's q0003 photo hashes at quality 2.
    let low = hashed(&fixture("labelme/q0003.jpg"));
    assert!(low.quality < 50);
    let c = build(vec![hashes(
        meta("pdq", false, None),
        vec![pdq("low", &published("labelme/q0003.jpg"))],
    )]);
    assert!(classify_images(&c, "", &[("http://o.test/q3.jpg", &low)])
        .matches
        .is_empty());
}

#[test]
fn rotated_and_flipped_copies_match_through_a_variant() {
    let bytes = fixture(IMAGE);
    let img = image::load_from_memory(&bytes).unwrap();
    let c = build(vec![hashes(
        meta("pdq", false, None),
        vec![pdq("p1", &published(IMAGE))],
    )]);
    for (copy, variant) in [
        (img.fliph(), "flipy"),
        (img.flipv(), "flipx"),
        (img.rotate90(), "rotate90"),
        (img.rotate180(), "rotate180"),
        (img.rotate270(), "rotate270"),
    ] {
        let png = png_of(&copy);
        let h = hashed(&png);
        let plain = distance(
            &h.original().bits,
            &bits_from_hex(&published(IMAGE)).unwrap(),
        );
        assert!(
            plain > 31,
            "{variant}: the copy's own hash is {plain} bits away"
        );
        let r = classify_images(&c, "", &[("http://o.test/copy.png", &h)]);
        assert_eq!(ids(&r), ["pdq/p1"], "{variant}");
        let m = r.matches[0].image.as_ref().unwrap();
        assert_eq!(m.variant.as_deref(), Some(variant));
        assert!(m.distance.unwrap() <= 2, "{variant}: {m:?}");
        // The DCT-derived variants alone (the reference's method) miss this 256-px copy.
        let derived = hash_image_bytes_dihedral(&png, &DecodeLimits::default()).unwrap();
        let best = derived
            .bits
            .iter()
            .map(|b| distance(b, &bits_from_hex(&published(IMAGE)).unwrap()))
            .min()
            .unwrap();
        assert!(best > 2, "{variant}: derived variant at {best}");
    }
}

#[test]
fn an_allow_listed_image_suppresses_its_own_matches_only() {
    let a = hashed(&fixture(IMAGE));
    let b = hashed(&fixture("labelme/q2821.jpg"));
    let c = build(vec![
        keywords("kw", "Islamic State"),
        hashes(
            meta("pdq", false, None),
            vec![
                pdq("a", &published(IMAGE)),
                pdq("b", &published("labelme/q2821.jpg")),
            ],
        ),
        // A partner knows image `a` is a news agency's photo.
        hashes(
            meta("allow", true, None),
            vec![pdq("news-photo", &published(IMAGE))],
        ),
    ]);
    let r = classify_images(
        &c,
        "Islamic State",
        &[("http://o.test/a.jpg", &a), ("http://o.test/b.jpg", &b)],
    );
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, ["!pdq/a", "kw/k1", "pdq/b"]);
    let suppressed = r.matches.iter().find(|m| m.entry == "a").unwrap();
    assert_eq!(
        suppressed.suppressed_by.as_deref(),
        Some("allow/news-photo")
    );
    assert_eq!(suppressed.suppressed_reason.as_deref(), Some("allow_list"));
    let evidence: Vec<&str> = r
        .categories
        .iter()
        .flat_map(|c| c.evidence.iter().map(String::as_str))
        .collect();
    assert!(
        !evidence.contains(&"a") && evidence.contains(&"b"),
        "{evidence:?}"
    );
}

#[test]
fn exact_digests_of_images_match_and_the_document_image_is_the_document() {
    let bytes = fixture(IMAGE);
    let sha = hex::encode(Sha256::digest(&bytes));
    let md5 = hex::encode(Md5::digest(&bytes));
    let h = hashed(&bytes);
    let c = build(vec![
        keywords("kw", "Islamic State"),
        hashes(
            meta("exact", false, None),
            vec![
                entry("s", HashAlgorithm::Sha256, &sha.to_uppercase()),
                entry("m", HashAlgorithm::Md5, &md5),
            ],
        ),
    ]);
    let image = ImageEvidence {
        url: "http://o.test/a.jpg",
        sha256: Some(&sha),
        md5: Some(&md5),
        pdq: Some(&h),
    };
    let r = c.classify(&Document {
        images: &[image],
        ..Document::text("Islamic State")
    });
    assert_eq!(ids(&r), ["exact/s", "exact/m", "kw/k1"]);
    assert_eq!(r.matches[0].kind, MatchKind::Sha256);
    let img = r.matches[0].image.as_ref().unwrap();
    assert_eq!(img.url, "http://o.test/a.jpg");
    assert_eq!(
        (img.distance, img.variant.as_deref(), img.quality),
        (None, None, None)
    );

    // A referral of the image URL itself: the content's digests match once, and an allow
    // list entry for the image then clears the whole document.
    let c = build(vec![
        keywords("kw", "Islamic State"),
        hashes(
            meta("exact", false, None),
            vec![entry("s", HashAlgorithm::Sha256, &sha)],
        ),
        hashes(
            meta("allow", true, None),
            vec![pdq("ok", &published(IMAGE))],
        ),
    ]);
    let r = c.classify(&Document {
        sha256: Some(&sha),
        images: &[image],
        ..Document::text("Islamic State")
    });
    assert_eq!(ids(&r), ["!exact/s", "!kw/k1"]);
    assert!(r
        .matches
        .iter()
        .all(|m| m.suppressed_by.as_deref() == Some("allow/ok")));
    assert!(r.categories.is_empty());
}

#[test]
fn disabled_and_expired_entries_do_not_match_images() {
    let h = hashed(&fixture(IMAGE));
    let want = published(IMAGE);
    let expired = HashEntry {
        expires: Some("2020-01-01T00:00:00Z".parse().unwrap()),
        ..pdq("expired", &want)
    };
    let disabled = HashEntry {
        enabled: false,
        ..pdq("disabled", &want)
    };
    let c = build(vec![hashes(
        meta("pdq", false, None),
        vec![disabled, expired, pdq("live", &want)],
    )]);
    assert_eq!(c.stats().pdq, 2, "the disabled entry is not loaded");
    let r = classify_images(&c, "", &[("http://o.test/a.jpg", &h)]);
    assert_eq!(ids(&r), ["pdq/live"]);
}

#[test]
fn the_suppression_hook_sees_image_matches() {
    let h = hashed(&fixture(IMAGE));
    let c = build(vec![hashes(
        meta("pdq", false, None),
        vec![pdq("p1", &published(IMAGE))],
    )]);
    let images = [ImageEvidence {
        url: "http://o.test/a.jpg",
        pdq: Some(&h),
        ..ImageEvidence::default()
    }];
    let mut asked = Vec::new();
    let r = c.classify_with(
        &Document {
            images: &images,
            ..Document::text("")
        },
        &mut |m| {
            asked.push((m.entry.clone(), m.image.as_ref().map(|i| i.url.clone())));
            Some(("quarantine".into(), "quarantined".into()))
        },
    );
    assert_eq!(
        asked,
        [("p1".to_string(), Some("http://o.test/a.jpg".to_string()))]
    );
    assert_eq!(
        r.matches[0].suppressed_reason.as_deref(),
        Some("quarantined")
    );
    assert!(r.categories.is_empty());
}

#[test]
fn an_image_that_could_not_be_hashed_matches_nothing_by_pdq() {
    let c = build(vec![hashes(
        meta("pdq", false, None),
        vec![pdq("p1", &published(IMAGE))],
    )]);
    let images = [ImageEvidence {
        url: "http://o.test/broken.jpg",
        sha256: Some("not hex"),
        md5: None,
        pdq: None,
    }];
    let r = c.classify(&Document {
        images: &images,
        ..Document::text("")
    });
    assert!(r.matches.is_empty());
}
