//! Accuracy of a language detector on labelled lines, per language and source: what
//! `triage eval langid FILE.tsv` prints and the accuracy test asserts.
//!
//! Input lines are `code<TAB>source<TAB>text`; `code` is ISO 639-3, optionally with an
//! ISO 15924 script (`uzb-Cyrl`, `cmn-Hant`), which must then match too. Empty lines and
//! lines starting with `#` are skipped. Every line is scored three ways:
//!
//! - **sentence**: the text as given;
//! - **two words**: its first two words in its main script (for Chinese, its first four Han
//!   characters); each
//!   distinct pair is scored once per language and source;
//! - **obfuscated**: the sentence with a zero-width character after every second letter,
//!   a tatweel after every second joining Arabic-script letter, and every second
//!   Cyrillic/Latin letter that has a look-alike in the other script swapped for it.
//!
//! `null` answers count as misses and are shown in their own column.

use shared::LanguageGuess;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One labelled line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub code: String,
    /// The ISO 15924 script of the label, when it gives one.
    pub script: Option<String>,
    pub source: String,
    pub text: String,
    /// 1-based line number in the file.
    pub line: usize,
}

/// A line that is not `code<TAB>source<TAB>text`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TsvError {
    pub line: usize,
    pub message: String,
}

/// Parses the whole file; the first bad line is the error.
pub fn parse_tsv(text: &str) -> Result<Vec<Sample>, TsvError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let err = |message: String| TsvError {
            line: line_no,
            message,
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 3 {
            return Err(err(format!(
                "expected 3 tab-separated fields (code, source, text), found {}",
                fields.len()
            )));
        }
        let (label, source, text) = (fields[0].trim(), fields[1].trim(), fields[2].trim());
        let (code, script) = match label.split_once('-') {
            Some((c, s)) => (c, Some(s)),
            None => (label, None),
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(err(format!(
                "code {label:?} is not an ISO 639-3 code (three lower-case letters, optionally -Script)"
            )));
        }
        if let Some(s) = script {
            let b = s.as_bytes();
            if b.len() != 4
                || !b[0].is_ascii_uppercase()
                || !b[1..].iter().all(|c| c.is_ascii_lowercase())
            {
                return Err(err(format!(
                    "script {s:?} in {label:?} is not an ISO 15924 code like Cyrl"
                )));
            }
        }
        if source.is_empty() {
            return Err(err("the source field is empty".into()));
        }
        if text.is_empty() {
            return Err(err("the text field is empty".into()));
        }
        out.push(Sample {
            code: code.to_string(),
            script: script.map(str::to_string),
            source: source.to_string(),
            text: text.to_string(),
            line: line_no,
        });
    }
    Ok(out)
}

/// The ways a line is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    Sentence,
    TwoWords,
    Obfuscated,
}

pub const VARIANTS: [Variant; 3] = [Variant::Sentence, Variant::TwoWords, Variant::Obfuscated];

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Sentence => "sentence",
            Variant::TwoWords => "two words",
            Variant::Obfuscated => "obfuscated",
        }
    }

    /// The text of this variant of a line; `None` when it has none (one word only).
    pub fn apply(self, text: &str) -> Option<String> {
        match self {
            Variant::Sentence => Some(text.to_string()),
            Variant::TwoWords => two_words(text),
            Variant::Obfuscated => Some(obfuscate(text)),
        }
    }
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF)
}

/// The first two words of a line written in its main script (so "GtkPackType указывает"
/// is skipped in a Russian line), as they stand, punctuation inside kept; for Chinese, the
/// first four Han characters of its first run of them.
pub fn two_words(text: &str) -> Option<String> {
    use super::prepare::{script_of, Script};
    let mut counts: Vec<(Script, usize)> = Vec::new();
    for s in text.chars().filter_map(script_of) {
        match counts.iter_mut().find(|e| e.0 == s) {
            Some(e) => e.1 += 1,
            None => counts.push((s, 1)),
        }
    }
    let main = counts.iter().max_by_key(|e| e.1)?.0;
    if main == Script::Han {
        let run: String = text
            .chars()
            .skip_while(|&c| !is_han(c))
            .take_while(|&c| is_han(c))
            .take(4)
            .collect();
        return (run.chars().count() == 4).then_some(run);
    }
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| {
            let mut letters = w.chars().filter_map(script_of).peekable();
            letters.peek().is_some() && letters.all(|s| s == main)
        })
        .take(2)
        .collect();
    (words.len() == 2).then(|| words.join(" "))
}

const ZERO_WIDTH: [char; 4] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}'];

