//! The shared lists on disk (LISTS.md): `<dir>/<list-id>/list.toml` and
//! `<dir>/<list-id>/entries.jsonl`. Loading validates everything and reports every problem with
//! its file and line; a set with any problem is refused whole, so a bad list never replaces a
//! good one.
//!
//! Besides LISTS.md's fields, every entry may carry `enabled` (default true) and `expires` (an
//! RFC 3339 time): a disabled or expired entry loads and is counted, but never matches. Hash
//! entries keep the columns of a partner's file that have no field here in `metadata`, so an
//! import followed by an export gives the partner's columns back.
//!
//! Data flow: files → [`ListSet::load_dir`] (or [`ListSet::load_versioned`], which also
//! digests the bytes read into a list-set version) → `classify` compiles the set. [`import`]
//! turns partner formats into a [`List`] and [`export`] turns one back; [`write_list`] puts a
//! list on disk in this format.

pub mod export;
pub mod import;

use crate::url::canonical_url;
use crate::Category;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Keywords,
    Regex,
    Hashes,
    Urls,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Keywords => "keywords",
            ListKind::Regex => "regex",
            ListKind::Hashes => "hashes",
            ListKind::Urls => "urls",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    High,
    Medium,
    Low,
}

impl Trust {
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::High => "high",
            Trust::Medium => "medium",
            Trust::Low => "low",
        }
    }
    /// How much a match from a list of this trust counts toward a category score.
    pub fn factor(self) -> f64 {
        match self {
            Trust::High => 1.0,
            Trust::Medium => 0.7,
            Trust::Low => 0.4,
        }
    }
}

impl FromStr for Trust {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(Trust::High),
            "medium" => Ok(Trust::Medium),
            "low" => Ok(Trust::Low),
            _ => Err(format!("trust {s:?} is not one of high, medium, low")),
        }
    }
}

/// PDQ distance used when a hash list does not set `pdq_max_distance` (HMA's confident-match
/// threshold).
pub const DEFAULT_PDQ_MAX_DISTANCE: u32 = 31;
/// The largest `pdq_max_distance` accepted.
pub const MAX_PDQ_MAX_DISTANCE: u32 = 255;

/// `list.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMeta {
    pub id: String,
    pub name: String,
    pub kind: ListKind,
    pub owner: String,
    pub trust: Trust,
    pub version: String,
    #[serde(default)]
    pub negative: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_category: Option<Category>,
    /// Hash lists only: the largest PDQ Hamming distance that counts as a match (0..=255;
    /// [`DEFAULT_PDQ_MAX_DISTANCE`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq_max_distance: Option<u32>,
}

impl ListMeta {
    /// The PDQ threshold of this list: its own, else the default.
    pub fn pdq_threshold(&self) -> u32 {
        self.pdq_max_distance.unwrap_or(DEFAULT_PDQ_MAX_DISTANCE)
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    /// Whole word (the default).
    #[default]
    Word,
    /// Word start, any ending — for inflected languages.
    Prefix,
    /// Anywhere.
    Substring,
}

impl MatchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::Word => "word",
            MatchMode::Prefix => "prefix",
            MatchMode::Substring => "substring",
        }
    }
    fn is_default(&self) -> bool {
        *self == MatchMode::Word
    }
}

