//! The custody log: one JSON entry per line in `custody.log`, append-only.
//!
//! ```text
//!   entry n: {"seq": n, …, "prev": hex(leaf(entry n-1))}      leaf(e) = SHA-256(0x00 ‖ line)
//!   tree head after n entries = RFC 6962 Merkle root of leaf(0..n)
//!   checkpoints.log: {"size", "root", "time", "key_id", "signature"}, Ed25519 over the note
//! ```
//!
//! The `prev` links make every entry name the one before it, so an altered, removed or moved
//! entry is found and named by its neighbour; the signed checkpoints fix the head of the log,
//! so a truncated tail or an altered last entry is found too, and the Merkle tree gives the
//! short inclusion proofs that go into an export. Entry 0 (`genesis`) names the signing key.
//!
//! Hashes are over the stored line bytes, never a re-serialisation. A line is written with one
//! `write` on an `O_APPEND` file and synced before the append returns; a failed write is cut
//! back so the log never keeps half a line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::keys::{CustodyKey, PublicKey};
use super::merkle::{leaf_hash, CompactRange, Hash};
use super::warc::RecordRef;
use super::EvidenceError;

pub const LOG_FILE: &str = "custody.log";
pub const CHECKPOINT_FILE: &str = "checkpoints.log";

/// The first line of every checkpoint note: names the log format.
pub const NOTE_ORIGIN: &str = "triage custody log v1";

/// One custody entry. Which fields are set depends on `kind`:
/// - `genesis`: `key` (the checkpoint signing key);
/// - `capture`: case, referral, capture id, target, WARC file, its SHA-256 and size, the WARC
///   records, payload and content digests, `truncated` when cut short, `purpose` (`capture` for
///   a referral's fetch, `recheck` for a liveness re-fetch), HTTP `status`;
/// - `observation`: a liveness re-check that produced no capture (`outcome`, `detail`);
/// - `purge`: the WARC file deleted at the end of retention (`file`, `file_sha256`, `detail`);
/// - `retention`: a case's evidence is kept longer (`retain_until`, `detail`: who and why);
/// - `recovery`: a partial line left by a crash was removed at start-up (`detail`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// RFC 3339 UTC with microseconds.
    pub time: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The WARC file, relative to the evidence folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordRef>,
    /// SHA-256 (hex) of the final body as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
    /// SHA-256 (hex) of the final body once decoded (what hash lists match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `retention`: the case's captures are kept at least until then (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<String>,
    /// Hex leaf hash of the previous entry; 64 zeros for entry 0.
    pub prev: String,
}

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub size: u64,
    /// Hex RFC 6962 root of the first `size` entries.
    pub root: String,
    pub time: String,
    pub key_id: String,
    /// Hex Ed25519 signature of [`Checkpoint::note`].
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed: a small text note, one field per line, ending in a newline.
    pub fn note(&self) -> String {
        note(self.size, &self.root, &self.time, &self.key_id)
    }

    pub fn verify(&self, key: &PublicKey) -> bool {
        let Ok(sig) = hex::decode(&self.signature) else {
            return false;
        };
        self.key_id == key.key_id() && key.verify(self.note().as_bytes(), &sig)
    }

    pub fn sign(key: &CustodyKey, size: u64, root: &Hash, time: String) -> Checkpoint {
        let public = key.public();
        let root = hex::encode(root);
        let signature =
            hex::encode(key.sign(note(size, &root, &time, &public.key_id()).as_bytes()));
        Checkpoint {
            size,
            root,
            time,
            key_id: public.key_id(),
            signature,
        }
    }
}

fn note(size: u64, root: &str, time: &str, key_id: &str) -> String {
    format!("{NOTE_ORIGIN}\nkey {key_id}\nsize {size}\nroot {root}\ntime {time}\n")
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// One line of the log as read back.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line number in the file.
    pub number: usize,
    pub bytes: Vec<u8>,
    pub leaf: Hash,
    /// The entry, or why the line is not one.
    pub entry: Result<Entry, String>,
}

/// The log as read: its complete lines and any unterminated fragment at the end.
#[derive(Debug, Clone, Default)]
pub struct LogContents {
    pub lines: Vec<Line>,
    pub fragment: Option<Vec<u8>>,
}

/// Reads every line of a log file (missing file: empty).
pub fn read_log(path: &Path) -> Result<LogContents, EvidenceError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LogContents::default()),
        Err(e) => {
            return Err(EvidenceError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let mut out = LogContents::default();
    let mut rest = &data[..];
    let mut number = 0;
    while !rest.is_empty() {
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            out.fragment = Some(rest.to_vec());
            break;
        };
        number += 1;
        let bytes = rest[..end].to_vec();
        let entry = serde_json::from_slice::<Entry>(&bytes).map_err(|e| e.to_string());
        out.lines.push(Line {
            number,
            leaf: leaf_hash(&bytes),
            bytes,
            entry,
        });
        rest = &rest[end + 1..];
    }
    Ok(out)
}

