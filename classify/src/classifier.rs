//! The compiled lists and the matching of one document against them.

use crate::index::{parse_hex_digest, Md5Set, PdqIndex, Sha256Set};
use crate::keywords::{boundaries_ok, Keywords};
use crate::langid;
use crate::normalize::{look_alike_variant, normalize};
use crate::pdq::{bits_from_hex, Dihedral, DihedralHashes, PdqBits};
use crate::score::{self, Counted};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use shared::lists::EntryState;
use shared::lists::{
    Entries, HashAlgorithm, HashEntry, KeywordEntry, List, ListSet, MatchMode, Problem, RegexEntry,
    Trust, UrlEntry,
};
use shared::url::{canonical_url, match_key};
use shared::{Category, Classification, ImageMatch, Match, MatchKind};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Compiled size limit of one regex entry (bytes); a bigger one is refused at build.
pub const REGEX_SIZE_LIMIT: usize = 2 << 20;
/// Lazy-DFA cache limit of one regex entry and of a list's set (bytes).
pub const REGEX_DFA_SIZE_LIMIT: usize = 4 << 20;
/// Compiled size limit of all regexes of one list together.
pub const REGEX_SET_SIZE_LIMIT: usize = 64 << 20;
/// Occurrences of one entry reported per document; more add nothing to the score and would
/// only bloat the case.
pub const MAX_OCCURRENCES_PER_ENTRY: usize = 100;

/// One document to classify.
#[derive(Debug, Clone, Copy, Default)]
pub struct Document<'a> {
    /// The extracted text; spans in the result are byte ranges of it.
    pub text: &'a str,
    /// Lower-case hex SHA-256 of the fetched bytes.
    pub sha256: Option<&'a str>,
    /// Lower-case hex MD5 of the fetched bytes.
    pub md5: Option<&'a str>,
    /// The final URL (after redirects); canonicalised here before matching.
    pub url: Option<&'a str>,
    /// The page's images that were fetched (and the content itself when it is an image):
    /// their digests and PDQ hashes are matched against the hash lists.
    pub images: &'a [ImageEvidence<'a>],
}

/// One fetched image of a document, as far as it could be hashed.
///
/// An image whose `sha256` is the document's own (a referral of an image URL) is the document
/// itself: its matches are whole-document matches (a negative one suppresses every match of
/// the document) and its digests are not looked up a second time. Any other image's negative
/// match suppresses only the matches of that image.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageEvidence<'a> {
    /// The image's URL, reported with every match on it.
    pub url: &'a str,
    /// Lower-case hex SHA-256 of the image's bytes.
    pub sha256: Option<&'a str>,
    /// Lower-case hex MD5 of the image's bytes.
    pub md5: Option<&'a str>,
    /// The PDQ hashes of the image and its seven rotations and flips; `None` when it could not
    /// be decoded. Quality below [`crate::pdq::MIN_MATCH_QUALITY`] is never matched.
    pub pdq: Option<&'a DihedralHashes>,
}

impl<'a> Document<'a> {
    /// A document that is only text.
    pub fn text(text: &'a str) -> Self {
        Document {
            text,
            ..Document::default()
        }
    }
}

/// Every problem found while compiling a list set, each with its file and, where there is
/// one, its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", summary(.problems))]
pub struct BuildError {
    pub problems: Vec<Problem>,
}

fn summary(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        [first, ..] => format!(
            "{} problems compiling lists; first: {first}",
            problems.len()
        ),
        [] => "no problems".to_string(),
    }
}

/// How much a classifier holds, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub lists: usize,
    pub keywords: usize,
    pub regexes: usize,
    /// SHA-256 and MD5 entries.
    pub hashes: usize,
    /// PDQ entries (in one index over every enabled list).
    pub pdq: usize,
    pub urls: usize,
}

/// The enabled lists, compiled. Cheap to clone; share it between threads.
///
/// - Keywords and their documents pass through [`normalize`](crate::normalize::normalize);
///   `word` needs a boundary at both ends, `prefix` at the start, `substring` none, and
///   scripts written without spaces (Han, kana, Thai, …) never need one. A term spelled
///   wholly in Latin letters that have Cyrillic look-alikes (or the reverse) is also searched
///   in the other script.
/// - Regex patterns run over the same normalised text (lower case, folded, single spaces) and
///   are compiled case-insensitive, so an obfuscated spelling meets them too.
/// - SHA-256/MD5 of the fetched bytes, of each image, and the canonical final URL match
///   exactly (sorted digest sets).
/// - PDQ: one [`PdqIndex`] over the PDQ entries of every enabled list, searched with the eight
///   dihedral hashes of each image at the largest list threshold; a hit counts only within its
///   own list's `pdq_max_distance`. Images of quality below 50 match nothing.
/// - A negative list's hit suppresses the positive hits it overlaps; a negative hash or URL
///   of the document suppresses every hit of the document, a negative hash of one image the
///   hits of that image. Negative hits are not reported on their own.
#[derive(Clone)]
pub struct Classifier {
    inner: Arc<Compiled>,
}

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("stats", &self.inner.stats)
            .finish()
    }
}

struct ListInfo {
    id: String,
    owner: String,
    version: String,
    trust: Trust,
    negative: bool,
    /// Hash lists: the largest PDQ distance that counts as a match.
    pdq_max_distance: u32,
}

/// One entry, compact: a million keywords are a million of these. Its id and its term
/// (pattern, hash or URL as the list has it) are not `String`s of their own but one run of
/// [`Compiled::strings`] — id, then term — from `text_start`.
struct EntryInfo {
    list: u32,
    text_start: u32,
    id_len: u32,
    term_len: u32,
    kind: MatchKind,
    /// `None` only on negative lists, whose entries count toward nothing.
    category: Option<Category>,
    /// What it adds to its category: its kind, weight and list trust, worked out at build.
    contribution: f64,
    mode: MatchMode,
    /// Unix seconds from which the entry no longer matches.
    expires: Option<i64>,
}

