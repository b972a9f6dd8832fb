//! The command-line conventions every procpulse binary shares (procpulse_service::cli_check),
//! for procpulse-stress.

use procpulse_service::cli_check::Conventions;

const CLI: Conventions = Conventions {
    bin: env!("CARGO_BIN_EXE_procpulse-stress"),
    version_line: concat!("procpulse-stress ", env!("CARGO_PKG_VERSION")),
    secrets: &[],
    bad_values: &[(&["--cpus", "lots"], "invalid value 'lots'")],
};

#[test]
fn version_names_the_binary() {
    CLI.check_version();
}

#[test]
fn help_documents_the_conventions_and_hides_secrets() {
    CLI.check_help();
}

#[test]
fn wrong_values_are_usage_errors() {
    CLI.check_bad_values();
}

#[test]
fn logs_are_json_lines() {
    let mut cmd = CLI.command();
    cmd.args(["--seconds", "1"]);
    CLI.check_json_logs(cmd, 1);
}
