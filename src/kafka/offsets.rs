//! Which input offset may be stored for commit. Referrals of one partition are processed
//! concurrently and finish out of order; an offset is safe to store only when it and every
//! offset before it (in this assignment) has finished, i.e. all its outputs are acknowledged.
//! A rebalance starts a new generation for the partition: completions from before it are
//! ignored, because the new owner (maybe this worker again) restarts from the committed offset.

use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
struct Part {
    generation: u64,
    /// Offsets received and not finished (a count: a redelivery can repeat an offset).
    in_flight: BTreeMap<i64, u32>,
    /// The first offset received in this generation.
    first: Option<i64>,
    done_max: Option<i64>,
    stored: Option<i64>,
}

#[derive(Default)]
pub struct Tracker {
    parts: HashMap<i32, Part>,
}

impl Tracker {
    /// A message was received; returns the generation to hand back to [`Tracker::finish`].
    /// Messages of one partition arrive in offset order.
    pub fn begin(&mut self, partition: i32, offset: i64) -> u64 {
        let p = self.parts.entry(partition).or_default();
        p.first.get_or_insert(offset);
        *p.in_flight.entry(offset).or_default() += 1;
        p.generation
    }

    /// A message finished (all outputs acknowledged). Returns the offset to store (the last
    /// one such that it and all before it are done) when that advanced.
    pub fn finish(&mut self, partition: i32, offset: i64, generation: u64) -> Option<i64> {
        let p = self.parts.get_mut(&partition)?;
        if p.generation != generation {
            return None;
        }
        match p.in_flight.get_mut(&offset) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                p.in_flight.remove(&offset);
            }
            None => return None,
        }
        p.done_max = Some(p.done_max.map_or(offset, |d| d.max(offset)));
        let safe = match p.in_flight.keys().next() {
            Some(lo) => lo - 1,
            None => p.done_max?,
        };
        if safe < p.first? || p.stored.is_some_and(|s| safe <= s) {
            return None;
        }
        p.stored = Some(safe);
        Some(safe)
    }

    /// The partition was assigned or revoked: forget what was in flight.
    pub fn reset(&mut self, partition: i32) {
        let p = self.parts.entry(partition).or_default();
        *p = Part {
            generation: p.generation + 1,
            ..Part::default()
        };
    }

    /// Messages received and not finished, over all partitions.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.parts
            .values()
            .map(|p| p.in_flight.values().map(|n| *n as usize).sum::<usize>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_finishes_store_only_the_contiguous_prefix() {
        let mut t = Tracker::default();
        let g = (10..15).map(|o| t.begin(0, o)).last().unwrap();
        assert_eq!(t.finish(0, 12, g), None, "10 and 11 still running");
        assert_eq!(t.finish(0, 11, g), None);
        assert_eq!(t.finish(0, 10, g), Some(12));
        assert_eq!(t.finish(0, 14, g), None, "13 still running");
        assert_eq!(t.finish(0, 13, g), Some(14));
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn partitions_are_independent() {
        let mut t = Tracker::default();
        let g0 = t.begin(0, 5);
        let g1 = t.begin(1, 100);
        t.begin(0, 6);
        assert_eq!(t.finish(1, 100, g1), Some(100));
        assert_eq!(t.finish(0, 6, g0), None);
        assert_eq!(t.finish(0, 5, g0), Some(6));
    }

    #[test]
    fn completions_from_before_a_rebalance_are_ignored() {
        let mut t = Tracker::default();
        let old = t.begin(0, 1);
        t.begin(0, 2);
        t.reset(0);
        // Redelivered from the committed offset in the new generation.
        let new = t.begin(0, 1);
        t.begin(0, 2);
        assert_eq!(t.finish(0, 2, old), None);
        assert_eq!(t.finish(0, 1, old), None);
        assert_eq!(t.in_flight(), 2);
        assert_eq!(t.finish(0, 1, new), Some(1));
        assert_eq!(t.finish(0, 2, new), Some(2));
    }

    #[test]
    fn nothing_below_the_first_offset_is_stored() {
        let mut t = Tracker::default();
        let g = t.begin(3, 50);
        t.begin(3, 51);
        assert_eq!(t.finish(3, 51, g), None);
        assert_eq!(t.finish(3, 50, g), Some(51));
        assert_eq!(t.finish(3, 50, g), None, "unknown offset");
    }
}