struct RegexList {
    set: RegexSet,
    /// One per pattern of the set, for the spans.
    regexes: Vec<Regex>,
    entries: Vec<usize>,
}

struct Compiled {
    lists: Vec<ListInfo>,
    entries: Vec<EntryInfo>,
    /// Every entry's id and term, one after the other (see [`EntryInfo`]).
    strings: String,
    keywords: Option<Keywords>,
    regexes: Vec<RegexList>,
    /// Exact digests; a digest's ids are entry indexes.
    sha256: Sha256Set,
    md5: Md5Set,
    /// PDQ entries of every list; an id is an index into `pdq_entries`.
    pdq: PdqIndex,
    pdq_entries: Vec<u32>,
    /// The largest `pdq_max_distance` of the lists with PDQ entries (the index's query radius).
    pdq_search_distance: u32,
    urls: HashMap<String, Vec<usize>>,
    stats: Stats,
    /// Some entry has an `expires`: the clock is read per document only then.
    any_expiry: bool,
}

/// One entry found in the document, before suppression. `range` is in normalised text;
/// `None` for whole-document matches.
struct Hit {
    entry: usize,
    range: Option<Range<usize>>,
    /// Set for a match on one of the document's images.
    image: Option<ImageHit>,
}

/// Which image of [`Document::images`] a hash hit is on, and for PDQ how close it came.
#[derive(Clone, Copy)]
struct ImageHit {
    index: usize,
    /// The image is the document itself (same SHA-256): its hits are whole-document hits.
    is_document: bool,
    pdq: Option<(u32, Dihedral)>,
}

impl Classifier {
    /// Compiles the enabled lists. Reports every problem, each with its file and line.
    pub fn new(lists: &ListSet) -> Result<Classifier, BuildError> {
        let mut b = Builder::default();
        for list in lists.lists.iter().filter(|l| l.meta.enabled) {
            b.add_list(list);
        }
        b.finish().map(|c| Classifier { inner: Arc::new(c) })
    }

    /// [`new`](Self::new), taking the lists: each list is dropped as soon as it is compiled,
    /// so the parsed entries are gone before the keyword automaton is built (the two together
    /// were most of the peak memory of loading a million keywords). What the service uses.
    pub fn from_lists(lists: ListSet) -> Result<Classifier, BuildError> {
        let mut b = Builder::default();
        for list in lists.lists {
            if list.meta.enabled {
                b.add_list(&list);
            }
        }
        b.finish().map(|c| Classifier { inner: Arc::new(c) })
    }

    pub fn stats(&self) -> Stats {
        self.inner.stats
    }

    /// Classifies one document. `id` is left `None` for the caller to set.
    pub fn classify(&self, doc: &Document<'_>) -> Classification {
        self.classify_with(doc, &mut |_| None)
    }

    /// Like [`classify`](Self::classify), and asks `suppress` once per entry that matched (and
    /// that no negative list suppressed): an answer `Some((by, reason))` reports that entry's
    /// matches as suppressed (`suppressed_by`, `suppressed_reason`) and leaves them out of the
    /// scores. The service's flood quarantine hooks in here.
    pub fn classify_with(
        &self,
        doc: &Document<'_>,
        suppress: &mut dyn FnMut(&Match) -> Option<(String, String)>,
    ) -> Classification {
        let c = &*self.inner;
        let norm = normalize(doc.text);
        let mut hits = Vec::new();
        let mut seen: HashMap<usize, usize> = HashMap::new();
        // Entries past their `expires` load but never match.
        let now = c.any_expiry.then(unix_now);
        let mut record = |entry: usize, range: Option<Range<usize>>, image: Option<ImageHit>| {
            if let (Some(now), Some(t)) = (now, c.entries[entry].expires) {
                if t <= now {
                    return;
                }
            }
            let n = seen.entry(entry).or_insert(0);
            if *n < MAX_OCCURRENCES_PER_ENTRY {
                *n += 1;
                hits.push(Hit {
                    entry,
                    range,
                    image,
                });
            }
        };
        let mut push = |entry: usize, range: Option<Range<usize>>| record(entry, range, None);

        if let Some(kw) = &c.keywords {
            // Every term is found even inside or across another one, in the order of one
            // overlapping search (by end), so the per-entry cap keeps the same occurrences.
            let mut found = Vec::new();
            kw.find(&norm.text, &mut found);
            for (end, start, pattern) in found {
                for &e in kw.owners_of(pattern) {
                    let e = e as usize;
                    if boundaries_ok(&norm.text, start, end, c.entries[e].mode) {
                        push(e, Some(start..end));
                    }
                }
            }
        }
        for rl in &c.regexes {
            for i in rl.set.matches(&norm.text).iter() {
                for m in rl.regexes[i]
                    .find_iter(&norm.text)
                    .filter(|m| !m.is_empty())
                {
                    push(rl.entries[i], Some(m.range()));
                }
            }
        }
        let doc_sha256 = doc.sha256.and_then(|h| parse_hex_digest::<32>(h).ok());
        for e in doc_sha256.iter().flat_map(|d| c.sha256.get(d)) {
            push(e as usize, None);
        }
        let doc_md5 = doc.md5.and_then(|h| parse_hex_digest::<16>(h).ok());
        for e in doc_md5.iter().flat_map(|d| c.md5.get(d)) {
            push(e as usize, None);
        }
        let url_key = doc.url.and_then(|u| match_key(u).ok());
        for &e in url_key.and_then(|k| c.urls.get(&k)).into_iter().flatten() {
            push(e, None);
        }
        for (index, image) in doc.images.iter().enumerate() {
            let sha256 = image.sha256.and_then(|h| parse_hex_digest::<32>(h).ok());
            let is_document = sha256.is_some() && sha256 == doc_sha256;
            let at = |pdq| {
                Some(ImageHit {
                    index,
                    is_document,
                    pdq,
                })
            };
            // The document's own digests were looked up above.
            if !is_document {
                for e in sha256.iter().flat_map(|d| c.sha256.get(d)) {
                    record(e as usize, None, at(None));
                }
                let md5 = image.md5.and_then(|h| parse_hex_digest::<16>(h).ok());
                for e in md5.iter().flat_map(|d| c.md5.get(d)) {
                    record(e as usize, None, at(None));
                }
            }
            for (e, distance, variant) in c.pdq_hits(image.pdq) {
                record(e, None, at(Some((distance, variant))));
            }
        }

        let (negatives, positives): (Vec<Hit>, Vec<Hit>) = hits
            .into_iter()
            .partition(|h| c.lists[c.entries[h.entry].list as usize].negative);
        let suppressor = Suppressor::new(&negatives);
        let mut asked: HashMap<usize, Option<(String, String)>> = HashMap::new();

        let mut matches: Vec<(Match, usize)> = positives
            .into_iter()
            .filter_map(|h| {
                let e = &c.entries[h.entry];
                let l = &c.lists[e.list as usize];
                let span = h.range.as_ref().map(|r| norm.source_range(r.clone()));
                let mut m = Match {
                    list: l.id.clone(),
                    entry: c.entry_id(h.entry).to_string(),
                    kind: e.kind,
                    term: Some(c.entry_term(h.entry).to_string()),
                    category: e.category?,
                    source: l.owner.clone(),
                    span: span.as_ref().map(|s| [s.start, s.end]),
                    matched_text: span.map(|s| doc.text[s].to_string()),
                    list_version: l.version.clone(),
                    trust: l.trust.as_str().to_string(),
                    suppressed_by: suppressor.find(&h).map(|n| c.label(n)),
                    suppressed_reason: None,
                    image: h.image.map(|i| image_match(doc, i)),
                };
                if m.suppressed_by.is_some() {
                    m.suppressed_reason = Some("allow_list".into());
                } else if let Some((by, reason)) =
                    asked.entry(h.entry).or_insert_with(|| suppress(&m)).clone()
                {
                    m.suppressed_by = Some(by);
                    m.suppressed_reason = Some(reason);
                }
                Some((m, h.entry))
            })
            .collect();
        // Whole-document matches first, then in text order, then in list order.
        matches.sort_by_key(|(m, e)| (m.span, *e));

        let categories = score::categories(
            matches
                .iter()
                .filter(|(m, _)| m.suppressed_by.is_none())
                .map(|(m, e)| Counted {
                    category: m.category,
                    key: *e,
                    entry_id: c.entry_id(*e),
                    contribution: c.entries[*e].contribution,
                }),
        );
        let (language, languages) = langid::identify(doc.text);
        Classification {
            id: None,
            language,
            languages,
            matches: matches.into_iter().map(|(m, _)| m).collect(),
            categories,
        }
    }
}

