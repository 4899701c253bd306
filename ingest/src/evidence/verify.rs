//! `triage evidence verify`: checks an evidence folder against its own custody log and signed
//! checkpoints, and names whatever does not match.
//!
//! - every line must be an entry; sequence numbers must run 0, 1, 2… in file order (a gap is a
//!   deleted entry, a number out of place a reordering);
//! - every entry's `prev` must be the hash of the entry numbered one less (so an altered entry
//!   is named by its successor);
//! - every checkpoint must carry a valid signature of the key named in entry 0, cover no more
//!   entries than the file holds (else the log was truncated), and its root must match the
//!   entries as they are (this catches an altered last entry, which has no successor);
//! - every capture's WARC file must exist, unless a later `purge` entry removed it, with the
//!   logged size and SHA-256; a file that differs is read record by record to name the record
//!   whose digest fails or where the damage starts.
//!
//! Files in `warc/` that no entry names are reported as warnings (a crash between writing a
//! file and logging it leaves one; so would a planted file). They are never exported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::custody::{read_checkpoints, read_log, Entry, Line, CHECKPOINT_FILE, LOG_FILE};
use super::keys::PublicKey;
use super::merkle::CompactRange;
use super::warc::{check_digests, read_records};
use super::{EvidenceError, WARC_DIR};

/// One thing found wrong, naming what and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What is affected: "custody entry 12 (line 13)", "capture … of case … (custody entry 5)".
    pub subject: String,
    pub issue: String,
    /// `altered`, `missing`, `reordered`, `truncated` or `signature`.
    pub class: &'static str,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub entries: u64,
    pub captures: u64,
    pub files_checked: u64,
    pub purged: u64,
    pub checkpoints: u64,
    /// Entries covered by the latest valid checkpoint.
    pub covered: u64,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(
        &mut self,
        class: &'static str,
        subject: impl Into<String>,
        issue: impl Into<String>,
    ) {
        self.problems.push(Problem {
            subject: subject.into(),
            issue: issue.into(),
            class,
        });
    }
}

fn entry_name(line: &Line, e: &Entry) -> String {
    format!("custody entry {} (line {})", e.seq, line.number)
}

/// Verifies the evidence folder `root` with the checkpoint key `key`.
pub fn verify_vault(root: &Path, key: &PublicKey) -> Result<Report, EvidenceError> {
    let log_path = root.join(LOG_FILE);
    if !log_path.exists() {
        return Err(EvidenceError::NotFound(format!(
            "{} does not exist: no evidence has been stored in {}",
            log_path.display(),
            root.display()
        )));
    }
    let contents = read_log(&log_path)?;
    let mut report = Report {
        entries: contents.lines.len() as u64,
        ..Report::default()
    };
    let chain_bad = check_chain(&contents.lines, key, &mut report);
    check_checkpoints(root, &contents.lines, chain_bad, key, &mut report)?;
    if let Some(f) = &contents.fragment {
        let msg = format!(
            "the log ends in an unterminated line of {} bytes (an append in progress, or one cut by a crash: it is removed at the next start)",
            f.len()
        );
        if report.covered > report.entries {
            // Already reported as a truncation.
        } else {
            report.warnings.push(msg);
        }
    }
    check_files(root, &contents.lines, &mut report)?;
    Ok(report)
}

