//! The PDQ algorithm on a luminance buffer, written for this project from the published
//! description (Meta, "The TMK+PDQF Video-Hashing Algorithm and the PDQ Image Similarity
//! Algorithm", and the ThreatExchange reference implementations' arithmetic):
//!
//! 1. luminance `Y = 0.299 R + 0.587 G + 0.114 B` (done by the caller, see `decode`);
//! 2. two passes of a horizontal then vertical box filter with window `ceil(side / 128)`
//!    (Jarosz: repeated box filters approximate a tent filter), then decimation to 64×64 by
//!    sampling the centre of each cell;
//! 3. quality: the sum of quantised gradients of the 64×64 image, scaled to 0–100;
//! 4. the 16×16 lowest non-constant coefficients of the 2-D DCT-II (frequencies 1–16);
//! 5. bit `k` is set when coefficient `k` exceeds the median of the 256 (the 128th smallest).
//!
//! Arithmetic is `f32` in the reference's order of operations (running box sums, matrix
//! products accumulated in index order), so on the same pixels the bits agree with the
//! C++ reference; differences against published hashes come from JPEG decoders.
//!
//! Memory: the luminance buffer is filtered in place; the vertical pass keeps a ring of the
//! last `window` original rows, so the peak is one `f32` per pixel plus `window` rows.

use super::hash::{set_bit, Dihedral, DihedralHashes, PdqBits, PdqHash};
use std::sync::OnceLock;

/// Images narrower or shorter than this get the all-zero hash with quality 0 (as in the
/// reference), which is never matched.
pub const MIN_HASHABLE_SIDE: usize = 5;

const PASSES: usize = 2;
const WINDOW_DIVISOR: usize = 128;

/// The 16×16 block of DCT coefficients and the quality of one image.
pub(crate) struct Dct16 {
    pub coefficients: [[f32; 16]; 16],
    pub quality: u8,
}

/// Hash of a luminance image (`width * height` values, row-major, 0.0–255.0). The buffer is
/// used as scratch space and holds the blurred image afterwards.
pub fn hash_luma(luma: &mut [f32], width: usize, height: usize) -> PdqHash {
    match dct16_of_luma(luma, width, height) {
        Some(dct) => PdqHash {
            bits: bits_of(&dct.coefficients),
            quality: dct.quality,
        },
        None => PdqHash {
            bits: [0; 32],
            quality: 0,
        },
    }
}

/// The eight dihedral hashes of a luminance image, from one downsampling and one DCT.
pub fn hash_luma_dihedral(luma: &mut [f32], width: usize, height: usize) -> DihedralHashes {
    match dct16_of_luma(luma, width, height) {
        Some(dct) => {
            let mut bits = [[0u8; 32]; 8];
            for d in Dihedral::ALL {
                bits[d as usize] = bits_of(&dihedral_of(&dct.coefficients, d));
            }
            DihedralHashes {
                bits,
                quality: dct.quality,
            }
        }
        None => DihedralHashes {
            bits: [[0; 32]; 8],
            quality: 0,
        },
    }
}

/// Steps 2–4; `None` when the image is too small to hash.
pub(crate) fn dct16_of_luma(luma: &mut [f32], width: usize, height: usize) -> Option<Dct16> {
    assert_eq!(
        luma.len(),
        width * height,
        "luma buffer is not width × height"
    );
    if width < MIN_HASHABLE_SIDE || height < MIN_HASHABLE_SIDE {
        return None;
    }
    let mut small = [[0f32; 64]; 64];
    if width == 64 && height == 64 {
        // Already at the working size (the reference skips the filter here too).
        for (i, row) in small.iter_mut().enumerate() {
            row.copy_from_slice(&luma[i * 64..i * 64 + 64]);
        }
    } else {
        blur(luma, width, height);
        decimate(luma, width, height, &mut small);
    }
    Some(Dct16 {
        quality: quality_of(&small),
        coefficients: dct64_to_16(&small),
    })
}