impl Compiled {
    /// The PDQ entries an image matches, as `(entry, distance, variant)`: the index is
    /// searched once with all eight variants at the widest list threshold, then each hit is
    /// held to its own list's `pdq_max_distance`. Nothing for an image that could not be
    /// hashed or whose quality is below 50.
    fn pdq_hits(&self, hashes: Option<&DihedralHashes>) -> Vec<(usize, u32, Dihedral)> {
        let Some(hashes) = hashes.filter(|_| !self.pdq.is_empty()) else {
            return Vec::new();
        };
        let Ok(found) = self.pdq.search_dihedral(hashes, self.pdq_search_distance) else {
            return Vec::new();
        };
        found
            .into_iter()
            .filter_map(|m| {
                let entry = self.pdq_entries[m.id as usize] as usize;
                let list = &self.lists[self.entries[entry].list as usize];
                (m.distance <= list.pdq_max_distance).then_some((entry, m.distance, m.variant))
            })
            .collect()
    }
}

impl Compiled {
    /// How a suppressing entry is named in `suppressed_by`: `list/entry`.
    fn label(&self, entry: usize) -> String {
        let e = &self.entries[entry];
        format!(
            "{}/{}",
            self.lists[e.list as usize].id,
            self.entry_id(entry)
        )
    }

    fn entry_id(&self, entry: usize) -> &str {
        let e = &self.entries[entry];
        let start = e.text_start as usize;
        &self.strings[start..start + e.id_len as usize]
    }

    fn entry_term(&self, entry: usize) -> &str {
        let e = &self.entries[entry];
        let start = (e.text_start + e.id_len) as usize;
        &self.strings[start..start + e.term_len as usize]
    }
}

/// What a match on an image reports of it.
fn image_match(doc: &Document<'_>, hit: ImageHit) -> ImageMatch {
    let image = &doc.images[hit.index];
    ImageMatch {
        url: image.url.to_string(),
        distance: hit.pdq.map(|(d, _)| d),
        variant: hit.pdq.map(|(_, v)| v.as_str().to_string()),
        quality: hit.pdq.and(image.pdq).map(|h| h.quality),
    }
}

/// Finds the negative hit (its entry) that suppresses a positive one.
struct Suppressor {
    /// A whole-document negative (hash, URL): suppresses everything.
    document: Option<usize>,
    /// Negatives on one image (other than the document itself): (image index, entry).
    images: Vec<(usize, usize)>,
    /// Negative spans sorted by start, with the running maximum end and the entry reaching it.
    spans: Vec<(usize, usize, usize)>,
}

impl Suppressor {
    fn new(negatives: &[Hit]) -> Self {
        let document = negatives
            .iter()
            .find(|h| h.range.is_none() && h.image.is_none_or(|i| i.is_document))
            .map(|h| h.entry);
        let images = negatives
            .iter()
            .filter_map(|h| {
                h.image
                    .filter(|i| !i.is_document)
                    .map(|i| (i.index, h.entry))
            })
            .collect();
        let mut sorted: Vec<(&Range<usize>, usize)> = negatives
            .iter()
            .filter_map(|h| Some((h.range.as_ref()?, h.entry)))
            .collect();
        sorted.sort_by_key(|&(r, entry)| (r.start, entry));
        let mut spans = Vec::with_capacity(sorted.len());
        let mut best: Option<(usize, usize)> = None;
        for (r, entry) in sorted {
            if best.is_none_or(|(end, _)| r.end > end) {
                best = Some((r.end, entry));
            }
            let (end, who) = best.expect("set above");
            spans.push((r.start, end, who));
        }
        Suppressor {
            document,
            images,
            spans,
        }
    }

