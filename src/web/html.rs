//! HTML building blocks for the web page, as pure functions: escaping, the highlighted text of
//! a case, and a few formatting helpers. Everything a fetched page or a caller supplied goes
//! through [`esc`] (pages are hostile); the page never uses inline scripts or styles, so the
//! Content-Security-Policy can forbid them.

use std::fmt::Write;

/// Escapes text for use in element content and in double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline have no business on the page.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value or path segment (RFC 3986 unreserved characters stay).
pub fn url_enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One matched span of the extracted text: a byte range and what matched there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    /// `list/entry`, shown as the mark's title.
    pub label: String,
}

/// The text with every span wrapped in `<mark>`, everything escaped. Spans are byte ranges
/// (CONTRACTS.md: "a byte range in the document's extracted text"); overlapping spans (two
/// lists matching the same words) are merged into one mark naming all their entries. A span
/// outside the text or not on a character boundary cannot be shown and is counted in the
/// second value instead of being guessed at.
pub fn highlight(text: &str, spans: &[Span]) -> (String, usize) {
    let mut good: Vec<&Span> = Vec::new();
    let mut skipped = 0;
    for s in spans {
        if s.start < s.end
            && s.end <= text.len()
            && text.is_char_boundary(s.start)
            && text.is_char_boundary(s.end)
        {
            good.push(s);
        } else {
            skipped += 1;
        }
    }
    good.sort_by_key(|s| (s.start, s.end));
    // Merge overlapping ranges, keeping every label once.
    let mut merged: Vec<(usize, usize, Vec<&str>)> = Vec::new();
    for s in good {
        match merged.last_mut() {
            Some((_, end, labels)) if s.start < *end => {
                *end = (*end).max(s.end);
                if !labels.contains(&s.label.as_str()) {
                    labels.push(&s.label);
                }
            }
            _ => merged.push((s.start, s.end, vec![&s.label])),
        }
    }
    let mut out = String::with_capacity(text.len() + merged.len() * 48);
    let mut at = 0;
    for (start, end, labels) in merged {
        out.push_str(&esc(&text[at..start]));
        let _ = write!(
            out,
            "<mark title=\"{}\">{}</mark>",
            esc(&labels.join(", ")),
            esc(&text[start..end])
        );
        at = end;
    }
    out.push_str(&esc(&text[at..]));
    (out, skipped)
}

/// A `<select>` with `options` (value, label), the one equal to `current` selected.
pub fn select(name: &str, options: &[(String, String)], current: Option<&str>) -> String {
    let mut out = format!("<select name=\"{}\" id=\"f-{}\">", esc(name), esc(name));
    for (value, label) in options {
        let sel = if Some(value.as_str()) == current {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(value),
            esc(label)
        );
    }
    out.push_str("</select>");
    out
}

/// A status as a badge (the CSS colours `.st-<status>`; unknown statuses get no colour).
pub fn status_badge(status: &str) -> String {
    let class = match status {
        "queued" | "fetching" | "classified" | "routed" | "failed" => status,
        _ => "other",
    };
    format!(
        "<span class=\"badge st-{class}\" data-status=\"{}\">{}</span>",
        esc(status),
        esc(status)
    )
}

/// An RFC 3339 time shown to the minute in UTC (`2025-01-02 10:04:05Z` style, seconds kept).
pub fn time(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => esc(&t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%SZ")
            .to_string()),
        Err(_) => esc(s),
    }
}

/// A byte count for people.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize, label: &str) -> Span {
        Span {
            start,
            end,
            label: label.into(),
        }
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{0}b\nc"), "a\u{fffd}b\nc");
    }

    #[test]
    fn marks_byte_spans_in_multibyte_text_and_escapes_around_them() {
        // "<b>ИГИЛ</b>": the span is the bytes of ИГИЛ (4 letters, 8 bytes) after "<b>".
        let text = "<b>ИГИЛ</b> x";
        let (html, skipped) = highlight(text, &[span(3, 11, "kw-demo/kw-ru-02")]);
        assert_eq!(skipped, 0);
        assert_eq!(
            html,
            "&lt;b&gt;<mark title=\"kw-demo/kw-ru-02\">ИГИЛ</mark>&lt;/b&gt; x"
        );
    }

    #[test]
    fn overlapping_spans_merge_into_one_mark_naming_both_entries() {
        let text = "abc defgh ij";
        let (html, _) = highlight(
            text,
            &[span(4, 9, "b/2"), span(4, 7, "a/1"), span(10, 12, "c/3")],
        );
        assert_eq!(
            html,
            "abc <mark title=\"a/1, b/2\">defgh</mark> <mark title=\"c/3\">ij</mark>"
        );
    }

    #[test]
    fn spans_that_cannot_be_shown_are_counted_not_guessed() {
        let text = "ИГИЛ";
        // 1 is inside the first letter; 3..99 runs past the end; 2..2 is empty.
        let (html, skipped) =
            highlight(text, &[span(1, 4, "a"), span(2, 99, "b"), span(2, 2, "c")]);
        assert_eq!((html.as_str(), skipped), ("ИГИЛ", 3));
    }

    #[test]
    fn a_hostile_label_is_escaped_in_the_title() {
        let (html, _) = highlight("xy", &[span(0, 1, "\"><script>")]);
        assert_eq!(html, "<mark title=\"&quot;&gt;&lt;script&gt;\">x</mark>y");
    }

    #[test]
    fn url_encoding_keeps_unreserved_only() {
        assert_eq!(url_enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn select_marks_the_current_option() {
        let html = select(
            "status",
            &[
                ("".into(), "any".into()),
                ("routed".into(), "routed".into()),
            ],
            Some("routed"),
        );
        assert!(html.contains("<option value=\"routed\" selected>routed</option>"));
        assert!(html.contains("<option value=\"\">any</option>"));
    }
}
