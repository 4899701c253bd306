//! `triage`: the binary. CLI, configuration, wiring of the stages, the HTTP server and the
//! embedded store.
//!
//! Map: [`cli`] parses the command line and runs one subcommand; `serve` builds an
//! [`pipeline::Engine`] (fetcher, classifier, rules) once, opens the [`store::Store`], and runs
//! the [`pipeline::Pipeline`] beside the [`server`] until a signal stops both.

mod cli;
mod config;
mod fixtures_server;
mod metrics;
mod pipeline;
mod serve;
mod server;
mod store;

fn main() -> std::process::ExitCode {
    cli::main()
}
