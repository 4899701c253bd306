//! ISO 8601 durations (`PT1H`, `PT72H`, `P6M`) as the pack writes legal clocks, and adding one
//! to a moment. Calendar parts (years, months) follow the calendar: 31 Aug + P6M = 28/29 Feb.

use chrono::{DateTime, Duration, Months, Utc};

/// A parsed duration: calendar months, then a fixed span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoDuration {
    months: u32,
    span: Duration,
}

impl IsoDuration {
    /// `P[nY][nM][nW][nD][T[nH][nM][nS]]` with whole numbers; `None` if it is not one.
    pub fn parse(s: &str) -> Option<IsoDuration> {
        let rest = s.strip_prefix('P')?;
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return None,
            None => (rest, None),
        };
        let mut months: u32 = 0;
        let mut secs: i64 = 0;
        let mut any = false;
        let mut walk = |part: &str, units: &[(u8, i64, bool)]| -> Option<()> {
            let mut num = String::new();
            let mut last = 0usize;
            for b in part.bytes() {
                if b.is_ascii_digit() {
                    num.push(b as char);
                    continue;
                }
                // Units must come in order, each once.
                let pos = units.iter().position(|(u, _, _)| *u == b)?;
                if pos < last || num.is_empty() {
                    return None;
                }
                last = pos + 1;
                let n: i64 = num.parse().ok()?;
                num.clear();
                let (_, factor, calendar) = units[pos];
                if calendar {
                    months = months.checked_add(u32::try_from(n * factor).ok()?)?;
                } else {
                    secs = secs.checked_add(n.checked_mul(factor)?)?;
                }
                any = true;
            }
            num.is_empty().then_some(())
        };
        walk(
            date,
            &[
                (b'Y', 12, true),
                (b'M', 1, true),
                (b'W', 7 * 86_400, false),
                (b'D', 86_400, false),
            ],
        )?;
        if let Some(t) = time {
            walk(
                t,
                &[(b'H', 3_600, false), (b'M', 60, false), (b'S', 1, false)],
            )?;
        }
        any.then(|| IsoDuration {
            months,
            span: Duration::seconds(secs),
        })
    }

    /// `at` plus this duration; `None` on overflow.
    pub fn after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        at.checked_add_months(Months::new(self.months))?
            .checked_add_signed(self.span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_clocks_of_the_pack() {
        let t = at("2025-08-31T10:00:00Z");
        let add = |d: &str| IsoDuration::parse(d).unwrap().after(t).unwrap();
        assert_eq!(add("PT1H"), at("2025-08-31T11:00:00Z"));
        assert_eq!(add("PT72H"), at("2025-09-03T10:00:00Z"));
        assert_eq!(add("P6M"), at("2026-02-28T10:00:00Z"));
        assert_eq!(add("P1Y2M3DT4H5M6S"), at("2026-11-03T14:05:06Z"));
        assert_eq!(add("P2W"), at("2025-09-14T10:00:00Z"));
        for bad in [
            "", "P", "PT", "1H", "PT1", "PH", "P1H", "PT1H1H", "PT1M1H", "P-1D", "P1.5D",
        ] {
            assert!(IsoDuration::parse(bad).is_none(), "{bad:?}");
        }
    }
}
