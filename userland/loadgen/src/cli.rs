//! Command-line flags: our Locust-style flags per subcommand, with goose's own
//! [`GooseConfiguration`] flattened in so every goose flag (`--report-file`,
//! `--threshold`, `--running-metrics`, `--request-log`, ...) passes straight through.
//!
//! goose already names the Locust basics the same way (`--host`/`-H`, `--users`/`-u`,
//! `--run-time`/`-t`); Locust's `--spawn-rate` maps onto goose's `--increase-rate`,
//! `--html FILE` onto `--report-file FILE`, and `--headless` is accepted and ignored
//! (goose never opens a UI unless asked with `--dashboard`). Since goose's flags carry no
//! environment fallback, [`PhaseDefaults`] fills the unset ones from `PROCPULSE_*`
//! variables and then from our defaults.

use std::fmt;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use goose::config::GooseConfiguration;

use crate::defaults::{
    AGENT_URL, COLLECT_USERS, COLLECT_WAIT, EnvDefault, INGRESS_URL, RECORDS, REPLAY_USERS,
    REPLAY_WAIT, RUN_TIME, TARGET_RECORDS, env_help,
};
use crate::tally::Tolerance;
use crate::wait::{WaitRange, parse_duration};

/// procpulse's two-phase load test on goose: `collect` snapshots from an agent into a
/// record file, `replay` them exactly once to the ingest split, or `run` both.
#[derive(Debug, Parser)]
#[command(name = "procpulse-loadgen", version, after_long_help = env_help())]
pub struct Cli {
    /// The phase to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log format and filter (global: also after the subcommand).
    #[command(flatten)]
    pub log: procpulse_service::telemetry::LogArgs,
}

impl Cli {
    /// goose's flags of the subcommand.
    pub fn goose(&self) -> &GooseConfiguration {
        match &self.command {
            Command::Collect(a) => &a.goose,
            Command::Replay(a) => &a.goose,
            Command::Run(a) => &a.goose,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Phase 1: users GET snapshots from an agent; keep the valid, unique ones in a file.
    #[command(after_long_help = env_help())]
    Collect(CollectArgs),
    /// Phase 2: users POST each record of the file exactly once to the ingest split.
    #[command(after_long_help = env_help())]
    Replay(ReplayArgs),
    /// Both phases in one go: collect from --agent, then replay to --ingress.
    #[command(after_long_help = env_help())]
    Run(RunArgs),
}

/// Locust's flag names, mapped onto goose's.
#[derive(Debug, Clone, Default, Args)]
pub struct LocustFlags {
    /// Locust's name for --increase-rate: users started per second.
    #[arg(long, value_name = "RATE", help_heading = "Locust compatibility")]
    pub spawn_rate: Option<String>,
    /// Locust's --html: write goose's HTML report to FILE (same as --report-file FILE).
    #[arg(long, value_name = "FILE", help_heading = "Locust compatibility")]
    pub html: Option<String>,
    /// Accepted for Locust compatibility; goose has no UI unless --dashboard is given.
    #[arg(long, help_heading = "Locust compatibility")]
    pub headless: bool,
    /// Locust's --csv: write PREFIX_stats.csv and PREFIX_stats_history.csv (Locust 2.x
    /// columns; rewritten/appended every second). `run` writes PREFIX.collect_* and
    /// PREFIX.replay_*.
    #[arg(long, value_name = "PREFIX", help_heading = "Locust compatibility")]
    pub csv: Option<String>,
}

/// The progress line on stderr (shared by every phase).
#[derive(Debug, Clone, Args)]
pub struct ProgressFlags {
    /// Log a progress line (done/target, rate, elapsed, errors, ETA) this often while a
    /// phase runs; 0 turns it off.
    #[arg(long, value_name = "TIME", env = "PROCPULSE_LOADGEN_PROGRESS_INTERVAL",
          default_value = crate::progress::DEFAULT_INTERVAL, value_parser = parse_duration)]
    pub progress_interval: std::time::Duration,
}