    fn find(&self, hit: &Hit) -> Option<usize> {
        if self.document.is_some() {
            return self.document;
        }
        if let Some(i) = hit.image.filter(|i| !i.is_document) {
            return self.images.iter().find(|n| n.0 == i.index).map(|n| n.1);
        }
        let r = hit.range.as_ref()?;
        // Negatives starting before the hit ends; the one reaching furthest overlaps if any does.
        let n = self.spans.partition_point(|&(s, _, _)| s < r.end);
        let &(_, end, who) = self.spans.get(n.checked_sub(1)?)?;
        (end > r.start).then_some(who)
    }
}

#[derive(Default)]
struct Builder {
    lists: Vec<ListInfo>,
    entries: Vec<EntryInfo>,
    /// Entry ids and terms (see [`EntryInfo`]).
    strings: String,
    /// Normalised keyword patterns, one after the other…
    pattern_text: String,
    /// …as (start, length, entry): a pattern per entry and look-alike variant, deduplicated
    /// (one automaton pattern, several owners) only in [`Builder::finish`], by sorting, so
    /// no pattern is held twice while building.
    patterns: Vec<(u32, u32, u32)>,
    regexes: Vec<RegexList>,
    /// (digest, entry index) pairs, sorted into sets in [`Builder::finish`].
    sha256: Vec<([u8; 32], u32)>,
    md5: Vec<([u8; 16], u32)>,
    /// PDQ hashes and, at the same position, their entry indexes.
    pdq: Vec<PdqBits>,
    pdq_entries: Vec<u32>,
    urls: HashMap<String, Vec<usize>>,
    stats: Stats,
    problems: Vec<Problem>,
}

impl Builder {
    fn add_list(&mut self, list: &List) {
        let meta = &list.meta;
        self.lists.push(ListInfo {
            id: meta.id.clone(),
            owner: meta.owner.clone(),
            version: meta.version.clone(),
            trust: meta.trust,
            negative: meta.negative,
            pdq_max_distance: meta.pdq_threshold(),
        });
        match &list.entries {
            Entries::Keywords(entries) => self.add_keywords(list, entries),
            Entries::Regex(entries) => self.add_regexes(list, entries),
            Entries::Hashes(entries) => self.add_hashes(list, entries),
            Entries::Urls(entries) => self.add_urls(list, entries),
        }
    }

    fn add_keywords(&mut self, list: &List, entries: &[KeywordEntry]) {
        // Sized once: grown by doubling, a million entries would leave up to twice the room
        // they need (and a copy of them at each step).
        let enabled = || entries.iter().filter(|k| k.enabled);
        self.entries.reserve(enabled().count());
        self.strings
            .reserve(enabled().map(|k| k.id.len() + k.term.len()).sum());
        self.pattern_text
            .reserve(enabled().map(|k| k.term.len()).sum());
        self.patterns.reserve(enabled().count());
        for k in entries.iter().filter(|k| k.enabled) {
            let Some(e) = self.entry(
                list,
                k.line,
                &k.id,
                &k.term,
                MatchKind::Keyword,
                k.category,
                k.weight,
            ) else {
                continue;
            };
            self.entries[e].mode = k.match_mode;
            self.entries[e].expires = k.expires().map(|t| t.timestamp());
            let norm = normalize(&k.term).text.trim().to_string();
            if norm.is_empty() {
                self.problem(
                    &list.entries_path,
                    k.line,
                    format!("entry {:?}: term {:?} normalises to nothing", k.id, k.term),
                );
                continue;
            }
            self.add_pattern(&norm, e);
            if let Some(v) = look_alike_variant(&norm) {
                self.add_pattern(&v, e);
            }
            self.stats.keywords += 1;
        }
    }