impl FromStr for MatchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "word" => Ok(MatchMode::Word),
            "prefix" => Ok(MatchMode::Prefix),
            "substring" => Ok(MatchMode::Substring),
            _ => Err(format!("match {s:?} is not one of word, prefix, substring")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordEntry {
    pub id: String,
    pub term: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    #[serde(
        default,
        rename = "match",
        skip_serializing_if = "MatchMode::is_default"
    )]
    pub match_mode: MatchMode,
    /// `false`: loaded and counted, never matched.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// From this time on the entry loads but never matches.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub expires: Option<DateTime<Utc>>,
    /// Line in `entries.jsonl` (1-based), for error messages.
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexEntry {
    pub id: String,
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub expires: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgorithm {
    Sha256,
    Md5,
    Pdq,
}

impl HashAlgorithm {
    /// Length of the hash in hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 | HashAlgorithm::Pdq => 64,
            HashAlgorithm::Md5 => 32,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Pdq => "pdq",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashEntry {
    pub id: String,
    pub algorithm: HashAlgorithm,
    /// Lower-case hex once loaded.
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u32>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub expires: Option<DateTime<Utc>>,
    /// A partner's columns that have no field here (TAT's `ideology`, `file_type`, …), kept so
    /// an export gives them back. Never used for matching.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlEntry {
    pub id: String,
    /// Canonical form once loaded.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub expires: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub line: usize,
}

/// `expires` as an RFC 3339 string, with a message that says what is expected.
mod rfc3339_opt {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| super::parse_time(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Parses an RFC 3339 time (`2026-12-31T23:59:59Z`, any offset) for `expires`.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("expires {s:?} is not an RFC 3339 time like 2026-12-31T23:59:59Z ({e})")
        })
}

/// What every kind of entry has: its id, line, and whether it may match.
pub trait EntryState {
    fn id(&self) -> &str;
    fn line(&self) -> usize;
    fn enabled(&self) -> bool;
    fn expires(&self) -> Option<DateTime<Utc>>;
    /// Enabled and not expired at `now`.
    fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.enabled() && self.expires().is_none_or(|t| t > now)
    }
}

macro_rules! entry_state {
    ($($t:ty),*) => {$(
        impl EntryState for $t {
            fn id(&self) -> &str { &self.id }
            fn line(&self) -> usize { self.line }
            fn enabled(&self) -> bool { self.enabled }
            fn expires(&self) -> Option<DateTime<Utc>> { self.expires }
        }
    )*};
}
entry_state!(KeywordEntry, RegexEntry, HashEntry, UrlEntry);

#[derive(Debug, Clone, PartialEq)]
pub enum Entries {
    Keywords(Vec<KeywordEntry>),
    Regex(Vec<RegexEntry>),
    Hashes(Vec<HashEntry>),
    Urls(Vec<UrlEntry>),
}

/// How many entries of a list may match, and why the others may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct EntryCounts {
    pub total: usize,
    pub active: usize,
    pub disabled: usize,
    /// Enabled but past `expires`.
    pub expired: usize,
}

