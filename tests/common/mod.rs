//! Harness for the end-to-end tests: the real `triage` binary on port 0, a loopback origin
//! serving the fixture pages, and helpers to wait for referrals to finish.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The admin token every test server starts with (`TRIAGE_ADMIN_TOKEN`): an admin of the
/// default agency `demo-unit` (FR). Requests of the helpers below that take no token use it.
pub const ADMIN_TOKEN: &str = "triage-test-admin-token-0123456789abcdef";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_triage")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty directory for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "triage-e2e-{name}-{}-{}",
        std::process::id(),
        nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
    /// `host:port` the process announced.
    pub addr: String,
    pub log: Option<PathBuf>,
}

impl Proc {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    /// SIGTERM, then wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "process did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `cmd`, reads stdout until a line starting with `marker`, returns the address after
/// `http://` on that line.
fn start(mut cmd: Command, marker: &str, log: Option<PathBuf>) -> Proc {
    cmd.current_dir(repo())
        .stdout(Stdio::piped())
        .stdin(Stdio::null());
    match &log {
        Some(p) => {
            cmd.stderr(Stdio::from(std::fs::File::create(p).unwrap()));
        }
        None => {
            cmd.stderr(Stdio::inherit());
        }
    }
    let mut child = cmd.spawn().expect("start triage");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = marker.to_string();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if line.starts_with(&marker) {
                let addr = line.rsplit("http://").next().unwrap().trim().to_string();
                let _ = tx.send(addr);
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe.
        for _ in lines {}
    });
    let addr = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            let log_text = log
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default();
            panic!("process did not announce its address; log:\n{log_text}");
        }
    };
    Proc { child, addr, log }
}

/// Serves `fixtures/pages` on 127.0.0.1 (a free port).
pub fn start_origin() -> Proc {
    let mut cmd = Command::new(bin());
    cmd.args(["fixtures", "serve", "--listen", "127.0.0.1:0"]);
    start(cmd, "serving ", None)
}

/// A loopback origin on 127.0.0.1 (a free port) for pages the fixtures do not hold: every
/// connection's request head is read, and `answer(path)` gives the whole response (status
/// line, headers and body; see [`html_response`]). Returns `host:port`.
pub fn loopback_origin(answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> String {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&seen);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let _ = s.write_all(&answer(path));
            });
        }
    });
    addr
}

/// A `200 OK` response carrying `body` as UTF-8 HTML (the connection closes after it).
pub fn html_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Starts `triage serve` on a free port with its data in `data_dir`, letting `origins` through
/// the address policy; `extra` args are appended.
pub fn start_server(data_dir: &Path, origins: &[&str], extra: &[&str]) -> Proc {
    let mut cmd = Command::new(bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir);
    for o in origins {
        cmd.args(["--allow-private", o]);
    }
    cmd.args(extra);
    cmd.env("RUST_LOG", "info,triage=debug");
    cmd.env("TRIAGE_ADMIN_TOKEN", ADMIN_TOKEN);
    let log = data_dir.with_extension("log");
    start(cmd, "triage listening on ", Some(log))
}

/// [`start_server`] without `TRIAGE_ADMIN_TOKEN` (the first start makes and prints one).
pub fn start_server_without_admin_env(data_dir: &Path, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("TRIAGE_ADMIN_TOKEN")
        .env("RUST_LOG", "info,triage=debug");
    let log = data_dir.with_extension("log");
    start(cmd, "triage listening on ", Some(log))
}

/// A new token for `agency` with `role`, made by the admin through `POST /v1/admin/tokens`.
pub fn create_token(server: &Proc, agency: &str, role: &str) -> String {
    create_token_with(server, &serde_json::json!({"agency": agency, "role": role}))
}

/// A new token as `body` of `POST /v1/admin/tokens` asks (`expires_in`, `label`, …).
pub fn create_token_with(server: &Proc, body: &Value) -> String {
    let resp = client()
        .post(server.url("/v1/admin/tokens"))
        .bearer_auth(ADMIN_TOKEN)
        .json(body)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().unwrap_or(Value::Null);
    assert_eq!(status, 201, "create token {body}: {v}");
    v["token"].as_str().unwrap().to_string()
}

