//! Token buckets keyed by a string: per token (requests per second with a burst) and per
//! remote address (failed authentications per minute). A bucket holds at most `burst`
//! requests and refills at `rate` per second; an empty bucket answers how many whole seconds
//! to wait (the `Retry-After`). State is in memory: a restart forgets it, which only ever
//! errs towards letting a request through once more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets are dropped once full again and the map is over this size (bounded memory under a
/// flood of distinct keys).
const PRUNE_OVER: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Buckets {
    rate: f64,
    burst: f64,
    map: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// `rate` per second, `burst` at most; a rate of 0 means no limit.
    pub fn new(rate: f64, burst: u32) -> Buckets {
        Buckets {
            rate,
            burst: f64::from(burst.max(1)),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + dt * self.rate).min(self.burst);
        b.at = now;
    }

    fn wait(&self, b: &Bucket) -> u64 {
        (((1.0 - b.tokens) / self.rate).ceil() as u64).max(1)
    }

    /// Takes one request; `Err(seconds)` to wait when the bucket is empty.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_OVER {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        self.refill(b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.wait(b))
        }
    }

    /// Whether `key`'s bucket is empty now (without taking), and how long to wait.
    pub fn blocked(&self, key: &str, now: Instant) -> Option<u64> {
        if self.rate <= 0.0 {
            return None;
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let b = map.get_mut(key)?;
        self.refill(b, now);
        (b.tokens < 1.0).then(|| self.wait(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_the_burst_then_refills_at_the_rate() {
        let b = Buckets::new(2.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            b.take("a", t0).unwrap();
        }
        assert_eq!(b.take("a", t0), Err(1));
        assert_eq!(b.blocked("a", t0), Some(1));
        // Another key has its own bucket.
        b.take("b", t0).unwrap();
        // Half a second at 2/s gives one request back.
        b.take("a", t0 + Duration::from_millis(500)).unwrap();
        assert!(b.take("a", t0 + Duration::from_millis(500)).is_err());
        assert_eq!(b.blocked("a", t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn slow_rates_ask_for_a_longer_wait_and_zero_is_unlimited() {
        let b = Buckets::new(0.1, 1);
        let t0 = Instant::now();
        b.take("a", t0).unwrap();
        assert_eq!(b.take("a", t0), Err(10));
        let free = Buckets::new(0.0, 1);
        for _ in 0..100 {
            free.take("a", t0).unwrap();
        }
    }
}
