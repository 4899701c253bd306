//! Partner formats in: a file's bytes and the provenance given on the command line become a
//! [`List`] in this crate's format, or every bad row with its file, line and column.
//!
//! | format | kind | layout |
//! |---|---|---|
//! | `tat-csv` | hashes | Tech Against Terrorism hash-list CSV with a header row: `hash_digest` and `algorithm` (`PDQ`, `MD5`, `SHA256`, any case) required; `id` and `deleted` optional |
//! | `te-csv` | hashes | ThreatExchange-style signal CSV with a header row: `indicator` and `type` required (`HASH_PDQ`, `HASH_MD5`, `HASH_VIDEO_MD5`, `HASH_SHA256`, or pytx's `pdq`, `video_md5`, `md5`, `sha256`); `id` and `should_delete` optional. The TE UI download names the first two `td_raw_indicator` and `td_indicator_type`; those names are read too |
//! | `terms` | keywords | one term a line; optional tab-separated `key=value` fields after it (`id`, `lang`, `category`, `weight`, `match`, `enabled`, `expires`) |
//! | `urls` | urls | one URL a line; optional tab-separated `id`, `category`, `enabled`, `expires` |
//!
//! Both CSV formats also read this crate's own columns `category`, `entity`, `quality` and
//! `expires`, and keep every other column (`ideology`, `file_type`, `created_on`, `tags`,
//! `status`, …) in the entry's `metadata`, so [`export`](super::export) writes them back.
//! A `deleted`/`should_delete` row becomes a disabled entry (loaded, counted, never matched).
//! Rows without an `id` get one from their content (`<algorithm>-<hash>`, `t-`/`u-` and 16 hex
//! digits of the SHA-256 of the term or canonical URL), so the same file always gives the same
//! ids; a row repeating an earlier one exactly is dropped and counted.
//!
//! In plain files, blank lines and lines starting with `# ` (or a lone `#`) are comments; a
//! hashtag such as `#term` is a term.

use super::{
    check_hash, check_keyword, check_meta, check_url, parse_time, Entries, HashAlgorithm,
    HashEntry, KeywordEntry, List, ListKind, ListMeta, MatchMode, Problem, Problems, Trust,
    UrlEntry,
};
use crate::Category;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The formats `triage lists import` and `export` speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TatCsv,
    TeCsv,
    Terms,
    Urls,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::TatCsv, Format::TeCsv, Format::Terms, Format::Urls];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::TatCsv => "tat-csv",
            Format::TeCsv => "te-csv",
            Format::Terms => "terms",
            Format::Urls => "urls",
        }
    }
    /// The kind of list this format carries.
    pub fn kind(self) -> ListKind {
        match self {
            Format::TatCsv | Format::TeCsv => ListKind::Hashes,
            Format::Terms => ListKind::Keywords,
            Format::Urls => ListKind::Urls,
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("format {s:?} is not one of tat-csv, te-csv, terms, urls"))
    }
}

/// What the command line says about the list being imported.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub format: Format,
    pub list_id: String,
    /// Defaults to "`<list-id>` (imported from `<file name>`)".
    pub name: Option<String>,
    pub owner: String,
    pub trust: Trust,
    pub version: String,
    /// The list's `default_category`: rows without a category count toward it.
    pub category: Option<Category>,
    pub negative: bool,
    /// `terms` only: the `lang` of lines that do not give one.
    pub lang: Option<String>,
    /// `terms` only: the `match` of lines that do not give one.
    pub match_mode: Option<MatchMode>,
    /// Hash formats only.
    pub pdq_max_distance: Option<u32>,
}

/// An imported list and what was dropped on the way.
#[derive(Debug, Clone)]
pub struct Imported {
    pub list: List,
    /// Rows that repeated an earlier row exactly.
    pub duplicates: usize,
}

/// Most problems reported for one file; the rest are counted.
pub const MAX_PROBLEMS: usize = 1000;

