//! Time to PDQ-hash a 1-megapixel image: decoding JPEG / PNG bytes and hashing, hashing an
//! already decoded image, and all eight dihedral variants; and what matching costs per image
//! at several sizes (pixel-exact variants vs derived ones).
//! `cargo bench -p classify --bench pdq_hash`.

use classify::pdq::{
    hash_image, hash_image_bytes, hash_image_bytes_dihedral, hash_image_bytes_for_matching,
    DecodeLimits,
};
use criterion::{criterion_group, criterion_main, Criterion};
use image::{DynamicImage, ImageFormat, RgbImage};
use std::hint::black_box;
use std::io::Cursor;

/// A 1000×1000 synthetic photo-like image: smooth shapes plus mild noise.
fn picture() -> DynamicImage {
    let mut seed = 1u32;
    let img = RgbImage::from_fn(1000, 1000, |x, y| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let noise = (seed >> 24) as f32 / 16.0;
        let (fx, fy) = (x as f32, y as f32);
        let r = 128.0 + 90.0 * (fx / 70.0).sin() * (fy / 110.0).cos() + noise;
        let g = 128.0 + 80.0 * ((fx + fy) / 90.0).sin() + noise;
        let b = if (fx - 500.0).hypot(fy - 400.0) < 220.0 {
            220.0
        } else {
            40.0 + noise
        };
        image::Rgb([r as u8, g as u8, b as u8])
    });
    DynamicImage::ImageRgb8(img)
}

fn encoded(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn bench(c: &mut Criterion) {
    let img = picture();
    let jpeg = encoded(&img, ImageFormat::Jpeg);
    let png = encoded(&img, ImageFormat::Png);
    let limits = DecodeLimits::default();
    let mut group = c.benchmark_group("pdq_1mp");
    group.bench_function("hash_decoded", |b| b.iter(|| black_box(hash_image(&img))));
    group.bench_function("decode_jpeg_and_hash", |b| {
        b.iter(|| black_box(hash_image_bytes(&jpeg, &limits).unwrap()))
    });
    group.bench_function("decode_png_and_hash", |b| {
        b.iter(|| black_box(hash_image_bytes(&png, &limits).unwrap()))
    });
    group.bench_function("decode_jpeg_and_hash_8_dihedral", |b| {
        b.iter(|| black_box(hash_image_bytes_dihedral(&jpeg, &limits).unwrap()))
    });
    group.finish();

    // What the pipeline pays per fetched image (`hash_image_bytes_for_matching`): eight hashes
    // of the transformed pixels up to 512 Ki pixels, the derived variants above.
    let mut group = c.benchmark_group("pdq_matching_jpeg");
    for (w, h) in [(256, 256), (640, 480), (724, 724), (1000, 1000)] {
        let small = img.resize_exact(w, h, image::imageops::FilterType::Triangle);
        let jpeg = encoded(&small, ImageFormat::Jpeg);
        group.bench_function(format!("{w}x{h}_exact_or_derived"), |b| {
            b.iter(|| black_box(hash_image_bytes_for_matching(&jpeg, &limits).unwrap()))
        });
        group.bench_function(format!("{w}x{h}_derived_only"), |b| {
            b.iter(|| black_box(hash_image_bytes_dihedral(&jpeg, &limits).unwrap()))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
