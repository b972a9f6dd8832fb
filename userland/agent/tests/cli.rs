//! The command-line conventions every procpulse binary shares (procpulse_service::cli_check),
//! for procpulse-agent.

use procpulse_service::cli_check::Conventions;

const CLI: Conventions = Conventions {
    bin: env!("CARGO_BIN_EXE_procpulse-agent"),
    version_line: concat!("procpulse-agent ", env!("CARGO_PKG_VERSION")),
    secrets: &[
        (
            "PROCPULSE_PUSH_URL",
            "https://agent:S3cretPw@ingest.invalid/api/v1/metrics",
        ),
        ("PROCPULSE_INGEST_TOKEN", "S3cretToken"),
    ],
    bad_values: &[(
        &["--source", "bogus"],
        "[possible values: auto, kmod, procfs]",
    )],
};

procpulse_service::cli_convention_tests!(CLI);

#[test]
fn logs_are_json_lines() {
    let mut cmd = CLI.command();
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--source",
        "procfs",
    ]);
    CLI.check_json_logs(cmd, 2);
}