/// One line of the checkpoints file: its number and the checkpoint, or why it is not one.
pub type CheckpointLine = (usize, Result<Checkpoint, String>);

/// Reads the checkpoints file; lines that do not parse are returned as errors with their number.
pub fn read_checkpoints(path: &Path) -> Result<Vec<CheckpointLine>, EvidenceError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(EvidenceError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, serde_json::from_str(l).map_err(|e| e.to_string())))
        .collect())
}

struct State {
    file: File,
    /// Bytes in the log file: where a failed append is cut back to.
    len: u64,
    next_seq: u64,
    last_leaf: Hash,
    tree: CompactRange,
    checkpoints: File,
    checkpointed: u64,
}

/// The open log of one evidence folder; one writer per folder (the serving process).
pub struct CustodyLog {
    path: PathBuf,
    state: Mutex<State>,
    /// Group commit: appends write under `state`, then sync here; one `fdatasync` covers every
    /// line written before it, so concurrent appends share it.
    sync: Mutex<File>,
    /// Bytes written, and bytes known to be on disk.
    written: AtomicU64,
    synced: AtomicU64,
}

/// Where an entry landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub leaf: Hash,
}

impl CustodyLog {
    /// Opens (or starts, with a genesis entry naming `key`) the log in `dir`. The chain is
    /// checked on the way; a damaged log is refused, so nothing new is chained onto it. An
    /// unterminated last line — an append cut by a crash, never acknowledged — is removed and
    /// the removal logged.
    pub fn open(dir: &Path, key: &CustodyKey) -> Result<CustodyLog, EvidenceError> {
        let path = dir.join(LOG_FILE);
        let io = |what: &str, p: &Path, e: std::io::Error| {
            EvidenceError::Io(format!("{what} {}: {e}", p.display()))
        };
        let contents = read_log(&path)?;
        let mut tree = CompactRange::new();
        let mut last_leaf = [0u8; 32];
        let mut len = 0u64;
        for (i, line) in contents.lines.iter().enumerate() {
            let damaged = |why: String| {
                EvidenceError::Damaged(format!(
                    "{} line {}: {why}; run `triage evidence verify` and set the damaged log aside before serving again",
                    path.display(),
                    line.number
                ))
            };
            let entry = line
                .entry
                .as_ref()
                .map_err(|e| damaged(format!("not a custody entry ({e})")))?;
            if entry.seq != i as u64 {
                return Err(damaged(format!(
                    "sequence number {} where {i} was expected",
                    entry.seq
                )));
            }
            if entry.prev != hex::encode(last_leaf) {
                return Err(damaged("it does not link to the entry before it".into()));
            }
            if i == 0 && entry.key.as_deref() != Some(key.public().label().as_str()) {
                return Err(damaged(format!(
                    "the log was started with another signing key ({})",
                    entry.key.as_deref().unwrap_or("none")
                )));
            }
            tree.push(line.leaf);
            last_leaf = line.leaf;
            len += line.bytes.len() as u64 + 1;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io("cannot open", &path, e))?;
        let fragment = contents.fragment.clone();
        if fragment.is_some() {
            file.set_len(len)
                .map_err(|e| io("cannot repair", &path, e))?;
        }
        let ck_path = dir.join(CHECKPOINT_FILE);
        let checkpointed = read_checkpoints(&ck_path)?
            .into_iter()
            .filter_map(|(_, c)| c.ok())
            .map(|c| c.size)
            .max()
            .unwrap_or(0);
        let checkpoints = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ck_path)
            .map_err(|e| io("cannot open", &ck_path, e))?;
        let sync = file.try_clone().map_err(|e| io("cannot open", &path, e))?;
        let log = CustodyLog {
            sync: Mutex::new(sync),
            written: AtomicU64::new(len),
            synced: AtomicU64::new(len),
            path,
            state: Mutex::new(State {
                file,
                len,
                next_seq: contents.lines.len() as u64,
                last_leaf,
                tree,
                checkpoints,
                checkpointed,
            }),
        };
        if contents.lines.is_empty() {
            log.append(Entry {
                kind: "genesis".into(),
                key: Some(key.public().label()),
                detail: Some(format!(
                    "checkpoints are signed with Ed25519 key {}",
                    key.public().key_id()
                )),
                ..Entry::default()
            })?;
        }
        if let Some(f) = fragment {
            log.append(Entry {
                kind: "recovery".into(),
                detail: Some(format!(
                    "an unterminated entry of {} bytes (SHA-256 {}) left by an interrupted append was removed at start-up",
                    f.len(),
                    hex::encode(sha2::Sha256::digest(&f))
                )),
                ..Entry::default()
            })?;
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` (its `seq`, `time` and `prev` are set here) and syncs it to disk.
    pub fn append(&self, mut entry: Entry) -> Result<Appended, EvidenceError> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| EvidenceError::Io("custody log lock poisoned".into()))?;
        entry.seq = st.next_seq;
        entry.time = now();
        entry.prev = hex::encode(st.last_leaf);
        let line = serde_json::to_vec(&entry).expect("entries serialise");
        let mut buf = line.clone();
        buf.push(b'\n');
        if let Err(e) = st.file.write_all(&buf) {
            // Never leave half a line: the next append would be chained onto garbage.
            let _ = st.file.set_len(st.len);
            return Err(EvidenceError::Io(format!(
                "cannot append to {}: {e}",
                self.path.display()
            )));
        }
        let leaf = leaf_hash(&line);
        st.len += buf.len() as u64;
        st.tree.push(leaf);
        st.last_leaf = leaf;
        st.next_seq += 1;
        let end = st.len;
        self.written.store(end, Ordering::SeqCst);
        drop(st);
        self.sync_to(end)?;
        Ok(Appended {
            seq: entry.seq,
            leaf,
        })
    }

    /// Returns once the first `end` bytes of the log are on disk.
    fn sync_to(&self, end: u64) -> Result<(), EvidenceError> {
        let file = self
            .sync
            .lock()
            .map_err(|_| EvidenceError::Io("custody log lock poisoned".into()))?;
        if self.synced.load(Ordering::SeqCst) >= end {
            return Ok(());
        }
        let upto = self.written.load(Ordering::SeqCst);
        file.sync_data()
            .map_err(|e| EvidenceError::Io(format!("cannot sync {}: {e}", self.path.display())))?;
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Entries in the log.
    pub fn size(&self) -> u64 {
        self.state.lock().map(|s| s.next_seq).unwrap_or(0)
    }

    /// Signs and stores a checkpoint of the current head, unless the last one already covers
    /// every entry. Returns the new checkpoint.
    pub fn checkpoint(&self, key: &CustodyKey) -> Result<Option<Checkpoint>, EvidenceError> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| EvidenceError::Io("custody log lock poisoned".into()))?;
        let size = st.tree.size();
        if size <= st.checkpointed {
            return Ok(None);
        }
        // Sign only what is on disk: a checkpoint over entries a crash could still lose would
        // later read as a truncated log.
        self.sync_to(st.len)?;
        let ck = Checkpoint::sign(key, size, &st.tree.root(), now());
        let mut line = serde_json::to_vec(&ck).expect("checkpoints serialise");
        line.push(b'\n');
        st.checkpoints
            .write_all(&line)
            .and_then(|_| st.checkpoints.sync_data())
            .map_err(|e| EvidenceError::Io(format!("cannot write a checkpoint: {e}")))?;
        st.checkpointed = size;
        Ok(Some(ck))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_chain_and_checkpoints_sign_the_head() {
        let dir = std::env::temp_dir().join(format!("triage-custody-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = CustodyKey::load_or_create(&dir.join("key.pem")).unwrap();
        let log = CustodyLog::open(&dir, &key).unwrap();
        assert_eq!(log.size(), 1, "genesis");
        let a = log
            .append(Entry {
                kind: "observation".into(),
                outcome: Some("gone".into()),
                ..Entry::default()
            })
            .unwrap();
        assert_eq!(a.seq, 1);
        let ck = log.checkpoint(&key).unwrap().unwrap();
        assert_eq!(ck.size, 2);
        assert!(ck.verify(&key.public()));
        assert!(
            log.checkpoint(&key).unwrap().is_none(),
            "nothing new to sign"
        );
        drop(log);

        // Reopening continues the chain; a crash fragment is removed and logged.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(LOG_FILE))
            .unwrap();
        f.write_all(b"{\"seq\":2,\"ti").unwrap();
        let log = CustodyLog::open(&dir, &key).unwrap();
        let contents = read_log(&dir.join(LOG_FILE)).unwrap();
        assert!(contents.fragment.is_none());
        let last = contents.lines.last().unwrap().entry.clone().unwrap();
        assert_eq!(last.kind, "recovery");
        assert_eq!(last.seq, 2);
        assert_eq!(last.prev, hex::encode(contents.lines[1].leaf));
        assert_eq!(log.size(), 3);
        drop(log);

        // An altered entry is refused at open.
        let text = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap();
        std::fs::write(dir.join(LOG_FILE), text.replace("\"gone\"", "\"live\"")).unwrap();
        let e = CustodyLog::open(&dir, &key).err().unwrap();
        assert!(e.to_string().contains("line 3: it does not link"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
