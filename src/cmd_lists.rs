//! `triage lists check | import | export`: validate a lists directory, turn a partner's file
//! into a list in the LISTS.md layout, or write one list in a partner's format. The formats
//! themselves live in `shared::lists::{import, export}`.
//!
//! Import writes into a hidden directory beside the target, loads and compiles what it wrote,
//! and only then renames it into place, so a service reloading the same directory never sees a
//! half-written list (hidden directories are not read as lists).

use crate::cli::{CliError, CliResult};
use clap::{Args, Subcommand};
use shared::lists::export::export;
use shared::lists::import::{import, Format, ImportOptions};
use shared::lists::{load_list_dir, write_list, ListSet, MatchMode, Problem, Trust};
use shared::Category;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Subcommand)]
pub enum ListsCommand {
    /// Validate a lists directory; print every problem with file and line.
    Check { dir: PathBuf },
    /// Import a partner's file (tat-csv, te-csv, terms, urls) as OUT_DIR/<list-id>.
    Import(ImportArgs),
    /// Write the list in LIST_DIR in a partner format to OUT (`-` for stdout).
    Export {
        #[arg(long, value_parser = Format::from_str)]
        format: Format,
        list_dir: PathBuf,
        out: PathBuf,
    },
}

#[derive(Args)]
pub struct ImportArgs {
    /// tat-csv | te-csv | terms | urls
    #[arg(long, value_parser = Format::from_str)]
    format: Format,
    #[arg(long = "list-id")]
    list_id: String,
    /// The contributing agency.
    #[arg(long)]
    owner: String,
    /// high | medium | low
    #[arg(long, value_parser = Trust::from_str)]
    trust: Trust,
    #[arg(long)]
    version: String,
    /// The list's default category (rows without one count toward it).
    #[arg(long, value_parser = Category::from_str)]
    category: Option<Category>,
    /// The list's name (default: "<list-id> (imported from <file>)").
    #[arg(long)]
    name: Option<String>,
    /// An allow-list: its matches suppress other lists' matches.
    #[arg(long)]
    negative: bool,
    /// terms: the language of lines that do not give one.
    #[arg(long)]
    lang: Option<String>,
    /// terms: word | prefix | substring for lines that do not give one.
    #[arg(long = "match", value_parser = MatchMode::from_str)]
    match_mode: Option<MatchMode>,
    /// Hash formats: the list's PDQ threshold (0-255; 31 when not given).
    #[arg(long = "pdq-max-distance")]
    pdq_max_distance: Option<u32>,
    /// Replace OUT_DIR/<list-id> if it exists.
    #[arg(long)]
    force: bool,
    /// The partner's file (`-` for stdin).
    input: PathBuf,
    /// The lists directory to write the list into.
    out_dir: PathBuf,
}

pub fn run(cmd: ListsCommand) -> CliResult {
    match cmd {
        ListsCommand::Check { dir } => check(&dir),
        ListsCommand::Import(args) => import_cmd(args),
        ListsCommand::Export {
            format,
            list_dir,
            out,
        } => export_cmd(format, &list_dir, &out),
    }
}

fn print_problems(problems: &[Problem]) {
    for p in problems {
        println!("{p}");
    }
}

fn check(dir: &Path) -> CliResult {
    let (set, problems) = ListSet::check_dir(dir);
    let mut problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    if problems.is_empty() {
        // Loading also compiles the regexes and automata; their limits are checked there.
        if let Err(e) = classify::Classifier::new(&set) {
            problems.extend(e.problems.iter().map(|p| p.to_string()));
        }
    }
    for p in &problems {
        println!("{p}");
    }
    if !problems.is_empty() {
        return Err(CliError::rejected(
            "invalid_lists",
            format!("{} problem(s) in {}", problems.len(), dir.display()),
        ));
    }
    let now = chrono::Utc::now();
    for l in &set.lists {
        let c = l.entries.counts(now);
        println!(
            "{}: {} {} entries ({} disabled, {} expired), owner {}, trust {}, version {}{}",
            l.meta.id,
            c.total,
            l.meta.kind.as_str(),
            c.disabled,
            c.expired,
            l.meta.owner,
            l.meta.trust.as_str(),
            l.meta.version,
            if l.meta.enabled {
                ""
            } else {
                ", list disabled"
            }
        );
    }
    println!(
        "{} lists, {} entries: no problems",
        set.lists.len(),
        set.entry_count()
    );
    Ok(())
}

