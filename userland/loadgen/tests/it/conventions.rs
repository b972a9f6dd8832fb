//! The CLI conventions every procpulse binary shares (issue 19): `--version`, no secret in
//! `--help`, wrong values exit 2 listing the valid ones, `--log-format json` — here with
//! the progress lines and the verdict, which are log events too.

use std::process::Command;
use std::time::Duration;

use crate::support::{loadgen_bin, run_loadgen};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn version_names_the_binary() {
    let out = Command::new(loadgen_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        concat!("procpulse-loadgen ", env!("CARGO_PKG_VERSION"), "\n")
    );
}

#[test]
fn help_documents_the_conventions_and_hides_secrets() {
    let secrets = [
        ("PROCPULSE_INGEST_TOKEN", "S3cretToken"),
        (
            "PROCPULSE_LOADGEN_AGENT_URL",
            "http://u:S3cretPw@127.0.0.1:1",
        ),
        (
            "PROCPULSE_LOADGEN_INGRESS_URL",
            "http://u:S3cretPw@127.0.0.1:2",
        ),
    ];
    for sub in ["collect", "replay", "run"] {
        let out = Command::new(loadgen_bin())
            .args([sub, "--help"])
            .envs(secrets)
            .env_remove("PROCPULSE_LOG_FORMAT")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            !help.contains("S3cret"),
            "{sub} --help printed a secret:\n{help}"
        );
        for needle in [
            "--log-format",
            "PROCPULSE_LOG_FORMAT",
            "RUST_LOG",
            "--csv <PREFIX>",
            "--progress-interval",
        ] {
            assert!(help.contains(needle), "{sub}: no {needle}:\n{help}");
        }
    }
}

#[test]
fn wrong_values_exit_2_listing_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            &["collect", "--log-format", "yaml"][..],
            "[possible values: text, json]",
        ),
        (
            &["--log-format", "xml", "replay"],
            "[possible values: text, json]",
        ),
        (&["replay", "--progress-interval", "soon"], "'soon'"),
    ] {
        let run = run_loadgen(dir.path(), args, LIMIT);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

/// A target that accepts connections and closes them: every request fails, so collect
/// runs its whole run time, logs progress, and ends with "no valid snapshot" (exit 3).
#[test]
fn json_logs_carry_progress_and_verdict() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let run = run_loadgen(
        dir.path(),
        &[
            "collect",
            "--host",
            &url,
            "--users",
            "2",
            "--run-time",
            "2s",
            "--wait",
            "100ms..200ms",
            "--progress-interval",
            "1s",
            "--log-format",
            "json",
        ],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(3), "{run:?}");
    let messages: Vec<String> = run
        .stderr
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {line}"));
            v["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let progress = messages
        .iter()
        .filter(|m| m.starts_with("collect: 0/2000 records |") && m.contains("| ETA "))
        .count();
    assert!(progress >= 1, "no progress line: {messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("FAILED: no valid snapshot")),
        "{messages:?}"
    );
}
