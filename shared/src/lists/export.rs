//! A [`List`] out, in one of the partner formats of [`import`](super::import): the reverse of
//! the import, so that importing the output gives the same entries (ids, categories, `enabled`,
//! `expires`, the partner's extra columns). The list's own metadata (owner, trust, version) is
//! not in these formats; it is given again on import.
//!
//! CSV columns: the format's id, hash, algorithm and deleted columns, then `category`,
//! `entity`, `quality`, `expires` when any entry has one, then every `metadata` key in
//! alphabetical order. Plain files: the value, then only the `key=value` fields that import
//! would not work out by itself (an `id` that is not the content id, a category, …).

use super::import::{
    algorithm_name, content_id, csv_names, parse_algorithm, Format, EXTRA_COLUMNS,
};
use super::{Entries, EntryState, HashEntry, List, MatchMode};
use chrono::SecondsFormat;
use std::collections::BTreeSet;
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("format {format} carries {wants} lists; list {list:?} is a {kind} list")]
    WrongKind {
        format: &'static str,
        wants: &'static str,
        list: String,
        kind: &'static str,
    },
    #[error("entry {entry:?} cannot be written as {format}: {message}")]
    Unrepresentable {
        entry: String,
        format: &'static str,
        message: String,
    },
    #[error("cannot write: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Writes `list` to `out` as `format`; returns the number of entries written.
pub fn export(format: Format, list: &List, out: &mut dyn Write) -> Result<usize, ExportError> {
    let wrong = || ExportError::WrongKind {
        format: format.as_str(),
        wants: format.kind().as_str(),
        list: list.meta.id.clone(),
        kind: list.entries.kind().as_str(),
    };
    match (&list.entries, format) {
        (Entries::Hashes(v), Format::TatCsv | Format::TeCsv) => write_csv(format, v, out),
        (Entries::Keywords(v), Format::Terms) => {
            let mut n = 0;
            for e in v {
                let mut fields = Vec::new();
                if e.id != content_id("t-", &e.term) {
                    fields.push(("id", e.id.clone()));
                }
                if let Some(l) = &e.lang {
                    fields.push(("lang", l.clone()));
                }
                if let Some(c) = e.category {
                    fields.push(("category", c.to_string()));
                }
                if let Some(w) = e.weight {
                    fields.push(("weight", w.to_string()));
                }
                if e.match_mode != MatchMode::Word {
                    fields.push(("match", e.match_mode.as_str().to_string()));
                }
                common(e, &mut fields);
                plain(out, format, &e.id, &e.term, &fields)?;
                n += 1;
            }
            Ok(n)
        }
        (Entries::Urls(v), Format::Urls) => {
            let mut n = 0;
            for e in v {
                let mut fields = Vec::new();
                if e.id != content_id("u-", &e.url) {
                    fields.push(("id", e.id.clone()));
                }
                if let Some(c) = e.category {
                    fields.push(("category", c.to_string()));
                }
                common(e, &mut fields);
                plain(out, format, &e.id, &e.url, &fields)?;
                n += 1;
            }
            Ok(n)
        }
        _ => Err(wrong()),
    }
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn common(e: &dyn EntryState, fields: &mut Vec<(&'static str, String)>) {
    if !e.enabled() {
        fields.push(("enabled", "false".into()));
    }
    if let Some(t) = e.expires() {
        fields.push(("expires", time(t)));
    }
}

/// One plain line; refuses what the import would read back differently.
fn plain(
    out: &mut dyn Write,
    format: Format,
    id: &str,
    value: &str,
    fields: &[(&str, String)],
) -> Result<(), ExportError> {
    let refuse = |message: String| ExportError::Unrepresentable {
        entry: id.to_string(),
        format: format.as_str(),
        message,
    };
    let t = value.trim();
    if t != value || t.is_empty() {
        return Err(refuse("the value starts or ends with white space".into()));
    }
    if t == "#" || t.starts_with("# ") || t.starts_with("#\t") {
        return Err(refuse("the value would read as a comment".into()));
    }
    for (k, v) in std::iter::once(&("value", value.to_string())).chain(fields) {
        if v.contains(['\t', '\n', '\r']) {
            return Err(refuse(format!("{k} contains a tab or a line break")));
        }
    }
    let mut line = value.to_string();
    for (k, v) in fields {
        line.push('\t');
        line.push_str(k);
        line.push('=');
        line.push_str(v);
    }
    line.push('\n');
    out.write_all(line.as_bytes())?;
    Ok(())
}

fn write_csv(
    format: Format,
    entries: &[HashEntry],
    out: &mut dyn Write,
) -> Result<usize, ExportError> {
    let names = csv_names(format);
    let (hash_col, algorithm_col) = (names.hash[0], names.algorithm[0]);
    let fixed = ["id", hash_col, algorithm_col, names.deleted];
    let has = |f: fn(&HashEntry) -> bool| entries.iter().any(f);
    let extras: Vec<&str> = EXTRA_COLUMNS
        .into_iter()
        .zip([
            has(|e| e.category.is_some()),
            has(|e| e.entity.is_some()),
            has(|e| e.quality.is_some()),
            has(|e| e.expires.is_some()),
        ])
        .filter_map(|(c, present)| present.then_some(c))
        .collect();
    let meta_keys: BTreeSet<&str> = entries
        .iter()
        .flat_map(|e| e.metadata.keys().map(String::as_str))
        .filter(|k| *k != algorithm_col)
        .collect();
    for e in entries {
        for k in e.metadata.keys() {
            let clash = fixed.contains(&k.as_str()) && k != algorithm_col
                || EXTRA_COLUMNS.contains(&k.as_str());
            if clash {
                return Err(ExportError::Unrepresentable {
                    entry: e.id.clone(),
                    format: format.as_str(),
                    message: format!("metadata key {k:?} is also a column of the format"),
                });
            }
        }
    }
    let mut w = csv::WriterBuilder::new().from_writer(out);
    let header: Vec<&str> = fixed
        .iter()
        .copied()
        .chain(extras.iter().copied())
        .chain(meta_keys.iter().copied())
        .collect();
    w.write_record(&header)?;
    for e in entries {
        // A kept algorithm cell (TE's video MD5) is written back as it came, if it still names
        // this algorithm.
        let algorithm = e
            .metadata
            .get(algorithm_col)
            .filter(|raw| parse_algorithm(format, raw).is_ok_and(|(a, _)| a == e.algorithm))
            .map(String::as_str)
            .unwrap_or(algorithm_name(format, e.algorithm));
        let mut row: Vec<String> = vec![
            e.id.clone(),
            e.hash.clone(),
            algorithm.to_string(),
            (!e.enabled).to_string(),
        ];
        for c in &extras {
            row.push(match *c {
                "category" => e.category.map(|c| c.to_string()).unwrap_or_default(),
                "entity" => e.entity.clone().unwrap_or_default(),
                "quality" => e.quality.map(|q| q.to_string()).unwrap_or_default(),
                _ => e.expires.map(time).unwrap_or_default(),
            });
        }
        for k in &meta_keys {
            row.push(e.metadata.get(*k).cloned().unwrap_or_default());
        }
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(entries.len())
}
