//! Evidence: captures preserved so that a court can rely on them.
//!
//! ```text
//!   Capture ──Vault::preserve──▶ warc/YYYY/MM/DD/<capture id>.warc.gz   (never overwritten)
//!                    │
//!                    └──────────▶ custody.log  entry {capture id, case, file SHA-256, records, prev}
//!   Vault::checkpoint ─────────▶ checkpoints.log  Ed25519-signed RFC 6962 tree head
//!   verify::verify_vault        every entry, link, checkpoint and WARC file; names what is wrong
//!   export::export_case         WARC files + entries + inclusion proofs + signed head + key +
//!                               README + verify.py: checkable without our software
//! ```
//!
//! A vault is one folder with one writer (the serving process). A file is created under its
//! final name with `O_CREAT | O_EXCL`, which fails if that name exists (a re-fetch is always a
//! new file and a new entry), written with one call and synced; its folder is synced before the
//! custody entry that names it is appended, and concurrent captures share that folder sync (one
//! `fsync` of the day folder covers every file created in it before the sync began). A crash
//! between the file and its entry leaves a file no entry names, which `verify` reports as such.
//! Purging at the end of retention logs a `purge` entry before deleting the file; the log itself
//! is kept.

pub mod custody;
pub mod export;
pub mod keys;
pub mod merkle;
pub mod verify;
pub mod warc;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::fetch::Capture;
use custody::{Appended, CustodyLog, Entry};
use keys::{CustodyKey, PublicKey};
use warc::{Record, RecordRef};

/// Where the WARC files live inside the evidence folder.
pub const WARC_DIR: &str = "warc";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("{0}")]
    Io(String),
    #[error("signing key: {0}")]
    Key(String),
    #[error("evidence store damaged: {0}")]
    Damaged(String),
    #[error("{0}")]
    NotFound(String),
}

impl EvidenceError {
    /// The CONTRACTS.md-style `error.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            EvidenceError::Io(_) => "evidence_io",
            EvidenceError::Key(_) => "evidence_key",
            EvidenceError::Damaged(_) => "evidence_damaged",
            EvidenceError::NotFound(_) => "not_found",
        }
    }
}

/// How captures are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultOptions {
    /// One gzip member per record (`.warc.gz`), or plain `.warc`.
    pub gzip: bool,
}

impl Default for VaultOptions {
    fn default() -> Self {
        VaultOptions { gzip: true }
    }
}

/// Who a capture belongs to and what else to record with it.
#[derive(Debug, Clone, Default)]
pub struct CaptureContext<'a> {
    pub case_id: &'a str,
    pub referral_id: Option<&'a str>,
    /// `capture` for a referral's fetch, `recheck` for a liveness re-fetch.
    pub purpose: &'a str,
    /// The text extracted from the body, kept as a `conversion` record.
    pub conversion: Option<&'a str>,
    /// Anything else for the metadata record (e.g. why a partial capture stopped).
    pub notes: serde_json::Value,
}

/// A preserved capture: its file and custody entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Preserved {
    pub capture_id: String,
    /// Relative to the evidence folder.
    pub file: String,
    pub file_sha256: String,
    pub file_bytes: u64,
    pub seq: u64,
    pub records: Vec<RecordRef>,
    pub time: String,
}

/// An open evidence folder: WARC files, custody log, checkpoints, and the signing key.
pub struct Vault {
    root: PathBuf,
    key: CustodyKey,
    log: CustodyLog,
    opts: VaultOptions,
    folders: Folders,
}

