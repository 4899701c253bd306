//! `triage fixtures serve`: a static file server for a folder of pages, on loopback, for the
//! walk-through and the end-to-end tests. Files are served byte for byte (hash lists match the
//! fixture pages' digests), with a content type from the extension.

use crate::cli::{CliError, CliResult};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn run(dir: &Path, listen: SocketAddr) -> CliResult {
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    if !listen.ip().is_loopback() {
        return Err(CliError::usage(format!(
            "the fixture server listens on loopback only; {listen} is not"
        )));
    }
    let root = Arc::new(
        dir.canonicalize()
            .map_err(|e| CliError::usage(format!("{}: {e}", dir.display())))?,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::external("runtime", e.to_string()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| CliError::external("listen", format!("cannot listen on {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::external("listen", e.to_string()))?;
        println!("serving {} on http://{addr}", root.display());
        let app = Router::new()
            .route("/", get(index))
            .route("/{*path}", get(file))
            .with_state(root);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| CliError::external("http", e.to_string()))
    })
}

async fn index(State(root): State<Arc<PathBuf>>) -> Response {
    let mut names: Vec<String> = std::fs::read_dir(root.as_path())
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let links: String = names
        .iter()
        .map(|n| format!("<li><a href=\"/{n}\">{n}</a></li>"))
        .collect();
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!doctype html><title>fixtures</title><ul>{links}</ul>"),
    )
        .into_response()
}

async fn file(State(root): State<Arc<PathBuf>>, UrlPath(path): UrlPath<String>) -> Response {
    // Only plain file names below the root: no `..`, no absolute paths, no links out.
    let candidate = root.join(&path);
    let resolved = match candidate.canonicalize() {
        Ok(p) if p.starts_with(root.as_path()) && p.is_file() => p,
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    match tokio::fs::read(&resolved).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&resolved))], bytes).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        // No charset here: pages declare their own, as many real sites do.
        "html" | "htm" => "text/html",
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        _ => "application/octet-stream",
    }
}
