//! procpulse-config-check: whether a deployment's command line and environment would
//! start a procpulse binary, checked with the binary's own clap definition (the
//! `cli` module of each service's library) instead of a hand-copied table of flags.
//!
//! [`check`] parses the arguments exactly as the binary does, with the environment's
//! `PROCPULSE_*` variables as clap's fallbacks (so a bad value in either is refused with
//! clap's own message), and refuses any `PROCPULSE_*` variable the binary does not read
//! (clap itself ignores unknown variables). It does not run the binary's later checks
//! (files it reads, a database it connects to).

use std::collections::BTreeSet;

use clap::{Command, CommandFactory};

/// What the checker knows of one binary.
struct Binary {
    /// Its name.
    name: &'static str,
    /// Its clap definition.
    command: fn() -> Command,
    /// Variables it reads that its clap definition does not declare, and their check.
    unclapped: Option<Unclapped>,
}

/// A variable's value by name, as the environment would give it.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Environment variables a binary reads outside clap (the load generator's fallbacks for
/// goose's flags), with the check the binary itself makes of their values.
struct Unclapped {
    names: fn() -> Vec<&'static str>,
    check: fn(Lookup<'_>) -> Result<(), String>,
}

/// What the checker knows of each binary.
const DEFINITIONS: [Binary; 4] = [
    Binary {
        name: "procpulse-ingest",
        command: procpulse_ingest::cli::Cli::command,
        unclapped: None,
    },
    Binary {
        name: "procpulse-broadcaster",
        command: procpulse_broadcaster::cli::Args::command,
        unclapped: None,
    },
    Binary {
        name: "procpulse-agent",
        command: procpulse_agent::cli::Args::command,
        unclapped: None,
    },
    Binary {
        name: "procpulse-loadgen",
        command: procpulse_loadgen::cli::Cli::command,
        unclapped: Some(Unclapped {
            names: || {
                let fallbacks = procpulse_loadgen::defaults::GOOSE_FALLBACKS;
                fallbacks.iter().map(|(d, _)| d.var).collect()
            },
            check: |lookup| procpulse_loadgen::cli::check_goose_fallbacks(lookup).map_err(|e| e.0),
        }),
    },
];

/// The binaries checked, by name (those of [`DEFINITIONS`]).
pub const BINARIES: [&str; DEFINITIONS.len()] = {
    let mut names = [""; DEFINITIONS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = DEFINITIONS[i].name;
        i += 1;
    }
    names
};

/// `binary`'s definition (`procpulse-ingest`, or `ingest` for short).
fn definition(binary: &str) -> Option<&'static Binary> {
    let short = binary.strip_prefix("procpulse-").unwrap_or(binary);
    DEFINITIONS
        .iter()
        .find(|b| b.name.strip_prefix("procpulse-") == Some(short))
}

/// The clap definition of `binary` (`procpulse-ingest`, or `ingest` for short).
pub fn command(binary: &str) -> Option<Command> {
    definition(binary).map(|b| (b.command)())
}

/// Every environment variable `binary` reads: its clap definition's ([`env_names`]) and
/// those it reads outside clap (for the load generator, the fallbacks of goose's flags).
pub fn binary_env_names(binary: &str) -> Option<BTreeSet<String>> {
    let b = definition(binary)?;
    let mut names = env_names(&(b.command)());
    if let Some(u) = &b.unclapped {
        names.extend((u.names)().into_iter().map(str::to_owned));
    }
    Some(names)
}

/// Every environment variable `cmd` reads (its arguments' `env`, subcommands included).
pub fn env_names(cmd: &Command) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    for sub in cmd.get_subcommands() {
        out.extend(env_names(sub));
    }
    out
}

