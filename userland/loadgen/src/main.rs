//! `procpulse-loadgen collect|replay|run`: see the crate README.

use std::process::ExitCode;

use clap::Parser;
use procpulse_loadgen::cli::Cli;
use procpulse_loadgen::{LoadgenError, Verdict, run};

fn main() -> ExitCode {
    // Parse first: --help and bad flags exit here with clap's message (status 2).
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("procpulse-loadgen: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Verdict::Success) => ExitCode::SUCCESS,
        Ok(Verdict::Failed(why)) => {
            eprintln!("procpulse-loadgen: FAILED: {why}");
            ExitCode::from(3)
        }
        Ok(Verdict::Interrupted) => {
            eprintln!("procpulse-loadgen: interrupted");
            ExitCode::from(130)
        }
        Err(e) => {
            if let LoadgenError::Goose {
                summary: Some(s), ..
            } = &e
            {
                println!("{s}");
            }
            eprintln!("procpulse-loadgen: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Our own tracing goes to stderr. goose logs through the `log` crate with its own
/// console logger (which honours -v/-q), so no `log` bridge is installed here.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROCPULSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}
