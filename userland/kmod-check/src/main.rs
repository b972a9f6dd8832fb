//! `procpulse-kmod-check`: see the crate docs. Each subcommand is one check and prints
//! `PPCHECK ok <check> <details>` or `PPCHECK FAIL <check>: <reason>` (exit status 1).

use clap::{Parser, Subcommand};
use procpulse_kmod_check::{CheckError, agent, bench, cpu, fields, hammer, procs, ram};

#[derive(Debug, Parser)]
#[command(name = "procpulse-kmod-check", version, about)]
struct Args {
    /// procpulse-stress binary (for the checks that create load).
    #[arg(
        long,
        env = "PROCPULSE_STRESS_BIN",
        default_value = "/bin/procpulse-stress",
        global = true
    )]
    stress: String,
    #[command(subcommand)]
    check: Check,
}

#[derive(Debug, Subcommand)]
enum Check {
    /// Every file parses as JSON with every SPEC §2 field.
    Fields,
    /// /proc/procpulse_ram equals /proc/meminfo.
    Ram {
        #[arg(long, default_value_t = 50)]
        tries: usize,
    },
    /// /proc/procpulse_procs agrees with a /proc/[pid]/stat walk.
    Procs {
        #[arg(long, default_value_t = 20)]
        tries: usize,
    },
    /// Counts move by exactly what procpulse-stress creates (plus one traced child).
    Stress {
        #[arg(long, default_value_t = 5)]
        zombies: u64,
        #[arg(long, default_value_t = 3)]
        stopped: u64,
        #[arg(long, default_value_t = 7)]
        sleeping: u64,
    },
    /// Idle guest: usage < 10 %, counters equal /proc/stat.
    CpuIdle,
    /// All CPUs burned: usage > 90 %.
    CpuBusy,
    /// Concurrent readers see one value per window.
    CpuReaders {
        #[arg(long, default_value_t = 8)]
        readers: usize,
        #[arg(long, default_value_t = 2500)]
        millis: u64,
    },
    /// Concurrent readers while the modules are inserted and removed.
    Hammer {
        #[arg(long, default_value = "/lib/procpulse")]
        module_dir: String,
        #[arg(long, default_value_t = 64)]
        readers: usize,
        #[arg(long, default_value_t = 10_000)]
        reads: usize,
        #[arg(long, default_value_t = 200)]
        cycles: usize,
    },
    /// The agent in this guest serves `"source":"kmod"`.
    Agent {
        #[arg(long, default_value = "/bin/procpulse-agent")]
        bin: String,
        #[arg(long, default_value = "127.0.0.1:5200")]
        listen: String,
    },
    /// Benchmark: module read vs /proc walk vs busybox ps with many tasks.
    Bench {
        #[arg(long, default_value_t = 10_000)]
        tasks: usize,
        #[arg(long, default_value_t = 2000)]
        reads: usize,
        #[arg(long, default_value_t = 10)]
        walks: usize,
    },
}

fn main() {
    let args = Args::parse();
    let stress = args.stress.as_str();
    let (name, r): (&str, Result<String, CheckError>) = match args.check {
        Check::Fields => ("fields", fields::check_all()),
        Check::Ram { tries } => ("ram", ram::check(tries)),
        Check::Procs { tries } => ("procs", procs::check_walk(tries)),
        Check::Stress {
            zombies,
            stopped,
            sleeping,
        } => (
            "stress",
            procs::check_stress(stress, zombies, stopped, sleeping),
        ),
        Check::CpuIdle => ("cpu-idle", cpu::check_idle()),
        Check::CpuBusy => ("cpu-busy", cpu::check_busy(stress)),
        Check::CpuReaders { readers, millis } => {
            ("cpu-readers", cpu::check_readers(readers, millis))
        }
        Check::Hammer {
            module_dir,
            readers,
            reads,
            cycles,
        } => ("hammer", hammer::check(&module_dir, readers, reads, cycles)),
        Check::Agent { bin, listen } => ("agent", agent::check(&bin, &listen)),
        Check::Bench {
            tasks,
            reads,
            walks,
        } => ("bench", bench::run(stress, tasks, reads, walks)),
    };
    match r {
        Ok(msg) => println!("PPCHECK ok {name} {msg}"),
        Err(e) => {
            println!("PPCHECK FAIL {name}: {e}");
            std::process::exit(1);
        }
    }
}
