//! Fetch retries: which failures may pass if the fetch is tried again, and when to try.
//!
//! ```text
//!   fetch ─▶ transient? (timeout, connect, http; HTTP 408, 429, 5xx) ─ no ─▶ as before
//!              │ yes, attempts left                       │ yes, none left
//!              ▼                                          ▼
//!   store: referral back to `queued`, `retries + 1`,     failed with the last kind, the
//!   `next_attempt_at` = now + delay (SQLite: a restart    message saying how many attempts
//!   keeps the schedule); the worker slot is freed
//! ```
//!
//! The delay doubles from `initial_backoff_ms` up to `max_backoff_ms`, with "equal jitter" (a
//! random point in the upper half), so referrals that failed together do not return together.
//! A `Retry-After` header (seconds or an HTTP date) is honoured — the retry is never earlier —
//! capped at `max_retry_after_ms`. Policy refusals, DNS failures (a name that does not exist
//! does not start existing a second later; a liveness re-check notices if it does), TLS and
//! decode errors are not retried. Retries are counted apart from the crash counter of the
//! store (`store::MAX_ATTEMPTS`): a referral requeued for a retry did not crash anything.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

/// `[retry]`: automatic retries of fetches that failed for a reason that may pass.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Fetches per referral, the first included (default 4); 1 turns retries off.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each later one (default 2 s).
    pub initial_backoff_ms: u64,
    /// Longest wait between two attempts (default 10 min).
    pub max_backoff_ms: u64,
    /// Longest `Retry-After` honoured; a longer one is cut to this (default 1 h).
    pub max_retry_after_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 4,
            initial_backoff_ms: 2_000,
            max_backoff_ms: 600_000,
            max_retry_after_ms: 3_600_000,
        }
    }
}

impl RetryConfig {
    /// Checks the section; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 || self.max_attempts > 100 {
            return Err(format!(
                "retry.max_attempts = {} must be between 1 and 100 (1: no retries)",
                self.max_attempts
            ));
        }
        if self.initial_backoff_ms == 0 {
            return Err("retry.initial_backoff_ms must be greater than 0".into());
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            return Err(format!(
                "retry.max_backoff_ms = {} is shorter than retry.initial_backoff_ms = {}",
                self.max_backoff_ms, self.initial_backoff_ms
            ));
        }
        if self.max_retry_after_ms == 0 {
            return Err("retry.max_retry_after_ms must be greater than 0".into());
        }
        Ok(())
    }

    /// The wait before the next attempt, after `retries` earlier retries, with `jitter` in
    /// [0, 1) and the server's `Retry-After` if it sent one.
    pub fn delay(&self, retries: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let base = self
            .initial_backoff_ms
            .saturating_mul(1u64 << retries.min(40))
            .min(self.max_backoff_ms);
        let jittered = base / 2 + ((base / 2) as f64 * jitter.clamp(0.0, 1.0)) as u64;
        let wait = match retry_after {
            Some(ra) => {
                let cap = Duration::from_millis(self.max_retry_after_ms);
                Duration::from_millis(jittered).max(ra.min(cap))
            }
            None => Duration::from_millis(jittered),
        };
        wait.max(Duration::from_millis(1))
    }
}

/// The retries-metric label of a fetch error that may pass on another attempt: timeouts,
/// refused or failed connections, and resets or broken responses (`http`). `None`: final.
pub fn transient_error(e: &ingest::FetchError) -> Option<&'static str> {
    match e.kind() {
        k @ ("timeout" | "connect" | "http") => Some(k),
        _ => None,
    }
}

/// The retries-metric label of an HTTP status worth another attempt: 408, 429 and every 5xx.
pub fn transient_status(status: u16) -> Option<&'static str> {
    match status {
        408 => Some("http_408"),
        429 => Some("http_429"),
        500..=599 => Some("http_5xx"),
        _ => None,
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP date (IMF-fixdate, or
/// the obsolete RFC 850 and asctime forms). A date in the past is no wait; garbage is `None`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long numbers are simply very long waits; the caller caps them.
        return Some(Duration::from_secs(
            v.parse::<u64>().unwrap_or(u64::MAX / 2_000),
        ));
    }
    let at = DateTime::parse_from_rfc2822(v)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(v, f).ok())
                .map(|t| t.and_utc())
        })?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A number in [0, 1) from the random bits of a UUIDv7.
