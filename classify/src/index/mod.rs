//! In-memory lookup structures for hash lists, built once per list version and then read-only
//! (`Send + Sync`; share behind an `Arc` and swap on reload).
//!
//! - [`DigestSet`] ([`Sha256Set`], [`Md5Set`]) — exact digests of fetched bytes: sorted
//!   `(digest, id)` pairs behind a prefix table; 10M SHA-256 digests in about 370 MB.
//! - [`PdqIndex`] — PDQ near-duplicates within a Hamming distance: multi-index hashing over
//!   sixteen 16-bit words with a paired filter, returning exactly what
//!   [`brute_force_search`] returns; at 10M hashes and distance 31, well over 5,000 queries/s
//!   on one core in about 1.3 GB (figures and commands in `docs/pdq.md`).
//!
//! Ids are positions in the vector the structure was built from; the caller keeps the map
//! from id to list entry (list, entry id, owner, version, per-list distance).

mod digest;
mod pdq;

pub use digest::{parse_hex_digest, DigestHexError, DigestSet, Md5Set, Sha256Set};
pub use pdq::{brute_force_search, DihedralMatch, LowQuality, PdqIndex, PdqMatch, MIH_MIN_LEN};
