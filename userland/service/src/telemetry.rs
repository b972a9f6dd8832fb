//! The one logging convention of every procpulse binary: tracing to **stderr**, one line
//! per event; the level filter comes from `RUST_LOG` (default `info`); the format from
//! `--log-format text|json` (env `PROCPULSE_LOG_FORMAT`, default `text`). Each binary
//! flattens [`LogArgs`] into its flags, so the switch and the variable are documented in
//! every `--help`, and calls [`install`] right after parsing them.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

/// The variable holding the level filter (tracing's `EnvFilter` syntax).
pub const FILTER_ENV: &str = "RUST_LOG";

/// The filter when [`FILTER_ENV`] is unset or invalid.
pub const DEFAULT_FILTER: &str = "info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields.message`, other fields).
    Json,
}

/// The logging flags every binary flattens into its own (global to its subcommands).
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// Log format on stderr: text, or json (one object per line). The level filter is
    /// RUST_LOG (default info; e.g. RUST_LOG=warn, RUST_LOG=debug).
    #[arg(
        long,
        env = "PROCPULSE_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true,
        help_heading = "Logging"
    )]
    pub log_format: LogFormat,
}

/// Where `log`-crate records (libraries that use `log` rather than `tracing`) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogCrate {
    /// Forwarded into tracing, so they share the format and the filter.
    Forward,
    /// Left alone (a library installs its own `log` logger).
    Leave,
}

/// Installs the global subscriber with [`DEFAULT_FILTER`], forwarding the `log` crate.
/// Safe to call more than once: later calls do nothing.
pub fn install(args: &LogArgs) {
    install_with(args, DEFAULT_FILTER, LogCrate::Forward);
}

/// [`install`] with another default filter (used when `RUST_LOG` is unset or invalid)
/// and a choice for `log`-crate records.
pub fn install_with(args: &LogArgs, default_filter: &str, log_crate: LogCrate) {
    let filter =
        EnvFilter::try_from_env(FILTER_ENV).unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    if log_crate == LogCrate::Forward {
        let _ = match args.log_format {
            LogFormat::Json => builder.json().try_init(),
            LogFormat::Text => builder.try_init(),
        };
    } else {
        let _ = match args.log_format {
            LogFormat::Json => tracing::subscriber::set_global_default(builder.json().finish()),
            LogFormat::Text => tracing::subscriber::set_global_default(builder.finish()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn log_format_values() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()));
        assert_eq!(parse(&[]).unwrap().log.log_format, LogFormat::Text);
        assert_eq!(
            parse(&["--log-format", "json"]).unwrap().log.log_format,
            LogFormat::Json
        );
        let e = parse(&["--log-format", "yaml"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(text.contains("[possible values: text, json]"), "{text}");
    }
}
