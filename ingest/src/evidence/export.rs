//! `triage evidence export CASE`: a folder a court or a partner agency can check without our
//! software or database — only `python3` (standard library) for the hashes and proofs, and
//! `openssl` for the Ed25519 signature.
//!
//! ```text
//!   README.md         what is in the bundle and how to check it by hand
//!   verify.py         the same checks, automated (standard library only)
//!   public-key.pem    the custody key (SPKI PEM)
//!   checkpoint.txt    signed tree head of the whole custody log at export time
//!   checkpoint.sig    its raw 64-byte Ed25519 signature
//!   custody.jsonl     the case's custody entries, byte for byte as logged
//!   proofs.json       per entry: leaf index, leaf hash, RFC 6962 audit path to the head
//!   warc/             the case's WARC files (purged ones are absent, their purge entries say so)
//!   SHA256SUMS        every file above, for `sha256sum -c`
//! ```

use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::custody::{now, read_log, Checkpoint, LOG_FILE};
use super::keys::CustodyKey;
use super::merkle::{inclusion_proof, root_of, Hash};
use super::verify::verify_vault;
use super::EvidenceError;

const VERIFY_PY: &str = include_str!("verify_bundle.py");

/// What was exported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    pub case_id: String,
    pub entries: usize,
    pub warc_files: usize,
    pub purged: usize,
    pub tree_size: u64,
    pub root: String,
    /// Problems found elsewhere in the store (other cases' files), not in this bundle.
    pub warnings: Vec<String>,
}

/// Writes the bundle of `case_id` from the evidence folder `root` into `out` (created; must be
/// empty or absent). Refuses if the custody log or this case's files fail verification.
pub fn export_case(
    root: &Path,
    key: &CustodyKey,
    case_id: &str,
    out: &Path,
) -> Result<ExportSummary, EvidenceError> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        EvidenceError::Io(format!("{what} {}: {e}", p.display()))
    };
    let report = verify_vault(root, &key.public())?;
    let mut warnings = report.warnings.clone();
    let case_marker = format!(" of case {case_id} ");
    for p in &report.problems {
        let other_capture = p.subject.starts_with("capture ") && !p.subject.contains(&case_marker);
        if other_capture {
            warnings.push(format!("{}: {}", p.subject, p.issue));
        } else {
            return Err(EvidenceError::Damaged(format!(
                "{} {} — the bundle would not hold; run `triage evidence verify`",
                p.subject, p.issue
            )));
        }
    }
    let contents = read_log(&root.join(LOG_FILE))?;
    let leaves: Vec<Hash> = contents.lines.iter().map(|l| l.leaf).collect();
    let size = leaves.len() as u64;
    let root_hash = root_of(&leaves);
    let selected: Vec<(usize, &super::custody::Line)> = contents
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.entry
                .as_ref()
                .is_ok_and(|e| e.case_id.as_deref() == Some(case_id))
        })
        .collect();
    if selected.is_empty() {
        return Err(EvidenceError::NotFound(format!(
            "the custody log has no entry for case {case_id}"
        )));
    }
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| io("cannot read", out, e))?
            .next()
            .is_some()
    {
        return Err(EvidenceError::Io(format!(
            "{} exists and is not empty; choose a new folder",
            out.display()
        )));
    }
    std::fs::create_dir_all(out.join("warc")).map_err(|e| io("cannot create", out, e))?;

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut custody = Vec::new();
    let mut proofs = Vec::new();
    let mut warc_files = 0;
    let mut purged = 0;
    let purged_ids: Vec<String> = selected
        .iter()
        .filter_map(|(_, l)| l.entry.as_ref().ok())
        .filter(|e| e.kind == "purge")
        .filter_map(|e| e.capture_id.clone())
        .collect();
    for (index, line) in &selected {
        let entry = line.entry.as_ref().expect("selected entries parse");
        custody.extend_from_slice(&line.bytes);
        custody.push(b'\n');
        proofs.push(json!({
            "seq": entry.seq,
            "leaf_index": index,
            "leaf_hash": hex::encode(line.leaf),
            "audit_path": inclusion_proof(*index, &leaves).iter().map(hex::encode).collect::<Vec<_>>(),
        }));
        if entry.kind != "capture" {
            continue;
        }
        let (Some(file), Some(id)) = (&entry.file, &entry.capture_id) else {
            continue;
        };
        if purged_ids.contains(id) {
            purged += 1;
            continue;
        }
        let bytes =
            std::fs::read(root.join(file)).map_err(|e| io("cannot read", &root.join(file), e))?;
        let name = file.rsplit('/').next().unwrap_or(file);
        files.push((format!("warc/{name}"), bytes));
        warc_files += 1;
    }
    let ck = Checkpoint::sign(key, size, &root_hash, now());
    let signature = hex::decode(&ck.signature).expect("hex we wrote");
    files.push(("custody.jsonl".into(), custody));
    files.push((
        "proofs.json".into(),
        serde_json::to_vec_pretty(&json!({
            "case_id": case_id,
            "hash": "RFC 6962: leaf = SHA-256(0x00 || entry line without its newline), node = SHA-256(0x01 || left || right)",
            "tree_size": size,
            "root": hex::encode(root_hash),
            "entries": proofs,
        }))
        .expect("json"),
    ));
    files.push(("checkpoint.txt".into(), ck.note().into_bytes()));
    files.push(("checkpoint.sig".into(), signature));
    files.push((
        "checkpoint.json".into(),
        serde_json::to_vec_pretty(&ck).expect("json"),
    ));
    files.push(("public-key.pem".into(), key.public().to_pem().into_bytes()));
    files.push(("verify.py".into(), VERIFY_PY.as_bytes().to_vec()));
    files.push((
        "README.md".into(),
        readme(case_id, size, &ck, warc_files, purged).into_bytes(),
    ));
    let mut sums = String::new();
    for (name, bytes) in &files {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|e| io("cannot write", &path, e))?;
        sums.push_str(&format!("{}  {name}\n", hex::encode(Sha256::digest(bytes))));
    }
    let path = out.join("SHA256SUMS");
    std::fs::write(&path, sums).map_err(|e| io("cannot write", &path, e))?;
    Ok(ExportSummary {
        case_id: case_id.to_string(),
        entries: selected.len(),
        warc_files,
        purged,
        tree_size: size,
        root: hex::encode(root_hash),
        warnings,
    })
}