/// Imports `bytes` (read from `source`, named in every problem) as `opts` says.
pub fn import(source: &Path, bytes: &[u8], opts: &ImportOptions) -> Result<Imported, Problems> {
    let mut p = Report::new(source);
    let meta = ListMeta {
        id: opts.list_id.clone(),
        name: opts.name.clone().unwrap_or_else(|| {
            let file = source
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{} (imported from {file})", opts.list_id)
        }),
        kind: opts.format.kind(),
        owner: opts.owner.clone(),
        trust: opts.trust,
        version: opts.version.clone(),
        negative: opts.negative,
        enabled: true,
        default_category: opts.category,
        pdq_max_distance: opts.pdq_max_distance,
    };
    for mut prob in check_meta(&meta, Path::new("(command line)")) {
        prob.message = format!("option: {}", prob.message);
        p.all.push(prob);
    }
    let text = match decode(bytes) {
        Ok(t) => t,
        Err(line) => {
            p.at(line, "the file is not UTF-8 text".into());
            return Err(p.finish());
        }
    };
    let needs_category = !opts.negative && opts.category.is_none();
    let mut dedup = Dedup::default();
    let entries = match opts.format {
        Format::TatCsv | Format::TeCsv => Entries::Hashes(read_csv(
            text,
            opts.format,
            needs_category,
            &mut p,
            &mut dedup,
        )),
        Format::Terms => {
            Entries::Keywords(read_terms(text, opts, needs_category, &mut p, &mut dedup))
        }
        Format::Urls => Entries::Urls(read_urls(text, needs_category, &mut p, &mut dedup)),
    };
    if !p.all.is_empty() {
        return Err(p.finish());
    }
    Ok(Imported {
        list: List {
            meta,
            entries,
            entries_path: source.to_path_buf(),
        },
        duplicates: dedup.duplicates,
    })
}

/// UTF-8 without a byte-order mark, or the line of the first bad byte.
fn decode(bytes: &[u8]) -> Result<&str, usize> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    })
}

/// Problems of one file, capped at [`MAX_PROBLEMS`].
struct Report {
    file: PathBuf,
    all: Vec<Problem>,
    more: usize,
}

impl Report {
    fn new(file: &Path) -> Report {
        Report {
            file: file.to_path_buf(),
            all: Vec::new(),
            more: 0,
        }
    }
    fn at(&mut self, line: usize, message: String) {
        self.push(Some(line), message);
    }
    fn push(&mut self, line: Option<usize>, message: String) {
        if self.all.len() < MAX_PROBLEMS {
            self.all.push(Problem {
                file: self.file.clone(),
                line,
                message,
            });
        } else {
            self.more += 1;
        }
    }
    fn finish(mut self) -> Problems {
        if self.more > 0 {
            self.all.push(Problem {
                file: self.file.clone(),
                line: None,
                message: format!("and {} more problem(s) not shown", self.more),
            });
        }
        Problems(self.all)
    }
}

/// Ids seen so far: a repeated row is dropped, a repeated explicit id is a problem.
#[derive(Default)]
struct Dedup {
    /// id → (line, fingerprint of the row's content).
    seen: HashMap<String, (usize, u64)>,
    duplicates: usize,
}

enum Seen {
    New,
    Duplicate,
    Conflict(usize),
}

impl Dedup {
    fn check(&mut self, id: &str, line: usize, fingerprint: u64) -> Seen {
        match self.seen.get(id) {
            None => {
                self.seen.insert(id.to_string(), (line, fingerprint));
                Seen::New
            }
            Some(&(_, f)) if f == fingerprint => {
                self.duplicates += 1;
                Seen::Duplicate
            }
            Some(&(l, _)) => Seen::Conflict(l),
        }
    }
}

fn fingerprint<T: serde::Serialize>(v: &T) -> u64 {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let d = Sha256::digest(&bytes);
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// `t-`/`u-` and 16 hex digits of the SHA-256 of `value`.
pub fn content_id(prefix: &str, value: &str) -> String {
    format!(
        "{prefix}{}",
        hex::encode(&Sha256::digest(value.as_bytes())[..8])
    )
}

/// The id a hash row without one gets.
pub fn hash_id(algorithm: HashAlgorithm, hash: &str) -> String {
    format!("{}-{}", algorithm.as_str(), hash)
}

/// Column names of a CSV format: what the hash and algorithm columns are called (first name
/// is the one written on export), and the deleted flag.
pub(crate) struct CsvNames {
    pub hash: &'static [&'static str],
    pub algorithm: &'static [&'static str],
    pub deleted: &'static str,
}

pub(crate) const TAT: CsvNames = CsvNames {
    hash: &["hash_digest"],
    algorithm: &["algorithm"],
    deleted: "deleted",
};

pub(crate) const TE: CsvNames = CsvNames {
    hash: &["indicator", "td_raw_indicator", "raw_indicator"],
    algorithm: &["type", "td_indicator_type", "indicator_type", "signal_type"],
    deleted: "should_delete",
};

/// This crate's own optional columns, read and written by both CSV formats.
pub(crate) const EXTRA_COLUMNS: [&str; 4] = ["category", "entity", "quality", "expires"];

pub(crate) fn csv_names(format: Format) -> &'static CsvNames {
    match format {
        Format::TeCsv => &TE,
        _ => &TAT,
    }
}

