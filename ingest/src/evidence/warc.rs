//! WARC/1.1 (ISO 28500:2017) records: writing the records of one capture, and reading them back
//! to check their digests.
//!
//! One file per capture, each record its own gzip member (the `.warc.gz` convention) or plain
//! (`.warc`). Per hop of the redirect chain: a `request` record (the request as our client sends
//! it, rebuilt from the URL and our fixed headers) and a `response` record (status line and
//! headers as received — names lower-cased by the HTTP parser, values byte-exact — then the
//! body exactly as received: transfer framing removed, content coding kept). Then one `metadata`
//! record (JSON: referral and case, every DNS answer, the peer, the hop chain, timings, digests,
//! TLS certificate digest, tool version) and, when text was extracted, a `conversion` record.
//! Every record carries `WARC-Block-Digest`; response records also `WARC-Payload-Digest`
//! (SHA-256 of the body, base32 like the common `sha1:` digests).

use std::cell::RefCell;
use std::io::Read;

use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One record, before serialisation.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub warc_type: &'static str,
    /// Named fields after `WARC-Type`, `WARC-Record-ID`; `WARC-Block-Digest`, `Content-Length`
    /// are added when written.
    pub fields: Vec<(&'static str, String)>,
    pub block: Bytes,
}

/// What the custody log keeps of each record: enough to name it and check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RecordRef {
    pub id: String,
    #[serde(rename = "type")]
    pub warc_type: String,
    /// `sha256:` + hex of the block.
    pub block_digest: String,
    /// `sha256:` + hex of the whole record as written (header and block): covers the WARC
    /// header fields too.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub record_digest: String,
}

/// A new `urn:uuid:` record id (UUID v7: time-ordered).
pub fn new_record_id() -> String {
    format!("<urn:uuid:{}>", uuid::Uuid::now_v7())
}

/// `sha256:` and the RFC 4648 base32 of the digest, as WARC tools write labelled digests.
pub fn sha256_label(data: &[u8]) -> String {
    format!("sha256:{}", base32(&Sha256::digest(data)))
}

