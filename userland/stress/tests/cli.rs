//! The command-line conventions every procpulse binary shares (procpulse_service::cli_check),
//! for procpulse-stress.

use procpulse_service::cli_check::Conventions;

const CLI: Conventions = Conventions {
    bin: env!("CARGO_BIN_EXE_procpulse-stress"),
    version_line: concat!("procpulse-stress ", env!("CARGO_PKG_VERSION")),
    secrets: &[],
    bad_values: &[(&["--cpus", "lots"], "invalid value 'lots'")],
};

procpulse_service::cli_convention_tests!(CLI);

#[test]
fn logs_are_json_lines() {
    let mut cmd = CLI.command();
    cmd.args(["--seconds", "1"]);
    CLI.check_json_logs(cmd, 1);
}
