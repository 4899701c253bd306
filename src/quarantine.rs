//! Flood quarantine of list entries. An entry that matches more distinct URLs within one hour
//! than `lists.quarantine_distinct_urls_per_hour` is quarantined: from that match on (that one
//! included) its matches are reported as suppressed (`suppressed_by: "quarantine"`,
//! `suppressed_reason: "quarantined"`) and count toward no category, until an admin releases
//! it. A flood is what a bad entry looks like — a hash of a logo, a keyword that is also a
//! common word — and holding it stops one mistake from sending a thousand referrals.
//!
//! How it flows: the pipeline classifies with [`Quarantine::check`] as the classifier's
//! suppression hook; `check` answers for held entries and counts the rest. Distinct URLs are
//! case ids (one case per canonical URL), kept as 64-bit fingerprints — no URL is stored.
//! Newly held entries are logged, counted in metrics (`triage_list_quarantine_events_total`,
//! `triage_list_quarantined_entries`) and written to the `list_quarantine` table of the store
//! (this module owns that table), so a restart keeps them held.
//!
//! Memory is bounded: each tracked entry keeps at most `limit + 1` (fingerprint, time) pairs of
//! the last hour, and at most [`MAX_TRACKED`] entries are tracked — past that the one matched
//! least recently is forgotten (a flooding entry is, by definition, matched recently). Worst
//! case: `MAX_TRACKED × (limit + 1) × 16` bytes, 32 MB at the default limit of 100.

use crate::metrics::Metrics;
use crate::store::Store;
use anyhow::Result;
use rusqlite::{params, Connection};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::Match;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// The sliding window.
pub const WINDOW_SECS: i64 = 3600;
/// Entries tracked at once.
pub const MAX_TRACKED: usize = 20_000;

/// How a quarantined entry is reported in `suppressed_by` and `suppressed_reason`.
pub const SUPPRESSED_BY: &str = "quarantine";
pub const REASON: &str = "quarantined";

/// One held entry, as the API and the store show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Held {
    pub list: String,
    pub entry: String,
    pub owner: String,
    /// The list version in force when the entry was held.
    pub list_version: String,
    pub quarantined_at: String,
    /// Distinct URLs it had matched within the hour when it was held.
    pub distinct_urls: usize,
    /// The limit it went over.
    pub limit: usize,
}

type Key = (String, String);

struct Window {
    /// (URL fingerprint, last seen, Unix seconds), at most `limit + 1` of them.
    seen: Vec<(u64, i64)>,
    last: i64,
}

#[derive(Default)]
struct State {
    windows: HashMap<Key, Window>,
    held: BTreeMap<Key, Held>,
}

pub struct Quarantine {
    /// 0: off.
    limit: usize,
    state: Mutex<State>,
}

