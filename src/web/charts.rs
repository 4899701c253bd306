//! Server-rendered SVG charts for the dashboard: horizontal bars for counts by a label
//! (language, path, jurisdiction) and columns for counts per day. Pure functions from figures to
//! markup; labels are escaped (language codes and jurisdictions come from stored cases). No
//! `style` attributes: colours come from classes in app.css, so the CSP needs no
//! `'unsafe-inline'`.

use super::html::esc;
use chrono::NaiveDate;
use std::fmt::Write;

const ROW: u32 = 24;
const LABEL_W: u32 = 150;
const BAR_W: u32 = 300;
const COUNT_W: u32 = 60;

/// Horizontal bars, one row per `(label, count)`, in the order given; an empty list draws a
/// "no cases" note so the chart never silently disappears.
pub fn bars(title: &str, items: &[(String, u64)]) -> String {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let rows = items.len().max(1) as u32;
    let w = LABEL_W + BAR_W + COUNT_W;
    let h = rows * ROW + 8;
    let mut out = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    if items.is_empty() {
        let _ = write!(
            out,
            "<text class=\"muted\" x=\"4\" y=\"{}\">no cases</text>",
            ROW - 8
        );
    }
    for (i, (label, n)) in items.iter().enumerate() {
        let y = i as u32 * ROW + 4;
        let len = ((*n as f64 / max as f64) * BAR_W as f64).round() as u32;
        let len = if *n > 0 { len.max(2) } else { 0 };
        let _ = write!(
            out,
            "<g class=\"row\"><text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{len}\" height=\"{}\"><title>{}: {n}</title></rect>\
             <text class=\"count\" x=\"{}\" y=\"{}\">{n}</text></g>",
            LABEL_W - 6,
            y + ROW - 9,
            esc(&truncate(label, 22)),
            ROW - 6,
            esc(label),
            LABEL_W + len + 4,
            y + ROW - 9,
        );
    }
    out.push_str("</svg>");
    out
}

const DAY_W: u32 = 16;
const PLOT_H: u32 = 140;
const LEFT: u32 = 36;
const BOTTOM: u32 = 34;

/// Columns per day from `from` to `to` inclusive; days missing from `counts` are zero.
pub fn per_day(title: &str, counts: &[(NaiveDate, u64)], from: NaiveDate, to: NaiveDate) -> String {
    let mut days = Vec::new();
    let mut d = from;
    while d <= to && days.len() < 400 {
        let n = counts
            .iter()
            .find(|(day, _)| *day == d)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        days.push((d, n));
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let w = LEFT + days.len().max(1) as u32 * DAY_W + 8;
    let h = PLOT_H + BOTTOM + 10;
    let top = 8;
    let base = top + PLOT_H;
    let mut out = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    // Axis: the maximum and zero.
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\"/>\
         <line class=\"grid\" x1=\"{LEFT}\" y1=\"{top}\" x2=\"{}\" y2=\"{top}\"/>\
         <text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{max}</text>\
         <text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
        w - 4,
        w - 4,
        LEFT - 4,
        top + 4,
        LEFT - 4,
        base + 4
    );
    // A date label every seventh day counted back from the last, so the newest day is always
    // labelled and labels never overlap.
    let every = 7;
    let last = days.len().saturating_sub(1);
    for (i, (day, n)) in days.iter().enumerate() {
        let x = LEFT + i as u32 * DAY_W + 2;
        let bh = ((*n as f64 / max as f64) * PLOT_H as f64).round() as u32;
        let bh = if *n > 0 { bh.max(2) } else { 0 };
        let _ = write!(
            out,
            "<rect class=\"bar\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{bh}\"><title>{}: {n}</title></rect>",
            base - bh,
            DAY_W - 4,
            day.format("%Y-%m-%d")
        );
        if (last - i) % every == 0 {
            let _ = write!(
                out,
                "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + (DAY_W - 4) / 2,
                base + 16,
                day.format("%m-%d")
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let svg = bars(
            "By language",
            &[("rus".into(), 4), ("<x>".into(), 2), ("cmn".into(), 0)],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(&format!("width=\"{BAR_W}\"")), "{svg}");
        assert!(svg.contains(&format!("width=\"{}\"", BAR_W / 2)), "{svg}");
        assert!(svg.contains("&lt;x&gt;") && !svg.contains("<x>"));
        assert!(svg.contains("<title>cmn: 0</title>"));
        assert_eq!(svg.matches("class=\"bar\"").count(), 3);
    }

    #[test]
    fn empty_bars_say_so() {
        assert!(bars("x", &[]).contains("no cases"));
    }

    #[test]
    fn per_day_fills_missing_days_with_zero() {
        let svg = per_day(
            "Referrals per day",
            &[(day("2025-01-01"), 3), (day("2025-01-03"), 1)],
            day("2025-01-01"),
            day("2025-01-03"),
        );
        assert_eq!(svg.matches("class=\"bar\"").count(), 3);
        assert!(svg.contains("<title>2025-01-02: 0</title>"));
        assert!(svg.contains(&format!("height=\"{PLOT_H}\"><title>2025-01-01: 3</title>")));
        assert!(!svg.contains("style="));
        // Labels: the last day, and every seventh before it.
        let svg = per_day("x", &[], day("2025-01-01"), day("2025-01-15"));
        let labels: Vec<&str> = svg
            .split("text-anchor=\"middle\">")
            .skip(1)
            .map(|t| t.split('<').next().unwrap())
            .collect();
        assert_eq!(labels, vec!["01-01", "01-08", "01-15"]);
    }
}