/// Checks `args` (without the program name) and `env` (name, value pairs; only
/// `PROCPULSE_*` ones matter) against `binary`'s definition. The error is what is wrong,
/// in clap's words where clap found it.
pub fn check(binary: &str, args: &[String], env: &[(String, String)]) -> Result<(), String> {
    let cmd = command(binary)
        .ok_or_else(|| format!("unknown binary {binary:?} (one of {})", BINARIES.join(", ")))?;
    let known = binary_env_names(binary).unwrap_or_default();
    let unknown: Vec<&str> = env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("PROCPULSE_") && !known.contains(*k))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "{} not a variable {} reads",
            unknown.join(", ") + if unknown.len() == 1 { " is" } else { " are" },
            cmd.get_name()
        ));
    }
    if let Some(u) = definition(binary).and_then(|b| b.unclapped.as_ref()) {
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        (u.check)(&lookup)?;
    }
    let name = cmd.get_name().to_owned();
    cmd.try_get_matches_from(std::iter::once(name).chain(args.iter().cloned()))
        .map(|_| ())
        .map_err(|e| e.render().to_string().trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn each_definition_is_its_binary_s_clap_command() {
        for b in DEFINITIONS {
            assert_eq!((b.command)().get_name(), b.name);
        }
    }

    #[test]
    fn every_binary_has_a_definition_with_its_variables() {
        for b in BINARIES {
            let names = env_names(&command(b).unwrap());
            // Every server listens; the load generator is a client.
            assert_eq!(
                names.contains("PROCPULSE_LISTEN"),
                b != "procpulse-loadgen",
                "{b}"
            );
            assert!(names.contains("PROCPULSE_LOG_FORMAT"), "{b}");
        }
        assert!(command("procpulse-nope").is_none());
        let lg = binary_env_names("loadgen").unwrap();
        assert!(lg.contains("PROCPULSE_LOADGEN_RECORDS"), "clap's: {lg:?}");
        assert!(
            lg.contains("PROCPULSE_LOADGEN_AGENT_URL"),
            "goose's fallback: {lg:?}"
        );
    }

    #[test]
    fn flags_and_values_are_checked_by_the_binary_s_own_parser() {
        // What the hand-copied tables refused though the binaries take them.
        check(
            "ingest",
            &args(&["--db-pool-size", "32", "--batch-max-rows", "500"]),
            &[],
        )
        .unwrap();
        check("broadcaster", &args(&["--max-clients", "5000"]), &[]).unwrap();
        let e = check("broadcaster", &args(&["--poll-interval", "500"]), &[]).unwrap_err();
        assert!(e.contains("unexpected argument '--poll-interval'"), "{e}");
        let e = check("broadcaster", &args(&["--poll-interval-ms", "5"]), &[]).unwrap_err();
        assert!(e.contains("10..=60000"), "{e}");
        let e = check("ingest", &args(&["--write-mode", "fast"]), &[]).unwrap_err();
        assert!(e.contains("invalid value 'fast'"), "{e}");
    }

    #[test]
    fn variables_must_be_the_binary_s_own() {
        let env = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        check("agent", &[], &env("PROCPULSE_SOURCE", "procfs")).unwrap();
        check("agent", &[], &env("HOME", "/root")).unwrap();
        let e = check("agent", &[], &env("PROCPULSE_SOURCES", "procfs")).unwrap_err();
        assert_eq!(
            e,
            "PROCPULSE_SOURCES is not a variable procpulse-agent reads"
        );
        let e = check("ingest", &[], &env("PROCPULSE_POLL_INTERVAL_MS", "500")).unwrap_err();
        assert!(e.contains("not a variable procpulse-ingest reads"), "{e}");
        // The load generator: goose's fallbacks are its variables, and their values count.
        let run = args(&["run", "--agent", "http://agent:5200"]);
        check(
            "loadgen",
            &run,
            &env("PROCPULSE_LOADGEN_REPLAY_USERS", "50"),
        )
        .unwrap();
        let e = check("loadgen", &run, &env("PROCPULSE_LOADGEN_REPLAY_USERS", "x")).unwrap_err();
        assert!(e.contains("is not a number of users"), "{e}");
        let e = check("loadgen", &args(&["run", "--agnet", "x"]), &[]).unwrap_err();
        assert!(e.contains("unexpected argument '--agnet'"), "{e}");
        let e = check("loadgen", &[], &env("PROCPULSE_LOADGEN_USERS", "5")).unwrap_err();
        assert!(e.contains("not a variable procpulse-loadgen reads"), "{e}");
    }
}