fn window_size(side: usize) -> usize {
    side.div_ceil(WINDOW_DIVISOR)
}

/// Jarosz filter: `PASSES` × (box along rows, box along columns), in place.
fn blur(luma: &mut [f32], width: usize, height: usize) {
    let row_window = window_size(width);
    let col_window = window_size(height);
    let mut line = vec![0f32; width];
    let mut lanes_in = vec![0f32; width * LANES];
    let mut lanes_out = vec![0f32; width * LANES];
    let mut ring = vec![0f32; col_window * width];
    let mut sums = vec![0f32; width];
    for _ in 0..PASSES {
        box_rows(
            luma,
            width,
            row_window,
            &mut line,
            &mut lanes_in,
            &mut lanes_out,
        );
        box_columns(luma, width, height, col_window, &mut ring, &mut sums);
    }
}

/// Rows filtered together in [`box_rows`].
const LANES: usize = 8;

/// [`box_1d`] along every row, in place. One row's running sum is a chain of dependent
/// additions, so rows go through eight at a time, interleaved (`lanes[x * 8 + row]`): eight
/// independent chains the compiler turns into vector operations, each lane doing exactly the
/// arithmetic of `box_1d` on its row.
fn box_rows(
    luma: &mut [f32],
    width: usize,
    window: usize,
    line: &mut [f32],
    lanes_in: &mut [f32],
    lanes_out: &mut [f32],
) {
    let mut blocks = luma.chunks_exact_mut(width * LANES);
    for block in &mut blocks {
        for (l, row) in block.chunks_exact(width).enumerate() {
            for (x, &v) in row.iter().enumerate() {
                lanes_in[x * LANES + l] = v;
            }
        }
        box_lanes(lanes_in, lanes_out, width, window);
        for (l, row) in block.chunks_exact_mut(width).enumerate() {
            for (x, v) in row.iter_mut().enumerate() {
                *v = lanes_out[x * LANES + l];
            }
        }
    }
    for row in blocks.into_remainder().chunks_exact_mut(width) {
        line.copy_from_slice(row);
        box_1d(line, row, window);
    }
}

