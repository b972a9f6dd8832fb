//! procpulse-loadgen: the two-phase load test of procpulse (docs/design.md §1) on goose 0.19, with
//! Locust-style flags.
//!
//! - [`collect`](mod@collect): many users GET snapshots from an agent and keep the valid,
//!   unique ones in a record file, until a target count or the run time.
//! - [`replay`](mod@replay): users POST every record of the file exactly once to the
//!   ingest split and tally which route acknowledged each.
//! - `run`: both, one after the other.
//!
//! It is a load generator, not a monitor: it checks what it sends and receives (snapshot
//! validity, acknowledgements, the route split) but stores nothing except the record
//! file. The goose model and its limits are explained in the crate README.

pub mod cli;
pub mod collect;
pub mod cursor;
pub mod defaults;
pub mod locust_csv;
pub mod preflight;
pub mod progress;
pub mod records;
pub mod replay;
pub mod tally;
pub mod wait;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use goose::GooseError;

use crate::cli::{Cli, Command, FlagError, PhaseDefaults, resolve, resolve_run_phase};
use crate::collect::{CollectPlan, collect};
use crate::records::read_records;
use crate::replay::{ReplayPlan, replay};

/// Why a phase could not run (or failed badly). Each maps to exit status 1.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// A flag combination we refuse.
    #[error(transparent)]
    Flags(#[from] FlagError),
    /// The target does not answer.
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    /// The record file is unreadable or incomplete.
    #[error(transparent)]
    Read(#[from] records::ReadError),
    /// The record file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// goose refused the configuration or a threshold failed.
    #[error("{message}")]
    Goose {
        /// goose's error, with its detail.
        message: String,
        /// What the phase did before it failed, if it ran.
        summary: Option<String>,
    },
}

/// Creates the Locust CSV files of `--csv PREFIX` (headers only) before a phase starts.
pub(crate) fn csv_files(
    prefix: &str,
) -> Result<(Arc<locust_csv::CsvFiles>, [PathBuf; 2]), LoadgenError> {
    let (files, paths) =
        locust_csv::CsvFiles::create(prefix).map_err(|source| LoadgenError::Write {
            path: format!("{prefix}_stats*.csv").into(),
            source,
        })?;
    Ok((Arc::new(files), paths))
}

/// Turns a goose error into ours, keeping the detail goose's `Display` leaves out.
pub fn goose_error(e: GooseError) -> LoadgenError {
    let message = match &e {
        GooseError::InvalidOption {
            option,
            value,
            detail,
        } => format!("invalid goose option {option} {value:?}: {detail}"),
        GooseError::InvalidHost { host, detail, .. } => {
            format!("invalid host {host:?}: {detail} ({e})")
        }
        GooseError::InvalidWaitTime { detail, .. } => format!("invalid wait: {detail}"),
        GooseError::FeatureNotEnabled { feature, detail } => {
            format!("goose feature {feature} is not built in: {detail}")
        }
        GooseError::ThresholdsFailed { failed, .. } => format!(
            "threshold failed: {}",
            failed
                .iter()
                .map(|r| format!("{} (observed {})", r.rule, r.observed))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => other.to_string(),
    };
    LoadgenError::Goose {
        message,
        summary: None,
    }
}

/// How a phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseEnd {
    /// Its goal was met (target collected / every record finished).
    Done,
    /// `--run-time` (or `--iterations`, or a test plan) ran out first.
    RunOut,
    /// Ctrl-C (or a goose controller) stopped it.
    Interrupted,
    /// A `--threshold` failed.
    ThresholdFailed,
}

impl fmt::Display for PhaseEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhaseEnd::Done => "done",
            PhaseEnd::RunOut => "run time over",
            PhaseEnd::Interrupted => "interrupted",
            PhaseEnd::ThresholdFailed => "threshold failed",
        })
    }
}

/// Decides how a goose run ended: our own goal first, then a threshold, then the
/// killswitch (which after `execute` returns is still set when Ctrl-C pulled it).
pub(crate) fn phase_end<T>(result: &Result<T, GooseError>, goal_met: bool) -> PhaseEnd {
    if goal_met {
        PhaseEnd::Done
    } else if matches!(result, Err(GooseError::ThresholdsFailed { .. })) {
        PhaseEnd::ThresholdFailed
    } else if goose::is_killswitch_triggered() {
        PhaseEnd::Interrupted
    } else {
        PhaseEnd::RunOut
    }
}

/// The verdict of a whole command, for the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything asked for happened (exit 0).
    Success,
    /// It ran, but the result is not what was asked for (exit 3).
    Failed(String),
    /// Ctrl-C (exit 130).
    Interrupted,
}

