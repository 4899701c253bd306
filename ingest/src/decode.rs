//! `Content-Encoding` decoding through a capped reader. reqwest's own decompression is off so
//! the raw bytes can be kept as evidence and a bomb is stopped at our cap, not after inflating.

use std::io::Read;

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

/// Decoded sizes up to this are exempt from the ratio limit: a small, very repetitive page can
/// legitimately compress better than 100:1.
pub(crate) const RATIO_FLOOR_BYTES: u64 = 1024 * 1024;

/// More stacked codings than this is not something a real server sends.
const MAX_LAYERS: usize = 3;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The decoded content is larger than the body cap.
    TooLarge,
    /// Anything else: unknown coding, corrupt stream, ratio over the limit.
    Invalid(String),
}

/// The codings named by the `Content-Encoding` header values, in the order applied by the
/// server, without `identity`.
pub(crate) fn parse_codings<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect()
}

/// Undoes `codings` (last applied first). The output may not exceed `max_bytes`, nor
/// `max_ratio` times the size of `raw` once it is over [`RATIO_FLOOR_BYTES`].
pub(crate) fn decode_body(
    raw: &[u8],
    codings: &[String],
    max_bytes: u64,
    max_ratio: u64,
) -> Result<Vec<u8>, DecodeError> {
    if codings.len() > MAX_LAYERS {
        return Err(DecodeError::Invalid(format!(
            "{} stacked content codings (at most {MAX_LAYERS} are decoded)",
            codings.len()
        )));
    }
    let ratio_cap = (raw.len() as u64)
        .saturating_mul(max_ratio)
        .max(RATIO_FLOOR_BYTES);
    let cap = max_bytes.min(ratio_cap);
    let mut data = raw.to_vec();
    for coding in codings.iter().rev() {
        let out = match coding.as_str() {
            "gzip" | "x-gzip" => read_capped(MultiGzDecoder::new(&data[..]), cap),
            "deflate" if looks_like_zlib(&data) => read_capped(ZlibDecoder::new(&data[..]), cap),
            // Some servers send raw deflate without the zlib wrapper the RFC asks for.
            "deflate" => read_capped(DeflateDecoder::new(&data[..]), cap),
            other => {
                return Err(DecodeError::Invalid(format!(
                    "the content coding {other:?} is not supported"
                )))
            }
        };
        let out = out.map_err(|e| DecodeError::Invalid(format!("corrupt {coding} stream: {e}")))?;
        if out.len() as u64 > cap {
            return Err(if cap == max_bytes {
                DecodeError::TooLarge
            } else {
                DecodeError::Invalid(format!(
                    "it expands more than {max_ratio} times ({} bytes received)",
                    raw.len()
                ))
            });
        }
        data = out;
    }
    Ok(data)
}

/// Reads at most `cap + 1` bytes, so the caller can tell "exactly at the cap" from "over".
fn read_capped(r: impl Read, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(cap.saturating_add(1)).read_to_end(&mut out)?;
    Ok(out)
}

/// A zlib header: CM = 8 (deflate) and the check bits make the first two bytes a multiple of 31.
fn looks_like_zlib(data: &[u8]) -> bool {
    data.len() >= 2
        && data[0] & 0x0f == 8
        && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

    /// Everything an encoder reading `data` produces.
    fn encoded(mut encoder: impl Read) -> Vec<u8> {
        let mut out = Vec::new();
        encoder.read_to_end(&mut out).unwrap();
        out
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        encoded(GzEncoder::new(data, Compression::default()))
    }

    #[test]
    fn gzip_deflate_and_stacks_decode() {
        let text = b"hello hello hello".repeat(10);
        let g = gzip(&text);
        for (coding, body) in [
            ("gzip", g.clone()),
            (
                "deflate",
                encoded(ZlibEncoder::new(&text[..], Compression::default())),
            ),
            // Raw deflate, without the zlib wrapper.
            (
                "deflate",
                encoded(DeflateEncoder::new(&text[..], Compression::default())),
            ),
        ] {
            assert_eq!(
                decode_body(&body, &[coding.into()], 1 << 20, 100).unwrap(),
                text,
                "{coding}"
            );
        }
        let gg = gzip(&g);
        let codings = parse_codings(["gzip, identity", "GZIP"].into_iter());
        assert_eq!(codings, ["gzip", "gzip"]);
        assert_eq!(decode_body(&gg, &codings, 1 << 20, 100).unwrap(), text);
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        let bomb = gzip(&vec![0u8; 20 << 20]);
        assert_eq!(
            decode_body(&bomb, &["gzip".into()], 10 << 20, 100_000),
            Err(DecodeError::TooLarge)
        );
        assert!(matches!(
            decode_body(&bomb, &["gzip".into()], 10 << 20, 100),
            Err(DecodeError::Invalid(m)) if m.contains("100 times")
        ));
        assert!(matches!(
            decode_body(b"not gzip", &["gzip".into()], 1 << 20, 100),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            decode_body(b"x", &["br".into()], 1 << 20, 100),
            Err(DecodeError::Invalid(m)) if m.contains("br")
        ));
        // Refused for the layer count, not for the stream: four valid gzip layers.
        let four_layers = gzip(&gzip(&gzip(&gzip(b"x"))));
        let four: Vec<String> = vec!["gzip".into(); 4];
        assert!(matches!(
            decode_body(&four_layers, &four, 1 << 20, 100),
            Err(DecodeError::Invalid(m)) if m.contains("4 stacked")
        ));
        assert_eq!(
            decode_body(&four_layers, &four[..3], 1 << 20, 100).unwrap(),
            gzip(b"x")
        );
    }
}
