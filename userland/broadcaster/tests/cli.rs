//! The command-line conventions every procpulse binary shares (procpulse_service::cli_check),
//! for procpulse-broadcaster.

use procpulse_service::cli_check::Conventions;

const CLI: Conventions = Conventions {
    bin: env!("CARGO_BIN_EXE_procpulse-broadcaster"),
    version_line: concat!("procpulse-broadcaster ", env!("CARGO_PKG_VERSION")),
    secrets: &[(
        "PROCPULSE_DATABASE_URL",
        "mysql://procpulse:S3cretPw@db.invalid:3306/procpulse",
    )],
    bad_values: &[
        (&["--poll-interval-ms", "5"], "10..=60000"),
        (&["--host-ttl", "1x"], "units d, h, m, s, ms"),
        (&["--host-ttl", "86400"], "got \"86400\""),
        (&["--stale-after-intervals", "0"], "1..=1000"),
        (
            &["--alertmanager-url", "ftp://am"],
            "not an http:// or https:// URL",
        ),
        (&["--alert-resend-interval", "500ms"], "at least 1s"),
    ],
};

procpulse_service::cli_convention_tests!(CLI);

#[test]
fn logs_are_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let mut cmd = CLI.command();
    cmd.args(["--listen", "127.0.0.1:0", "--database-url", &db]);
    CLI.check_json_logs(cmd, 1);
}

/// A bad rules file stops start-up with the file and line of the mistake (exit 1), and
/// receivers without rules are refused.
#[test]
fn a_bad_rules_file_is_a_start_up_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"HostHighCpu\"\nmetric = \"cpu\"\nthreshold = 90\n\n[[rule]]\nname = \"HostHighRam\"\nmetric = \"ram\"\nthreshold = 80\nclear = 95\n",
    )
    .unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let run = |args: &[&str]| {
        let out = CLI
            .command()
            .args(["--listen", "127.0.0.1:0", "--database-url", &db])
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--alert-rules", rules.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    let want = format!("{}:10: rule HostHighRam: clear 95 must be", rules.display());
    assert!(stderr.contains(&want), "{stderr}");
    assert!(!dir.path().join("cli.db").exists(), "nothing was started");

    let (code, stderr) = run(&["--alertmanager-url", "http://127.0.0.1:9093"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("need --alert-rules"), "{stderr}");
}