/// Runs the parsed command line, printing progress and summaries to stdout.
pub async fn run(cli: Cli) -> Result<Verdict, LoadgenError> {
    match cli.command {
        Command::Collect(args) => {
            let goose = resolve(
                args.goose,
                &args.locust,
                &PhaseDefaults::collect_from_env()?,
            )?;
            run_collect(CollectPlan {
                goose,
                wait: args.wait,
                target_records: args.target_records,
                out: args.out,
                path: args.path,
                progress_interval: args.progress.progress_interval,
                csv: args.locust.csv,
            })
            .await
        }
        Command::Replay(args) => {
            let goose = resolve(args.goose, &args.locust, &PhaseDefaults::replay_from_env()?)?;
            let records = read_records(&args.input)?;
            println!(
                "replay: {} records from {}",
                records.len(),
                args.input.display()
            );
            run_replay(replay_plan(
                goose,
                Arc::new(records),
                &args.send,
                args.locust.csv,
            ))
            .await
        }
        Command::Run(args) => {
            let collect_goose = resolve_run_phase(
                &args.goose,
                &args.locust,
                "collect",
                &args.agent,
                args.collect_users,
                Some(args.collect_run_time.clone()),
            )?;
            let replay_goose = resolve_run_phase(
                &args.goose,
                &args.locust,
                "replay",
                &args.ingress,
                args.replay_users,
                None,
            )?;
            // Fail fast on the second phase's target too, before collecting for minutes.
            preflight::check_reachable(&args.ingress).await?;
            let verdict = run_collect(CollectPlan {
                goose: collect_goose,
                wait: args.collect_wait,
                target_records: args.target_records,
                out: args.records.clone(),
                path: "/api/v1/snapshot".into(),
                progress_interval: args.send.progress.progress_interval,
                csv: run_csv(&args.locust, "collect"),
            })
            .await?;
            if verdict != Verdict::Success {
                return Ok(verdict);
            }
            let records = read_records(&args.records)?;
            run_replay(replay_plan(
                replay_goose,
                Arc::new(records),
                &args.send,
                run_csv(&args.locust, "replay"),
            ))
            .await
        }
    }
}

/// `run`'s CSV prefix of one phase: `PREFIX.collect`, `PREFIX.replay`.
fn run_csv(locust: &cli::LocustFlags, phase: &str) -> Option<String> {
    locust.csv.as_ref().map(|p| format!("{p}.{phase}"))
}

fn replay_plan(
    goose: goose::config::GooseConfiguration,
    records: Arc<Vec<records::Record>>,
    send: &cli::SendFlags,
    csv: Option<String>,
) -> ReplayPlan {
    ReplayPlan {
        goose,
        records,
        wait: send.wait,
        looping: send.looping,
        progress_every: send.progress_every,
        max_attempts: send.max_attempts,
        max_retry_after: send.max_retry_after,
        token: send.token.clone(),
        path: send.path.clone(),
        split: send.split_tolerance.map(|tol| (send.routes.clone(), tol)),
        progress_interval: send.progress.progress_interval,
        csv,
    }
}

async fn run_collect(plan: CollectPlan) -> Result<Verdict, LoadgenError> {
    let host = plan.goose.host.clone().unwrap_or_default();
    preflight::check_reachable(&host).await?;
    println!(
        "collect: {} users, {} per second, against {host}{} for up to {}; target {} records -> {}",
        plan.goose
            .users
            .map_or("goose's default".into(), |u| u.to_string()),
        plan.goose
            .increase_rate
            .as_deref()
            .unwrap_or("goose's default rate of"),
        plan.path,
        plan.goose.run_time.as_deref().unwrap_or("no time limit"),
        plan.target_records,
        plan.out.display()
    );
    let out = plan.out.clone();
    let report = collect(plan).await?;
    println!("{}", report.summary(&out));
    Ok(if report.end == PhaseEnd::Interrupted {
        Verdict::Interrupted
    } else if report.written == 0 {
        Verdict::Failed(format!(
            "no valid snapshot was collected ({} requests, {} invalid, {} failed)",
            report.requests, report.invalid, report.failed
        ))
    } else {
        if report.written < report.target_records {
            println!(
                "collect: warning: the run ended with {} of the {} records asked for",
                report.written, report.target_records
            );
        }
        Verdict::Success
    })
}

async fn run_replay(plan: ReplayPlan) -> Result<Verdict, LoadgenError> {
    let host = plan.goose.host.clone().unwrap_or_default();
    preflight::check_reachable(&host).await?;
    println!(
        "replay: {} users against {host}{}{}",
        plan.goose
            .users
            .map_or("goose's default".into(), |u| u.to_string()),
        plan.path,
        if plan.looping {
            " (looping with fresh sample_ids)"
        } else {
            ""
        }
    );
    let report = replay(plan).await?;
    println!("{}", report.render());
    Ok(if report.end == PhaseEnd::Interrupted {
        Verdict::Interrupted
    } else if report.success() {
        Verdict::Success
    } else {
        Verdict::Failed(format!(
            "{} of {} records acknowledged, {} rejected, {} given up{}",
            report.tally.acked(),
            report.records,
            report.tally.rejected,
            report.tally.gave_up,
            match &report.split {
                Some(Err(e)) => format!("; {e}"),
                _ => String::new(),
            }
        ))
    })
}
