//! The list set the service matches with, and its hot reload.
//!
//! [`LiveLists`] holds the current [`Loaded`] set behind an `RwLock<Arc<_>>`: a referral takes
//! the `Arc` once ([`LiveLists::current`]) and classifies with it to the end, so a reload never
//! changes the lists under work in flight. A reload (`POST /v1/lists/reload` or SIGHUP) reads
//! and compiles the directory off to the side; only a set with no problem is swapped in, in one
//! pointer store. A bad set is refused with every problem (file and line) and the old one keeps
//! serving. Reloads are serialised; one that finds the same bytes (same set version) keeps the
//! compiled set it has.
//!
//! Metrics kept here: `triage_lists_info{set_version}`, `triage_list_entries{list,owner,trust,
//! version}`, `triage_lists_reloads_total{outcome}`, `triage_lists_loaded_timestamp_seconds` and
//! `triage_list_matches_total{list,owner,version}`.

use crate::metrics::Metrics;
use chrono::{DateTime, Utc};
use shared::lists::{ListMeta, ListSet, Problem};
use shared::Classification;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// One compiled list set.
pub struct Loaded {
    pub classifier: classify::Classifier,
    /// First 16 hex digits of the SHA-256 of every list file (see `ListSet::load_versioned`).
    pub set_version: String,
    pub loaded_at: DateTime<Utc>,
    pub lists: Vec<ListSummary>,
}

/// What the API and metrics say about one list (the entries themselves stay in the classifier).
pub struct ListSummary {
    pub meta: ListMeta,
    pub entries: usize,
    pub disabled: usize,
    /// `expires` of the enabled entries that have one, as Unix seconds, sorted: the number
    /// expired at any moment is one binary search.
    expiries: Vec<i64>,
}

impl ListSummary {
    fn of(list: &shared::lists::List) -> ListSummary {
        let mut disabled = 0;
        let mut expiries = Vec::new();
        for e in list.entries.states() {
            if !e.enabled() {
                disabled += 1;
            } else if let Some(t) = e.expires() {
                expiries.push(t.timestamp());
            }
        }
        expiries.sort_unstable();
        ListSummary {
            meta: list.meta.clone(),
            entries: list.entries.len(),
            disabled,
            expiries,
        }
    }

    /// Enabled entries whose `expires` is at or before `now`.
    pub fn expired_at(&self, now: DateTime<Utc>) -> usize {
        let now = now.timestamp();
        self.expiries.partition_point(|&t| t <= now)
    }
}

impl Loaded {
    pub fn entry_count(&self) -> usize {
        self.lists.iter().map(|l| l.entries).sum()
    }
    #[cfg(test)]
    pub fn list(&self, id: &str) -> Option<&ListSummary> {
        self.lists.iter().find(|l| l.meta.id == id)
    }
}

/// Why a set was refused: every problem, each with its file and, where known, line.
#[derive(Debug)]
pub struct Refused {
    pub dir: PathBuf,
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lists in {} are invalid:", self.dir.display())?;
        for p in &self.problems {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

/// What a reload did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reloaded {
    /// False when the files were byte-for-byte what is loaded: nothing was swapped.
    pub changed: bool,
    pub previous_set_version: String,
    pub set_version: String,
    pub lists: usize,
    pub entries: usize,
    pub took_ms: f64,
}

pub struct LiveLists {
    dir: PathBuf,
    current: RwLock<Arc<Loaded>>,
    reloading: Mutex<()>,
    /// Matches counted per list id since start (all versions).
    matches: Mutex<HashMap<String, u64>>,
    metrics: Arc<Metrics>,
}

/// Reads and compiles the set in `dir`.
pub fn load(dir: &Path) -> Result<Loaded, Refused> {
    let refused = |problems| Refused {
        dir: dir.to_path_buf(),
        problems,
    };
    let (set, set_version) = ListSet::load_versioned(dir).map_err(|p| refused(p.0))?;
    let lists = set.lists.iter().map(ListSummary::of).collect();
    // Handed over: each list is dropped once compiled, before the automaton is built.
    let classifier = classify::Classifier::from_lists(set).map_err(|e| refused(e.problems))?;
    Ok(Loaded {
        classifier,
        set_version,
        loaded_at: Utc::now(),
        lists,
    })
}

impl LiveLists {
    /// Loads `dir` at start-up; a refusal stops the service from starting.
    pub fn open(dir: &Path, metrics: Arc<Metrics>) -> Result<LiveLists, Refused> {
        let loaded = load(dir)?;
        let live = LiveLists {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(loaded)),
            reloading: Mutex::new(()),
            matches: Mutex::new(HashMap::new()),
            metrics,
        };
        live.publish(&live.current());
        Ok(live)
    }

