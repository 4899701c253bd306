//! `triage`: the binary. CLI, configuration, wiring of the stages, the HTTP server and the
//! embedded store.
//!
//! Map: [`cli`] parses the command line and runs one subcommand; `serve` builds an
//! [`pipeline::Engine`] (fetcher, classifier, rules) once, opens the [`store::Store`], and runs
//! the [`pipeline::Pipeline`] beside the [`server`] until a signal stops both.

mod api_lists;
mod api_retention;
mod auth;
mod cli;
mod cmd_admin;
mod cmd_eval;
mod cmd_evidence;
mod cmd_lists;
mod cmd_route;
mod config;
mod evidence;
mod fixtures_server;
mod images;
mod kafka;
mod lists_live;
mod metrics;
mod pipeline;
mod quarantine;
mod retry;
mod serve;
mod server;
mod store;
mod web;

fn main() -> std::process::ExitCode {
    cli::main()
}
