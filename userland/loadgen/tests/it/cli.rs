//! Flags and failures: clear messages and non-zero exits, never a panic.

use std::time::Duration;

use crate::support::{free_port, run_loadgen};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn bad_flags_exit_2_with_clap_message() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["collect", "--bogus"][..], "unexpected argument '--bogus'"),
        (&["collect", "--wait", "2s..1s"], "lower bound is larger"),
        (&["replay", "--split-tolerance", "lots"], "not a tolerance"),
        (&["collect", "--users", "many"], "invalid value 'many'"),
    ] {
        let run = run_loadgen(dir.path(), args, LIMIT);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

#[test]
fn unreachable_host_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let run = run_loadgen(
        dir.path(),
        &["collect", "--host", &url, "--run-time", "2s"],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        run.stderr.contains(&format!("cannot reach {url}")),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("records.ndjson").exists());
}

#[test]
fn goose_option_errors_keep_their_detail() {
    let dir = tempfile::tempdir().unwrap();
    // The check happens before any request, so any listening port will do.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let run = run_loadgen(
        dir.path(),
        &[
            "collect",
            "--host",
            &url,
            "--iterations",
            "2",
            "--run-time",
            "5s",
        ],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("can not be set with"), "{}", run.stderr);
}

#[test]
fn replay_refuses_a_truncated_record_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("records.ndjson"), "{\"sample_id\":\"x\",").unwrap();
    let run = run_loadgen(dir.path(), &["replay", "--in", "records.ndjson"], LIMIT);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(run.stderr.contains("records.ndjson:1:"), "{}", run.stderr);
}