/// [`box_1d`] on `LANES` interleaved vectors of length `n` at once.
fn box_lanes(input: &[f32], output: &mut [f32], n: usize, window: usize) {
    let half = (window + 2) / 2;
    let lead = half - 1;
    let mut sum = [0f32; LANES];
    let mut count = 0usize;
    let (mut right, mut left, mut out) = (0usize, 0usize, 0usize);
    let at = |v: usize| v * LANES..(v + 1) * LANES;
    let add = |sum: &mut [f32; LANES], x: &[f32]| sum.iter_mut().zip(x).for_each(|(s, v)| *s += *v);
    let sub = |sum: &mut [f32; LANES], x: &[f32]| sum.iter_mut().zip(x).for_each(|(s, v)| *s -= *v);
    let write = |o: &mut [f32], sum: &[f32; LANES], count: usize| {
        let c = count as f32;
        o.iter_mut().zip(sum).for_each(|(o, s)| *o = *s / c);
    };
    for _ in 0..lead {
        add(&mut sum, &input[at(right)]);
        count += 1;
        right += 1;
    }
    for _ in 0..(window + 1 - half) {
        add(&mut sum, &input[at(right)]);
        count += 1;
        write(&mut output[at(out)], &sum, count);
        right += 1;
        out += 1;
    }
    for _ in 0..n.saturating_sub(window) {
        add(&mut sum, &input[at(right)]);
        sub(&mut sum, &input[at(left)]);
        write(&mut output[at(out)], &sum, count);
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..lead {
        sub(&mut sum, &input[at(left)]);
        count -= 1;
        write(&mut output[at(out)], &sum, count);
        left += 1;
        out += 1;
    }
}

/// One 1-D box filter of `input` into `output` (same length). The window is centred (for an
/// even window, one more sample ahead than behind) and shrinks at the ends, where the average
/// is over the samples inside the image.
fn box_1d(input: &[f32], output: &mut [f32], window: usize) {
    let n = input.len();
    let half = (window + 2) / 2;
    let lead = half - 1; // samples summed before the first write
    let mut sum = 0f32;
    let mut count = 0usize;
    let mut right = 0usize;
    let mut left = 0usize;
    let mut out = 0usize;
    for _ in 0..lead {
        sum += input[right];
        count += 1;
        right += 1;
    }
    for _ in 0..(window + 1 - half) {
        sum += input[right];
        count += 1;
        output[out] = sum / count as f32;
        right += 1;
        out += 1;
    }
    for _ in 0..n.saturating_sub(window) {
        sum += input[right];
        sum -= input[left];
        output[out] = sum / count as f32;
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..lead {
        sum -= input[left];
        count -= 1;
        output[out] = sum / count as f32;
        left += 1;
        out += 1;
    }
}

/// [`box_1d`] down every column at once, in place: one running sum per column, so memory is
/// read row by row. A row is overwritten only after every read of it as a leading sample;
/// its original is kept in `ring` for the trailing subtraction `window` rows later.
fn box_columns(
    luma: &mut [f32],
    width: usize,
    height: usize,
    window: usize,
    ring: &mut [f32],
    sums: &mut [f32],
) {
    let half = (window + 2) / 2;
    let lead = half - 1;
    sums.fill(0.0);
    let mut count = 0usize;
    let mut right = 0usize;
    let mut left = 0usize;
    let mut out = 0usize;

    // Saves row `out`'s original into the ring, then writes the averages over it.
    let write = |luma: &mut [f32], ring: &mut [f32], sums: &[f32], out: usize, count: usize| {
        let row = &mut luma[out * width..(out + 1) * width];
        let slot = (out % window) * width;
        ring[slot..slot + width].copy_from_slice(row);
        let c = count as f32;
        for (o, s) in row.iter_mut().zip(sums) {
            *o = *s / c;
        }
    };
    let add = |luma: &[f32], sums: &mut [f32], right: usize| {
        for (s, v) in sums
            .iter_mut()
            .zip(&luma[right * width..(right + 1) * width])
        {
            *s += *v;
        }
    };
    let sub = |ring: &[f32], sums: &mut [f32], left: usize| {
        let slot = (left % window) * width;
        for (s, v) in sums.iter_mut().zip(&ring[slot..slot + width]) {
            *s -= *v;
        }
    };

    for _ in 0..lead {
        add(luma, sums, right);
        count += 1;
        right += 1;
    }
    for _ in 0..(window + 1 - half) {
        add(luma, sums, right);
        count += 1;
        write(luma, ring, sums, out, count);
        right += 1;
        out += 1;
    }
    for _ in 0..height.saturating_sub(window) {
        // Same order of float operations as the per-column loop: add the leading sample,
        // then subtract the trailing one.
        add(luma, sums, right);
        sub(ring, sums, left);
        write(luma, ring, sums, out, count);
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..lead {
        sub(ring, sums, left);
        count -= 1;
        write(luma, ring, sums, out, count);
        left += 1;
        out += 1;
    }
}

/// Samples the centre of each of the 64×64 cells.
fn decimate(luma: &[f32], width: usize, height: usize, small: &mut [[f32; 64]; 64]) {
    let centre = |k: usize, side: usize| (((k as f64 + 0.5) * side as f64) / 64.0) as usize;
    for (i, row) in small.iter_mut().enumerate() {
        let y = centre(i, height);
        for (j, v) in row.iter_mut().enumerate() {
            *v = luma[y * width + centre(j, width)];
        }
    }
}

/// Sum of |gradient| over the 64×64 image, each gradient quantised to whole percent of the
/// 0–255 range, divided by 90 and capped at 100: flat or nearly flat images score low.
fn quality_of(small: &[[f32; 64]; 64]) -> u8 {
    let step = |u: f32, v: f32| ((((u - v) * 100.0) / 255.0) as i32).abs();
    let mut sum: i32 = 0;
    for rows in small.windows(2) {
        for (&u, &v) in rows[0].iter().zip(&rows[1]) {
            sum += step(u, v);
        }
    }
    for row in small.iter() {
        for pair in row.windows(2) {
            sum += step(pair[0], pair[1]);
        }
    }
    (sum / 90).min(100) as u8
}

/// Rows 1–16 of the 64-point DCT-II matrix, scaled by √(2/64).
fn dct_matrix() -> &'static [[f32; 64]; 16] {
    static MATRIX: OnceLock<[[f32; 64]; 16]> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut m = [[0f32; 64]; 16];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let angle =
                    (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *v = scale * angle.cos() as f32;
            }
        }
        m
    })
}

