//! The command-line conventions every procpulse binary shares (procpulse_service::cli_check),
//! for procpulse-kmod-check.

use procpulse_service::cli_check::Conventions;

const CLI: Conventions = Conventions {
    bin: env!("CARGO_BIN_EXE_procpulse-kmod-check"),
    version_line: concat!("procpulse-kmod-check ", env!("CARGO_PKG_VERSION")),
    secrets: &[],
    bad_values: &[(&["ram", "--tries", "x"], "invalid value 'x'")],
};

procpulse_service::cli_convention_tests!(CLI);

#[test]
fn logs_are_json_lines() {
    // Without the modules (or with them) the check ends at once and logs its end.
    let mut cmd = CLI.command();
    cmd.arg("fields");
    CLI.check_json_logs(cmd, 1);
}