impl Vault {
    /// Opens the evidence folder `root` (created if missing) with the signing key at `key_path`
    /// (created on first use, mode 0600).
    pub fn open(root: &Path, key_path: &Path, opts: VaultOptions) -> Result<Vault, EvidenceError> {
        std::fs::create_dir_all(root.join(WARC_DIR)).map_err(|e| {
            EvidenceError::Io(format!(
                "cannot create the evidence folder {}: {e}",
                root.display()
            ))
        })?;
        let key = CustodyKey::load_or_create(key_path)?;
        let log = CustodyLog::open(root, &key)?;
        Ok(Vault {
            root: root.to_path_buf(),
            key,
            log,
            opts,
            folders: Folders::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public()
    }

    pub fn key(&self) -> &CustodyKey {
        &self.key
    }

    /// Entries in the custody log.
    pub fn log_size(&self) -> u64 {
        self.log.size()
    }

    /// Writes `capture` as a new WARC file and logs it. Blocking file I/O: call it from
    /// `spawn_blocking`.
    pub fn preserve(
        &self,
        capture: &Capture,
        ctx: &CaptureContext<'_>,
    ) -> Result<Preserved, EvidenceError> {
        let capture_id = uuid::Uuid::now_v7().to_string();
        let records: Vec<warc::Encoded> = capture_records(capture, ctx, &capture_id)
            .iter()
            .map(Record::encode)
            .collect();
        let refs: Vec<RecordRef> = records.iter().map(|r| r.reference.clone()).collect();
        let bytes = warc::file_bytes(&records, self.opts.gzip);
        let day = capture.fetched_at.format("%Y/%m/%d").to_string();
        let ext = if self.opts.gzip { "warc.gz" } else { "warc" };
        let file = format!("{WARC_DIR}/{day}/{capture_id}.{ext}");
        self.folders.write_new(&self.root.join(&file), &bytes)?;
        let file_sha256 = hex::encode(Sha256::digest(&bytes));
        let Appended { seq, .. } = self.log.append(Entry {
            kind: "capture".into(),
            case_id: Some(ctx.case_id.to_string()),
            referral_id: ctx.referral_id.map(str::to_string),
            capture_id: Some(capture_id.clone()),
            purpose: Some(ctx.purpose.to_string()),
            target: Some(capture.requested_url.clone()),
            status: Some(capture.status),
            file: Some(file.clone()),
            file_sha256: Some(file_sha256.clone()),
            file_bytes: Some(bytes.len() as u64),
            records: refs.clone(),
            payload_sha256: Some(capture.raw_sha256.clone()),
            content_sha256: Some(capture.sha256.clone()),
            truncated: capture.truncated.map(|t| t.as_str().to_string()),
            ..Entry::default()
        })?;
        Ok(Preserved {
            capture_id,
            file,
            file_sha256,
            file_bytes: bytes.len() as u64,
            seq,
            records: refs,
            time: custody::now(),
        })
    }

    /// Logs a liveness observation that produced no capture (e.g. the name no longer resolves).
    pub fn observe(
        &self,
        case_id: &str,
        target: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<u64, EvidenceError> {
        Ok(self
            .log
            .append(Entry {
                kind: "observation".into(),
                case_id: Some(case_id.to_string()),
                purpose: Some("recheck".into()),
                target: Some(target.to_string()),
                outcome: Some(outcome.to_string()),
                detail: Some(detail.to_string()),
                ..Entry::default()
            })?
            .seq)
    }

    /// Logs that a case's captures are kept at least until `until` (RFC 3339), and who asked
    /// and why (`detail`). Returns the entry's sequence number.
    pub fn retain(&self, case_id: &str, until: &str, detail: &str) -> Result<u64, EvidenceError> {
        Ok(self
            .log
            .append(Entry {
                kind: "retention".into(),
                case_id: Some(case_id.to_string()),
                retain_until: Some(until.to_string()),
                detail: Some(detail.to_string()),
                ..Entry::default()
            })?
            .seq)
    }

    /// Deletes a capture's WARC file at the end of its retention, logging the purge first. A
    /// file whose digest no longer matches is kept (it is evidence of tampering) and reported.
    pub fn purge(
        &self,
        case_id: &str,
        capture_id: &str,
        file: &str,
        file_sha256: &str,
        detail: &str,
    ) -> Result<u64, EvidenceError> {
        let path = self.root.join(file);
        let present = match std::fs::read(&path) {
            Ok(bytes) => {
                if hex::encode(Sha256::digest(&bytes)) != file_sha256 {
                    return Err(EvidenceError::Damaged(format!(
                        "capture {capture_id}: {file} no longer matches its logged SHA-256; it is kept, not purged"
                    )));
                }
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                return Err(EvidenceError::Io(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let detail = if present {
            detail.to_string()
        } else {
            format!("{detail} (the file was already absent)")
        };
        let seq = self
            .log
            .append(Entry {
                kind: "purge".into(),
                case_id: Some(case_id.to_string()),
                capture_id: Some(capture_id.to_string()),
                file: Some(file.to_string()),
                file_sha256: Some(file_sha256.to_string()),
                detail: Some(detail),
                ..Entry::default()
            })?
            .seq;
        if present {
            std::fs::remove_file(&path)
                .map_err(|e| EvidenceError::Io(format!("cannot delete {}: {e}", path.display())))?;
        }
        Ok(seq)
    }

    /// Signs the current head of the log if it grew since the last checkpoint.
    pub fn checkpoint(&self) -> Result<Option<custody::Checkpoint>, EvidenceError> {
        self.log.checkpoint(&self.key)
    }
}

/// The day folders WARC files go to: which exist already, and the shared folder syncs.
#[derive(Default)]
struct Folders {
    known: Mutex<HashMap<PathBuf, Arc<FolderSync>>>,
}

/// Group sync of one folder: `created` counts files created in it, `synced` how many of those
/// a finished folder `fsync` is known to cover.
#[derive(Default)]
struct FolderSync {
    created: AtomicU64,
    synced: AtomicU64,
    lock: Mutex<()>,
}

impl Folders {
    /// Creates `path` with `bytes`, durably (file and folder entry synced), failing if it
    /// exists.
    fn write_new(&self, path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
        let io = |what: &str, p: &Path, e: std::io::Error| {
            EvidenceError::Io(format!("{what} {}: {e}", p.display()))
        };
        let dir = path.parent().expect("files live in a folder");
        let folder = self.folder(dir).map_err(|e| io("cannot create", dir, e))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| io("cannot create", path, e))?;
        let written = f.write_all(bytes).and_then(|_| f.sync_all());
        drop(f);
        if let Err(e) = written {
            // Nothing names the file yet; a partial one must not stay behind.
            let _ = std::fs::remove_file(path);
            return Err(io("cannot write", path, e));
        }
        let ticket = folder.created.fetch_add(1, Ordering::SeqCst) + 1;
        folder.sync(dir, ticket);
        Ok(())
    }

    /// The folder's sync state, creating the folder the first time this process sees it.
    fn folder(&self, dir: &Path) -> std::io::Result<Arc<FolderSync>> {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = known.get(dir) {
            return Ok(f.clone());
        }
        std::fs::create_dir_all(dir)?;
        // Yesterday's folders are done with once no write holds them.
        known.retain(|_, f| Arc::strong_count(f) > 1);
        let f = Arc::new(FolderSync::default());
        known.insert(dir.to_path_buf(), f.clone());
        Ok(f)
    }
}

impl FolderSync {
    /// Returns once a folder sync that began after file number `ticket` was created has
    /// finished; one sync serves every file created before it began.
    fn sync(&self, dir: &Path, ticket: u64) {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.synced.load(Ordering::SeqCst) >= ticket {
            return;
        }
        let upto = self.created.load(Ordering::SeqCst);
        // Some file systems cannot sync a folder; the file itself is synced either way.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        self.synced.fetch_max(upto, Ordering::SeqCst);
    }
}

fn warc_date(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The records of one capture: warcinfo, request and response per hop, metadata, conversion.
fn capture_records(c: &Capture, ctx: &CaptureContext<'_>, capture_id: &str) -> Vec<Record> {
    let info = Record::new(
        "warcinfo",
        format!(
            "software: triage/{} (ingest)\r\nformat: WARC File Format 1.1\r\nconformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\ndescription: capture {capture_id} of case {}\r\n",
            env!("CARGO_PKG_VERSION"),
            ctx.case_id
        )
        .into_bytes(),
    )
    .field("WARC-Date", warc_date(&c.fetched_at))
    .field("WARC-Filename", format!("{capture_id}.warc"))
    .field("Content-Type", "application/warc-fields");
    let info_id = info.id.clone();
    let mut records = vec![info];
    let last = c.hops.len().saturating_sub(1);
    let mut final_response = None;
    for (i, hop) in c.hops.iter().enumerate() {
        let date = warc_date(&hop.started_at.unwrap_or(c.fetched_at));
        let ip = hop
            .remote_addr
            .as_deref()
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .map(|a| a.ip().to_string());
        let (body, truncated) = if i == last {
            (c.raw_body.clone(), c.truncated)
        } else {
            (hop.raw.body.clone(), hop.raw.body_truncated)
        };
        let mut block = hop.raw.response_head.to_vec();
        block.extend_from_slice(&body);
        let mut response = Record::new("response", block)
            .field("WARC-Date", date.clone())
            .field("WARC-Target-URI", hop.url.clone())
            .field("WARC-Warcinfo-ID", info_id.clone());
        if let Some(ip) = &ip {
            response = response.field("WARC-IP-Address", ip.clone());
        }
        // The fetcher already hashed the final body as received.
        let payload = if i == last {
            warc::sha256_label_from_hex(&c.raw_sha256, &body)
        } else {
            warc::sha256_label(&body)
        };
        response = response.field("WARC-Payload-Digest", payload);
        if let Some(t) = truncated {
            response = response.field("WARC-Truncated", t.as_str());
        }
        response = response.field("Content-Type", "application/http;msgtype=response");
        let mut request = Record::new("request", hop.raw.request_head.clone())
            .field("WARC-Date", date)
            .field("WARC-Target-URI", hop.url.clone())
            .field("WARC-Warcinfo-ID", info_id.clone())
            .field("WARC-Concurrent-To", response.id.clone());
        if let Some(ip) = &ip {
            request = request.field("WARC-IP-Address", ip.clone());
        }
        request = request.field("Content-Type", "application/http;msgtype=request");
        if i == last {
            final_response = Some(response.id.clone());
        }
        records.push(request);
        records.push(response);
    }
    let response_id = final_response.unwrap_or_else(|| info_id.clone());
    let hops: Vec<serde_json::Value> = c
        .hops
        .iter()
        .map(|h| {
            json!({
                "url": h.url, "status": h.status, "location": h.location,
                "remote_addr": h.remote_addr, "dns_answers": h.resolved,
                "started_at": h.started_at, "head_ms": h.head_ms,
                "tls_cert_sha256": h.tls_cert_sha256,
                "body_truncated": h.raw.body_truncated,
            })
        })
        .collect();
    let meta = json!({
        "capture_id": capture_id,
        "case_id": ctx.case_id,
        "referral_id": ctx.referral_id,
        "purpose": ctx.purpose,
        "requested_url": c.requested_url,
        "final_url": c.final_url,
        "status": c.status,
        "http_version": c.http_version,
        "remote_addr": c.remote_addr,
        "fetched_at": c.fetched_at,
        "elapsed_ms": c.elapsed_ms,
        "hops": hops,
        "received_bytes": c.raw_len,
        "content_bytes": c.body_len,
        "truncated": c.truncated,
        "digests": {
            "payload_sha256": c.raw_sha256,
            "content_sha256": c.sha256,
            "content_md5": c.md5,
        },
        "framing": "response bodies are stored as received after transfer decoding (chunk framing removed), content coding kept; header names are lower-cased by the HTTP parser; request records are rebuilt from the URL and the client's fixed headers",
        "software": format!("triage/{}", env!("CARGO_PKG_VERSION")),
        "notes": ctx.notes,
    });
    records.push(
        Record::new("metadata", serde_json::to_vec_pretty(&meta).expect("json"))
            .field("WARC-Date", warc_date(&c.fetched_at))
            .field("WARC-Target-URI", c.final_url.clone())
            .field("WARC-Warcinfo-ID", info_id.clone())
            .field("WARC-Refers-To", response_id.clone())
            .field("Content-Type", "application/json"),
    );
    if let Some(text) = ctx.conversion {
        records.push(
            Record::new("conversion", text.as_bytes().to_vec())
                .field("WARC-Date", warc_date(&c.fetched_at))
                .field("WARC-Target-URI", c.final_url.clone())
                .field("WARC-Warcinfo-ID", info_id)
                .field("WARC-Refers-To", response_id)
                .field("Content-Type", "text/plain; charset=utf-8"),
        );
    }
    records
}