/// `D · A · Dᵀ` with `D` the 16×64 matrix above: the coefficients of frequencies 1–16 in
/// both directions.
fn dct64_to_16(a: &[[f32; 64]; 64]) -> [[f32; 16]; 16] {
    let d = dct_matrix();
    let mut t = [[0f32; 64]; 16];
    for (i, t_row) in t.iter_mut().enumerate() {
        for (j, t_ij) in t_row.iter_mut().enumerate() {
            let mut s = 0f32;
            for k in 0..64 {
                s += d[i][k] * a[k][j];
            }
            *t_ij = s;
        }
    }
    let mut b = [[0f32; 16]; 16];
    for (i, b_row) in b.iter_mut().enumerate() {
        for (j, b_ij) in b_row.iter_mut().enumerate() {
            let mut s = 0f32;
            for k in 0..64 {
                s += t[i][k] * d[j][k];
            }
            *b_ij = s;
        }
    }
    b
}

/// The coefficients a transformed image would have (see [`Dihedral::dct_map`]).
pub(crate) fn dihedral_of(a: &[[f32; 16]; 16], which: Dihedral) -> [[f32; 16]; 16] {
    let (rows, cols, transpose) = which.dct_map();
    let mut b = [[0f32; 16]; 16];
    for (i, a_row) in a.iter().enumerate() {
        for (j, &v) in a_row.iter().enumerate() {
            let negate = (rows && i % 2 == 0) != (cols && j % 2 == 0);
            let v = if negate { -v } else { v };
            if transpose {
                b[j][i] = v;
            } else {
                b[i][j] = v;
            }
        }
    }
    b
}