impl Entries {
    pub fn len(&self) -> usize {
        match self {
            Entries::Keywords(v) => v.len(),
            Entries::Regex(v) => v.len(),
            Entries::Hashes(v) => v.len(),
            Entries::Urls(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn kind(&self) -> ListKind {
        match self {
            Entries::Keywords(_) => ListKind::Keywords,
            Entries::Regex(_) => ListKind::Regex,
            Entries::Hashes(_) => ListKind::Hashes,
            Entries::Urls(_) => ListKind::Urls,
        }
    }
    /// Every entry, whatever its kind.
    pub fn states(&self) -> Box<dyn Iterator<Item = &dyn EntryState> + '_> {
        match self {
            Entries::Keywords(v) => Box::new(v.iter().map(|e| e as &dyn EntryState)),
            Entries::Regex(v) => Box::new(v.iter().map(|e| e as &dyn EntryState)),
            Entries::Hashes(v) => Box::new(v.iter().map(|e| e as &dyn EntryState)),
            Entries::Urls(v) => Box::new(v.iter().map(|e| e as &dyn EntryState)),
        }
    }
    pub fn counts(&self, now: DateTime<Utc>) -> EntryCounts {
        let mut c = EntryCounts::default();
        for e in self.states() {
            c.total += 1;
            if !e.enabled() {
                c.disabled += 1;
            } else if !e.active_at(now) {
                c.expired += 1;
            } else {
                c.active += 1;
            }
        }
        c
    }
    /// Sets every entry's line to 0: two lists read from different files compare equal when
    /// their entries are.
    pub fn clear_lines(&mut self) {
        match self {
            Entries::Keywords(v) => v.iter_mut().for_each(|e| e.line = 0),
            Entries::Regex(v) => v.iter_mut().for_each(|e| e.line = 0),
            Entries::Hashes(v) => v.iter_mut().for_each(|e| e.line = 0),
            Entries::Urls(v) => v.iter_mut().for_each(|e| e.line = 0),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct List {
    pub meta: ListMeta,
    pub entries: Entries,
    /// `entries.jsonl` of this list, for error messages.
    pub entries_path: PathBuf,
}

impl List {
    /// The category an entry counts toward: its own, else the list's default. Validation makes
    /// sure one of them is there for every entry of a positive list.
    pub fn category_of(&self, entry_category: Option<Category>) -> Option<Category> {
        entry_category.or(self.meta.default_category)
    }
}

/// Every list of a lists directory, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListSet {
    pub lists: Vec<List>,
}

/// One problem found while loading lists, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// All problems of a refused list set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in lists; first: {}", .0.len(), .0.first().map(|p| p.to_string()).unwrap_or_default())]
pub struct Problems(pub Vec<Problem>);

/// The most entries one list may hold in this loader (a guard against a runaway file; the
/// million-entry indexes come with their own formats).
pub const MAX_ENTRIES_PER_LIST: usize = 5_000_000;

impl ListSet {
    /// Loads every list under `dir`; refuses the whole set if anything is wrong.
    pub fn load_dir(dir: &Path) -> Result<ListSet, Problems> {
        Self::load_versioned(dir).map(|(set, _)| set)
    }

    /// Like [`load_dir`](Self::load_dir), and also returns the list-set version: the first 16
    /// hex digits of a SHA-256 over every list directory name and the bytes of its two files
    /// as read. Any edit — a new entry, a changed version string — gives a new version.
    pub fn load_versioned(dir: &Path) -> Result<(ListSet, String), Problems> {
        let mut digest = Sha256::new();
        let (set, problems) = check_dir_inner(dir, &mut digest);
        if problems.is_empty() {
            Ok((set, hex::encode(&digest.finalize()[..8])))
        } else {
            Err(Problems(problems))
        }
    }

    /// Loads what it can and returns every problem found (for `triage lists check`).
    pub fn check_dir(dir: &Path) -> (ListSet, Vec<Problem>) {
        check_dir_inner(dir, &mut Sha256::new())
    }

    pub fn get(&self, id: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.meta.id == id)
    }

    pub fn entry_count(&self) -> usize {
        self.lists.iter().map(|l| l.entries.len()).sum()
    }
}

/// Loads one list directory (`<dir>/list.toml` and `<dir>/entries.jsonl`) on its own, e.g. to
/// export it without reading its neighbours.
pub fn load_list_dir(dir: &Path) -> Result<List, Problems> {
    let mut problems = Vec::new();
    let list = load_list(dir, &mut problems, &mut Sha256::new());
    match list {
        Some(l) if problems.is_empty() => Ok(l),
        _ => Err(Problems(problems)),
    }
}

fn check_dir_inner(dir: &Path, digest: &mut Sha256) -> (ListSet, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut lists = Vec::new();
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            problems.push(Problem {
                file: dir.to_path_buf(),
                line: None,
                message: format!("cannot read lists directory: {e}"),
            });
            return (ListSet { lists }, problems);
        }
    };
    // Hidden directories are skipped: `triage lists import` writes into one before it renames
    // it into place, and a reload must not pick up a half-written list.
    let mut subdirs: Vec<PathBuf> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    subdirs.sort();
    let mut ids = HashSet::new();
    for sub in subdirs {
        if let Some(list) = load_list(&sub, &mut problems, digest) {
            if !ids.insert(list.meta.id.clone()) {
                problems.push(Problem {
                    file: sub.join("list.toml"),
                    line: None,
                    message: format!("list id {:?} is used by another list too", list.meta.id),
                });
            }
            lists.push(list);
        }
    }
    (ListSet { lists }, problems)
}

/// Validates a list's metadata; every problem names `list.toml`.
pub fn check_meta(meta: &ListMeta, meta_path: &Path) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut bad = |message: String| {
        out.push(Problem {
            file: meta_path.to_path_buf(),
            line: None,
            message,
        })
    };
    if meta.id.trim().is_empty() || meta.owner.trim().is_empty() || meta.version.trim().is_empty() {
        bad("id, owner and version must not be empty".into());
    }
    if meta.id.starts_with('.') || meta.id.contains(['/', '\\']) {
        bad(format!(
            "list id {:?} must not start with a dot or contain a slash",
            meta.id
        ));
    }
    if meta.pdq_max_distance.is_some() && meta.kind != ListKind::Hashes {
        bad("pdq_max_distance applies to hash lists only".into());
    }
    if let Some(d) = meta.pdq_max_distance {
        if d > MAX_PDQ_MAX_DISTANCE {
            bad(format!(
                "pdq_max_distance {d} is outside 0..={MAX_PDQ_MAX_DISTANCE}"
            ));
        }
    }
    out
}