/// RFC 4648 base32, upper case, padded.
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        let symbols = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < symbols {
                out.push(ALPHABET[((bits >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Record {
    pub fn new(warc_type: &'static str, block: impl Into<Bytes>) -> Record {
        Record {
            id: new_record_id(),
            warc_type,
            fields: Vec::new(),
            block: block.into(),
        }
    }

    pub fn field(mut self, name: &'static str, value: impl Into<String>) -> Record {
        self.fields.push((name, value.into()));
        self
    }

    /// The record as bytes (header, block, and the two CRLFs that end a record) and what the
    /// custody log keeps of it, hashing the block once.
    pub fn encode(&self) -> Encoded {
        let block_hash = Sha256::digest(&self.block);
        let mut head = String::with_capacity(512);
        head.push_str("WARC/1.1\r\n");
        head.push_str(&format!("WARC-Type: {}\r\n", self.warc_type));
        head.push_str(&format!("WARC-Record-ID: {}\r\n", self.id));
        for (k, v) in &self.fields {
            // A field value never contains a line break (values come from URLs, ids, digests).
            let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "WARC-Block-Digest: sha256:{}\r\n",
            base32(&block_hash)
        ));
        head.push_str(&format!("Content-Length: {}\r\n\r\n", self.block.len()));
        let mut bytes = Vec::with_capacity(head.len() + self.block.len() + 4);
        bytes.extend_from_slice(head.as_bytes());
        bytes.extend_from_slice(&self.block);
        bytes.extend_from_slice(b"\r\n\r\n");
        let reference = RecordRef {
            id: self.id.clone(),
            warc_type: self.warc_type.to_string(),
            block_digest: format!("sha256:{}", hex::encode(block_hash)),
            record_digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        };
        Encoded { bytes, reference }
    }
}

/// A serialised record.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub reference: RecordRef,
}

/// `sha256:` + base32 of a digest given in hex (e.g. one the fetcher already computed), or of
/// `data` when the hex is not a SHA-256.
pub fn sha256_label_from_hex(hex_digest: &str, data: &[u8]) -> String {
    match hex::decode(hex_digest) {
        Ok(d) if d.len() == 32 => format!("sha256:{}", base32(&d)),
        _ => sha256_label(data),
    }
}

/// Joins encoded records into one file's bytes; with `gzip`, one gzip member per record.
pub fn file_bytes(records: &[Encoded], gzip: bool) -> Vec<u8> {
    let total: usize = records.iter().map(|r| r.bytes.len()).sum();
    let mut out = Vec::with_capacity(if gzip { total / 3 + 64 } else { total });
    for r in records {
        if gzip {
            gzip_member(&r.bytes, &mut out);
        } else {
            out.extend_from_slice(&r.bytes);
        }
    }
    out
}

thread_local! {
    /// A deflate state per thread, reset for each member: building one costs a few hundred
    /// kilobytes of tables, which per record was most of the CPU of preserving a small page.
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
}

/// Appends `data` as one gzip member (RFC 1952): the header flate2's `GzEncoder` writes at
/// level "fast" (no name, no time, XFL 4, OS unknown), raw deflate, CRC-32 and size.
fn gzip_member(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]);
    DEFLATE.with(|c| {
        let mut c = c.borrow_mut();
        c.reset();
        out.reserve(data.len() / 2 + 64);
        loop {
            let done = usize::try_from(c.total_in()).expect("in-memory sizes fit");
            match c.compress_vec(&data[done..], out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => out.reserve(out.capacity().max(4096)),
                Err(e) => unreachable!("deflate into memory cannot fail: {e}"),
            }
        }
    });
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
}

/// A record read back from a file.
#[derive(Debug, Clone)]
pub struct ParsedRecord {
    pub fields: Vec<(String, String)>,
    pub block: Vec<u8>,
    /// `sha256:` + hex of the record's bytes as stored (uncompressed).
    pub record_digest: String,
}

impl ParsedRecord {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn id(&self) -> &str {
        self.get("WARC-Record-ID").unwrap_or("(no WARC-Record-ID)")
    }
}

/// Reading a file failed after `records` were read whole.
#[derive(Debug, Clone)]
pub struct ReadFailure {
    pub records: Vec<ParsedRecord>,
    pub reason: String,
}

/// Reads every record of a file (gzip or plain, told by the magic bytes). Stops at the first
/// damage, returning what was read before it and what went wrong.
pub fn read_records(file: &[u8]) -> Result<Vec<ParsedRecord>, ReadFailure> {
    let mut data = Vec::new();
    let mut inflate_error = None;
    if file.starts_with(&[0x1f, 0x8b]) {
        if let Err(e) = MultiGzDecoder::new(file).read_to_end(&mut data) {
            inflate_error = Some(format!("the gzip stream is damaged ({e})"));
        }
    } else {
        data = file.to_vec();
    }
    let mut records = Vec::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        match parse_one(rest) {
            Ok((record, used)) => {
                records.push(record);
                rest = &rest[used..];
            }
            Err(reason) => {
                let reason = inflate_error.unwrap_or(reason);
                return Err(ReadFailure { records, reason });
            }
        }
    }
    match inflate_error {
        Some(reason) => Err(ReadFailure { records, reason }),
        None => Ok(records),
    }
}

fn parse_one(data: &[u8]) -> Result<(ParsedRecord, usize), String> {
    let head_end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("a record header does not end")?;
    let head =
        std::str::from_utf8(&data[..head_end]).map_err(|_| "a record header is not UTF-8")?;
    let mut lines = head.split("\r\n");
    if lines.next() != Some("WARC/1.1") {
        return Err("a record does not start with WARC/1.1".into());
    }
    let mut fields = Vec::new();
    for line in lines {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("the header line {line:?} has no colon"))?;
        fields.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))
        .and_then(|(_, v)| v.parse().ok())
        .ok_or("a record has no valid Content-Length")?;
    let start = head_end + 4;
    let end = start
        .checked_add(len)
        .filter(|e| e + 4 <= data.len())
        .ok_or("a record is cut short (its block is shorter than its Content-Length)")?;
    if &data[end..end + 4] != b"\r\n\r\n" {
        return Err("a record does not end with two CRLFs after its Content-Length".into());
    }
    Ok((
        ParsedRecord {
            fields,
            block: data[start..end].to_vec(),
            record_digest: format!("sha256:{}", hex::encode(Sha256::digest(&data[..end + 4]))),
        },
        end + 4,
    ))
}

