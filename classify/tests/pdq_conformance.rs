//! PDQ conformance on Meta's reference images and published hashes.
//!
//! - `fixtures/pdq/` (copied, BSD licence beside them): the 9 small images with published
//!   Python-reference hashes; each must be within 16 bits (the tolerance the reference's own
//!   test accepts, since JPEG decoders differ).
//! - `../shared/data/pdq/` (beside the repository; override with `TRIAGE_PDQ_REFERENCE_DIR`):
//!   the 1600×1004 bridge photo in eight orientations (2.9 MB, not copied) with Python and C++
//!   reference hashes, and edits of it. When that directory is absent those tests say so on
//!   stderr and check nothing else.
//!
//! Every test prints the distances it measured (`cargo test -p classify --test
//! pdq_conformance -- --nocapture`); docs/pdq.md records them.

use classify::pdq::{
    bits_from_hex, distance, hash_image, hash_image_bytes, hash_image_bytes_dihedral,
    hash_image_dihedral, DecodeLimits, Dihedral, PdqBits,
};
use std::path::{Path, PathBuf};

const REFERENCE_TOLERANCE: u32 = 16;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pdq")
}

fn shared_reference() -> Option<PathBuf> {
    let dir = std::env::var_os("TRIAGE_PDQ_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/pdq"));
    if dir.join("expected.csv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "PDQ reference photos not found at {} (set TRIAGE_PDQ_REFERENCE_DIR); \
             bridge-photo checks skipped",
            dir.display()
        );
        None
    }
}

struct Expected {
    file: String,
    python: PdqBits,
    cpp: Option<PdqBits>,
}

fn expected(dir: &Path) -> Vec<Expected> {
    let csv = std::fs::read_to_string(dir.join("expected.csv")).expect("expected.csv");
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            Expected {
                file: cols[0].to_string(),
                python: bits_from_hex(cols[1]).expect("python reference hash"),
                cpp: cols
                    .get(2)
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| bits_from_hex(s).expect("C++ reference hash")),
            }
        })
        .collect()
}

