//! The load generator's defaults and the environment variables that replace them, each
//! defined once: the clap definitions in [`crate::cli`], their help text and
//! [`PhaseDefaults`](crate::cli::PhaseDefaults) (which fills goose's own flags, since
//! those carry no environment fallback) all read them from here.

/// A default that an environment variable replaces when it is set and not empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvDefault {
    /// The variable.
    pub var: &'static str,
    /// The value when the variable is unset or empty.
    pub default: &'static str,
}

impl EnvDefault {
    /// The value: `lookup(var)` when it is set and not empty, else the default.
    pub fn value(&self, lookup: &dyn Fn(&str) -> Option<String>) -> String {
        lookup(self.var)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| self.default.to_owned())
    }
}

/// The agent collected from (`collect --host`, `run --agent`).
pub const AGENT_URL: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_AGENT_URL",
    default: "http://127.0.0.1:5200",
};
/// The ingress (split) replayed to (`replay --host`, `run --ingress`).
pub const INGRESS_URL: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_INGRESS_URL",
    default: "http://127.0.0.1:8080",
};
/// Users of the collect phase (`collect --users`, `run --collect-users`).
pub const COLLECT_USERS: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_COLLECT_USERS",
    default: "300",
};
/// Users of the replay phase (`replay --users`, `run --replay-users`).
pub const REPLAY_USERS: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_REPLAY_USERS",
    default: "150",
};
/// Longest the collect phase runs (`collect --run-time`, `run --collect-run-time`).
pub const RUN_TIME: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_RUN_TIME",
    default: "3m",
};
/// Wait after each collect request (`collect --wait`, `run --collect-wait`).
pub const COLLECT_WAIT: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_COLLECT_WAIT",
    default: "1s..2s",
};
/// Wait after each replayed record (`replay --wait`, `run --wait`).
pub const REPLAY_WAIT: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_REPLAY_WAIT",
    default: "1s..4s",
};
/// Valid, unique records that end the collect phase (`--target-records`).
pub const TARGET_RECORDS: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_TARGET_RECORDS",
    default: "2000",
};
/// The record file (`collect --out`, `replay --in`, `run --records`).
pub const RECORDS: EnvDefault = EnvDefault {
    var: "PROCPULSE_LOADGEN_RECORDS",
    default: "records.ndjson",
};

/// The fallbacks of goose's own flags, which clap does not read (goose's flags carry no
/// `env`): each with the flags it stands in for.
pub const GOOSE_FALLBACKS: [(EnvDefault, &str); 5] = [
    (AGENT_URL, "collect --host / run --agent"),
    (INGRESS_URL, "replay --host / run --ingress"),
    (COLLECT_USERS, "collect --users"),
    (REPLAY_USERS, "replay --users"),
    (RUN_TIME, "collect --run-time"),
];

/// The help text listing [`GOOSE_FALLBACKS`] (shown after `--help`).
pub fn env_help() -> String {
    let mut out = String::from(
        "Environment fallbacks for goose's flags (a flag given on the command line wins):\n",
    );
    for (d, flags) in GOOSE_FALLBACKS {
        out.push_str(&format!(
            "  {:<31} {:<33} [default: {}]\n",
            d.var, flags, d.default
        ));
    }
    out.push_str("--increase-rate defaults to the number of users (all start within a second).");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_variable_wins_and_an_empty_one_does_not() {
        let set = |v: &'static str| move |_: &str| Some(v.to_owned());
        assert_eq!(AGENT_URL.value(&set("http://a:1")), "http://a:1");
        assert_eq!(AGENT_URL.value(&set("")), "http://127.0.0.1:5200");
        assert_eq!(AGENT_URL.value(&|_| None), "http://127.0.0.1:5200");
    }

    #[test]
    fn help_lists_every_fallback_with_its_default() {
        let help = env_help();
        for (d, flags) in GOOSE_FALLBACKS {
            let line = help.lines().find(|l| l.contains(d.var)).unwrap();
            assert!(line.contains(flags), "{line}");
            assert!(
                line.ends_with(&format!("[default: {}]", d.default)),
                "{line}"
            );
        }
    }
}