/// `triage admin token create` on `data_dir` (and `config`), printing the token; returns it.
pub fn create_token_cli(
    data_dir: &Path,
    config: Option<&Path>,
    agency: &str,
    role: &str,
) -> String {
    let mut args = vec![
        "admin".to_string(),
        "token".into(),
        "create".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--agency".into(),
        agency.into(),
        "--role".into(),
        role.into(),
    ];
    if let Some(c) = config {
        args.push("--config".into());
        args.push(c.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = triage(&args, None);
    assert!(
        out.status.success(),
        "triage admin token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_of(&out).trim().to_string()
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `POST /v1/referrals` with `token` (the admin token when `None`).
pub fn post_json(server: &Proc, token: Option<&str>, body: &Value) -> (u16, Value) {
    post_json_to(
        server,
        "/v1/referrals",
        Some(token.unwrap_or(ADMIN_TOKEN)),
        body,
    )
}

/// `POST path` with a JSON body, and `token` when given (none at all when `None`).
pub fn post_json_to(server: &Proc, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = client().post(server.url(path)).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

/// `GET path` as the admin.
pub fn get_json(server: &Proc, path: &str) -> (u16, Value) {
    get_json_as(server, Some(ADMIN_TOKEN), path)
}

/// `GET path` with `token` (none at all when `None`).
pub fn get_json_as(server: &Proc, token: Option<&str>, path: &str) -> (u16, Value) {
    let mut req = client().get(server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

/// Polls a referral until it is `routed` or `failed`.
pub fn wait_final(server: &Proc, referral_id: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let (status, v) = get_json(server, &format!("/v1/referrals/{referral_id}"));
        assert_eq!(status, 200, "GET referral {referral_id}: {v}");
        if v["status"] == "routed" || v["status"] == "failed" {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "referral {referral_id} still {} after {timeout:?}; log:\n{}",
            v["status"],
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `/metrics` page, read with the admin token.
pub fn metrics(server: &Proc) -> String {
    let resp = client()
        .get(server.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "GET /metrics");
    resp.text().unwrap()
}

/// The value of one sample line (`name{labels} value`) in a Prometheus text page.
pub fn metric_value(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The fixture manifest (`fixtures/pages/MANIFEST.json`).
pub fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("fixtures/pages/MANIFEST.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    match v {
        Value::Array(a) => a,
        Value::Object(ref o) => o
            .get("pages")
            .and_then(|p| p.as_array())
            .cloned()
            .unwrap_or_default(),
        _ => vec![],
    }
}

/// Runs `triage ARGS` from the repository root, feeding `stdin` if given; waits for it.
pub fn triage(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(repo())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("run triage");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// A command's stdout as text.
pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Refers the Russian fixture page as served on `video.example.test` — the domain of the
/// fixture platform examplevideo, resolved to the loopback origin by the fetch policy's
/// `resolve` map — with the default (French) agency, and waits until it is final. Returns the
/// origin and server (keep them alive while reading metrics) and the final referral.
pub fn refer_on_platform(name: &str) -> (Proc, Proc, Value) {
    let origin = start_origin();
    let port = origin.addr.rsplit(':').next().unwrap().to_string();
    let data = tempdir(name);
    let config = data.join("triage.toml");
    std::fs::write(
        &config,
        "[fetch]\nallowed_ports = [80, 443]\n[fetch.resolve]\n\"video.example.test\" = [\"127.0.0.1\"]\n",
    )
    .unwrap();
    let server = start_server(
        &data.join("db"),
        &[&origin.addr],
        &["--config", config.to_str().unwrap()],
    );
    let (s, acc) = post_json(
        &server,
        None,
        &serde_json::json!({"url": format!("http://video.example.test:{port}/ru-news.html")}),
    );
    assert_eq!(s, 202, "{acc}");
    let r = wait_final(
        &server,
        acc["referral_id"].as_str().unwrap(),
        Duration::from_secs(60),
    );
    (origin, server, r)
}
