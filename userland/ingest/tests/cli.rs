//! The command-line conventions every procpulse binary shares (procpulse_service::cli_check),
//! for procpulse-ingest.

use procpulse_service::cli_check::Conventions;

const CLI: Conventions = Conventions {
    bin: env!("CARGO_BIN_EXE_procpulse-ingest"),
    version_line: concat!("procpulse-ingest ", env!("CARGO_PKG_VERSION")),
    secrets: &[
        (
            "PROCPULSE_DATABASE_URL",
            "mysql://procpulse:S3cretPw@db.invalid:3306/procpulse",
        ),
        ("PROCPULSE_INGEST_TOKEN", "S3cretToken"),
    ],
    bad_values: &[
        (
            &["--route", "a b"],
            "a route is 1-16 characters of [A-Za-z0-9_-]",
        ),
        (&["--route", ""], "a route is 1-16 characters"),
        (
            &["--write-mode", "fast"],
            "[possible values: direct, batched]",
        ),
        (&["--retention", "7x"], "expected a duration such as 7d"),
        (&["--retention", "5000000d"], "at most 1000 years"),
        (&["--maintenance-interval", "0"], "must be longer than 0"),
        (
            &["--maintenance-delete-batch", "0"],
            "a number of rows, at least 1",
        ),
    ],
};

procpulse_service::cli_convention_tests!(CLI);

#[test]
fn logs_are_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let mut cmd = CLI.command();
    cmd.args(["--listen", "127.0.0.1:0", "--database-url", &db]);
    CLI.check_json_logs(cmd, 2);
}
