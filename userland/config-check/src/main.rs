//! `procpulse-config-check BINARY [ARG...]`: checks ARGs and this process's `PROCPULSE_*`
//! environment against BINARY's command line (exit 0: it would parse; 1: the reason on
//! stderr; 2: usage). `procpulse-config-check --env BINARY` lists the variables BINARY
//! reads. Used by ci/k8s/check_manifests.py, check_addons.py and check_compose.py, which
//! run it with each container's, service's or unit's arguments and environment.

use std::process::ExitCode;

use procpulse_config_check::{BINARIES, binary_env_names, check, command};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: procpulse-config-check BINARY [ARG...] | --env BINARY  (BINARY: {})",
            BINARIES.join(", ")
        );
        ExitCode::from(2)
    };
    match argv.as_slice() {
        [flag, binary] if flag == "--env" => match binary_env_names(binary) {
            Some(names) => {
                for name in names {
                    println!("{name}");
                }
                ExitCode::SUCCESS
            }
            None => usage(),
        },
        [binary, args @ ..] if command(binary).is_some() => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            match check(binary, args, &env) {
                Ok(()) => ExitCode::SUCCESS,
                Err(why) => {
                    eprintln!("{why}");
                    ExitCode::from(1)
                }
            }
        }
        _ => usage(),
    }
}