fn readme(case_id: &str, size: u64, ck: &Checkpoint, warc_files: usize, purged: usize) -> String {
    format!(
        r#"# Evidence bundle for case {case_id}

Exported {time} by triage {version}. It holds {warc_files} WARC capture file(s){purged_note}, the
case's entries of the custody log, and proofs that tie those entries to the whole log
({size} entries) as signed at export time. Nothing here needs our software or database.

## Files

| file | what it is |
|---|---|
| `warc/*.warc.gz` | WARC/1.1 (ISO 28500) captures: per redirect hop a `request` and a `response` record (the body exactly as received, content coding kept), a `metadata` record (resolved addresses, hop chain, timings, digests, TLS certificate digest) and a `conversion` record (extracted text). Each record carries `WARC-Block-Digest` (and responses `WARC-Payload-Digest`): `sha256:` + base32. |
| `custody.jsonl` | this case's custody entries, byte for byte as logged. A `capture` entry names its WARC file with SHA-256 and size and lists every record's id and SHA-256 (hex). `observation` entries are liveness checks; a `retention` entry records that the case's evidence is kept longer (until `retain_until`; who asked and why in `detail`); a `purge` entry records that a file was deleted when its retention ended. |
| `proofs.json` | for each entry: its position (`leaf_index`) in the log, its leaf hash and its RFC 6962 audit path to the signed root. |
| `checkpoint.txt` | the signed statement: log format, key id, number of entries (`size`), Merkle root (`root`), time. |
| `checkpoint.sig` | the raw Ed25519 signature of `checkpoint.txt`, exactly as the file is. |
| `public-key.pem` | the Ed25519 public key of the custody log (SPKI PEM). Compare its fingerprint with the one the issuing unit publishes. |
| `verify.py` | runs every check below; Python 3 standard library only. |
| `SHA256SUMS` | SHA-256 of every file above. |

## Checking

Automatically: `python3 verify.py` (prints every check; exit status 0 when all pass). It calls
`openssl` for the signature if it is installed.

By hand:

1. Files arrived intact: `sha256sum -c SHA256SUMS`.
2. The checkpoint was signed by the custody key (OpenSSL 3):
   `openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in checkpoint.txt -sigfile checkpoint.sig`
   must print `Signature Verified Successfully`.
3. Each line of `custody.jsonl` (without its newline) hashes to its `leaf_hash`:
   `SHA-256(0x00 || line)`.
4. Each audit path leads from that leaf hash to the `root` in `checkpoint.txt`: the algorithm
   of RFC 9162 §2.1.3.2 with `SHA-256(0x01 || left || right)` for interior nodes.
5. Each WARC file has the SHA-256 and size named by its `capture` entry, and every record's
   block has the SHA-256 listed in the entry.

Together: the WARC files are the ones logged at capture time, the entries are in the log the
unit signed, and neither was changed since. Python's standard library has no Ed25519, which is
why step 2 uses OpenSSL (any Ed25519 implementation will do: the message is the exact bytes of
`checkpoint.txt`).
"#,
        time = ck.time,
        version = env!("CARGO_PKG_VERSION"),
        purged_note = if purged > 0 {
            format!(" ({purged} more purged at the end of retention)")
        } else {
            String::new()
        },
    )
}