/// The digest problem of one record, if any: the block digest always, the payload digest of
/// `response` records (the body after the HTTP head).
pub fn check_digests(r: &ParsedRecord) -> Option<String> {
    let block = r.get("WARC-Block-Digest")?;
    if block != sha256_label(&r.block) {
        return Some(format!(
            "its block no longer matches WARC-Block-Digest {block}"
        ));
    }
    if let Some(payload) = r.get("WARC-Payload-Digest") {
        let body = r
            .block
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| &r.block[p + 4..]);
        match body {
            Some(body) if payload == sha256_label(body) => {}
            _ => {
                return Some(format!(
                    "its payload no longer matches WARC-Payload-Digest {payload}"
                ))
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        for (input, out) in [
            ("", ""),
            ("f", "MY======"),
            ("fo", "MZXQ===="),
            ("foo", "MZXW6==="),
            ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI======"),
        ] {
            assert_eq!(base32(input.as_bytes()), out);
        }
    }

    #[test]
    fn records_round_trip_plain_and_gzip_and_damage_is_found() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n\r\n".to_vec();
        let mut block = head.clone();
        block.extend_from_slice(b"<p>body</p>");
        let r1 = Record::new("response", block)
            .field("WARC-Target-URI", "http://example.test/")
            .field("WARC-Payload-Digest", sha256_label(b"<p>body</p>"));
        let r2 =
            Record::new("metadata", &b"{\"a\":1}"[..]).field("Content-Type", "application/json");
        for gzip in [false, true] {
            let bytes = file_bytes(&[r1.encode(), r2.encode()], gzip);
            let back = read_records(&bytes).unwrap();
            assert_eq!(back.len(), 2);
            assert_eq!(back[0].id(), r1.id);
            assert_eq!(back[0].get("warc-target-uri"), Some("http://example.test/"));
            assert!(back.iter().all(|r| check_digests(r).is_none()));
            // Truncated: the first record survives, the failure is reported.
            let cut = read_records(&bytes[..bytes.len() - 10]).unwrap_err();
            assert_eq!(cut.records.len(), 1, "gzip {gzip}: {}", cut.reason);
        }
        let mut plain = file_bytes(&[r1.encode()], false);
        let at = plain.len() - 8;
        plain[at] ^= 0x20;
        let back = read_records(&plain).unwrap();
        assert!(check_digests(&back[0])
            .unwrap()
            .contains("WARC-Block-Digest"));
    }

    #[test]
    fn gzip_members_from_the_reused_state_decode_one_by_one_and_together() {
        // Empty, small, incompressible, and larger than any one output reservation; each made
        // by the same reset deflate state, then read as one multi-member stream.
        let noise: Vec<u8> = (0u32..300_000)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"WARC/1.1\r\n".to_vec(),
            noise.clone(),
            "a quiet line of text\n".repeat(100_000).into_bytes(),
        ];
        let mut all = Vec::new();
        for data in &inputs {
            let mut one = Vec::new();
            gzip_member(data, &mut one);
            assert_eq!(&one[..4], &[0x1f, 0x8b, 8, 0]);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(&back, data);
            all.extend_from_slice(&one);
        }
        let mut back = Vec::new();
        MultiGzDecoder::new(&all[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, inputs.concat());
        // A flipped byte in the deflate data or the CRC is caught by the decoder.
        let mut one = Vec::new();
        gzip_member(b"evidence", &mut one);
        let last = one.len() - 5;
        one[last] ^= 1;
        let mut sink = Vec::new();
        assert!(flate2::read::GzDecoder::new(&one[..])
            .read_to_end(&mut sink)
            .is_err());
    }
}
