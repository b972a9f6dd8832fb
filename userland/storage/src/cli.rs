//! The database flag of every binary that opens the database (ingest, the broadcaster),
//! defined once and flattened into each command line.

use clap::Args;

use crate::DEFAULT_DATABASE_URL;

/// `--database-url` / `PROCPULSE_DATABASE_URL`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// sqlite://path or mysql://user:pass@host:port/db.
    // Kept a String (parsed by the binary into a DatabaseUrl): clap's error for a bad
    // value would print the URL, password included.
    #[arg(
        long,
        env = "PROCPULSE_DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: String,
}