/// The fingerprint of a distinct URL (a case id).
pub fn url_fingerprint(case_id: &str) -> u64 {
    let d = Sha256::digest(case_id.as_bytes());
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

impl Quarantine {
    pub fn new(limit: usize) -> Quarantine {
        Quarantine {
            limit,
            state: Mutex::new(State::default()),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("quarantine lock poisoned")
    }

    /// Holds entries again that the store says were held (at start-up).
    pub fn restore(&self, rows: Vec<Held>) {
        let mut st = self.state();
        for h in rows {
            st.held.insert((h.list.clone(), h.entry.clone()), h);
        }
    }

    /// The classifier's suppression hook: `Some` for a held entry; otherwise counts the match
    /// of `m` on the URL with fingerprint `url`, and holds the entry (pushing it to `newly`)
    /// when that takes it over the limit.
    pub fn check(
        &self,
        m: &Match,
        url: u64,
        now: i64,
        newly: &mut Vec<Held>,
    ) -> Option<(String, String)> {
        let held = || Some((SUPPRESSED_BY.to_string(), REASON.to_string()));
        let key = (m.list.clone(), m.entry.clone());
        let mut st = self.state();
        if st.held.contains_key(&key) {
            return held();
        }
        if self.limit == 0 {
            return None;
        }
        if !st.windows.contains_key(&key) && st.windows.len() >= MAX_TRACKED {
            make_room(&mut st.windows, now);
        }
        let w = st.windows.entry(key.clone()).or_insert_with(|| Window {
            seen: Vec::new(),
            last: now,
        });
        w.seen.retain(|&(_, t)| now - t < WINDOW_SECS);
        match w.seen.iter_mut().find(|(f, _)| *f == url) {
            Some(s) => s.1 = now,
            None => w.seen.push((url, now)),
        }
        w.last = now;
        if w.seen.len() <= self.limit {
            return None;
        }
        let distinct = w.seen.len();
        st.windows.remove(&key);
        let h = Held {
            list: m.list.clone(),
            entry: m.entry.clone(),
            owner: m.source.clone(),
            list_version: m.list_version.clone(),
            quarantined_at: chrono::DateTime::from_timestamp(now, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            distinct_urls: distinct,
            limit: self.limit,
        };
        st.held.insert(key, h.clone());
        newly.push(h);
        held()
    }

    /// Lets a held entry match again; `None` if it was not held.
    pub fn release(&self, list: &str, entry: &str) -> Option<Held> {
        self.state()
            .held
            .remove(&(list.to_string(), entry.to_string()))
    }

    /// Every held entry, by list and entry id.
    pub fn held(&self) -> Vec<Held> {
        self.state().held.values().cloned().collect()
    }

    /// Entry ids held in list `list`.
    pub fn held_in(&self, list: &str) -> Vec<String> {
        self.state()
            .held
            .keys()
            .filter(|(l, _)| l == list)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Entries tracked (for tests of the memory bound).
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.state().windows.len()
    }

    /// Sets `triage_list_quarantined_entries` from what is held.
    pub fn publish(&self, metrics: &Metrics) {
        metrics.list_quarantined.reset();
        for h in self.held() {
            metrics.list_quarantined.with_label_values(&[&h.list]).inc();
        }
    }

    /// Logs, counts and stores entries `check` has just held.
    pub async fn record_new(&self, newly: Vec<Held>, store: &Store, metrics: &Metrics) {
        if newly.is_empty() {
            return;
        }
        for h in &newly {
            tracing::warn!(list = %h.list, entry = %h.entry, owner = %h.owner, list_version = %h.list_version,
                distinct_urls = h.distinct_urls, limit = h.limit,
                "list entry quarantined: it matched more distinct URLs within an hour than allowed; it stops matching until released");
            metrics
                .list_quarantine_events
                .with_label_values(&[&h.list])
                .inc();
        }
        self.publish(metrics);
        let rows = newly.clone();
        if let Err(e) = store
            .call(move |c| {
                for h in &rows {
                    save(c, h)?;
                }
                Ok(())
            })
            .await
        {
            tracing::error!(error = %format!("{e:#}"), "cannot store quarantined entries; they stay held until restart");
        }
    }
}

/// Forgets windows with nothing in the last hour, and if that is not enough, the eighth
/// matched least recently (in one go, so a full table is not scanned for every new entry).
fn make_room(windows: &mut HashMap<Key, Window>, now: i64) {
    windows.retain(|_, w| now - w.last < WINDOW_SECS);
    if windows.len() >= MAX_TRACKED {
        let mut by_age: Vec<(i64, Key)> =
            windows.iter().map(|(k, w)| (w.last, k.clone())).collect();
        let n = (MAX_TRACKED / 8).max(1);
        by_age.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        for (_, k) in by_age.into_iter().take(n) {
            windows.remove(&k);
        }
    }
}

/// The table of held entries.
pub fn init_table(c: &mut Connection) -> Result<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS list_quarantine (
            list_id        TEXT NOT NULL,
            entry_id       TEXT NOT NULL,
            owner          TEXT NOT NULL,
            list_version   TEXT NOT NULL,
            quarantined_at TEXT NOT NULL,
            distinct_urls  INTEGER NOT NULL,
            url_limit      INTEGER NOT NULL,
            PRIMARY KEY (list_id, entry_id)
        );",
    )?;
    Ok(())
}

pub fn save(c: &mut Connection, h: &Held) -> Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO list_quarantine (list_id, entry_id, owner, list_version, quarantined_at, distinct_urls, url_limit)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![h.list, h.entry, h.owner, h.list_version, h.quarantined_at, h.distinct_urls as i64, h.limit as i64],
    )?;
    Ok(())
}

pub fn delete(c: &mut Connection, list: &str, entry: &str) -> Result<bool> {
    Ok(c.execute(
        "DELETE FROM list_quarantine WHERE list_id = ?1 AND entry_id = ?2",
        params![list, entry],
    )? > 0)
}