/// Cyrillic ↔ Latin look-alikes used to obfuscate, lower and upper case.
const SWAPS: [(char, char); 16] = [
    ('а', 'a'),
    ('е', 'e'),
    ('о', 'o'),
    ('р', 'p'),
    ('с', 'c'),
    ('у', 'y'),
    ('х', 'x'),
    ('і', 'i'),
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Т', 'T'),
];

/// Arabic-script letters that join to the next one, so a tatweel after them is invisible.
fn joins_left(c: char) -> bool {
    matches!(c as u32, 0x626 | 0x628 | 0x62A..=0x62E | 0x633..=0x63A | 0x641..=0x647 | 0x64A
        | 0x67E | 0x686 | 0x6A9 | 0x6AF | 0x6CC | 0x679 | 0x6C1 | 0x6BE | 0x6AB | 0x6BC
        | 0x6CD | 0x6D0 | 0x6C7..=0x6CB)
}

/// The obfuscated copy of a line (see the module documentation). Deterministic.
pub fn obfuscate(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let (mut letters, mut swappable, mut joining) = (0usize, 0usize, 0usize);
    for c in text.chars() {
        let mut c2 = c;
        if let Some(&(cyr, lat)) = SWAPS.iter().find(|&&(a, b)| a == c || b == c) {
            swappable += 1;
            if swappable % 2 == 0 {
                c2 = if c == cyr { lat } else { cyr };
            }
        }
        out.push(c2);
        if joins_left(c) {
            joining += 1;
            if joining % 2 == 1 {
                out.push('\u{0640}');
            }
        }
        if c.is_alphabetic() {
            letters += 1;
            if letters % 2 == 0 {
                out.push(ZERO_WIDTH[(letters / 2) % ZERO_WIDTH.len()]);
            }
        }
    }
    out
}

/// whatlang 0.18 alone, for comparison: its answer whatever its confidence, on the text as
/// given (no preparation). Its script is not compared (it has no Hans/Hant).
pub fn whatlang_alone(text: &str) -> Option<LanguageGuess> {
    let info = whatlang::detect(text)?;
    Some(LanguageGuess {
        code: info.lang().code().to_string(),
        confidence: info.confidence(),
        script: info.script().name().to_string(),
        script_code: String::new(),
    })
}

/// Counts for one (label, source, variant).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub n: usize,
    pub right: usize,
    pub null: usize,
}

impl Count {
    pub fn percent(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        100.0 * self.right as f64 / self.n as f64
    }
}

/// Key of a table row: (label as written, e.g. `uzb-Cyrl`; source).
pub type RowKey = (String, String);

/// The results, per row and variant, and the wrong answers seen.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub rows: BTreeMap<RowKey, [Count; 3]>,
    /// (line, variant, label, answer or "null", text) of every miss.
    pub misses: Vec<(usize, Variant, String, String, String)>,
}

impl Sample {
    pub fn label(&self) -> String {
        match &self.script {
            Some(s) => format!("{}-{s}", self.code),
            None => self.code.clone(),
        }
    }

    /// Whether a guess is right for this sample (the script counts only when the label has
    /// one and `check_script` is set).
    /// `Hani` (Chinese with no character that only one form has) is right for `Hans` and
    /// `Hant`: it is all the text can tell.
    pub fn is_right(&self, guess: &LanguageGuess, check_script: bool) -> bool {
        let script_ok = |s: &String| {
            *s == guess.script_code || (guess.script_code == "Hani" && (s == "Hans" || s == "Hant"))
        };
        guess.code == self.code && (!check_script || self.script.as_ref().is_none_or(script_ok))
    }
}

/// Scores every sample with `detect`, in every variant.
pub fn evaluate(
    samples: &[Sample],
    check_script: bool,
    detect: impl Fn(&str) -> Option<LanguageGuess>,
) -> Table {
    let mut table = Table::default();
    // Two-word texts already scored, per row: UI strings often begin alike ("Whether the
    // …"), and forty copies of one pair would weigh as forty texts.
    let mut pairs: std::collections::HashSet<(String, String, String)> = Default::default();
    for s in samples {
        let row = table.rows.entry((s.label(), s.source.clone())).or_default();
        for (i, v) in VARIANTS.iter().enumerate() {
            let Some(text) = v.apply(&s.text) else {
                continue;
            };
            if *v == Variant::TwoWords && !pairs.insert((s.label(), s.source.clone(), text.clone()))
            {
                continue;
            }
            let guess = detect(&text);
            let right = guess.as_ref().is_some_and(|g| s.is_right(g, check_script));
            let c = &mut row[i];
            c.n += 1;
            c.right += usize::from(right);
            c.null += usize::from(guess.is_none());
            if !right {
                let said = guess.map_or("null".to_string(), |g| {
                    format!("{}-{} {:.2}", g.code, g.script_code, g.confidence)
                });
                table.misses.push((s.line, *v, s.label(), said, text));
            }
        }
    }
    table
}