pub fn jitter() -> f64 {
    let bytes = uuid::Uuid::now_v7().into_bytes();
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&bytes[8..16]);
    // The top two bits are the variant; the lower 53 are random.
    (u64::from_be_bytes(tail) & ((1 << 53) - 1)) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RetryConfig {
        RetryConfig {
            max_attempts: 5,
            initial_backoff_ms: 1000,
            max_backoff_ms: 8000,
            max_retry_after_ms: 60_000,
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_in_the_upper_half_and_is_capped() {
        let c = cfg();
        assert_eq!(c.delay(0, None, 0.0), Duration::from_millis(500));
        assert_eq!(c.delay(0, None, 0.999_999), Duration::from_millis(999));
        assert_eq!(c.delay(1, None, 0.0), Duration::from_millis(1000));
        assert_eq!(c.delay(2, None, 0.5), Duration::from_millis(3000));
        // Capped at max_backoff_ms, however many retries, without overflow.
        assert_eq!(c.delay(3, None, 0.0), Duration::from_millis(4000));
        assert_eq!(c.delay(63, None, 0.0), Duration::from_millis(4000));
        assert!(c.delay(200, None, 0.99) < Duration::from_millis(8000));
    }

    #[test]
    fn retry_after_is_a_floor_and_capped() {
        let c = cfg();
        // Longer than the backoff: honoured.
        assert_eq!(
            c.delay(0, Some(Duration::from_secs(7)), 0.0),
            Duration::from_secs(7)
        );
        // Shorter than the backoff: the backoff stands (never earlier than the server asked).
        assert_eq!(
            c.delay(3, Some(Duration::from_secs(1)), 0.0),
            Duration::from_millis(4000)
        );
        // A day is cut to the cap.
        assert_eq!(
            c.delay(0, Some(Duration::from_secs(86_400)), 0.0),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_all_three_date_forms() {
        let now = DateTime::parse_from_rfc3339("1994-11-06T08:49:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(form, now),
                Some(Duration::from_secs(37)),
                "{form}"
            );
        }
        // In the past: retry now. Garbage and negative numbers: no header.
        assert_eq!(
            parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert!(
            parse_retry_after("99999999999999999999999", now).unwrap()
                > Duration::from_secs(1 << 40)
        );
    }

    #[test]
    fn only_failures_that_may_pass_are_retried() {
        use ingest::{FetchError, Target};
        let at = Target {
            hop: 0,
            url: "http://x.test/".into(),
        };
        let timeout = FetchError::Timeout {
            at: at.clone(),
            what: "connection",
            ms: 5,
        };
        assert_eq!(transient_error(&timeout), Some("timeout"));
        let reset = FetchError::Http {
            at: at.clone(),
            reason: "connection reset".into(),
        };
        assert_eq!(transient_error(&reset), Some("http"));
        let refused = FetchError::Connect {
            at: at.clone(),
            reason: "connection refused".into(),
        };
        assert_eq!(transient_error(&refused), Some("connect"));
        let blocked = FetchError::BlockedAddress {
            at: at.clone(),
            class: "loopback",
            reason: "127.0.0.1".into(),
        };
        assert_eq!(transient_error(&blocked), None);
        let port = FetchError::Port {
            at: at.clone(),
            port: 22,
        };
        assert_eq!(transient_error(&port), None);
        let dns = FetchError::Dns {
            at,
            reason: "no such name".into(),
        };
        assert_eq!(transient_error(&dns), None);
        assert_eq!(transient_status(503), Some("http_5xx"));
        assert_eq!(transient_status(500), Some("http_5xx"));
        assert_eq!(transient_status(429), Some("http_429"));
        assert_eq!(transient_status(408), Some("http_408"));
        assert_eq!(transient_status(404), None);
        assert_eq!(transient_status(200), None);
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let xs: Vec<f64> = (0..64).map(|_| jitter()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn bad_values_are_named() {
        RetryConfig::default().validate().unwrap();
        let mut c = cfg();
        c.max_attempts = 0;
        assert!(c.validate().unwrap_err().contains("retry.max_attempts"));
        let mut c = cfg();
        c.max_backoff_ms = 10;
        assert!(c.validate().unwrap_err().contains("retry.max_backoff_ms"));
    }
}