/// `collect` flags.
#[derive(Clone, Args)]
pub struct CollectArgs {
    /// Wait after each request, uniformly in MIN..MAX (Locust's between()).
    #[arg(
        long,
        value_name = "MIN..MAX",
        env = COLLECT_WAIT.var,
        default_value = COLLECT_WAIT.default
    )]
    pub wait: WaitRange,
    /// Stop once this many valid, unique records are collected.
    #[arg(long, value_name = "N", env = TARGET_RECORDS.var,
          default_value = TARGET_RECORDS.default,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub target_records: u64,
    /// The record file to write (atomically, when the phase ends).
    #[arg(
        long,
        value_name = "FILE",
        env = RECORDS.var,
        default_value = RECORDS.default
    )]
    pub out: PathBuf,
    /// The agent's snapshot route.
    #[arg(long, value_name = "PATH", default_value = "/api/v1/snapshot")]
    pub path: String,
    /// Progress reporting.
    #[command(flatten)]
    pub progress: ProgressFlags,
    /// Locust's flag names.
    #[command(flatten)]
    pub locust: LocustFlags,
    /// goose's own flags.
    #[command(flatten)]
    pub goose: GooseConfiguration,
}

/// `replay` flags.
#[derive(Clone, Args)]
pub struct ReplayArgs {
    /// The record file to send.
    #[arg(
        long = "in",
        value_name = "FILE",
        env = RECORDS.var,
        default_value = RECORDS.default
    )]
    pub input: PathBuf,
    /// How records are sent.
    #[command(flatten)]
    pub send: SendFlags,
    /// Locust's flag names.
    #[command(flatten)]
    pub locust: LocustFlags,
    /// goose's own flags.
    #[command(flatten)]
    pub goose: GooseConfiguration,
}

/// How replay sends (shared by `replay` and `run`).
#[derive(Debug, Clone, Args)]
pub struct SendFlags {
    /// Wait after each record, uniformly in MIN..MAX (Locust's between()).
    #[arg(
        long = "wait",
        id = "replay_wait",
        value_name = "MIN..MAX",
        env = REPLAY_WAIT.var,
        default_value = REPLAY_WAIT.default
    )]
    pub wait: WaitRange,
    /// Keep sending the records again with fresh sample_ids (soak test) until --run-time
    /// or Ctrl-C.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Fail (exit 3) when a route's share is further than this from an even split.
    #[arg(
        long,
        value_name = "PERCENT",
        env = "PROCPULSE_LOADGEN_SPLIT_TOLERANCE"
    )]
    pub split_tolerance: Option<Tolerance>,
    /// The routes the split is expected to spread records over (for --split-tolerance).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "a,b"
    )]
    pub routes: Vec<String>,
    /// Progress reporting.
    #[command(flatten)]
    pub progress: ProgressFlags,
    /// Print a progress line (stdout) every N acknowledged records.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub progress_every: u64,
    /// Give a record up after this many failed attempts (503s included).
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Longest Retry-After honoured; longer ones are capped to this.
    #[arg(long, value_name = "TIME", default_value = "30s", value_parser = parse_duration)]
    pub max_retry_after: std::time::Duration,
    /// Bearer token ingest requires, if any.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PROCPULSE_INGEST_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The ingest route records are posted to.
    #[arg(
        long = "ingest-path",
        value_name = "PATH",
        default_value = "/api/v1/metrics"
    )]
    pub path: String,
}