impl Table {
    /// Totals per variant over all rows of one source (`None`: all sources).
    pub fn total(&self, source: Option<&str>) -> [Count; 3] {
        let mut t = [Count::default(); 3];
        for ((_, src), row) in &self.rows {
            if source.is_some_and(|s| s != src) {
                continue;
            }
            for (acc, c) in t.iter_mut().zip(row) {
                acc.n += c.n;
                acc.right += c.right;
                acc.null += c.null;
            }
        }
        t
    }

    /// The table as Markdown: one row per language and source, then totals per source.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let pct = |c: &Count| {
            if c.n == 0 {
                "–".to_string()
            } else {
                format!("{:.1}", c.percent())
            }
        };
        s.push_str(
            "| language | source | lines | sentence % | two words % | obfuscated % | null (sentence / two words) |\n\
             |---|---|---:|---:|---:|---:|---:|\n",
        );
        let line = |s: &mut String, label: &str, source: &str, r: &[Count; 3]| {
            let _ = writeln!(
                s,
                "| {label} | {source} | {} | {} | {} | {} | {} / {} |",
                r[0].n,
                pct(&r[0]),
                pct(&r[1]),
                pct(&r[2]),
                r[0].null,
                r[1].null
            );
        };
        for ((label, source), r) in &self.rows {
            line(&mut s, label, source, r);
        }
        let mut sources: Vec<&str> = self.rows.keys().map(|k| k.1.as_str()).collect();
        sources.sort_unstable();
        sources.dedup();
        for src in sources {
            line(&mut s, "**all**", src, &self.total(Some(src)));
        }
        line(&mut s, "**all**", "**all**", &self.total(None));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_bad_lines() {
        let ok =
            "# comment\nrus\tudhr\tВсе люди рождаются свободными\n\nuzb-Cyrl\tgtk\tФайл очилмади\n";
        let s = parse_tsv(ok).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].line, 4);
        assert_eq!(s[1].label(), "uzb-Cyrl");
        for (bad, line, what) in [
            ("rus\tudhr\n", 1, "3 tab-separated"),
            ("rus\tudhr\tok\nRU\tx\ty\n", 2, "ISO 639-3"),
            ("rus-cyrl\tx\ty\n", 1, "ISO 15924"),
            ("rus\t\ty\n", 1, "source"),
            ("rus\tx\t \n", 1, "text"),
            ("rus\tx\ta\tb\n", 1, "found 4"),
        ] {
            let e = parse_tsv(bad).unwrap_err();
            assert_eq!(e.line, line, "{bad:?}");
            assert!(e.to_string().contains(what), "{e}");
        }
    }

    #[test]
    fn variants() {
        assert_eq!(
            two_words("Не удалось открыть файл").as_deref(),
            Some("Не удалось")
        );
        assert_eq!(two_words("— 12 Файл"), None);
        assert_eq!(
            two_words("GtkPackType указывает, как упаковывать").as_deref(),
            Some("указывает, как")
        );
        assert_eq!(
            two_words("外交部发言人今天表示").as_deref(),
            Some("外交部发")
        );
        let o = obfuscate("россия ـ بيان");
        assert!(o.contains('\u{200C}') || o.contains('\u{200B}'));
        assert!(o.contains('p') || o.contains('o') || o.contains('c'), "{o}");
        assert!(o.matches('\u{0640}').count() >= 2, "{o}");
        // Latin gets Cyrillic look-alikes.
        assert!(obfuscate("peace and order")
            .chars()
            .any(|c| c == 'е' || c == 'а' || c == 'о'));
    }

    #[test]
    fn table_counts_nulls_as_misses() {
        let samples = parse_tsv("rus\ta\tодин два три\neng\ta\tone two three\n").unwrap();
        let t = evaluate(&samples, true, |text| {
            text.contains('о').then(|| LanguageGuess {
                code: "rus".into(),
                confidence: 1.0,
                script: "Cyrillic".into(),
                script_code: "Cyrl".into(),
            })
        });
        let rus = t.rows[&("rus".to_string(), "a".to_string())];
        assert_eq!((rus[0].n, rus[0].right), (1, 1));
        let eng = t.rows[&("eng".to_string(), "a".to_string())];
        assert_eq!((eng[0].n, eng[0].right, eng[0].null), (1, 0, 1));
        assert!(t.markdown().contains("| eng | a | 1 | 0.0 |"));
        assert_eq!(t.total(None)[0].right, 1);
    }
}
