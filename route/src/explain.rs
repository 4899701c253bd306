//! `triage route --explain`: a decision with the trace of how it was reached, printed for a
//! legal reviewer — one block per routing step, then every dual-criminality result, review
//! item, dropped category, clock and note in plain words.

use crate::engine::Step;
use shared::Decision;
use std::fmt;

/// A decision and the steps that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub decision: Decision,
    pub steps: Vec<Step>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.decision;
        writeln!(
            f,
            "=== case {} (rules {}, last reviewed {})",
            d.case_id, d.rules_version, d.last_reviewed
        )?;
        for s in &self.steps {
            writeln!(f, "\n{}", s.title)?;
            if s.lines.is_empty() {
                writeln!(f, "  (nothing to do)")?;
            }
            for l in &s.lines {
                writeln!(f, "  - {l}")?;
            }
        }
        if !d.dual_criminality.is_empty() {
            writeln!(f, "\nDual criminality")?;
            for x in &d.dual_criminality {
                writeln!(
                    f,
                    "  - {} against {}: {}",
                    x.category,
                    x.requested,
                    serde_json::to_value(x.result)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                )?;
                writeln!(f, "      basis: {}", x.basis)?;
            }
        }
        if !d.review.is_empty() {
            writeln!(f, "\nFor a human to decide")?;
            for r in &d.review {
                let c = r.category.map(|c| c.as_str()).unwrap_or("(whole case)");
                writeln!(f, "  - {c}: {}", r.decide)?;
                writeln!(f, "      because: {}", r.reason)?;
            }
        }
        if !d.dropped.is_empty() {
            writeln!(f, "\nDropped")?;
            for x in &d.dropped {
                writeln!(f, "  - {}: {}", x.category, x.reason)?;
            }
        }
        if !d.clocks.is_empty() {
            writeln!(f, "\nLegal clocks")?;
            for c in &d.clocks {
                let due = c
                    .due_at
                    .map(|t| format!(", due {}", t.to_rfc3339()))
                    .unwrap_or_default();
                writeln!(
                    f,
                    "  - {} ({}): {}{due} — {}",
                    c.clock.as_str(),
                    c.jurisdiction,
                    c.duration,
                    c.basis
                )?;
            }
        }
        if !d.notes.is_empty() {
            writeln!(f, "\nNotes")?;
            for n in &d.notes {
                writeln!(f, "  - {n}")?;
            }
        }
        writeln!(f, "\nTargets and their reasons")?;
        for t in &d.targets {
            write!(f, "  * {} {}", t.path.as_str(), t.jurisdiction)?;
            if let Some(fw) = &t.framework {
                write!(f, " [{fw}]")?;
            }
            if let Some(a) = &t.addressee {
                write!(f, " -> {a}")?;
            }
            writeln!(f)?;
            for r in &t.reasons {
                writeln!(f, "      {r}")?;
            }
        }
        Ok(())
    }
}
