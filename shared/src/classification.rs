//! What `classify` produces for one document (the JSON shape of CONTRACTS.md).

use crate::Category;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<serde_json::Value>,
    /// `None` when there is too little text to tell, or the language is not one we model.
    pub language: Option<LanguageGuess>,
    /// Shares of the languages of a mixed document, largest first.
    #[serde(default)]
    pub languages: Vec<LanguageShare>,
    #[serde(default)]
    pub matches: Vec<Match>,
    #[serde(default)]
    pub categories: Vec<CategoryScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageGuess {
    /// ISO 639-3 code (`rus`, `cmn`, `urd`, …).
    pub code: String,
    pub confidence: f64,
    /// Script name as whatlang spells it (`Cyrillic`, `Arabic`, `Mandarin`, `Latin`, …).
    pub script: String,
    /// The script as an ISO 15924 code: `Cyrl`, `Arab`, `Latn`, …; `Hans` or `Hant` for
    /// simplified or traditional Chinese (whatlang's `Mandarin` covers both).
    #[serde(default)]
    pub script_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageShare {
    pub code: String,
    pub share: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    Keyword,
    Regex,
    Sha256,
    Md5,
    Pdq,
    Url,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Keyword => "keyword",
            MatchKind::Regex => "regex",
            MatchKind::Sha256 => "sha256",
            MatchKind::Md5 => "md5",
            MatchKind::Pdq => "pdq",
            MatchKind::Url => "url",
        }
    }
}

/// One list entry that matched, with the provenance a partner needs to weigh it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// List id.
    pub list: String,
    /// Entry id within the list.
    pub entry: String,
    pub kind: MatchKind,
    /// The keyword term, regex pattern, hash or URL of the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    pub category: Category,
    /// The contributing agency (the list's owner).
    pub source: String,
    /// Byte range in the document's extracted text; `None` for whole-document matches (hashes,
    /// URLs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<[usize; 2]>,
    /// The text that matched, as it stands in the extracted text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_text: Option<String>,
    pub list_version: String,
    pub trust: String,
    /// Set when a negative (allow) list suppressed this match: that list's id and entry. A
    /// suppressed match is reported but counts toward no category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// Why the match is suppressed: `allow_list` (see `suppressed_by`) or `quarantined` (the
    /// entry matched too many distinct URLs and is held until an operator releases it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_reason: Option<String>,
    /// Set when the entry matched one of the page's images (or the fetched content as an
    /// image) rather than the page itself: which image, and for PDQ how close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageMatch>,
}

/// The image behind a hash match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMatch {
    /// The image's URL (an `<img>` source resolved against the page, or the fetched URL when
    /// the content is itself an image).
    pub url: String,
    /// PDQ only: Hamming distance between the entry and the image's hash (of `variant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance: Option<u32>,
    /// PDQ only: the rotation or flip of the image that came closest (`original`, `rotate90`,
    /// `rotate180`, `rotate270`, `flipx`, `flipy`, `flipplus1`, `flipminus1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// PDQ only: the image's PDQ quality (0–100; below 50 nothing is matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub id: Category,
    /// 0..=1; grows with the number, weight and trust of the matches.
    pub score: f64,
    /// Entry ids of the matches behind the score.
    pub evidence: Vec<String>,
}