/// `run` flags.
#[derive(Clone, Args)]
pub struct RunArgs {
    /// The agent to collect from.
    #[arg(
        long,
        value_name = "URL",
        env = AGENT_URL.var,
        default_value = AGENT_URL.default,
        hide_env_values = true
    )]
    pub agent: String,
    /// The ingress (split) to replay to.
    #[arg(
        long,
        value_name = "URL",
        env = INGRESS_URL.var,
        default_value = INGRESS_URL.default,
        hide_env_values = true
    )]
    pub ingress: String,
    /// Users of the collect phase.
    #[arg(
        long,
        value_name = "N",
        env = COLLECT_USERS.var,
        default_value = COLLECT_USERS.default
    )]
    pub collect_users: usize,
    /// Users of the replay phase.
    #[arg(
        long,
        value_name = "N",
        env = REPLAY_USERS.var,
        default_value = REPLAY_USERS.default
    )]
    pub replay_users: usize,
    /// Longest the collect phase runs.
    #[arg(
        long,
        value_name = "TIME",
        env = RUN_TIME.var,
        default_value = RUN_TIME.default
    )]
    pub collect_run_time: String,
    /// Wait of the collect phase.
    #[arg(
        long,
        value_name = "MIN..MAX",
        env = COLLECT_WAIT.var,
        default_value = COLLECT_WAIT.default
    )]
    pub collect_wait: WaitRange,
    /// Stop collecting once this many valid, unique records are collected.
    #[arg(long, value_name = "N", env = TARGET_RECORDS.var,
          default_value = TARGET_RECORDS.default,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub target_records: u64,
    /// The record file written by collect and read by replay.
    #[arg(
        long,
        value_name = "FILE",
        env = RECORDS.var,
        default_value = RECORDS.default
    )]
    pub records: PathBuf,
    /// How records are sent.
    #[command(flatten)]
    pub send: SendFlags,
    /// Locust's flag names.
    #[command(flatten)]
    pub locust: LocustFlags,
    /// goose's own flags (applied to both phases; report files get a `.collect` /
    /// `.replay` suffix before their extension).
    #[command(flatten)]
    pub goose: GooseConfiguration,
}

// GooseConfiguration has no Debug; show ours and summarise goose's.
macro_rules! debug_without_goose {
    ($t:ty, $($field:ident),*) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($field), &self.$field))*
                    .field("goose", &GooseSummary(&self.goose))
                    .finish()
            }
        }
    };
}
debug_without_goose!(
    CollectArgs,
    wait,
    target_records,
    out,
    path,
    progress,
    locust
);
debug_without_goose!(ReplayArgs, input, send, locust);
debug_without_goose!(
    RunArgs,
    agent,
    ingress,
    collect_users,
    replay_users,
    collect_run_time,
    collect_wait,
    target_records,
    records,
    send,
    locust
);

struct GooseSummary<'a>(&'a GooseConfiguration);

impl fmt::Debug for GooseSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GooseConfiguration")
            .field("host", &self.0.host)
            .field("users", &self.0.users)
            .field("increase_rate", &self.0.increase_rate)
            .field("run_time", &self.0.run_time)
            .field("report_file", &self.0.report_file)
            .finish_non_exhaustive()
    }
}

/// A flag combination we refuse before goose sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FlagError(pub String);

/// Defaults of one phase for goose's flags, with their environment fallbacks.
#[derive(Debug, Clone)]
pub struct PhaseDefaults {
    /// Host when `--host` is absent.
    pub host: String,
    /// Users when `--users` is absent.
    pub users: usize,
    /// Run time when `--run-time` is absent (`None`: until done).
    pub run_time: Option<String>,
}

