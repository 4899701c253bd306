//! `triage classify --jsonl` answers each line as it arrives when its output is a pipe: a
//! client that writes one document and waits for the answer before writing the next must
//! not wait forever (the output used to sit in an 8 KB buffer until the input ended).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn each_line_is_answered_before_the_next_is_sent() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["classify", "--jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start triage");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.expect("utf-8 line")).is_err() {
                break;
            }
        }
    });
    for id in 0..3 {
        writeln!(
            stdin,
            r#"{{"id": {id}, "text": "Министерство иностранных дел сообщило сегодня о переговорах"}}"#
        )
        .expect("write a line");
        stdin.flush().expect("flush");
        // Input is still open: the answer must come on its own.
        let answer = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no answer to line {id} while the input stays open"));
        let v: serde_json::Value = serde_json::from_str(&answer).expect("JSON answer");
        assert_eq!(v["id"], id, "{answer}");
        assert_eq!(v["language"]["code"], "rus", "{answer}");
    }
    drop(stdin);
    assert!(child.wait().expect("wait").success());
}
