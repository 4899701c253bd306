//! Content becomes a [`Classification`](shared::Classification): language ID, normalisation,
//! keyword, regex, hash and URL matching. Pure and synchronous: no I/O, no async.
//!
//! Map of the crate:
//!
//! - [`Classifier`] — built once from a [`ListSet`](shared::lists::ListSet) by
//!   [`Classifier::new`]: the keyword search (a trie of word and prefix terms walked from
//!   word starts, a trie of the rest walked from every character, Aho-Corasick for terms
//!   over 64 bytes; see `keywords.rs`), a regex set
//!   per regex list, sorted SHA-256/MD5 sets, a PDQ index and a canonical-URL map. Building is where things fail (a regex
//!   too big, a term that normalises to nothing), with file and line; the result is an `Arc`,
//!   cheap to clone and `Send + Sync`.
//! - [`Document`] — what one call looks at: the extracted text, the digests of the fetched
//!   bytes, the final URL and the page's images ([`ImageEvidence`]: digests and PDQ hashes).
//!   Hash matches on an image name it (`Match::image`: URL, PDQ distance, variant, quality). [`Classifier::classify`] turns it into a `Classification` and
//!   cannot fail.
//! - [`normalize`] — the text fold shared by keywords and documents, with a byte map back to
//!   the original so every span points into the text as extracted.
//! - [`langid`] — the document's language and the shares of a mixed one, behind one
//!   `detect` function so a better detector can slot in.
//!
//! Data moves: text → `normalize` → keyword search and regexes → hits in normalised coordinates →
//! negative lists suppress overlapping hits → spans mapped back → category scores; text →
//! `langid` alongside (on its own lighter fold, which keeps Urdu and Persian letters apart).

mod classifier;
pub mod index;
mod keywords;
pub mod langid;
pub mod normalize;
pub mod pdq;
mod score;
#[cfg(test)]
mod test_rng;

pub use classifier::{
    BuildError, Classifier, Document, ImageEvidence, Stats, MAX_OCCURRENCES_PER_ENTRY,
    REGEX_DFA_SIZE_LIMIT, REGEX_SET_SIZE_LIMIT, REGEX_SIZE_LIMIT,
};