pub fn load_all(c: &mut Connection) -> Result<Vec<Held>> {
    let mut st = c.prepare(
        "SELECT list_id, entry_id, owner, list_version, quarantined_at, distinct_urls, url_limit
         FROM list_quarantine ORDER BY list_id, entry_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Held {
            list: r.get(0)?,
            entry: r.get(1)?,
            owner: r.get(2)?,
            list_version: r.get(3)?,
            quarantined_at: r.get(4)?,
            distinct_urls: r.get::<_, i64>(5)? as usize,
            limit: r.get::<_, i64>(6)? as usize,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Category, MatchKind};

    fn m(list: &str, entry: &str) -> Match {
        Match {
            list: list.into(),
            entry: entry.into(),
            kind: MatchKind::Keyword,
            term: None,
            category: Category::Extremism,
            source: "de-bka".into(),
            span: None,
            matched_text: None,
            list_version: "3".into(),
            trust: "high".into(),
            suppressed_by: None,
            suppressed_reason: None,
            image: None,
        }
    }

    #[test]
    fn an_entry_over_the_limit_is_held_until_released() {
        let q = Quarantine::new(3);
        let mut newly = Vec::new();
        let a = m("kw", "a");
        // The same URL again and again is one URL.
        for _ in 0..10 {
            assert_eq!(q.check(&a, 1, 1000, &mut newly), None);
        }
        for url in 2..=3 {
            assert_eq!(q.check(&a, url, 1000 + url as i64, &mut newly), None);
        }
        assert!(newly.is_empty());
        // The fourth distinct URL within the hour crosses the limit of 3; that match is held too.
        let held = q.check(&a, 4, 1010, &mut newly).unwrap();
        assert_eq!(held, ("quarantine".to_string(), "quarantined".to_string()));
        assert_eq!(newly.len(), 1);
        assert_eq!(
            (
                newly[0].distinct_urls,
                newly[0].limit,
                newly[0].list_version.as_str()
            ),
            (4, 3, "3")
        );
        assert!(
            q.check(&a, 1, 1011, &mut newly).is_some(),
            "held for every URL"
        );
        assert_eq!(newly.len(), 1, "reported once");
        // Other entries are not affected.
        assert_eq!(q.check(&m("kw", "b"), 4, 1012, &mut newly), None);
        assert_eq!(q.held_in("kw"), ["a"]);
        assert!(q.release("kw", "a").is_some());
        assert!(q.release("kw", "a").is_none());
        assert_eq!(
            q.check(&a, 5, 1013, &mut newly),
            None,
            "released, counting anew"
        );
    }

    #[test]
    fn the_window_slides() {
        let q = Quarantine::new(2);
        let mut newly = Vec::new();
        let a = m("kw", "a");
        assert_eq!(q.check(&a, 1, 0, &mut newly), None);
        assert_eq!(q.check(&a, 2, 1800, &mut newly), None);
        // URL 1 was seen an hour ago: out of the window, so this is the second URL, not the third.
        assert_eq!(q.check(&a, 3, 3600, &mut newly), None);
        assert!(q.check(&a, 4, 3700, &mut newly).is_some());
    }

    #[test]
    fn memory_stays_bounded_and_zero_turns_it_off() {
        let q = Quarantine::new(1);
        let mut newly = Vec::new();
        for i in 0..(MAX_TRACKED + 500) {
            q.check(&m("kw", &format!("e{i}")), 1, 0, &mut newly);
        }
        assert!(
            q.tracked() <= MAX_TRACKED && q.tracked() > MAX_TRACKED / 2,
            "{}",
            q.tracked()
        );
        assert!(newly.is_empty());
        let off = Quarantine::new(0);
        for url in 0..1000 {
            assert_eq!(off.check(&m("kw", "a"), url, 0, &mut newly), None);
        }
        assert_eq!(off.tracked(), 0);
    }

    #[test]
    fn held_entries_survive_in_the_table() {
        let mut c = Connection::open_in_memory().unwrap();
        init_table(&mut c).unwrap();
        let q = Quarantine::new(1);
        let mut newly = Vec::new();
        q.check(&m("kw", "a"), 1, 0, &mut newly);
        q.check(&m("kw", "a"), 2, 1, &mut newly);
        assert_eq!(newly.len(), 1);
        save(&mut c, &newly[0]).unwrap();
        let again = Quarantine::new(1);
        again.restore(load_all(&mut c).unwrap());
        assert_eq!(again.held(), newly);
        assert!(delete(&mut c, "kw", "a").unwrap());
        assert!(load_all(&mut c).unwrap().is_empty());
    }
}
