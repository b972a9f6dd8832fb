//! `procpulse-kmod-check`: see the crate docs. Each subcommand is one check and prints
//! `PPCHECK ok <check> <details>` or `PPCHECK FAIL <check>: <reason>` (exit status 1).

use clap::{Parser, Subcommand};
use procpulse_kmod_check::{
    CheckError, TASKS_FILE, agent, bench, cpu, cpu_partial, fields, hammer, helpers, hotplug,
    pidns, procs, ram, scale, swap, tasks,
};

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
    #[command(flatten)]
    log: procpulse_service::telemetry::LogArgs,
    #[command(subcommand)]
    check: Check,
}

#[derive(Debug, Subcommand)]
enum Check {
    /// Every file parses as JSON with every docs/design.md §2 field.
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
        /// Safety cap on each reader's reads; readers stop when the cycles end.
        #[arg(long, default_value_t = 1_000_000)]
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
    /// With a zram swap partly used (set up by the caller): the RAM file omits the swap
    /// totals and matches /proc/meminfo; the agent serves meminfo's SwapTotal/SwapFree.
    Swap {
        #[arg(long, default_value = "/bin/procpulse-agent")]
        agent_bin: String,
        #[arg(long, default_value = "127.0.0.1:5201")]
        listen: String,
        /// Most memory the swap-hog helper allocates, MiB (default: MemTotal + 1 GiB, i.e.
        /// past the guest's RAM).
        #[arg(long)]
        max_mib: Option<u64>,
    },
    /// One CPU burned: aggregate usage 1/N, one per_cpu entry busy.
    CpuPartial,
    /// CPUs toggled offline/online: counters monotonic, windows equal /proc/stat.
    Hotplug {
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Every tasks line equals /proc/[pid]/stat and status.
    Tasks,
    /// Tasks file in a new pid namespace and through a hidepid=invisible mount.
    TasksPidns {
        #[arg(long, default_value = "unshare")]
        unshare: String,
        #[arg(long, default_value_t = 1000)]
        uid: u32,
    },
    /// Many processes: concurrent complete reads, bounded memory per open fd.
    TasksScale {
        #[arg(long, default_value_t = 100_000)]
        procs: usize,
        #[arg(long, default_value_t = 64)]
        readers: usize,
    },
    /// Helper: sets real/effective/saved uids, prints `ready <pid>`, sleeps.
    #[command(hide = true)]
    SetuidChild {
        #[arg(long, default_value_t = 0)]
        ruid: u32,
        #[arg(long, default_value_t = 1000)]
        euid: u32,
        #[arg(long, default_value_t = 0)]
        suid: u32,
        #[arg(long, default_value_t = 600)]
        seconds: u64,
    },
    /// Helper: keeps short-lived CPU-burning threads churning.
    #[command(hide = true)]
    ThreadChurn {
        #[arg(long, default_value_t = 4)]
        alive: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Helper: prints the pids the tasks file and /proc show (inside a new namespace).
    #[command(hide = true)]
    TasksListSelf {
        #[arg(long, default_value = TASKS_FILE)]
        file: String,
    },
    /// Helper: drops to `uid` and prints what the tasks file shows.
    #[command(hide = true)]
    TasksReadAs {
        #[arg(long)]
        uid: u32,
        #[arg(long)]
        file: String,
    },
    /// Helper: allocates memory until `target_kb` of swap is used, then holds it.
    #[command(hide = true)]
    SwapHog {
        #[arg(long)]
        target_kb: u64,
        #[arg(long, default_value_t = 4096)]
        max_mib: u64,
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

/// Runs a hidden helper: it prints its own output; only a failure is reported.
fn helper(r: Result<String, CheckError>) -> ! {
    match r {
        Ok(_) => std::process::exit(0),
        Err(e) => {
            tracing::error!(error = %e, "Helper failed");
            std::process::exit(1);
        }
    }
}

fn main() {
    let args = Args::parse();
    procpulse_service::telemetry::install(&args.log);
    let started = std::time::Instant::now();
    let stress = args.stress.as_str();
    let (name, r): (&str, Result<String, CheckError>) = match args.check {
        Check::SetuidChild {
            ruid,
            euid,
            suid,
            seconds,
        } => helper(helpers::setuid_child(ruid, euid, suid, seconds)),
        Check::ThreadChurn { alive, seconds } => helper(helpers::thread_churn(alive, seconds)),
        Check::TasksListSelf { file } => helper(helpers::tasks_list_self(&file)),
        Check::TasksReadAs { uid, file } => helper(helpers::tasks_read_as(uid, &file)),
        Check::SwapHog { target_kb, max_mib } => helper(helpers::swap_hog(target_kb, max_mib)),
        Check::Swap {
            agent_bin,
            listen,
            max_mib,
        } => ("swap", swap::check(&agent_bin, &listen, max_mib)),
        Check::CpuPartial => ("cpu-partial", cpu_partial::check(stress)),
        Check::Hotplug { seconds } => ("hotplug", hotplug::check(stress, seconds)),
        Check::Tasks => ("tasks", tasks::check()),
        Check::TasksPidns { unshare, uid } => ("tasks-pidns", pidns::check(&unshare, uid)),
        Check::TasksScale { procs, readers } => ("tasks-scale", scale::check(procs, readers)),
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
        } => ("bench", bench::run(tasks, reads, walks)),
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(check = name, ok = r.is_ok(), elapsed_ms, "Check finished");
    match r {
        Ok(msg) => println!("PPCHECK ok {name} {msg}"),
        Err(e) => {
            println!("PPCHECK FAIL {name}: {e}");
            std::process::exit(1);
        }
    }
}