fn hash_file(path: &Path) -> classify::pdq::PdqHash {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hash_image_bytes(&bytes, &DecodeLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_against_references(dir: &Path) -> usize {
    let mut checked = 0;
    for e in expected(dir) {
        let h = hash_file(&dir.join(&e.file));
        let to_python = distance(&h.bits, &e.python);
        let to_cpp = e.cpp.map(|c| distance(&h.bits, &c));
        println!(
            "{:<32} quality {:>3}  distance to Python reference {:>2}{}",
            e.file,
            h.quality,
            to_python,
            to_cpp.map_or(String::new(), |d| format!(", to C++ reference {d:>2}"))
        );
        assert!(
            to_python <= REFERENCE_TOLERANCE,
            "{}: {} is {to_python} bits from the reference {}",
            e.file,
            h.to_hex(),
            classify::pdq::bits_to_hex(&e.python)
        );
        if let Some(d) = to_cpp {
            assert!(
                d <= REFERENCE_TOLERANCE,
                "{}: {d} bits from the C++ reference",
                e.file
            );
        }
        checked += 1;
    }
    checked
}

#[test]
fn small_reference_images_match_their_published_hashes() {
    assert_eq!(check_against_references(&fixtures()), 9);
}

#[test]
fn bridge_photos_match_their_published_hashes() {
    let Some(dir) = shared_reference() else {
        return;
    };
    assert_eq!(check_against_references(&dir), 17);
}

/// Each `dih/` file is the original photo rotated or flipped; its hash must be close to the
/// original's variant of the same name, and far from the original's plain hash.
#[test]
fn dihedral_variants_match_the_rotated_and_flipped_photos() {
    let Some(dir) = shared_reference() else {
        return;
    };
    let files = [
        (Dihedral::Original, "bridge-1-original.jpg"),
        (Dihedral::Rotate90, "bridge-2-rotate-90.jpg"),
        (Dihedral::Rotate180, "bridge-3-rotate-180.jpg"),
        (Dihedral::Rotate270, "bridge-4-rotate-270.jpg"),
        (Dihedral::FlipX, "bridge-5-flipx.jpg"),
        (Dihedral::FlipY, "bridge-6-flipy.jpg"),
        (Dihedral::FlipPlus1, "bridge-7-flip-plus-1.jpg"),
        (Dihedral::FlipMinus1, "bridge-8-flip-minus-1.jpg"),
    ];
    let original = std::fs::read(dir.join("dih").join(files[0].1)).unwrap();
    let variants = hash_image_bytes_dihedral(&original, &DecodeLimits::default()).unwrap();
    for (which, file) in files {
        let h = hash_file(&dir.join("dih").join(file));
        let to_variant = distance(&h.bits, &variants.get(which).bits);
        let nearest = Dihedral::ALL
            .iter()
            .min_by_key(|&&d| distance(&h.bits, &variants.get(d).bits))
            .unwrap();
        println!(
            "{file:<28} to the original's {which:<10} variant: {to_variant:>2} bits; \
             to its plain hash: {:>3}",
            distance(&h.bits, &variants.original().bits)
        );
        assert!(
            to_variant <= 8,
            "{file}: {to_variant} bits from the {which} variant"
        );
        assert_eq!(
            *nearest, which,
            "{file} is nearest to the {nearest} variant"
        );
        if which != Dihedral::Original {
            assert!(distance(&h.bits, &variants.original().bits) > 31);
        }
    }
}

/// The image crate's rotation or flip that gives each variant (see [`Dihedral`]).
fn transformed(img: &image::DynamicImage, which: Dihedral) -> image::DynamicImage {
    match which {
        Dihedral::Original => img.clone(),
        Dihedral::Rotate90 => img.rotate270(),
        Dihedral::Rotate180 => img.rotate180(),
        Dihedral::Rotate270 => img.rotate90(),
        Dihedral::FlipX => img.flipv(),
        Dihedral::FlipY => img.fliph(),
        Dihedral::FlipPlus1 => img.rotate90().fliph(),
        Dihedral::FlipMinus1 => img.rotate90().flipv(),
    }
}

/// Hashes each rotation and flip of `img` made with the image crate and returns, per
/// variant, the distance to the variant derived from the original's DCT; asserts that the
/// right variant is the nearest one.
fn variant_distances(name: &str, img: &image::DynamicImage) -> Vec<u32> {
    let variants = hash_image_dihedral(img);
    let mut out = Vec::new();
    for which in Dihedral::ALL {
        let h = hash_image(&transformed(img, which));
        let d = distance(&h.bits, &variants.get(which).bits);
        let nearest = Dihedral::ALL
            .iter()
            .map(|&v| distance(&h.bits, &variants.get(v).bits))
            .min()
            .unwrap();
        assert_eq!(d, nearest, "{name} {which}: another variant is nearer");
        out.push(d);
    }
    println!(
        "{name:<34} {}x{}: transformed image vs variant, bits: {out:?}",
        img.width(),
        img.height()
    );
    out
}

/// Rotations and flips made here with the image crate. The DCT-derived variants are exact
/// for the 64×64 grid, so what differs is PDQ's downsampling, which is not mirror-symmetric
/// (an even box window leans one pixel forward; cell centres round down): on a large photo
/// that is a handful of bits, on a small detailed image it can be many (measured and kept
/// in docs/pdq.md). The transpose needs no resampling and must be exact.
#[test]
fn dihedral_variants_match_image_crate_transforms() {
    // Self-contained: a 900×600 smooth synthetic picture.
    let synthetic = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(900, 600, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let r = 128.0 + 90.0 * (fx / 83.0).sin() * (fy / 121.0).cos();
        let g = 128.0 + 80.0 * ((fx + 2.0 * fy) / 157.0).sin();
        let b = if (fx - 600.0).hypot(fy - 250.0) < 140.0 {
            230.0
        } else {
            30.0
        };
        image::Rgb([r as u8, g as u8, b as u8])
    }));
    let d = variant_distances("synthetic", &synthetic);
    assert!(d.iter().all(|&d| d <= 8), "{d:?}");
    assert_eq!(d[Dihedral::FlipPlus1 as usize], 0);

    // The copied 256×256 reference images: reported; only the transpose is asserted exact.
    for file in ["q0291.jpg", "q0746.jpg", "q1050.jpg", "q2821.jpg"] {
        let bytes = std::fs::read(fixtures().join("labelme").join(file)).unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        let d = variant_distances(&format!("labelme/{file}"), &img);
        assert_eq!(d[Dihedral::FlipPlus1 as usize], 0);
    }

    // The bridge photo, when the reference directory is there.
    if let Some(dir) = shared_reference() {
        let bytes = std::fs::read(dir.join("dih/bridge-1-original.jpg")).unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        let d = variant_distances("dih/bridge-1-original.jpg", &img);
        assert!(d.iter().all(|&d| d <= 8), "{d:?}");
    }
}

/// Edits of the original photo (blur, shrink, crop to a square, contrast): distances are
/// reported; the edits PDQ is built to survive must stay within the default threshold.
#[test]
fn bridge_edits_stay_close() {
    let Some(dir) = shared_reference() else {
        return;
    };
    let original = hash_file(&dir.join("bridge-mods/aaa-orig.jpg"));
    for (file, must_match) in [
        ("blur-a-lot.jpg", true),
        ("high-contrast.jpg", true),
        ("shrink-a-lot.jpg", true),
        ("square-256x256.jpg", false),
    ] {
        let h = hash_file(&dir.join("bridge-mods").join(file));
        let d = distance(&h.bits, &original.bits);
        println!(
            "bridge-mods/{file:<20} quality {:>3}, distance to the original {d:>3}",
            h.quality
        );
        if must_match {
            assert!(d <= 31, "{file}: {d} bits from the original");
        }
    }
}
