//! `procpulse-stress`: see the crate docs and README.

use anyhow::Context;
use clap::Parser;
use procpulse_stress::{CHILD_ARG, Config, child};
use std::io::Write;
use std::time::Duration;

/// Puts a known load on this host and prints the created pids as one JSON line.
#[derive(Debug, Parser)]
#[command(name = "procpulse-stress", version, about)]
struct Args {
    /// Busy-looping threads (each burns one CPU).
    #[arg(long, env = "PROCPULSE_STRESS_CPUS", default_value_t = 0)]
    cpus: usize,
    /// MiB of RAM to allocate and touch.
    #[arg(long, env = "PROCPULSE_STRESS_RAM_MIB", default_value_t = 0)]
    ram_mib: usize,
    /// Zombie child processes.
    #[arg(long, env = "PROCPULSE_STRESS_ZOMBIES", default_value_t = 0)]
    zombies: usize,
    /// Stopped (SIGSTOP) child processes.
    #[arg(long, env = "PROCPULSE_STRESS_STOPPED", default_value_t = 0)]
    stopped: usize,
    /// Sleeping child processes.
    #[arg(long, env = "PROCPULSE_STRESS_SLEEPING", default_value_t = 0)]
    sleeping: usize,
    /// Idle threads in this process.
    #[arg(long, env = "PROCPULSE_STRESS_THREADS", default_value_t = 0)]
    threads: usize,
    /// Hold the load this many seconds (0 = until SIGTERM/SIGINT).
    #[arg(long, env = "PROCPULSE_STRESS_SECONDS", default_value_t = 0)]
    seconds: u64,
    #[command(flatten)]
    log: procpulse_service::telemetry::LogArgs,
}

fn main() -> anyhow::Result<()> {
    let mut argv = std::env::args();
    if argv.nth(1).as_deref() == Some(CHILD_ARG) {
        let role = argv
            .next()
            .as_deref()
            .and_then(child::Role::from_arg)
            .context("unknown helper role")?;
        child::run(role);
    }
    let a = Args::parse();
    procpulse_service::telemetry::install(&a.log);
    let config = Config {
        cpus: a.cpus,
        ram_mib: a.ram_mib,
        zombies: a.zombies,
        stopped: a.stopped,
        sleeping: a.sleeping,
        threads: a.threads,
        duration: (a.seconds > 0).then(|| Duration::from_secs(a.seconds)),
    };
    let signal = procpulse_stress::run(&config, |created| {
        let line = serde_json::to_string(created).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    })?;
    match signal {
        Some(sig) => tracing::info!(signal = %sig, "Signal received, load released"),
        None => tracing::info!("Time is up, load released"),
    }
    Ok(())
}