/// The algorithm a CSV cell names, and whether the cell must be kept to be written back as
/// it was (TE's video MD5 is an MD5 of a video; the distinction is the partner's).
pub(crate) fn parse_algorithm(format: Format, raw: &str) -> Result<(HashAlgorithm, bool), String> {
    let up = raw.trim().to_ascii_uppercase().replace('-', "_");
    let found = match format {
        Format::TeCsv => match up.as_str() {
            "HASH_PDQ" | "PDQ" => Some((HashAlgorithm::Pdq, false)),
            "HASH_MD5" | "MD5" => Some((HashAlgorithm::Md5, false)),
            "HASH_VIDEO_MD5" | "VIDEO_MD5" => Some((HashAlgorithm::Md5, true)),
            "HASH_SHA256" | "SHA256" => Some((HashAlgorithm::Sha256, false)),
            _ => None,
        },
        _ => match up.as_str() {
            "PDQ" => Some((HashAlgorithm::Pdq, false)),
            "MD5" => Some((HashAlgorithm::Md5, false)),
            "SHA256" | "SHA_256" => Some((HashAlgorithm::Sha256, false)),
            _ => None,
        },
    };
    found.ok_or_else(|| {
        let accepted = match format {
            Format::TeCsv => {
                "HASH_PDQ, HASH_MD5, HASH_VIDEO_MD5, HASH_SHA256 (or pdq, md5, video_md5, sha256)"
            }
            _ => "PDQ, MD5, SHA256",
        };
        format!("{raw:?} is not a supported hash type ({accepted})")
    })
}

/// The name a CSV format writes for an algorithm.
pub(crate) fn algorithm_name(format: Format, a: HashAlgorithm) -> &'static str {
    match (format, a) {
        (Format::TeCsv, HashAlgorithm::Pdq) => "HASH_PDQ",
        (Format::TeCsv, HashAlgorithm::Md5) => "HASH_MD5",
        (Format::TeCsv, HashAlgorithm::Sha256) => "HASH_SHA256",
        (_, HashAlgorithm::Pdq) => "PDQ",
        (_, HashAlgorithm::Md5) => "MD5",
        (_, HashAlgorithm::Sha256) => "SHA256",
    }
}

pub(crate) fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "f" | "0" | "no" | "n" => Ok(false),
        "true" | "t" | "1" | "yes" | "y" => Ok(true),
        _ => Err(format!("{raw:?} is not true or false")),
    }
}

struct Columns {
    hash: (usize, &'static str),
    algorithm: (usize, &'static str),
    id: Option<usize>,
    deleted: Option<usize>,
    category: Option<usize>,
    entity: Option<usize>,
    quality: Option<usize>,
    expires: Option<usize>,
    metadata: Vec<(usize, String)>,
}

fn read_csv(
    text: &str,
    format: Format,
    needs_category: bool,
    p: &mut Report,
    dedup: &mut Dedup,
) -> Vec<HashEntry> {
    let names = csv_names(format);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
        Err(e) => {
            p.at(1, format!("header row: {e}"));
            return Vec::new();
        }
    };
    let find = |wanted: &[&'static str]| -> Option<(usize, &'static str)> {
        wanted
            .iter()
            .find_map(|w| headers.iter().position(|h| h == w).map(|i| (i, *w)))
    };
    let mut seen = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            p.at(1, format!("header row: column {} has no name", i + 1));
        } else if seen.insert(h.clone(), i).is_some() {
            p.at(1, format!("header row: column `{h}` appears twice"));
        }
    }
    let (Some(hash), Some(algorithm)) = (find(names.hash), find(names.algorithm)) else {
        p.at(
            1,
            format!(
                "header row: a {} file needs the columns `{}` and `{}` (found: {})",
                format.as_str(),
                names.hash.join("`/`"),
                names.algorithm.join("`/`"),
                headers.join(", ")
            ),
        );
        return Vec::new();
    };
    if !p.all.is_empty() {
        return Vec::new();
    }
    let col = |n: &str| headers.iter().position(|h| h == n);
    let cols = Columns {
        hash,
        algorithm,
        id: col("id"),
        deleted: col(names.deleted),
        category: col("category"),
        entity: col("entity"),
        quality: col("quality"),
        expires: col("expires"),
        metadata: Vec::new(),
    };
    let known: Vec<usize> = [
        Some(cols.hash.0),
        Some(cols.algorithm.0),
        cols.id,
        cols.deleted,
    ]
    .into_iter()
    .chain([cols.category, cols.entity, cols.quality, cols.expires])
    .flatten()
    .collect();
    let cols = Columns {
        metadata: headers
            .iter()
            .enumerate()
            .filter(|(i, _)| !known.contains(i))
            .map(|(i, h)| (i, h.clone()))
            .collect(),
        ..cols
    };
    if needs_category && cols.category.is_none() {
        p.push(
            None,
            "no category: the file has no `category` column and --category was not given".into(),
        );
        return Vec::new();
    }

    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|pos| pos.line() as usize).unwrap_or(0);
                p.at(line, format!("not a valid CSV row: {e}"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        let line = record
            .position()
            .map(|pos| pos.line() as usize)
            .unwrap_or(0);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if let Some(e) = hash_row(&record, &cols, format, needs_category, line, p) {
            let fp = fingerprint(&e);
            match dedup.check(&e.id, line, fp) {
                Seen::New => out.push(e),
                Seen::Duplicate => {}
                Seen::Conflict(first) => p.at(
                    line,
                    format!("column `id`: {:?} is also the id of line {first}", e.id),
                ),
            }
        }
    }
    out
}