fn import_cmd(a: ImportArgs) -> CliResult {
    let bytes = if a.input == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .map_err(|e| CliError::external("io", format!("cannot read stdin: {e}")))?;
        b
    } else {
        std::fs::read(&a.input)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", a.input.display())))?
    };
    let opts = ImportOptions {
        format: a.format,
        list_id: a.list_id.clone(),
        name: a.name,
        owner: a.owner,
        trust: a.trust,
        version: a.version,
        category: a.category,
        negative: a.negative,
        lang: a.lang,
        match_mode: a.match_mode,
        pdq_max_distance: a.pdq_max_distance,
    };
    let imported = import(&a.input, &bytes, &opts).map_err(|p| {
        print_problems(&p.0);
        CliError::rejected(
            "invalid_input",
            format!(
                "{} problem(s) in {}; nothing was written",
                p.0.len(),
                a.input.display()
            ),
        )
    })?;
    let target = a.out_dir.join(&a.list_id);
    if target.exists() && !a.force {
        return Err(CliError::usage(format!(
            "{} exists; pass --force to replace it",
            target.display()
        )));
    }
    let io = |what: &str, e: std::io::Error| CliError::external("io", format!("{what}: {e}"));
    let staging = a
        .out_dir
        .join(format!(".import-{}-{}", a.list_id, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let header = format!(
        "Imported by `triage lists import --format {}` from {} on {}.",
        a.format.as_str(),
        a.input
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stdin".into()),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let written = staging.join(&a.list_id);
    write_list(
        &written,
        &imported.list.meta,
        &imported.list.entries,
        &header,
    )
    .map_err(|e| io(&format!("cannot write {}", written.display()), e))?;
    // What was written must load and compile as any list does.
    let check = ListSet::load_dir(&staging)
        .map_err(|p| p.0)
        .and_then(|set| {
            classify::Classifier::new(&set)
                .map(|_| set)
                .map_err(|e| e.problems)
        });
    if let Err(problems) = check {
        let _ = std::fs::remove_dir_all(&staging);
        print_problems(&problems);
        return Err(CliError::rejected(
            "invalid_input",
            format!(
                "the imported list does not load ({} problem(s)); nothing was written",
                problems.len()
            ),
        ));
    }
    let old = a
        .out_dir
        .join(format!(".replaced-{}-{}", a.list_id, std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(|e| io("cannot move the old list aside", e))?;
    }
    std::fs::rename(&written, &target)
        .map_err(|e| io(&format!("cannot move the list to {}", target.display()), e))?;
    let _ = std::fs::remove_dir_all(&old);
    let _ = std::fs::remove_dir_all(&staging);
    let counts = imported.list.entries.counts(chrono::Utc::now());
    println!(
        "imported {} entries ({} disabled, {} expired; {} duplicate rows dropped) into {}",
        counts.total,
        counts.disabled,
        counts.expired,
        imported.duplicates,
        target.display()
    );
    Ok(())
}

fn export_cmd(format: Format, list_dir: &Path, out: &Path) -> CliResult {
    let list = load_list_dir(list_dir).map_err(|p| {
        print_problems(&p.0);
        CliError::rejected(
            "invalid_lists",
            format!("{} problem(s) in {}", p.0.len(), list_dir.display()),
        )
    })?;
    let to_stdout = out == Path::new("-");
    let mut sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let f = std::fs::File::create(out).map_err(|e| {
            CliError::external("io", format!("cannot create {}: {e}", out.display()))
        })?;
        Box::new(std::io::BufWriter::new(f))
    };
    let n = export(format, &list, &mut sink).map_err(|e| match e {
        shared::lists::export::ExportError::Io(_) | shared::lists::export::ExportError::Csv(_) => {
            CliError::external("io", e.to_string())
        }
        _ => CliError::rejected("unexportable", e.to_string()),
    })?;
    sink.flush()
        .map_err(|e| CliError::external("io", format!("cannot write: {e}")))?;
    eprintln!(
        "exported {n} entries of list {} (version {}) as {} to {}",
        list.meta.id,
        list.meta.version,
        format.as_str(),
        if to_stdout {
            "stdout".to_string()
        } else {
            out.display().to_string()
        }
    );
    Ok(())
}