fn load_list(dir: &Path, problems: &mut Vec<Problem>, digest: &mut Sha256) -> Option<List> {
    let meta_path = dir.join("list.toml");
    let entries_path = dir.join("entries.jsonl");
    let text = match std::fs::read_to_string(&meta_path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                file: meta_path,
                line: None,
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    digest.update((dir_name.len() as u64).to_le_bytes());
    digest.update(dir_name.as_bytes());
    digest.update((text.len() as u64).to_le_bytes());
    digest.update(text.as_bytes());
    let meta: ListMeta = match toml::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            let line = e.span().map(|s| line_of(&text, s.start));
            problems.push(Problem {
                file: meta_path,
                line,
                message: e.message().to_string(),
            });
            return None;
        }
    };
    if meta.id != dir_name {
        problems.push(Problem {
            file: meta_path.clone(),
            line: None,
            message: format!(
                "list id {:?} differs from its directory name {:?}",
                meta.id, dir_name
            ),
        });
    }
    problems.extend(check_meta(&meta, &meta_path));
    let body = match std::fs::read_to_string(&entries_path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                file: entries_path,
                line: None,
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    digest.update((body.len() as u64).to_le_bytes());
    digest.update(body.as_bytes());
    let mut ctx = EntryCtx {
        meta: &meta,
        path: &entries_path,
        problems,
        ids: HashSet::new(),
    };
    let entries = match meta.kind {
        ListKind::Keywords => {
            Entries::Keywords(ctx.parse_lines(&body, |e: &mut KeywordEntry, line| {
                e.line = line;
                check_keyword(e)?;
                Ok((e.id.clone(), e.category))
            }))
        }
        ListKind::Regex => Entries::Regex(ctx.parse_lines(&body, |e: &mut RegexEntry, line| {
            e.line = line;
            if e.pattern.is_empty() {
                return Err("pattern is empty".into());
            }
            check_weight(e.weight)?;
            Ok((e.id.clone(), e.category))
        })),
        ListKind::Hashes => Entries::Hashes(ctx.parse_lines(&body, |e: &mut HashEntry, line| {
            e.line = line;
            check_hash(e)?;
            Ok((e.id.clone(), e.category))
        })),
        ListKind::Urls => Entries::Urls(ctx.parse_lines(&body, |e: &mut UrlEntry, line| {
            e.line = line;
            check_url(e)?;
            Ok((e.id.clone(), e.category))
        })),
    };
    Some(List {
        meta,
        entries,
        entries_path: dir.join("entries.jsonl"),
    })
}

/// Checks a keyword entry's own fields.
pub fn check_keyword(e: &KeywordEntry) -> Result<(), String> {
    if e.term.trim().is_empty() {
        return Err("term is empty".into());
    }
    check_weight(e.weight)
}

/// Checks a hash entry and puts its hash in lower case.
pub fn check_hash(e: &mut HashEntry) -> Result<(), String> {
    e.hash = e.hash.trim().to_ascii_lowercase();
    let want = e.algorithm.hex_len();
    if e.hash.len() != want || !e.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "hash must be {want} hex digits for {}",
            e.algorithm.as_str()
        ));
    }
    if e.quality.is_some_and(|q| q > 100) {
        return Err("quality is over 100".into());
    }
    Ok(())
}