    /// The set in force now. Hold on to it for the whole of one piece of work.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.read().expect("lists lock poisoned").clone()
    }

    /// Reads and compiles the directory again and swaps the result in; blocking (run it off
    /// the async runtime). On refusal nothing changes.
    pub fn reload(&self) -> Result<Reloaded, Refused> {
        let _one_at_a_time = self.reloading.lock().expect("reload lock poisoned");
        let t = Instant::now();
        let previous = self.current();
        let outcome = match load(&self.dir) {
            Ok(new) if new.set_version == previous.set_version => Ok(Reloaded {
                changed: false,
                previous_set_version: previous.set_version.clone(),
                set_version: new.set_version.clone(),
                lists: previous.lists.len(),
                entries: previous.entry_count(),
                took_ms: ms(t.elapsed()),
            }),
            Ok(new) => {
                let new = Arc::new(new);
                *self.current.write().expect("lists lock poisoned") = new.clone();
                self.publish(&new);
                Ok(Reloaded {
                    changed: true,
                    previous_set_version: previous.set_version.clone(),
                    set_version: new.set_version.clone(),
                    lists: new.lists.len(),
                    entries: new.entry_count(),
                    took_ms: ms(t.elapsed()),
                })
            }
            Err(e) => Err(e),
        };
        let label = match &outcome {
            Ok(r) if r.changed => "swapped",
            Ok(_) => "unchanged",
            Err(_) => "rejected",
        };
        self.metrics.lists_reloads.with_label_values(&[label]).inc();
        outcome
    }

    /// Sets the per-list and set-version metrics to `loaded`, dropping the old label sets.
    fn publish(&self, loaded: &Loaded) {
        let m = &self.metrics;
        m.list_entries.reset();
        for l in &loaded.lists {
            m.list_entries
                .with_label_values(&[
                    &l.meta.id,
                    &l.meta.owner,
                    l.meta.trust.as_str(),
                    &l.meta.version,
                ])
                .set(l.entries as i64);
        }
        m.lists_info.reset();
        m.lists_info
            .with_label_values(&[&loaded.set_version])
            .set(1);
        m.lists_loaded_at.set(loaded.loaded_at.timestamp());
    }

    /// Counts the matches of one classification that were not suppressed (metric and API).
    pub fn record_matches(&self, c: &Classification) {
        let mut counts = self.matches.lock().expect("match counts poisoned");
        for m in c.matches.iter().filter(|m| m.suppressed_by.is_none()) {
            self.metrics
                .list_matches
                .with_label_values(&[&m.list, &m.source, &m.list_version])
                .inc();
            *counts.entry(m.list.clone()).or_default() += 1;
        }
    }

    /// Matches of list `id` since start, every version together.
    pub fn matches_of(&self, id: &str) -> u64 {
        self.matches
            .lock()
            .expect("match counts poisoned")
            .get(id)
            .copied()
            .unwrap_or(0)
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &Path, entries: &str) {
        let d = dir.join("kw");
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("list.toml"),
            "id='kw'\nname='K'\nkind='keywords'\nowner='de-bka'\ntrust='high'\nversion='1'\ndefault_category='extremism'\n",
        )
        .unwrap();
        fs::write(d.join("entries.jsonl"), entries).unwrap();
    }

    fn hits(l: &Loaded, text: &str) -> Vec<String> {
        l.classifier
            .classify(&classify::Document::text(text))
            .matches
            .into_iter()
            .map(|m| m.entry)
            .collect()
    }

    #[test]
    fn reload_swaps_good_sets_and_keeps_the_old_one_on_problems() {
        let dir = std::env::temp_dir().join(format!("triage-live-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write(&dir, "{\"id\":\"a\",\"term\":\"Daesh\"}\n");
        let metrics = Arc::new(Metrics::new());
        let live = LiveLists::open(&dir, metrics.clone()).unwrap();
        let first = live.current();
        let v1 = first.set_version.clone();
        assert!(metrics
            .render()
            .contains(&format!("triage_lists_info{{set_version=\"{v1}\"}} 1")));

        // Unchanged bytes: nothing swapped.
        let r = live.reload().unwrap();
        assert!(!r.changed);
        assert!(Arc::ptr_eq(&first, &live.current()));

        write(
            &dir,
            "{\"id\":\"a\",\"term\":\"Daesh\"}\n{\"id\":\"b\",\"term\":\"al-Shabaab\"}\n",
        );
        let r = live.reload().unwrap();
        assert!(r.changed && r.previous_set_version == v1 && r.set_version != v1);
        assert_eq!(hits(&live.current(), "Daesh and al-Shabaab"), ["a", "b"]);
        // Work that took the old set keeps it.
        assert_eq!(hits(&first, "Daesh and al-Shabaab"), ["a"]);
        let page = metrics.render();
        assert!(!page.contains(&v1), "old set version label dropped");
        assert!(page.contains(&format!("set_version=\"{}\"", r.set_version)));

        write(
            &dir,
            "{\"id\":\"a\",\"term\":\"Daesh\"}\n{\"id\":\"c\",\"term\":\"\"}\n",
        );
        let err = live.reload().unwrap_err();
        assert!(
            err.to_string()
                .contains("kw/entries.jsonl:2: term is empty"),
            "{err}"
        );
        assert_eq!(live.current().set_version, r.set_version);
        assert_eq!(hits(&live.current(), "al-Shabaab"), ["b"]);
        let page = metrics.render();
        for outcome in ["swapped", "unchanged", "rejected"] {
            assert!(
                page.contains(&format!(
                    "triage_lists_reloads_total{{outcome=\"{outcome}\"}} 1"
                )),
                "{outcome}: {page}"
            );
        }
    }

    #[test]
    fn expired_entries_are_counted_by_time() {
        let dir = std::env::temp_dir().join(format!("triage-live-exp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write(
            &dir,
            "{\"id\":\"a\",\"term\":\"x\",\"expires\":\"2026-01-01T00:00:00Z\"}\n{\"id\":\"b\",\"term\":\"y\",\"expires\":\"2027-01-01T00:00:00Z\"}\n{\"id\":\"c\",\"term\":\"z\",\"enabled\":false,\"expires\":\"2020-01-01T00:00:00Z\"}\n",
        );
        let l = load(&dir).unwrap();
        let s = l.list("kw").unwrap();
        assert_eq!((s.entries, s.disabled), (3, 1));
        let at = |t: &str| s.expired_at(DateTime::parse_from_rfc3339(t).unwrap().into());
        assert_eq!(at("2025-06-01T00:00:00Z"), 0);
        assert_eq!(at("2026-01-01T00:00:00Z"), 1);
        assert_eq!(at("2030-01-01T00:00:00Z"), 2);
    }
}
