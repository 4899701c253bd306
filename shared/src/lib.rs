//! The vocabulary every triage stage speaks, and the shared lists.
//!
//! Map of the crate:
//!
//! - [`Category`] — the twelve offence categories (conduct, not statute names).
//! - [`url`] — canonical URLs and the stable case id derived from them.
//! - [`classification`] — what `classify` produces: [`Classification`] with language, matches
//!   (each carrying its list provenance and span) and per-category scores.
//! - [`routing`] — what `route` consumes and produces: [`RouteCase`] in, [`Decision`] out.
//! - [`lists`] — the shared keyword, regex, hash and URL lists on disk (`list.toml` +
//!   `entries.jsonl`), loaded and validated with file and line for every problem.
//!
//! Data moves one way: a referral's URL is canonicalised here, `ingest` turns it into text,
//! `classify` turns text plus a [`lists::ListSet`] into a [`Classification`], the binary builds a
//! [`RouteCase`] from that and from what ingest saw of the host, and `route` answers with a
//! [`Decision`].

pub mod category;
pub mod classification;
pub mod jurisdiction;
pub mod lists;
pub mod routing;
pub mod url;

pub use category::Category;
pub use classification::{
    CategoryScore, Classification, ImageMatch, LanguageGuess, LanguageShare, Match, MatchKind,
};
pub use jurisdiction::normalize_jurisdiction;
pub use routing::{
    ClockKind, Confidence, DcResult, Decision, DomesticKind, Dropped, DualCriminality, Flags, Host,
    HostCandidate, HostFactor, Hoster, LegalClock, Path, PlatformInfo, Referring, ReviewItem,
    RouteCase, Target,
};