/// Checks a URL entry and puts its URL in canonical form.
pub fn check_url(e: &mut UrlEntry) -> Result<(), String> {
    let canon = canonical_url(&e.url).map_err(|err| format!("url: {err}"))?;
    e.url = canon.to_string();
    Ok(())
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The weight rule every keyword and regex entry follows: absent, or in (0, 10].
pub fn check_weight(w: Option<f64>) -> Result<(), String> {
    match w {
        Some(w) if !(w.is_finite() && w > 0.0 && w <= 10.0) => {
            Err(format!("weight {w} is outside (0, 10]"))
        }
        _ => Ok(()),
    }
}

struct EntryCtx<'a> {
    meta: &'a ListMeta,
    path: &'a Path,
    problems: &'a mut Vec<Problem>,
    ids: HashSet<String>,
}

impl EntryCtx<'_> {
    /// Parses one JSON object per non-blank line; `check` validates and fills in the line.
    fn parse_lines<T, F>(&mut self, body: &str, mut check: F) -> Vec<T>
    where
        T: for<'de> Deserialize<'de>,
        F: FnMut(&mut T, usize) -> Result<(String, Option<Category>), String>,
    {
        let mut out = Vec::new();
        for (i, raw) in body.lines().enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            if out.len() >= MAX_ENTRIES_PER_LIST {
                self.problem(line, format!("more than {MAX_ENTRIES_PER_LIST} entries"));
                break;
            }
            let mut entry: T = match serde_json::from_str(raw) {
                Ok(e) => e,
                Err(e) => {
                    self.problem(
                        line,
                        format!("not a valid {} entry: {e}", self.meta.kind.as_str()),
                    );
                    continue;
                }
            };
            match check(&mut entry, line) {
                Ok((id, category)) => {
                    if id.trim().is_empty() {
                        self.problem(line, "id is empty".into());
                        continue;
                    }
                    if !self.ids.insert(id.clone()) {
                        self.problem(line, format!("entry id {id:?} appears twice"));
                        continue;
                    }
                    if !self.meta.negative
                        && category.is_none()
                        && self.meta.default_category.is_none()
                    {
                        self.problem(
                            line,
                            format!(
                                "entry {id:?} has no category and the list has no default_category"
                            ),
                        );
                        continue;
                    }
                    out.push(entry);
                }
                Err(msg) => self.problem(line, msg),
            }
        }
        out
    }

    fn problem(&mut self, line: usize, message: String) {
        self.problems.push(Problem {
            file: self.path.to_path_buf(),
            line: Some(line),
            message,
        });
    }
}

