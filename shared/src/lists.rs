//! The shared lists on disk (LISTS.md): `<dir>/<list-id>/list.toml` and
//! `<dir>/<list-id>/entries.jsonl`. Loading validates everything and reports every problem with
//! its file and line; a set with any problem is refused whole, so a bad list never replaces a
//! good one.

use crate::url::canonical_url;
use crate::Category;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Keywords,
    Regex,
    Hashes,
    Urls,
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
    #[serde(default)]
    pub default_category: Option<Category>,
    /// Hash lists only: the largest PDQ Hamming distance that counts as a match.
    #[serde(default)]
    pub pdq_max_distance: Option<u32>,
}

fn yes() -> bool {
    true
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordEntry {
    pub id: String,
    pub term: String,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub weight: Option<f64>,
    #[serde(default, rename = "match")]
    pub match_mode: MatchMode,
    /// Line in `entries.jsonl` (1-based), for error messages.
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexEntry {
    pub id: String,
    pub pattern: String,
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub weight: Option<f64>,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashEntry {
    pub id: String,
    pub algorithm: HashAlgorithm,
    /// Lower-case hex once loaded.
    pub hash: String,
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub entity: Option<String>,
    #[serde(default)]
    pub quality: Option<u32>,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlEntry {
    pub id: String,
    /// Canonical form once loaded.
    pub url: String,
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Entries {
    Keywords(Vec<KeywordEntry>),
    Regex(Vec<RegexEntry>),
    Hashes(Vec<HashEntry>),
    Urls(Vec<UrlEntry>),
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
        let (set, problems) = Self::check_dir(dir);
        if problems.is_empty() {
            Ok(set)
        } else {
            Err(Problems(problems))
        }
    }

    /// Loads what it can and returns every problem found (for `triage lists check`).
    pub fn check_dir(dir: &Path) -> (ListSet, Vec<Problem>) {
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
        let mut subdirs: Vec<PathBuf> = read
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        subdirs.sort();
        let mut ids = HashSet::new();
        for sub in subdirs {
            if let Some(list) = load_list(&sub, &mut problems) {
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

    pub fn get(&self, id: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.meta.id == id)
    }

    pub fn entry_count(&self) -> usize {
        self.lists.iter().map(|l| l.entries.len()).sum()
    }
}

fn load_list(dir: &Path, problems: &mut Vec<Problem>) -> Option<List> {
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
    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
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
    if meta.id.trim().is_empty() || meta.owner.trim().is_empty() || meta.version.trim().is_empty() {
        problems.push(Problem {
            file: meta_path.clone(),
            line: None,
            message: "id, owner and version must not be empty".into(),
        });
    }
    if meta.pdq_max_distance.is_some() && meta.kind != ListKind::Hashes {
        problems.push(Problem {
            file: meta_path.clone(),
            line: None,
            message: "pdq_max_distance applies to hash lists only".into(),
        });
    }
    if let Some(d) = meta.pdq_max_distance {
        if d > 256 {
            problems.push(Problem {
                file: meta_path.clone(),
                line: None,
                message: format!("pdq_max_distance {d} is over 256 bits"),
            });
        }
    }
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
                if e.term.trim().is_empty() {
                    return Err("term is empty".into());
                }
                check_weight(e.weight)?;
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
            e.hash = e.hash.trim().to_ascii_lowercase();
            let want = e.algorithm.hex_len();
            if e.hash.len() != want || !e.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(
                    format!("hash must be {want} hex digits for {:?}", e.algorithm).to_lowercase(),
                );
            }
            if e.quality.is_some_and(|q| q > 100) {
                return Err("quality is over 100".into());
            }
            Ok((e.id.clone(), e.category))
        })),
        ListKind::Urls => Entries::Urls(ctx.parse_lines(&body, |e: &mut UrlEntry, line| {
            e.line = line;
            let canon = canonical_url(&e.url).map_err(|err| format!("url: {err}"))?;
            e.url = canon.to_string();
            Ok((e.id.clone(), e.category))
        })),
    };
    Some(List {
        meta,
        entries,
        entries_path: dir.join("entries.jsonl"),
    })
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn check_weight(w: Option<f64>) -> Result<(), String> {
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
                        format!("not a valid {:?} entry: {e}", self.meta.kind).to_lowercase(),
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
}
