//! `procpulse-loadgen collect|replay|run`: see the crate README.

use std::process::ExitCode;

use clap::Parser;
use procpulse_loadgen::cli::Cli;
use procpulse_loadgen::{LoadgenError, Verdict, run};

fn main() -> ExitCode {
    // Parse first: --help and bad flags exit here with clap's message (status 2).
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Verdict::Success) => ExitCode::SUCCESS,
        Ok(Verdict::Failed(why)) => {
            tracing::error!("FAILED: {why}");
            ExitCode::from(3)
        }
        Ok(Verdict::Interrupted) => {
            tracing::warn!("interrupted");
            ExitCode::from(130)
        }
        Err(e) => {
            if let LoadgenError::Goose {
                summary: Some(s), ..
            } = &e
            {
                println!("{s}");
            }
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The convention of every procpulse binary (procpulse-service's telemetry: stderr,
/// RUST_LOG, --log-format); errors, verdicts and progress lines are log events. goose
/// logs through the `log` crate; its records are forwarded into the same subscriber at
/// `warn` (one line per launched user at `info` would drown the progress lines), goose's
/// -v/-q moving its level (-q error, -v info, -vv debug, -vvv trace) when RUST_LOG is
/// unset. With --goose-log goose installs its own `log` logger (console +
/// file), so its lines are left to it.
fn init_logging(cli: &Cli) {
    use procpulse_service::telemetry::{LogCrate, install_with};
    let goose = cli.goose();
    let goose_level = match (goose.verbose, goose.quiet) {
        (0, 0) => "warn",
        (0, _) => "error",
        (1, _) => "info",
        (2, _) => "debug",
        _ => "trace",
    };
    let default = format!("info,goose={goose_level}");
    let log_crate = if goose.goose_log.is_some() {
        LogCrate::Leave
    } else {
        LogCrate::Forward
    };
    install_with(&cli.log, &default, log_crate);
}