/// Writes a list in the LISTS.md layout into `dir` (created if needed): `list.toml` with
/// `header` as a leading comment, and `entries.jsonl`, one entry a line in list order.
pub fn write_list(
    dir: &Path,
    meta: &ListMeta,
    entries: &Entries,
    header: &str,
) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let toml = toml::to_string(meta).map_err(std::io::Error::other)?;
    let mut head = String::new();
    for l in header.lines() {
        head.push_str("# ");
        head.push_str(l);
        head.push('\n');
    }
    std::fs::write(dir.join("list.toml"), format!("{head}{toml}"))?;
    let f = std::fs::File::create(dir.join("entries.jsonl"))?;
    let mut w = std::io::BufWriter::new(f);
    fn put<T: Serialize>(w: &mut impl Write, v: &[T]) -> std::io::Result<()> {
        for e in v {
            serde_json::to_writer(&mut *w, e)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
    match entries {
        Entries::Keywords(v) => put(&mut w, v)?,
        Entries::Regex(v) => put(&mut w, v)?,
        Entries::Hashes(v) => put(&mut w, v)?,
        Entries::Urls(v) => put(&mut w, v)?,
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write_list(root: &Path, id: &str, toml: &str, entries: &str) {
        let d = root.join(id);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("list.toml"), toml).unwrap();
        fs::write(d.join("entries.jsonl"), entries).unwrap();
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("triage-lists-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn loads_a_good_set() {
        let d = tmpdir("good");
        write_list(&d, "kw", "id='kw'\nname='K'\nkind='keywords'\nowner='fr-pharos'\ntrust='high'\nversion='1'\ndefault_category='glorification_apology'\n",
            "{\"id\":\"k1\",\"term\":\"Islamic State\"}\n\n{\"id\":\"k2\",\"term\":\"джихад\",\"match\":\"prefix\",\"category\":\"public_provocation\"}\n");
        write_list(&d, "h", "id='h'\nname='H'\nkind='hashes'\nowner='tat'\ntrust='medium'\nversion='2'\ndefault_category='public_provocation'\n",
            &format!("{{\"id\":\"h1\",\"algorithm\":\"md5\",\"hash\":\"{}\"}}\n", "AB".repeat(16)));
        let set = ListSet::load_dir(&d).unwrap();
        assert_eq!(set.lists.len(), 2);
        assert_eq!(set.entry_count(), 3);
        let Entries::Hashes(h) = &set.get("h").unwrap().entries else {
            panic!()
        };
        assert_eq!(h[0].hash, "ab".repeat(16));
        let Entries::Keywords(k) = &set.get("kw").unwrap().entries else {
            panic!()
        };
        assert_eq!(k[1].line, 3);
        assert_eq!(k[1].match_mode, MatchMode::Prefix);
    }

    #[test]
    fn every_problem_names_file_and_line() {
        let d = tmpdir("bad");
        write_list(&d, "kw", "id='kw'\nname='K'\nkind='keywords'\nowner='o'\ntrust='high'\nversion='1'\n",
            "{\"id\":\"k1\",\"term\":\"x\",\"category\":\"public_provocation\"}\n{\"id\":\"k1\",\"term\":\"y\",\"category\":\"public_provocation\"}\n{\"id\":\"k3\",\"term\":\"z\"}\nnot json\n{\"id\":\"k5\",\"term\":\"q\",\"category\":\"terrorism\"}\n");
        write_list(&d, "h", "id='h'\nname='H'\nkind='hashes'\nowner='o'\ntrust='high'\nversion='1'\ndefault_category='public_provocation'\nbogus=1\n", "");
        let err = ListSet::load_dir(&d).unwrap_err();
        let lines: Vec<String> = err.0.iter().map(|p| p.to_string()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("h/list.toml:8") && l.contains("bogus")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("kw/entries.jsonl:2:") && l.contains("twice")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("kw/entries.jsonl:3:") && l.contains("no category")),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("kw/entries.jsonl:4:")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("kw/entries.jsonl:5:") && l.contains("terrorism")),
            "{lines:?}"
        );
        assert_eq!(err.0.len(), 5, "{lines:?}");
    }

    #[test]
    fn bad_hashes_and_urls_are_refused() {
        let d = tmpdir("hash");
        write_list(&d, "h", "id='h'\nname='H'\nkind='hashes'\nowner='o'\ntrust='low'\nversion='1'\ndefault_category='public_provocation'\n",
            "{\"id\":\"a\",\"algorithm\":\"sha256\",\"hash\":\"abc\"}\n{\"id\":\"b\",\"algorithm\":\"md5\",\"hash\":\"zz\"}\n");
        write_list(&d, "u", "id='u'\nname='U'\nkind='urls'\nowner='o'\ntrust='low'\nversion='1'\ndefault_category='public_provocation'\n",
            "{\"id\":\"a\",\"url\":\"gopher://x/\"}\n{\"id\":\"b\",\"url\":\"HTTP://WWW.Example.com/p#x\"}\n");
        let (set, problems) = ListSet::check_dir(&d);
        assert_eq!(problems.len(), 3, "{problems:?}");
        let Entries::Urls(u) = &set.get("u").unwrap().entries else {
            panic!()
        };
        assert_eq!(u[0].url, "http://example.com/p");
    }

    #[test]
    fn disabled_and_expiring_entries_load_and_are_counted() {
        let d = tmpdir("gov");
        write_list(&d, "kw", "id='kw'\nname='K'\nkind='keywords'\nowner='o'\ntrust='high'\nversion='1'\ndefault_category='extremism'\n",
            "{\"id\":\"a\",\"term\":\"x\"}\n{\"id\":\"b\",\"term\":\"y\",\"enabled\":false}\n{\"id\":\"c\",\"term\":\"z\",\"expires\":\"2026-01-01T00:00:00+01:00\"}\n{\"id\":\"d\",\"term\":\"w\",\"expires\":\"2999-01-01T00:00:00Z\"}\n");
        let set = ListSet::load_dir(&d).unwrap();
        let l = set.get("kw").unwrap();
        let Entries::Keywords(k) = &l.entries else {
            panic!()
        };
        assert_eq!(
            k[2].expires.unwrap().to_rfc3339(),
            "2025-12-31T23:00:00+00:00"
        );
        let now = parse_time("2026-06-01T00:00:00Z").unwrap();
        assert_eq!(
            l.entries.counts(now),
            EntryCounts {
                total: 4,
                active: 2,
                disabled: 1,
                expired: 1
            }
        );
        assert!(k[3].active_at(now) && !k[1].active_at(now) && !k[2].active_at(now));
        // Written back, the fields survive; defaults are not written.
        let out = tmpdir("gov-out");
        super::write_list(&out.join("kw"), &l.meta, &l.entries, "test").unwrap();
        let back = ListSet::load_dir(&out).unwrap();
        let mut a = back.get("kw").unwrap().entries.clone();
        let mut b = l.entries.clone();
        a.clear_lines();
        b.clear_lines();
        assert_eq!(a, b);
        let text = fs::read_to_string(out.join("kw/entries.jsonl")).unwrap();
        assert!(
            text.starts_with("{\"id\":\"a\",\"term\":\"x\"}\n"),
            "{text}"
        );
        assert!(fs::read_to_string(out.join("kw/list.toml"))
            .unwrap()
            .starts_with("# test\n"));
    }

    #[test]
    fn bad_expiry_and_threshold_name_file_and_line() {
        let d = tmpdir("gov-bad");
        write_list(&d, "h", "id='h'\nname='H'\nkind='hashes'\nowner='o'\ntrust='high'\nversion='1'\ndefault_category='extremism'\npdq_max_distance=256\n",
            &format!("{{\"id\":\"a\",\"algorithm\":\"pdq\",\"hash\":\"{}\",\"expires\":\"next week\"}}\n", "0".repeat(64)));
        let err = ListSet::load_dir(&d).unwrap_err();
        let lines: Vec<String> = err.0.iter().map(|p| p.to_string()).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines.iter().any(|l| l.contains("h/list.toml")
                && l.contains("pdq_max_distance 256 is outside 0..=255")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("h/entries.jsonl:1:") && l.contains("RFC 3339")),
            "{lines:?}"
        );
        let ok = ListMeta {
            pdq_max_distance: None,
            ..toml::from_str::<ListMeta>(
                "id='h'\nname='H'\nkind='hashes'\nowner='o'\ntrust='high'\nversion='1'\n",
            )
            .unwrap()
        };
        assert_eq!(ok.pdq_threshold(), DEFAULT_PDQ_MAX_DISTANCE);
        assert_eq!(
            ListMeta {
                pdq_max_distance: Some(255),
                ..ok.clone()
            }
            .pdq_threshold(),
            255
        );
        assert!(check_meta(
            &ListMeta {
                pdq_max_distance: Some(255),
                ..ok
            },
            Path::new("x")
        )
        .is_empty());
    }

    #[test]
    fn set_version_follows_the_bytes_and_hidden_dirs_are_skipped() {
        let d = tmpdir("digest");
        let toml = "id='kw'\nname='K'\nkind='keywords'\nowner='o'\ntrust='high'\nversion='1'\ndefault_category='extremism'\n";
        write_list(&d, "kw", toml, "{\"id\":\"a\",\"term\":\"x\"}\n");
        let (_, v1) = ListSet::load_versioned(&d).unwrap();
        let (_, again) = ListSet::load_versioned(&d).unwrap();
        assert_eq!(v1, again);
        assert_eq!(v1.len(), 16);
        // A half-written list in a hidden directory is not read.
        write_list(&d, ".kw.tmp", "garbage", "garbage");
        let (set, v2) = ListSet::load_versioned(&d).unwrap();
        assert_eq!((set.lists.len(), v2.as_str()), (1, v1.as_str()));
        fs::write(
            d.join("kw/entries.jsonl"),
            "{\"id\":\"a\",\"term\":\"x\"}\n{\"id\":\"b\",\"term\":\"y\"}\n",
        )
        .unwrap();
        let (_, v3) = ListSet::load_versioned(&d).unwrap();
        assert_ne!(v1, v3);
    }
}
