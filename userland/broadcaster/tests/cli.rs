//! CLI conventions shared by every procpulse binary (issue 19): `--version`, no secret in
//! `--help` even when set in the environment, wrong values are usage errors (exit 2)
//! listing what is valid, and `--log-format json` logs one JSON object per stderr line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Variables that can carry a credential, set to values that must not be printed.
const SECRETS: &[(&str, &str)] = &[(
    "PROCPULSE_DATABASE_URL",
    "mysql://procpulse:S3cretPw@db.invalid:3306/procpulse",
)];

/// Wrong values and what the error must list.
const BAD_VALUES: &[(&[&str], &str)] = &[(&["--poll-interval-ms", "5"], "10..=60000")];

#[test]
fn logs_are_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let mut cmd = bin();
    cmd.args(["--listen", "127.0.0.1:0", "--database-url", &db]);
    assert_json_lines(&json_log_lines(cmd, 1), 1);
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_procpulse-broadcaster"));
    c.env_remove("PROCPULSE_LOG_FORMAT").env_remove("RUST_LOG");
    c.stdin(Stdio::null());
    c
}

#[test]
fn version_names_the_binary() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        concat!("procpulse-broadcaster ", env!("CARGO_PKG_VERSION"), "\n")
    );
}

#[test]
fn help_documents_the_conventions_and_hides_secrets() {
    for flag in ["--help", "-h"] {
        let mut cmd = bin();
        cmd.arg(flag);
        for (var, value) in SECRETS {
            cmd.env(var, value);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(!help.contains("S3cret"), "{flag} printed a secret:\n{help}");
        assert!(help.contains("--log-format"), "{help}");
        if flag == "--help" {
            for (var, _) in SECRETS {
                assert!(help.contains(var), "{var} undocumented:\n{help}");
            }
            assert!(help.contains("RUST_LOG"), "{help}");
            assert!(help.contains("PROCPULSE_LOG_FORMAT"), "{help}");
        }
    }
}

#[test]
fn wrong_values_are_usage_errors() {
    for (args, listed) in BAD_VALUES.iter().chain(&[(
        &["--log-format", "yaml"][..],
        "[possible values: text, json]",
    )]) {
        let out = bin().args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(listed), "{args:?}: {err}");
    }
}

/// Runs `cmd` with `--log-format json` until it has written `lines` lines to stderr (or
/// exited, or 20 s passed), then kills it and returns them.
fn json_log_lines(mut cmd: Command, lines: usize) -> Vec<String> {
    let mut child = cmd
        .args(["--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < lines {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => got.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    got
}

fn assert_json_lines(lines: &[String], at_least: usize) {
    assert!(lines.len() >= at_least, "too few log lines: {lines:?}");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
}