impl PhaseDefaults {
    /// The collect phase: [`AGENT_URL`], [`COLLECT_USERS`] and [`RUN_TIME`], each from
    /// `lookup` (an environment) or its default.
    pub fn collect(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, FlagError> {
        Ok(PhaseDefaults {
            host: AGENT_URL.value(lookup),
            users: users(&COLLECT_USERS, lookup)?,
            run_time: Some(RUN_TIME.value(lookup)),
        })
    }

    /// The replay phase: [`INGRESS_URL`] and [`REPLAY_USERS`] from `lookup` or their
    /// defaults, running until every record is sent.
    pub fn replay(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, FlagError> {
        Ok(PhaseDefaults {
            host: INGRESS_URL.value(lookup),
            users: users(&REPLAY_USERS, lookup)?,
            run_time: None,
        })
    }

    /// [`PhaseDefaults::collect`] from this process's environment.
    pub fn collect_from_env() -> Result<Self, FlagError> {
        Self::collect(&process_env)
    }

    /// [`PhaseDefaults::replay`] from this process's environment.
    pub fn replay_from_env() -> Result<Self, FlagError> {
        Self::replay(&process_env)
    }
}

/// Checks the values of goose's environment fallbacks in `lookup` as the phases would
/// read them (for deployment checks: clap does not read these variables).
pub fn check_goose_fallbacks(lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), FlagError> {
    PhaseDefaults::collect(lookup)?;
    PhaseDefaults::replay(lookup)?;
    Ok(())
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn users(d: &EnvDefault, lookup: &dyn Fn(&str) -> Option<String>) -> Result<usize, FlagError> {
    let v = d.value(lookup);
    v.parse()
        .map_err(|_| FlagError(format!("{}={v:?} is not a number of users", d.var)))
}

/// Applies the Locust aliases and the phase defaults to goose's configuration.
pub fn resolve(
    mut goose: GooseConfiguration,
    locust: &LocustFlags,
    defaults: &PhaseDefaults,
) -> Result<GooseConfiguration, FlagError> {
    if let Some(rate) = &locust.spawn_rate {
        if goose.increase_rate.is_some() {
            return Err(FlagError(
                "--spawn-rate is Locust's name for --increase-rate: give only one".into(),
            ));
        }
        goose.increase_rate = Some(rate.clone());
    }
    if let Some(html) = &locust.html {
        goose.report_file.push(html.clone());
    }
    // goose refuses --users, rates and --run-time next to a --test-plan, and --run-time
    // next to --iterations; only fill in what goose would accept. (`test_plan` is private
    // to goose, so ask its serialised form whether one was given.)
    let has_plan = serde_json::to_value(&goose)
        .ok()
        .and_then(|v| v.get("test_plan").map(|p| !p.is_null()))
        .unwrap_or(false);
    if goose.host.is_none() {
        goose.host = Some(defaults.host.clone());
    }
    if !has_plan {
        let users = *goose.users.get_or_insert(defaults.users);
        if goose.increase_rate.is_none() && goose.increase_time.is_none() {
            goose.increase_rate = Some(users.max(1).to_string());
        }
        if goose.run_time.is_none() && goose.iterations.is_none() {
            goose.run_time = defaults.run_time.clone();
        }
    }
    Ok(goose)
}

/// Builds one phase's configuration of `run` from the shared goose flags.
pub fn resolve_run_phase(
    goose: &GooseConfiguration,
    locust: &LocustFlags,
    phase: &str,
    host: &str,
    users: usize,
    run_time: Option<String>,
) -> Result<GooseConfiguration, FlagError> {
    for (given, flag, ours) in [
        (goose.host.is_some(), "--host", "--agent / --ingress"),
        (
            goose.users.is_some(),
            "--users",
            "--collect-users / --replay-users",
        ),
        (goose.run_time.is_some(), "--run-time", "--collect-run-time"),
    ] {
        if given {
            return Err(FlagError(format!(
                "run takes {ours} in place of goose's {flag} (the phases differ)"
            )));
        }
    }
    let mut g = goose.clone();
    let mut locust = locust.clone();
    locust.html = locust.html.map(|f| with_phase_suffix(&f, phase));
    g.report_file = g
        .report_file
        .iter()
        .map(|f| with_phase_suffix(f, phase))
        .collect();
    let defaults = PhaseDefaults {
        host: host.to_owned(),
        users,
        run_time,
    };
    resolve(g, &locust, &defaults)
}

/// `report.html` → `report.collect.html`; a bare `--report-file` (goose's run-folder
/// marker) is kept.
pub fn with_phase_suffix(file: &str, phase: &str) -> String {
    if file == goose::config::RUN_FOLDER {
        return file.to_owned();
    }
    let path = std::path::Path::new(file);
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) => path
            .with_file_name(format!(
                "{}.{phase}.{}",
                stem.to_string_lossy(),
                ext.to_string_lossy()
            ))
            .to_string_lossy()
            .into_owned(),
        _ => format!("{file}.{phase}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("procpulse-loadgen").chain(args.iter().copied()))
    }

    fn collect(args: &[&str]) -> CollectArgs {
        match parse(&[&["collect"], args].concat()).unwrap().command {
            Command::Collect(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn defaults() -> PhaseDefaults {
        PhaseDefaults::collect(&|_| None).unwrap()
    }

    #[test]
    fn phase_defaults_come_from_the_environment_or_the_one_table() {
        let d = defaults();
        assert_eq!(d.host, AGENT_URL.default);
        assert_eq!((d.users, d.run_time.as_deref()), (300, Some("3m")));
        let r = PhaseDefaults::replay(&|_| None).unwrap();
        assert_eq!(
            (r.host.as_str(), r.users, r.run_time),
            (INGRESS_URL.default, 150, None)
        );
        let env = |k: &str| (k == REPLAY_USERS.var).then(|| "12".to_owned());
        assert_eq!(PhaseDefaults::replay(&env).unwrap().users, 12);
        let bad = |k: &str| (k == COLLECT_USERS.var).then(|| "many".to_owned());
        let e = check_goose_fallbacks(&bad).unwrap_err();
        assert_eq!(
            e.0,
            "PROCPULSE_LOADGEN_COLLECT_USERS=\"many\" is not a number of users"
        );
        check_goose_fallbacks(&|_| None).unwrap();
    }

    #[test]
    fn run_flags_default_to_the_same_values_as_the_phases() {
        let Command::Run(r) = parse(&["run"]).unwrap().command else {
            panic!()
        };
        let (c, p) = (defaults(), PhaseDefaults::replay(&|_| None).unwrap());
        assert_eq!((r.agent, r.collect_users), (c.host, c.users));
        assert_eq!((r.ingress, r.replay_users), (p.host, p.users));
        assert_eq!(Some(r.collect_run_time), c.run_time);
        let Command::Collect(k) = parse(&["collect"]).unwrap().command else {
            panic!()
        };
        assert_eq!(
            (k.wait, k.target_records, k.out),
            (r.collect_wait, r.target_records, r.records)
        );
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn issue_example_parses_and_maps_onto_goose() {
        let c = collect(&[
            "--host",
            "http://127.0.0.1:5200",
            "--users",
            "300",
            "--increase-rate",
            "20",
            "--run-time",
            "3m",
            "--wait",
            "1s..2s",
            "--target-records",
            "2000",
            "--out",
            "records.ndjson",
            "--report-file",
            "r.html",
        ]);
        assert_eq!(c.target_records, 2000);
        assert_eq!(c.wait.to_string(), "1s..2s");
        let g = resolve(c.goose, &c.locust, &defaults()).unwrap();
        assert_eq!(g.host.as_deref(), Some("http://127.0.0.1:5200"));
        assert_eq!(g.users, Some(300));
        assert_eq!(g.increase_rate.as_deref(), Some("20"));
        assert_eq!(g.run_time.as_deref(), Some("3m"));
        assert_eq!(g.report_file, vec!["r.html".to_owned()]);
    }

    #[test]
    fn locust_names_map_onto_goose() {
        let c = collect(&[
            "-u",
            "10",
            "--spawn-rate",
            "5",
            "-t",
            "20s",
            "--html",
            "x.html",
            "--headless",
        ]);
        let g = resolve(c.goose, &c.locust, &defaults()).unwrap();
        assert_eq!(g.users, Some(10));
        assert_eq!(g.increase_rate.as_deref(), Some("5"));
        assert_eq!(g.run_time.as_deref(), Some("20s"));
        assert_eq!(g.report_file, vec!["x.html".to_owned()]);
        let c = collect(&["--spawn-rate", "5", "--increase-rate", "6"]);
        assert!(resolve(c.goose, &c.locust, &defaults()).is_err());
    }

    #[test]
    fn defaults_fill_only_what_goose_allows() {
        let c = collect(&[]);
        let g = resolve(c.goose, &c.locust, &defaults()).unwrap();
        assert_eq!(g.users, Some(300));
        assert_eq!(g.increase_rate.as_deref(), Some("300"));
        assert_eq!(g.run_time.as_deref(), Some("3m"));
        let c = collect(&["--iterations", "2", "--increase-time", "5s"]);
        let g = resolve(c.goose, &c.locust, &defaults()).unwrap();
        assert_eq!((g.run_time, g.increase_rate), (None, None));
        let c = collect(&["--test-plan", "10,5s;0,1s"]);
        let g = resolve(c.goose, &c.locust, &defaults()).unwrap();
        assert_eq!((g.users, g.run_time), (None, None));
    }

    #[test]
    fn goose_flags_pass_through() {
        let c = collect(&[
            "--threshold",
            "error-rate<1%",
            "--running-metrics",
            "5",
            "--request-log",
            "req.csv",
            "--no-reset-metrics",
            "-q",
        ]);
        assert_eq!(c.goose.threshold, vec!["error-rate<1%".to_owned()]);
        assert_eq!(c.goose.running_metrics, Some(5));
        assert_eq!(c.goose.request_log.as_deref(), Some("req.csv"));
        assert!(c.goose.no_reset_metrics);
        assert_eq!(c.goose.quiet, 1);
    }

    #[test]
    fn bad_flags_are_clear_errors() {
        for args in [
            &["collect", "--wait", "2s..1s"][..],
            &["collect", "--target-records", "0"],
            &["collect", "--users", "many"],
            &["replay", "--split-tolerance", "lots"],
            &["replay", "--bogus"],
            &["fly"],
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.use_stderr(), "{args:?}");
            assert_ne!(e.exit_code(), 0);
        }
    }

    #[test]
    fn replay_flags() {
        let Command::Replay(r) = parse(&[
            "replay",
            "--host",
            "http://127.0.0.1:8080",
            "--users",
            "150",
            "--wait",
            "1s..4s",
            "--in",
            "records.ndjson",
            "--split-tolerance",
            "2%",
            "--loop",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert_eq!(r.input, PathBuf::from("records.ndjson"));
        assert_eq!(r.send.split_tolerance, Some(Tolerance(2.0)));
        assert_eq!(r.send.routes, vec!["a".to_owned(), "b".to_owned()]);
        assert!(r.send.looping);
        assert_eq!(r.send.wait.to_string(), "1s..4s");
    }

    #[test]
    fn run_phases_get_their_own_hosts_and_reports() {
        let Command::Run(r) = parse(&[
            "run",
            "--agent",
            "http://127.0.0.1:1",
            "--ingress",
            "http://127.0.0.1:2",
            "--report-file",
            "out/report.html",
            "--html",
            "l.html",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        let g = resolve_run_phase(
            &r.goose,
            &r.locust,
            "collect",
            &r.agent,
            300,
            Some("3m".into()),
        )
        .unwrap();
        assert_eq!(g.host.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(
            g.report_file,
            vec![
                "out/report.collect.html".to_owned(),
                "l.collect.html".to_owned()
            ]
        );
        let Command::Run(r) = parse(&["run", "--users", "3"]).unwrap().command else {
            panic!()
        };
        let e = resolve_run_phase(&r.goose, &r.locust, "replay", "h", 1, None).unwrap_err();
        assert!(e.0.contains("--replay-users"), "{e}");
    }

    #[test]
    fn phase_suffix() {
        assert_eq!(with_phase_suffix("r.json", "replay"), "r.replay.json");
        assert_eq!(with_phase_suffix("dir/r", "replay"), "dir/r.replay");
        assert_eq!(
            with_phase_suffix(goose::config::RUN_FOLDER, "x"),
            goose::config::RUN_FOLDER
        );
    }
}