    /// One regex per entry (for the spans) and one set per list (to find which ran).
    fn add_regexes(&mut self, list: &List, entries: &[RegexEntry]) {
        let mut patterns = Vec::new();
        let mut regexes = Vec::new();
        let mut ids = Vec::new();
        for r in entries.iter().filter(|r| r.enabled) {
            let Some(e) = self.entry(
                list,
                r.line,
                &r.id,
                &r.pattern,
                MatchKind::Regex,
                r.category,
                r.weight,
            ) else {
                continue;
            };
            self.entries[e].expires = r.expires().map(|t| t.timestamp());
            let built = RegexBuilder::new(&r.pattern)
                .case_insensitive(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
                .build();
            match built {
                Ok(re) => {
                    patterns.push(r.pattern.as_str());
                    regexes.push(re);
                    ids.push(e);
                    self.stats.regexes += 1;
                }
                Err(err) => self.problem(
                    &list.entries_path,
                    r.line,
                    format!("entry {:?}: regex refused: {}", r.id, one_line(&err)),
                ),
            }
        }
        if patterns.is_empty() {
            return;
        }
        let set = RegexSetBuilder::new(&patterns)
            .case_insensitive(true)
            .size_limit(REGEX_SET_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .build();
        match set {
            Ok(set) => self.regexes.push(RegexList {
                set,
                regexes,
                entries: ids,
            }),
            Err(err) => self.problems.push(Problem {
                file: list.entries_path.clone(),
                line: None,
                message: format!(
                    "the list's regexes together are refused: {}",
                    one_line(&err)
                ),
            }),
        }
    }

    fn add_hashes(&mut self, list: &List, entries: &[HashEntry]) {
        for h in entries.iter().filter(|h| h.enabled) {
            // Lower case and checked once loaded, but a hand-built ListSet may not be.
            let hash = h.hash.trim().to_ascii_lowercase();
            let want = h.algorithm.hex_len();
            if hash.len() != want || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.problem(
                    &list.entries_path,
                    h.line,
                    format!("entry {:?}: hash is not {want} hex digits", h.id),
                );
                continue;
            }
            let kind = match h.algorithm {
                HashAlgorithm::Sha256 => MatchKind::Sha256,
                HashAlgorithm::Md5 => MatchKind::Md5,
                HashAlgorithm::Pdq => MatchKind::Pdq,
            };
            let Some(e) = self.entry(list, h.line, &h.id, &hash, kind, h.category, None) else {
                continue;
            };
            self.entries[e].expires = h.expires().map(|t| t.timestamp());
            // The digits were checked above, so these parses cannot fail.
            let id = e as u32;
            match h.algorithm {
                HashAlgorithm::Sha256 => {
                    let d = parse_hex_digest(&hash).expect("64 hex digits");
                    self.sha256.push((d, id));
                    self.stats.hashes += 1;
                }
                HashAlgorithm::Md5 => {
                    let d = parse_hex_digest(&hash).expect("32 hex digits");
                    self.md5.push((d, id));
                    self.stats.hashes += 1;
                }
                HashAlgorithm::Pdq => {
                    self.pdq.push(bits_from_hex(&hash).expect("64 hex digits"));
                    self.pdq_entries.push(id);
                    self.stats.pdq += 1;
                }
            }
        }
    }

    fn add_urls(&mut self, list: &List, entries: &[UrlEntry]) {
        for u in entries.iter().filter(|u| u.enabled) {
            // Canonical once loaded, but a hand-built ListSet may not be: do it again.
            let (canon, key) = match canonical_url(&u.url) {
                Ok(c) => (c.to_string(), shared::url::match_key_of(&c)),
                Err(err) => {
                    self.problem(
                        &list.entries_path,
                        u.line,
                        format!("entry {:?}: url: {err}", u.id),
                    );
                    continue;
                }
            };
            let Some(e) = self.entry(
                list,
                u.line,
                &u.id,
                &canon,
                MatchKind::Url,
                u.category,
                None,
            ) else {
                continue;
            };
            self.entries[e].expires = u.expires().map(|t| t.timestamp());
            self.urls.entry(key).or_default().push(e);
            self.stats.urls += 1;
        }
    }

    /// Registers an entry of the list added last, after the checks every kind shares; `None`
    /// (and a problem) if it cannot count. Its score contribution is worked out here, once.
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        list: &List,
        line: usize,
        id: &str,
        term: &str,
        kind: MatchKind,
        category: Option<Category>,
        weight: Option<f64>,
    ) -> Option<usize> {
        let file = &list.entries_path;
        let category = list.category_of(category);
        if category.is_none() && !list.meta.negative {
            self.problem(
                file,
                line,
                format!("entry {id:?} has no category and the list has no default_category"),
            );
            return None;
        }
        // The loader's rule, so a hand-built list set is held to what a file on disk is.
        if let Err(m) = shared::lists::check_weight(weight) {
            self.problem(file, line, format!("entry {id:?}: {m}"));
            return None;
        }
        let weight = weight.unwrap_or(1.0);
        let text_start = self.strings.len();
        if text_start + id.len() + term.len() > u32::MAX as usize {
            self.problem(
                file,
                line,
                format!("entry {id:?}: the lists' ids and terms together exceed 4 GB"),
            );
            return None;
        }
        self.strings.push_str(id);
        self.strings.push_str(term);
        self.entries.push(EntryInfo {
            list: (self.lists.len() - 1) as u32,
            text_start: text_start as u32,
            id_len: id.len() as u32,
            term_len: term.len() as u32,
            kind,
            category,
            contribution: score::contribution(kind, weight, list.meta.trust.factor()),
            mode: MatchMode::default(),
            expires: None,
        });
        Some(self.entries.len() - 1)
    }

    fn add_pattern(&mut self, pattern: &str, entry: usize) {
        // Entries and ids fit in u32: `entry` checked the strings, which outnumber them.
        let start = self.pattern_text.len();
        if start + pattern.len() > u32::MAX as usize {
            self.problems.push(Problem {
                file: PathBuf::from("(all keyword lists)"),
                line: None,
                message: "the normalised keywords together exceed 4 GB".into(),
            });
            return;
        }
        self.pattern_text.push_str(pattern);
        self.patterns
            .push((start as u32, pattern.len() as u32, entry as u32));
    }

    /// The keyword search over the patterns (see [`Keywords`]).
    fn keywords(&mut self) -> Option<Keywords> {
        let text = std::mem::take(&mut self.pattern_text);
        let patterns = std::mem::take(&mut self.patterns);
        let entries = &self.entries;
        match Keywords::build(&text, patterns, |e| entries[e as usize].mode) {
            Ok(k) => k,
            Err(message) => {
                self.problems.push(Problem {
                    file: PathBuf::from("(all keyword lists)"),
                    line: None,
                    message,
                });
                None
            }
        }
    }

    fn problem(&mut self, file: &Path, line: usize, message: String) {
        self.problems.push(Problem {
            file: file.to_path_buf(),
            line: Some(line),
            message,
        });
    }

    fn finish(mut self) -> Result<Compiled, BuildError> {
        let keywords = self.keywords();
        if !self.problems.is_empty() {
            return Err(BuildError {
                problems: self.problems,
            });
        }
        let any_expiry = self.entries.iter().any(|e| e.expires.is_some());
        // One search at the widest list threshold; each hit is then held to its own list's.
        let pdq_search_distance = self
            .pdq_entries
            .iter()
            .map(|&e| self.lists[self.entries[e as usize].list as usize].pdq_max_distance)
            .max()
            .unwrap_or(0);
        Ok(Compiled {
            stats: Stats {
                lists: self.lists.len(),
                ..self.stats
            },
            lists: self.lists,
            entries: shrunk(self.entries),
            strings: {
                let mut s = self.strings;
                s.shrink_to_fit();
                s
            },
            keywords,
            regexes: self.regexes,
            sha256: Sha256Set::from_pairs(self.sha256),
            md5: Md5Set::from_pairs(self.md5),
            pdq: PdqIndex::new(self.pdq),
            pdq_entries: shrunk(self.pdq_entries),
            pdq_search_distance,
            urls: self.urls,
            any_expiry,
        })
    }
}