/// Sequence and link checks. Returns the sequence numbers near which a problem was found.
fn check_chain(lines: &[Line], key: &PublicKey, report: &mut Report) -> Vec<u64> {
    let mut bad = Vec::new();
    // Where each sequence number is, by its first occurrence.
    let mut by_seq: HashMap<u64, usize> = HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        if let Ok(e) = &l.entry {
            by_seq.entry(e.seq).or_insert(i);
        }
    }
    let mut expected = 0u64;
    for (i, line) in lines.iter().enumerate() {
        let entry = match &line.entry {
            Ok(e) => e,
            Err(why) => {
                report.problem(
                    "altered",
                    format!("custody line {}", line.number),
                    format!("is not a custody entry any more ({why})"),
                );
                bad.push(expected);
                expected += 1;
                continue;
            }
        };
        if i == 0 && entry.key.as_deref() != Some(key.label().as_str()) {
            report.problem(
                "signature",
                entry_name(line, entry),
                format!(
                    "names the signing key {} but the key given is {}",
                    entry.key.as_deref().unwrap_or("(none)"),
                    key.label()
                ),
            );
        }
        if entry.seq != expected {
            if entry.seq > expected && (expected..entry.seq).all(|s| !by_seq.contains_key(&s)) {
                let range = if entry.seq - expected == 1 {
                    format!("custody entry {expected}")
                } else {
                    format!("custody entries {expected} to {}", entry.seq - 1)
                };
                report.problem(
                    "missing",
                    range,
                    format!("missing before line {}: deleted from the log", line.number),
                );
            } else {
                report.problem(
                    "reordered",
                    entry_name(line, entry),
                    format!(
                        "is out of place (entry {expected} belongs at line {}): the log was reordered",
                        line.number
                    ),
                );
            }
            bad.push(entry.seq);
        }
        expected = entry.seq.max(expected) + 1;
        if entry.seq == 0 {
            if entry.prev != hex::encode([0u8; 32]) {
                report.problem(
                    "altered",
                    entry_name(line, entry),
                    "is the first entry but links to a predecessor",
                );
                bad.push(0);
            }
            continue;
        }
        // The link is checked against the entry numbered one less, wherever it is, so that a
        // moved entry is reported once, as moved.
        if let Some(&j) = by_seq.get(&(entry.seq - 1)) {
            if entry.prev != hex::encode(lines[j].leaf) {
                let prev = &lines[j];
                let name = match &prev.entry {
                    Ok(p) => entry_name(prev, p),
                    Err(_) => format!("custody line {}", prev.number),
                };
                report.problem(
                    "altered",
                    name,
                    format!(
                        "was altered: its hash no longer matches the link stored in entry {}",
                        entry.seq
                    ),
                );
                bad.push(entry.seq - 1);
            }
        }
    }
    bad
}

fn check_checkpoints(
    root: &Path,
    lines: &[Line],
    chain_bad: Vec<u64>,
    key: &PublicKey,
    report: &mut Report,
) -> Result<(), EvidenceError> {
    let mut valid = Vec::new();
    for (number, ck) in read_checkpoints(&root.join(CHECKPOINT_FILE))? {
        match ck {
            Err(why) => report.problem(
                "altered",
                format!("checkpoint line {number}"),
                format!("is not a checkpoint any more ({why})"),
            ),
            Ok(ck) if !ck.verify(key) => report.problem(
                "signature",
                format!("checkpoint line {number} (size {}, {})", ck.size, ck.time),
                "does not carry a valid signature of the custody key",
            ),
            Ok(ck) => valid.push(ck),
        }
    }
    report.checkpoints = valid.len() as u64;
    valid.sort_by_key(|c| c.size);
    let n = lines.len() as u64;
    let mut tree = CompactRange::new();
    let mut leaves = lines.iter();
    let mut last_good = 0u64;
    for ck in &valid {
        report.covered = report.covered.max(ck.size);
        if ck.size > n {
            report.problem(
                "truncated",
                "the custody log",
                format!(
                    "holds {n} entries but the checkpoint signed at {} covers {}: entries {n} to {} were cut off",
                    ck.time,
                    ck.size,
                    ck.size - 1
                ),
            );
            continue;
        }
        while tree.size() < ck.size {
            tree.push(leaves.next().expect("size checked").leaf);
        }
        if hex::encode(tree.root()) == ck.root {
            last_good = ck.size;
            continue;
        }
        if chain_bad.iter().any(|s| *s < ck.size) {
            // The entry is already named by the link checks.
            continue;
        }
        if ck.size == last_good + 1 || ck.size == n {
            let line = &lines[ck.size as usize - 1];
            let name = match &line.entry {
                Ok(e) => entry_name(line, e),
                Err(_) => format!("custody line {}", line.number),
            };
            report.problem(
                "altered",
                name,
                format!(
                    "does not match the checkpoint signed at {}: it was altered",
                    ck.time
                ),
            );
        } else {
            report.problem(
                "altered",
                format!("custody entries {last_good} to {}", ck.size - 1),
                format!(
                    "no longer match the checkpoint signed at {}: entries were altered and their links rewritten",
                    ck.time
                ),
            );
        }
    }
    Ok(())
}

