//! Test support: checks that a binary keeps the command-line conventions every procpulse
//! binary shares (README.md of this crate): `--version` names it, `--help` documents the log
//! switches and prints no secret even when one is set in the environment, a wrong value is a
//! usage error (exit 2) naming what is valid, and `--log-format json` writes one JSON object
//! per stderr line. Built only with the `cli-check` feature, which the binaries' crates turn
//! on for their tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every secret value a check sets carries this marker; `--help` must never show it.
pub const SECRET_MARK: &str = "S3cret";

/// How long a binary may take to write the log lines a check waits for.
const LOG_DEADLINE: Duration = Duration::from_secs(20);

/// One binary and the parts of the conventions that differ between binaries.
#[derive(Debug)]
pub struct Conventions {
    /// Path of the binary: `env!("CARGO_BIN_EXE_<name>")`.
    pub bin: &'static str,
    /// What `--version` prints (without the newline): `<name> <version>`.
    pub version_line: &'static str,
    /// Environment variables that can carry a credential, each set to a value holding
    /// [`SECRET_MARK`].
    pub secrets: &'static [(&'static str, &'static str)],
    /// Wrong arguments, each with text the usage error must contain.
    pub bad_values: &'static [(&'static [&'static str], &'static str)],
}

impl Conventions {
    /// The binary, with the log variables cleared and stdin closed.
    pub fn command(&self) -> Command {
        let mut c = Command::new(self.bin);
        c.env_remove("PROCPULSE_LOG_FORMAT")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        c
    }

    /// `--version` prints the version line and exits 0.
    pub fn check_version(&self) {
        let out = self.command().arg("--version").output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{}\n", self.version_line)
        );
    }

    /// `-h` and `--help` succeed, name `--log-format`, never print a secret's value; the
    /// long help names each secret's variable, `RUST_LOG` and `PROCPULSE_LOG_FORMAT`.
    pub fn check_help(&self) {
        for (var, value) in self.secrets {
            assert!(
                value.contains(SECRET_MARK),
                "{var}'s test value lacks the mark"
            );
        }
        for flag in ["--help", "-h"] {
            let mut cmd = self.command();
            cmd.arg(flag).envs(self.secrets.iter().copied());
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{out:?}");
            let help = String::from_utf8_lossy(&out.stdout);
            assert!(
                !help.contains(SECRET_MARK),
                "{flag} printed a secret:\n{help}"
            );
            assert!(help.contains("--log-format"), "{help}");
            if flag == "--help" {
                for (var, _) in self.secrets {
                    assert!(help.contains(var), "{var} undocumented:\n{help}");
                }
                assert!(help.contains("RUST_LOG"), "{help}");
                assert!(help.contains("PROCPULSE_LOG_FORMAT"), "{help}");
            }
        }
    }

    /// Each bad value (and `--log-format yaml`) is a usage error, exit 2, whose message
    /// names what is expected.
    pub fn check_bad_values(&self) {
        let log_format: (&[&str], &str) =
            (&["--log-format", "yaml"], "[possible values: text, json]");
        for (args, listed) in self.bad_values.iter().copied().chain([log_format]) {
            let out = self.command().args(args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains(listed), "{args:?}: {err}");
        }
    }

    /// Runs `cmd` (from [`Conventions::command`], with the binary's own arguments) with
    /// `--log-format json` until it has written `lines` stderr lines, and checks each is a
    /// JSON log record.
    pub fn check_json_logs(&self, cmd: Command, lines: usize) {
        let got = json_log_lines(cmd, lines);
        assert!(got.len() >= lines, "too few log lines: {got:?}");
        for line in &got {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(
                v["level"].is_string() && v["fields"]["message"].is_string(),
                "{line}"
            );
        }
    }
}

/// Runs `cmd` with `--log-format json` until it has written `lines` lines to stderr (or
/// exited, or [`LOG_DEADLINE`] passed), then kills it and returns them.
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
    let deadline = Instant::now() + LOG_DEADLINE;
    let mut got = Vec::new();
    while got.len() < lines {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => got.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    got
}

/// The tests every binary's `tests/cli.rs` has, for its `Conventions` constant; the JSON log
/// test is written by each crate, with the arguments that make its binary log.
#[macro_export]
macro_rules! cli_convention_tests {
    ($cli:path) => {
        #[test]
        fn version_names_the_binary() {
            $cli.check_version();
        }

        #[test]
        fn help_documents_the_conventions_and_hides_secrets() {
            $cli.check_help();
        }

        #[test]
        fn wrong_values_are_usage_errors() {
            $cli.check_bad_values();
        }
    };
}