fn shrunk<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn one_line(err: &dyn fmt::Display) -> String {
    err.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::lists::{ListKind, ListMeta};

    fn meta(id: &str, kind: ListKind, negative: bool) -> ListMeta {
        ListMeta {
            id: id.into(),
            name: id.into(),
            kind,
            owner: format!("owner-{id}"),
            trust: Trust::High,
            version: "2026-01-01.1".into(),
            negative,
            enabled: true,
            default_category: (!negative).then_some(Category::GlorificationApology),
            pdq_max_distance: None,
        }
    }

    fn list(meta: ListMeta, entries: Entries) -> List {
        let entries_path = PathBuf::from(format!("lists/{}/entries.jsonl", meta.id));
        List {
            meta,
            entries,
            entries_path,
        }
    }

    fn kw(id: &str, term: &str, mode: MatchMode) -> KeywordEntry {
        KeywordEntry {
            id: id.into(),
            term: term.into(),
            lang: None,
            category: None,
            weight: None,
            match_mode: mode,
            enabled: true,
            expires: None,
            line: 1,
        }
    }

    fn keywords(id: &str, negative: bool, entries: Vec<KeywordEntry>) -> List {
        list(
            meta(id, ListKind::Keywords, negative),
            Entries::Keywords(entries),
        )
    }

    fn build(lists: Vec<List>) -> Classifier {
        Classifier::new(&ListSet { lists }).unwrap()
    }

    /// A classifier of one positive keyword list "kw" with these (id, term, mode) entries.
    fn build_kw(entries: &[(&str, &str, MatchMode)]) -> Classifier {
        let entries = entries.iter().map(|&(id, term, mode)| kw(id, term, mode));
        build(vec![keywords("kw", false, entries.collect())])
    }

    fn re(id: &str, pattern: &str, weight: Option<f64>, line: usize) -> RegexEntry {
        RegexEntry {
            id: id.into(),
            pattern: pattern.into(),
            category: None,
            weight,
            enabled: true,
            expires: None,
            line,
        }
    }

    fn hash(id: &str, algorithm: HashAlgorithm, hash: String, line: usize) -> HashEntry {
        HashEntry {
            id: id.into(),
            algorithm,
            hash,
            category: None,
            entity: None,
            quality: None,
            enabled: true,
            expires: None,
            metadata: Default::default(),
            line,
        }
    }

    fn url(id: &str, url: &str) -> UrlEntry {
        UrlEntry {
            id: id.into(),
            url: url.into(),
            category: None,
            enabled: true,
            expires: None,
            line: 1,
        }
    }

    fn texts(c: &Classification) -> Vec<(&str, &str)> {
        c.matches
            .iter()
            .map(|m| (m.entry.as_str(), m.matched_text.as_deref().unwrap_or("")))
            .collect()
    }

    fn hex(n: usize, b: &str) -> String {
        b.repeat(n)
    }

    #[test]
    fn classifier_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Classifier>();
    }

    #[test]
    fn word_mode_needs_both_boundaries() {
        let c = build_kw(&[("k1", "Islamic State", MatchMode::Word)]);
        let doc = "Reports on the Islamic State. No Islamic Statement, no XIslamic State.";
        let r = c.classify(&Document::text(doc));
        assert_eq!(texts(&r), [("k1", "Islamic State")]);
        let m = &r.matches[0];
        assert_eq!(
            &doc[m.span.unwrap()[0]..m.span.unwrap()[1]],
            "Islamic State"
        );
        assert_eq!(
            (m.list.as_str(), m.source.as_str(), m.trust.as_str()),
            ("kw", "owner-kw", "high")
        );
        assert_eq!(m.list_version, "2026-01-01.1");
        assert_eq!(m.term.as_deref(), Some("Islamic State"));
        assert_eq!(r.categories.len(), 1);
        assert_eq!(r.categories[0].evidence, ["k1"]);
        assert_eq!(r.categories[0].score, 0.6);
        assert_eq!(r.id, None);
    }

    #[test]
    fn prefix_and_substring_modes() {
        let c = build_kw(&[
            ("p", "джихад", MatchMode::Prefix),
            ("s", "даиш", MatchMode::Substring),
        ]);
        let r = c.classify(&Document::text("джихадисты; антиджихад; антидаиша"));
        assert_eq!(texts(&r), [("p", "джихад"), ("s", "даиш")]);
        assert_eq!(r.matches[0].span, Some([0, "джихад".len()]));
    }

    #[test]
    fn chinese_and_japanese_match_as_substrings() {
        let c = build_kw(&[
            ("zh", "伊斯兰国", MatchMode::Word),
            ("en", "ISIS", MatchMode::Word),
        ]);
        let doc = "他说伊斯兰国的声明是假的。ISISの広報";
        let r = c.classify(&Document::text(doc));
        assert_eq!(texts(&r), [("zh", "伊斯兰国"), ("en", "ISIS")]);
    }

    #[test]
    fn same_term_in_two_lists_and_overlapping_terms_are_all_found() {
        let c = build(vec![
            keywords(
                "a",
                false,
                vec![
                    kw("a1", "Islamic State", MatchMode::Word),
                    kw("a2", "State", MatchMode::Word),
                ],
            ),
            keywords(
                "b",
                false,
                vec![
                    kw("b1", "islamic state", MatchMode::Word),
                    kw("b2", "State of Iraq", MatchMode::Word),
                ],
            ),
        ]);
        let r = c.classify(&Document::text("the Islamic State of Iraq"));
        let mut got: Vec<(String, &str)> = r
            .matches
            .iter()
            .map(|m| {
                (
                    format!("{}/{}", m.list, m.entry),
                    m.matched_text.as_deref().unwrap(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("a/a1".to_string(), "Islamic State"),
                ("a/a2".to_string(), "State"),
                ("b/b1".to_string(), "Islamic State"),
                ("b/b2".to_string(), "State of Iraq"),
            ]
        );
        // Four distinct entries in one category: 1 - 0.4^4.
        assert_eq!(r.categories[0].score, 0.9744);
    }

    #[test]
    fn obfuscated_text_matches_with_original_spans() {
        let c = build_kw(&[
            ("ar", "داعش", MatchMode::Word),
            ("ru", "Россия", MatchMode::Word),
            ("en", "ISIS", MatchMode::Word),
            ("fa", "کشور", MatchMode::Word),
        ]);
        let cases = [
            ("بيان داعـــشٌ اليوم", "ar", "داعـــشٌ"),
            ("بيان دا\u{200C}عش اليوم", "ar", "دا\u{200C}عش"),
            ("новости: Poccия сегодня", "ru", "Poccия"),
            ("the ＩＳＩＳ group", "en", "ＩＳＩＳ"),
            ("the ІЅІЅ group", "en", "ІЅІЅ"),
            ("İSİS açıklaması", "en", "İSİS"),
            ("خبر درباره كشور", "fa", "كشور"),
        ];
        for (doc, entry, want) in cases {
            let r = c.classify(&Document::text(doc));
            assert_eq!(texts(&r), [(entry, want)], "doc {doc:?}");
        }
    }

    #[test]
    fn negative_keyword_suppresses_overlapping_matches_only() {
        let c = build(vec![
            keywords(
                "pos",
                false,
                vec![kw("p1", "Islamic State", MatchMode::Word)],
            ),
            keywords(
                "allow",
                true,
                vec![kw(
                    "n1",
                    "Centre for Islamic State Studies",
                    MatchMode::Word,
                )],
            ),
        ]);
        let doc = "The Centre for Islamic State Studies published a report on Islamic State media.";
        let r = c.classify(&Document::text(doc));
        assert_eq!(r.matches.len(), 2, "{:?}", r.matches);
        assert_eq!(r.matches[0].suppressed_by.as_deref(), Some("allow/n1"));
        assert_eq!(r.matches[1].suppressed_by, None);
        assert_eq!(r.categories[0].score, 0.6);

        let r = c.classify(&Document::text(
            "The Centre for Islamic State Studies published a report.",
        ));
        assert_eq!(r.matches.len(), 1);
        assert!(r.matches[0].suppressed_by.is_some());
        assert!(
            r.categories.is_empty(),
            "a suppressed match counts toward no category"
        );
    }

    #[test]
    fn hashes_and_urls_match_exactly_and_count_strongly() {
        let sha = hex(32, "ab");
        let md5 = hex(16, "cd");
        let hashes = vec![
            HashEntry {
                category: Some(Category::PublicProvocation),
                ..hash("h1", HashAlgorithm::Sha256, sha.to_uppercase(), 1)
            },
            hash("h2", HashAlgorithm::Md5, md5.clone(), 2),
            HashEntry {
                quality: Some(90),
                ..hash("h3", HashAlgorithm::Pdq, hex(32, "ef"), 3)
            },
        ];
        let urls = vec![url("u1", "https://example.org/post/1")];
        let c = build(vec![
            list(meta("h", ListKind::Hashes, false), Entries::Hashes(hashes)),
            list(meta("u", ListKind::Urls, false), Entries::Urls(urls)),
        ]);
        assert_eq!(
            c.stats(),
            Stats {
                lists: 2,
                keywords: 0,
                regexes: 0,
                hashes: 2,
                pdq: 1,
                urls: 1
            }
        );
        let doc = Document {
            text: "nothing to see",
            sha256: Some(&sha.to_uppercase()),
            md5: Some(&md5),
            url: Some("HTTPS://WWW.Example.org/post/1?utm_source=x#top"),
            images: &[],
        };
        let r = c.classify(&doc);
        let kinds: Vec<MatchKind> = r.matches.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, [MatchKind::Sha256, MatchKind::Md5, MatchKind::Url]);
        assert!(r
            .matches
            .iter()
            .all(|m| m.span.is_none() && m.matched_text.is_none()));
        // Two exact matches outweigh one: 1 - 0.05².
        assert_eq!(r.categories[0].id, Category::GlorificationApology);
        assert_eq!(r.categories[0].evidence, ["h2", "u1"]);
        assert_eq!(r.categories[0].score, 0.9975);
        assert_eq!(r.categories[1].id, Category::PublicProvocation);
        assert_eq!(r.categories[1].score, 0.95);
    }

    #[test]
    fn negative_hash_or_url_suppresses_the_whole_document() {
        let c = build(vec![
            keywords(
                "pos",
                false,
                vec![kw("p1", "Islamic State", MatchMode::Word)],
            ),
            list(
                meta("allow-urls", ListKind::Urls, true),
                Entries::Urls(vec![url("news", "https://news.example/story")]),
            ),
        ]);
        let doc = Document {
            url: Some("https://news.example/story"),
            ..Document::text("Islamic State lost ground")
        };
        let r = c.classify(&doc);
        assert_eq!(r.matches.len(), 1);
        assert_eq!(
            r.matches[0].suppressed_by.as_deref(),
            Some("allow-urls/news")
        );
        assert!(r.categories.is_empty());
        let r = c.classify(&Document::text("Islamic State lost ground"));
        assert_eq!(r.matches[0].suppressed_by, None);
    }

    #[test]
    fn regexes_match_normalised_text_with_original_spans() {
        let entries = vec![re("r1", r"t\.me/[a-z0-9_]{5,}", Some(2.0), 1)];
        let c = build(vec![list(
            meta("re", ListKind::Regex, false),
            Entries::Regex(entries),
        )]);
        let doc = "join T.ME/Example_Channel\u{200B} now";
        let r = c.classify(&Document::text(doc));
        assert_eq!(texts(&r), [("r1", "T.ME/Example_Channel")]);
        assert_eq!(r.categories[0].score, 1.0);
    }

    #[test]
    fn hand_built_lists_are_held_to_the_loaders_weight_rule() {
        let mut heavy = kw("heavy", "term", MatchMode::Word);
        heavy.weight = Some(11.0);
        heavy.line = 4;
        let err = Classifier::new(&ListSet {
            lists: vec![keywords("kw", false, vec![heavy])],
        })
        .unwrap_err();
        let lines: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("lists/kw/entries.jsonl:4: entry \"heavy\"")
                && lines[0].contains("outside (0, 10]"),
            "{lines:?}"
        );
    }

    #[test]
    fn build_errors_name_file_and_line() {
        let entries = vec![
            re("ok", "fine", None, 1),
            re("big", r"\w{2000}", None, 2),
            re("bad", "(unclosed", None, 3),
        ];
        let mut empty = kw("z", "\u{200B}ـ", MatchMode::Word);
        empty.line = 7;
        let err = Classifier::new(&ListSet {
            lists: vec![
                list(meta("re", ListKind::Regex, false), Entries::Regex(entries)),
                keywords("kw", false, vec![empty]),
            ],
        })
        .unwrap_err();
        let lines: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("lists/re/entries.jsonl:2: entry \"big\"")
                && lines[0].contains("size limit"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("lists/re/entries.jsonl:3: entry \"bad\""),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("lists/kw/entries.jsonl:7:")
                && lines[2].contains("normalises to nothing"),
            "{lines:?}"
        );
        assert!(
            err.to_string().contains("3 problems") && err.to_string().contains("entries.jsonl:2")
        );
    }

    #[test]
    fn hand_built_lists_are_checked_too() {
        let mut m = meta("kw", ListKind::Keywords, false);
        m.default_category = None;
        let err = Classifier::new(&ListSet {
            lists: vec![list(
                m,
                Entries::Keywords(vec![kw("k", "x", MatchMode::Word)]),
            )],
        })
        .unwrap_err();
        assert!(err.to_string().contains("no category"), "{err}");
    }

    #[test]
    fn from_lists_compiles_what_new_compiles() {
        let lists = || ListSet {
            lists: vec![
                keywords(
                    "a",
                    false,
                    vec![
                        kw("k1", "Islamic State", MatchMode::Word),
                        kw("k2", "داعش", MatchMode::Substring),
                    ],
                ),
                keywords("b", true, vec![kw("n1", "state", MatchMode::Word)]),
            ],
        };
        let text = "Report: Is\u{200B}lamic State and داعـــش; the state of things";
        let by_ref = Classifier::new(&lists()).unwrap();
        let owned = Classifier::from_lists(lists()).unwrap();
        let (a, b) = (
            by_ref.classify(&Document::text(text)),
            owned.classify(&Document::text(text)),
        );
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::to_value(&b).unwrap()
        );
        assert_eq!(a.matches.len(), 2);
        assert_eq!(by_ref.stats(), owned.stats());
        // Problems are reported the same way.
        let bad = || ListSet {
            lists: vec![keywords(
                "c",
                false,
                vec![kw("k", "\u{200B}", MatchMode::Word)],
            )],
        };
        assert_eq!(
            Classifier::new(&bad()).unwrap_err(),
            Classifier::from_lists(bad()).unwrap_err()
        );
    }

    #[test]
    fn disabled_lists_are_left_out() {
        let mut l = keywords(
            "kw",
            false,
            vec![kw("k1", "Islamic State", MatchMode::Word)],
        );
        l.meta.enabled = false;
        let c = build(vec![l]);
        assert!(c
            .classify(&Document::text("Islamic State"))
            .matches
            .is_empty());
        assert_eq!(c.stats().lists, 0);
    }

    #[test]
    fn occurrences_are_capped_per_entry() {
        let c = build_kw(&[("k", "ИГИЛ", MatchMode::Word)]);
        let doc = "ИГИЛ ".repeat(MAX_OCCURRENCES_PER_ENTRY + 20);
        let r = c.classify(&Document::text(&doc));
        assert_eq!(r.matches.len(), MAX_OCCURRENCES_PER_ENTRY);
        assert_eq!(r.categories[0].score, 0.6);
    }

    #[test]
    fn empty_and_hostile_text_cannot_fail() {
        let c = build_kw(&[("k", "a", MatchMode::Substring)]);
        // (document, the texts that match "a" in it)
        let cases: [(&str, &[&str]); 6] = [
            ("", &[]),
            (" ", &[]),
            ("\u{200B}\u{200B}", &[]),
            // NFKC composes á: no longer an "a".
            ("a\u{0301}\u{0301}\u{0301}", &[]),
            ("ﷺ ﷽", &[]),
            ("\u{FEFF}a", &["a"]),
        ];
        for (doc, want) in cases {
            let r = c.classify(&Document::text(doc));
            let got: Vec<&str> = texts(&r).into_iter().map(|(_, t)| t).collect();
            assert_eq!(got, want, "doc {doc:?}");
            for m in &r.matches {
                let [s, e] = m.span.unwrap();
                assert_eq!(&doc[s..e], m.matched_text.as_deref().unwrap());
            }
        }
        let r = c.classify(&Document::text(""));
        assert_eq!(r.language, None);
        assert!(r.languages.is_empty());
    }

    #[test]
    fn language_is_reported() {
        let c = build(vec![]);
        let r = c.classify(&Document::text(
            "Министерство иностранных дел сообщило сегодня, что переговоры продолжатся на следующей неделе.",
        ));
        assert_eq!(r.language.as_ref().unwrap().code, "rus");
        assert_eq!(r.language.as_ref().unwrap().script, "Cyrillic");
        assert_eq!(r.languages[0].code, "rus");
    }
}