fn check_files(root: &Path, lines: &[Line], report: &mut Report) -> Result<(), EvidenceError> {
    let entries: Vec<&Entry> = lines.iter().filter_map(|l| l.entry.as_ref().ok()).collect();
    let purged: HashSet<&str> = entries
        .iter()
        .filter(|e| e.kind == "purge")
        .filter_map(|e| e.capture_id.as_deref())
        .collect();
    let mut named: HashSet<String> = HashSet::new();
    for e in entries.iter().filter(|e| e.kind == "capture") {
        let (Some(file), Some(sha), Some(id)) = (&e.file, &e.file_sha256, &e.capture_id) else {
            continue;
        };
        report.captures += 1;
        named.insert(file.clone());
        let subject = format!(
            "capture {id} of case {} (custody entry {})",
            e.case_id.as_deref().unwrap_or("?"),
            e.seq
        );
        let path = root.join(file);
        if purged.contains(id.as_str()) {
            report.purged += 1;
            if path.exists() {
                report
                    .warnings
                    .push(format!("{subject}: {file} was purged but is still present"));
            }
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                report.problem(
                    "missing",
                    subject,
                    format!("its WARC file {file} is missing: deleted"),
                );
                continue;
            }
            Err(err) => {
                return Err(EvidenceError::Io(format!(
                    "cannot read {}: {err}",
                    path.display()
                )))
            }
        };
        report.files_checked += 1;
        if hex::encode(Sha256::digest(&bytes)) == *sha {
            continue;
        }
        let expected_len = e.file_bytes.unwrap_or(0);
        let (class, issue) = describe_damage(&bytes, e, file, expected_len);
        report.problem(class, subject, issue);
    }
    // Files no entry names.
    let mut stray = BTreeMap::new();
    walk(&root.join(WARC_DIR), root, &mut stray);
    for (rel, _) in stray.into_iter().filter(|(rel, _)| !named.contains(rel)) {
        if rel.ends_with(".tmp") {
            report.warnings.push(format!(
                "{rel}: a temporary file left by an interrupted write"
            ));
        } else {
            report.warnings.push(format!(
                "{rel}: not in the custody log (left by a crash before it was logged, or planted); it is never exported"
            ));
        }
    }
    Ok(())
}

/// Names what is wrong in a WARC file whose digest no longer matches its entry.
fn describe_damage(
    bytes: &[u8],
    e: &Entry,
    file: &str,
    expected_len: u64,
) -> (&'static str, String) {
    let len = bytes.len() as u64;
    let records = match read_records(bytes) {
        Ok(r) => r,
        Err(fail) => {
            let after = fail
                .records
                .last()
                .map(|r| format!("after record {}", r.id()))
                .unwrap_or_else(|| "in its first record".into());
            let next = e
                .records
                .get(fail.records.len())
                .map(|r| format!(" (record {} is damaged)", r.id))
                .unwrap_or_default();
            let class = if len < expected_len {
                "truncated"
            } else {
                "altered"
            };
            let what = if len < expected_len {
                format!("was truncated to {len} of {expected_len} bytes")
            } else {
                "was altered".into()
            };
            return (
                class,
                format!("its WARC file {file} {what}: {} {after}{next}", fail.reason),
            );
        }
    };
    for r in &records {
        if let Some(why) = check_digests(r) {
            return (
                "altered",
                format!("its WARC file {file} was altered: record {} {why}", r.id()),
            );
        }
    }
    let ids: Vec<&str> = records.iter().map(|r| r.id()).collect();
    let logged: Vec<&str> = e.records.iter().map(|r| r.id.as_str()).collect();
    if ids != logged {
        let same_set = {
            let mut a = ids.clone();
            let mut b = logged.clone();
            a.sort();
            b.sort();
            a == b
        };
        if same_set {
            return (
                "reordered",
                format!("its WARC file {file} has its records in another order than logged"),
            );
        }
        if let Some(missing) = logged.iter().find(|id| !ids.contains(id)) {
            return (
                "missing",
                format!("its WARC file {file} lacks record {missing}"),
            );
        }
        return (
            "altered",
            format!("its WARC file {file} holds records that were never logged"),
        );
    }
    for (r, logged) in records.iter().zip(&e.records) {
        if format!("sha256:{}", hex::encode(Sha256::digest(&r.block))) != logged.block_digest {
            return ("altered", format!("its WARC file {file} was altered: the block of record {} differs from the logged digest", r.id()));
        }
        if !logged.record_digest.is_empty() && r.record_digest != logged.record_digest {
            return ("altered", format!("its WARC file {file} was altered: the header of record {} ({}) differs from the logged digest", r.id(), logged.warc_type));
        }
    }
    // Same records, same blocks: only the framing (e.g. the compression) differs.
    (
        "altered",
        format!("its WARC file {file} was rewritten (records intact, file digest changed)"),
    )
}

fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, ()>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, root, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.insert(rel.to_string_lossy().replace('\\', "/"), ());
        }
    }
}
