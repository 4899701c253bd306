//! `triage eval langid FILE.tsv`: the accuracy of language ID on labelled lines
//! (`code<TAB>source<TAB>text`), per language and source, for whole lines, their first two
//! words and an obfuscated copy (see `classify::langid::eval`). Prints a Markdown table;
//! `--misses N` lists up to N wrong answers; `--detector whatlang` scores whatlang alone for
//! comparison. A malformed line stops the run with its file and line number (exit 1).

use crate::cli::{CliError, CliResult};
use clap::{Args, Subcommand, ValueEnum};
use classify::langid::eval::{evaluate, parse_tsv, whatlang_alone, Variant};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Accuracy of language ID on a labelled TSV file, per language and source.
    Langid(LangidArgs),
}

#[derive(Args)]
pub struct LangidArgs {
    /// Lines `code<TAB>source<TAB>text`; code is ISO 639-3, optionally `-Script` (uzb-Cyrl).
    file: PathBuf,
    /// Which detector to measure.
    #[arg(long, value_enum, default_value_t = Detector::Triage)]
    detector: Detector,
    /// List up to this many wrong answers after the table.
    #[arg(long, default_value_t = 0)]
    misses: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Detector {
    /// The pipeline's detector (`classify::langid::language`).
    Triage,
    /// whatlang 0.18 alone, on the raw text, whatever its confidence.
    Whatlang,
}

pub fn run(command: EvalCommand) -> CliResult {
    match command {
        EvalCommand::Langid(args) => langid(args),
    }
}

fn langid(args: LangidArgs) -> CliResult {
    let path = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
    let samples = parse_tsv(&text).map_err(|e| {
        CliError::rejected("invalid_input", format!("{path}:{}: {}", e.line, e.message))
    })?;
    if samples.is_empty() {
        return Err(CliError::rejected(
            "invalid_input",
            format!("{path}: no labelled lines"),
        ));
    }
    let started = Instant::now();
    let table = match args.detector {
        Detector::Triage => evaluate(&samples, true, classify::langid::language),
        Detector::Whatlang => evaluate(&samples, false, whatlang_alone),
    };
    let elapsed = started.elapsed();
    print!("{}", table.markdown());
    let all = table.total(None);
    println!(
        "\n{} lines from {path}; sentence {:.2} %, two words {:.2} %, obfuscated {:.2} %; {} detections in {:.2} s",
        samples.len(),
        all[0].percent(),
        all[1].percent(),
        all[2].percent(),
        all.iter().map(|c| c.n).sum::<usize>(),
        elapsed.as_secs_f64()
    );
    if args.misses > 0 {
        println!("\nmisses (line, variant, label → answer, text):");
        for (line, variant, label, said, text) in table.misses.iter().take(args.misses) {
            let name = match variant {
                Variant::Sentence => "sentence",
                Variant::TwoWords => "two-words",
                Variant::Obfuscated => "obfuscated",
            };
            println!("{line}\t{name}\t{label} → {said}\t{text}");
        }
    }
    Ok(())
}