/// One bit per coefficient: above the median (the 128th smallest of the 256) or not.
fn bits_of(c: &[[f32; 16]; 16]) -> PdqBits {
    let mut sorted: Vec<f32> = c.iter().flatten().copied().collect();
    sorted.sort_unstable_by(f32::total_cmp);
    let median = sorted[127];
    let mut bits = [0u8; 32];
    for (k, &v) in c.iter().flatten().enumerate() {
        if v > median {
            set_bit(&mut bits, k);
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's own worked example: window 7 over 0..16 gives these sums.
    #[test]
    fn box_filter_matches_the_reference_worked_examples() {
        let input: Vec<f32> = (0..16).map(|x| x as f32).collect();
        let mut out = vec![0f32; 16];
        box_1d(&input, &mut out, 7);
        let sums = [
            6, 10, 15, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 75, 65, 54,
        ];
        let counts = [4, 5, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 5, 4];
        for k in 0..16 {
            assert_eq!(
                out[k],
                sums[k] as f32 / counts[k] as f32,
                "window 7, index {k}"
            );
        }
        box_1d(&input, &mut out, 8);
        let sums = [
            10, 15, 21, 28, 36, 44, 52, 60, 68, 76, 84, 92, 84, 75, 65, 54,
        ];
        let counts = [5, 6, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7, 6, 5, 4];
        for k in 0..16 {
            assert_eq!(
                out[k],
                sums[k] as f32 / counts[k] as f32,
                "window 8, index {k}"
            );
        }
    }

    #[test]
    fn column_pass_equals_the_per_column_filter() {
        let (w, h) = (7usize, 300usize);
        let img: Vec<f32> = (0..w * h).map(|k| ((k * 7919) % 256) as f32).collect();
        for window in [1, 2, 3, 5, 8] {
            let mut in_place = img.clone();
            let mut ring = vec![0f32; window * w];
            let mut sums = vec![0f32; w];
            box_columns(&mut in_place, w, h, window, &mut ring, &mut sums);
            for j in 0..w {
                let col: Vec<f32> = (0..h).map(|i| img[i * w + j]).collect();
                let mut out = vec![0f32; h];
                box_1d(&col, &mut out, window);
                for i in 0..h {
                    assert_eq!(in_place[i * w + j], out[i], "window {window} at ({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn row_pass_equals_the_per_row_filter() {
        // 19 rows: two interleaved blocks of eight and three rows on their own.
        let (w, h) = (301usize, 19usize);
        let img: Vec<f32> = (0..w * h)
            .map(|k| ((k * 104_729) % 256) as f32 / 3.0)
            .collect();
        for window in [1, 2, 3, 8] {
            let mut in_place = img.clone();
            let (mut line, mut a, mut b) =
                (vec![0f32; w], vec![0f32; w * LANES], vec![0f32; w * LANES]);
            box_rows(&mut in_place, w, window, &mut line, &mut a, &mut b);
            for (i, row) in img.chunks_exact(w).enumerate() {
                let mut out = vec![0f32; w];
                box_1d(row, &mut out, window);
                assert_eq!(
                    &in_place[i * w..(i + 1) * w],
                    &out[..],
                    "window {window}, row {i}"
                );
            }
        }
    }

    #[test]
    fn flat_and_tiny_images_have_quality_zero() {
        let mut flat = vec![128f32; 100 * 80];
        assert_eq!(hash_luma(&mut flat, 100, 80).quality, 0);
        let mut tiny = vec![10f32; 4 * 40];
        let h = hash_luma(&mut tiny, 4, 40);
        assert_eq!((h.bits, h.quality), ([0; 32], 0));
    }

    #[test]
    fn dihedral_maps_are_a_group_of_eight_distinct_transforms() {
        let mut a = [[0f32; 16]; 16];
        for (i, row) in a.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (i * 16 + j) as f32 + 1.0;
            }
        }
        let images: Vec<_> = Dihedral::ALL.iter().map(|&d| dihedral_of(&a, d)).collect();
        for x in 0..8 {
            for y in x + 1..8 {
                assert_ne!(
                    images[x],
                    images[y],
                    "{:?} = {:?}",
                    Dihedral::ALL[x],
                    Dihedral::ALL[y]
                );
            }
        }
        // A rotation by 90° four times, or a flip twice, is the identity.
        let mut r = a;
        for _ in 0..4 {
            r = dihedral_of(&r, Dihedral::Rotate90);
        }
        assert_eq!(r, a);
        let r180 = dihedral_of(&dihedral_of(&a, Dihedral::Rotate90), Dihedral::Rotate90);
        assert_eq!(r180, images[Dihedral::Rotate180 as usize]);
        for d in [
            Dihedral::FlipX,
            Dihedral::FlipY,
            Dihedral::FlipPlus1,
            Dihedral::FlipMinus1,
        ] {
            assert_eq!(dihedral_of(&dihedral_of(&a, d), d), a, "{d:?} twice");
        }
    }

    #[test]
    fn hash_has_half_its_bits_set_on_a_textured_image() {
        let (w, h) = (200usize, 150usize);
        let mut img: Vec<f32> = (0..w * h)
            .map(|k| {
                let (x, y) = ((k % w) as f32, (k / w) as f32);
                127.5 + 60.0 * (x / 9.0).sin() + 60.0 * (y / 13.0 + x / 40.0).cos()
            })
            .collect();
        let hash = hash_luma(&mut img, w, h);
        let ones: u32 = hash.bits.iter().map(|b| b.count_ones()).sum();
        assert_eq!(ones, 128);
        assert!(hash.quality >= 50, "quality {}", hash.quality);
    }
}