/// One CSV row as a hash entry, or its problems (each naming the column).
fn hash_row(
    record: &csv::StringRecord,
    cols: &Columns,
    format: Format,
    needs_category: bool,
    line: usize,
    p: &mut Report,
) -> Option<HashEntry> {
    let cell = |i: usize| record.get(i).unwrap_or("").trim();
    let opt = |i: Option<usize>| i.map(cell).filter(|v| !v.is_empty());
    let before = p.all.len() + p.more;
    let mut bad = |column: &str, m: String| p.at(line, format!("column `{column}`: {m}"));

    let raw_algorithm = cell(cols.algorithm.0);
    let algorithm = match parse_algorithm(format, raw_algorithm) {
        Ok(a) => Some(a),
        Err(m) => {
            bad(cols.algorithm.1, m);
            None
        }
    };
    let enabled = match cols.deleted.map(cell).map(parse_bool).transpose() {
        Ok(d) => !d.unwrap_or(false),
        Err(m) => {
            bad(csv_names(format).deleted, m);
            true
        }
    };
    let category = match opt(cols.category).map(Category::from_str).transpose() {
        Ok(c) => c,
        Err(e) => {
            bad("category", e.to_string());
            None
        }
    };
    if needs_category && category.is_none() {
        bad(
            "category",
            "empty, and --category was not given for rows without one".into(),
        );
    }
    let quality = match opt(cols.quality).map(|q| q.parse::<u32>()).transpose() {
        Ok(q) => q,
        Err(_) => {
            bad(
                "quality",
                format!(
                    "{:?} is not a whole number 0-100",
                    opt(cols.quality).unwrap_or("")
                ),
            );
            None
        }
    };
    let expires = match opt(cols.expires).map(parse_time).transpose() {
        Ok(t) => t,
        Err(m) => {
            bad("expires", m);
            None
        }
    };
    let (algorithm, keep_raw) = algorithm?;
    let mut metadata: BTreeMap<String, String> = cols
        .metadata
        .iter()
        .map(|(i, name)| (name.clone(), cell(*i).to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if keep_raw {
        metadata.insert(
            csv_names(format).algorithm[0].to_string(),
            raw_algorithm.to_string(),
        );
    }
    let mut e = HashEntry {
        id: String::new(),
        algorithm,
        hash: cell(cols.hash.0).to_string(),
        category,
        entity: opt(cols.entity).map(str::to_string),
        quality,
        enabled,
        expires,
        metadata,
        line,
    };
    if let Err(m) = check_hash(&mut e) {
        bad(cols.hash.1, m);
    }
    e.id = opt(cols.id)
        .map(str::to_string)
        .unwrap_or_else(|| hash_id(e.algorithm, &e.hash));
    (p.all.len() + p.more == before).then_some(e)
}

/// Splits a plain-file line into its value and `key=value` fields; `None` for blank lines and
/// comments.
fn plain_line(raw: &str) -> Option<(&str, Vec<&str>)> {
    let raw = raw.trim_end_matches('\r');
    let t = raw.trim();
    if t.is_empty() || t == "#" || t.starts_with("# ") || t.starts_with("#\t") {
        return None;
    }
    let mut parts = raw.split('\t');
    let value = parts.next().unwrap_or("").trim();
    Some((value, parts.filter(|f| !f.trim().is_empty()).collect()))
}

/// Reads the `key=value` fields of a plain line through `set`, reporting unknown keys.
fn plain_fields(
    fields: &[&str],
    allowed: &[&str],
    line: usize,
    p: &mut Report,
    mut set: impl FnMut(&str, &str) -> Result<(), String>,
) {
    for f in fields {
        let Some((k, v)) = f.split_once('=') else {
            p.at(line, format!("field {f:?} is not key=value"));
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if !allowed.contains(&k) {
            p.at(
                line,
                format!("field `{k}` is not one of {}", allowed.join(", ")),
            );
            continue;
        }
        if let Err(m) = set(k, v) {
            p.at(line, format!("field `{k}`: {m}"));
        }
    }
}

fn set_common(
    k: &str,
    v: &str,
    enabled: &mut bool,
    expires: &mut Option<chrono::DateTime<chrono::Utc>>,
    category: &mut Option<Category>,
) -> Result<bool, String> {
    match k {
        "enabled" if v.is_empty() => return Err("empty; write true or false".into()),
        "enabled" => *enabled = parse_bool(v)?,
        "expires" => *expires = Some(parse_time(v)?),
        "category" => *category = Some(Category::from_str(v).map_err(|e| e.to_string())?),
        _ => return Ok(false),
    }
    Ok(true)
}

pub(crate) const TERM_FIELDS: [&str; 7] = [
    "id", "lang", "category", "weight", "match", "enabled", "expires",
];
pub(crate) const URL_FIELDS: [&str; 4] = ["id", "category", "enabled", "expires"];

fn read_terms(
    text: &str,
    opts: &ImportOptions,
    needs_category: bool,
    p: &mut Report,
    dedup: &mut Dedup,
) -> Vec<KeywordEntry> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let Some((term, fields)) = plain_line(raw) else {
            continue;
        };
        let before = p.all.len() + p.more;
        let mut e = KeywordEntry {
            id: String::new(),
            term: term.to_string(),
            lang: opts.lang.clone(),
            category: None,
            weight: None,
            match_mode: opts.match_mode.unwrap_or_default(),
            enabled: true,
            expires: None,
            line,
        };
        let mut id = None;
        plain_fields(&fields, &TERM_FIELDS, line, p, |k, v| {
            if set_common(k, v, &mut e.enabled, &mut e.expires, &mut e.category)? {
                return Ok(());
            }
            match k {
                "id" => id = Some(v.to_string()),
                "lang" => e.lang = Some(v.to_string()),
                "weight" => {
                    e.weight = Some(v.parse().map_err(|_| format!("{v:?} is not a number"))?)
                }
                _ => e.match_mode = MatchMode::from_str(v)?,
            }
            Ok(())
        });
        if let Err(m) = check_keyword(&e) {
            p.at(line, m);
        }
        require_category(p, line, needs_category, e.category.is_some());
        if p.all.len() + p.more != before {
            continue;
        }
        e.id = id.unwrap_or_else(|| content_id("t-", &e.term));
        push_unique(&mut out, e, line, p, dedup);
    }
    out
}

fn read_urls(text: &str, needs_category: bool, p: &mut Report, dedup: &mut Dedup) -> Vec<UrlEntry> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let Some((url, fields)) = plain_line(raw) else {
            continue;
        };
        let before = p.all.len() + p.more;
        let mut e = UrlEntry {
            id: String::new(),
            url: url.to_string(),
            category: None,
            enabled: true,
            expires: None,
            line,
        };
        let mut id = None;
        plain_fields(&fields, &URL_FIELDS, line, p, |k, v| {
            if !set_common(k, v, &mut e.enabled, &mut e.expires, &mut e.category)? {
                id = Some(v.to_string());
            }
            Ok(())
        });
        if let Err(m) = check_url(&mut e) {
            p.at(line, m);
        }
        require_category(p, line, needs_category, e.category.is_some());
        if p.all.len() + p.more != before {
            continue;
        }
        e.id = id.unwrap_or_else(|| content_id("u-", &e.url));
        push_unique(&mut out, e, line, p, dedup);
    }
    out
}

/// A plain line without a category when the import gives none either (`--category`).
fn require_category(p: &mut Report, line: usize, needed: bool, has: bool) {
    if needed && !has {
        p.at(
            line,
            "no category: the line has none and --category was not given".into(),
        );
    }
}

fn push_unique<T: serde::Serialize + super::EntryState>(
    out: &mut Vec<T>,
    e: T,
    line: usize,
    p: &mut Report,
    dedup: &mut Dedup,
) {
    match dedup.check(e.id(), line, fingerprint(&e)) {
        Seen::New => out.push(e),
        Seen::Duplicate => {}
        Seen::Conflict(first) => p.at(
            line,
            format!("id {:?} is also the id of line {first}", e.id()),
        ),
    }
}
