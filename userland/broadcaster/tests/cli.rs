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
