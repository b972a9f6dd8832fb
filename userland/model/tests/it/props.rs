use procpulse_model::parse::*;
use procpulse_model::validate::{decode_batch, decode_batch_checked, from_slice, validate_at};
use procpulse_model::{
    CoreUsage, Cpu, Pressure, PressureLine, PressureStall, Procs, Ram, Snapshot, Source, TopProcess,
};
use proptest::prelude::*;
use time::OffsetDateTime;

const MEMINFO: &str = "MemTotal:       24684092 kB\nMemFree:        21274480 kB\nMemAvailable:   23558736 kB\nBuffers:           27832 kB\nCached:          2295552 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:              8856 kB\n";
const STAT: &str = "cpu  27681 0 7777 75602 502 0 146 37 0 0\ncpu0 13296 0 3291 39180 59 0 19 19 0 0\ncpu1 14384 0 4486 36422 443 0 126 18 0 0\nintr 1 2\n";
const PID_STAT: &str = "15577 (a b) c) R 15569 15569 5868 0 -1 4194304 96 0 0 0 7 3 0 0 20 0 1 0 56096 3133440 359 18446744073709551615 0\n";
const STATUS: &str =
    "Name:\tcat\nState:\tR (running)\nPPid:\t1\nUid:\t0\t0\t0\t0\nVmRSS:\t 100 kB\nThreads:\t1\n";
const TASKS: &str = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"init\",\"state\":\"S\",\"rss_kb\":1,\"utime_ns\":2,\"stime_ns\":3}\n";
const CPU: &str = "{\"cores\":2,\"usage_percent_x100\":2345,\"window_ms\":1000,\"user_ns\":1,\"nice_ns\":2,\"system_ns\":3,\"idle_ns\":4,\"iowait_ns\":5,\"irq_ns\":6,\"softirq_ns\":7,\"steal_ns\":8,\"load1_x100\":50,\"load5_x100\":40,\"load15_x100\":30}\n";
const VALID: &str = include_str!("../fixtures/snapshot_valid.json");
const V2: &str = include_str!("../fixtures/snapshot_v2.json");
const VALID_PAIR: &str = concat!(
    "[",
    include_str!("../fixtures/snapshot_valid.json"),
    ",",
    include_str!("../fixtures/snapshot_valid.json"),
    "]"
);

/// Runs every parser on `s` (results ignored: only panics matter).
fn all_parsers(s: &str) {
    let _ = parse_meminfo(s);
    let _ = parse_stat(s);
    let _ = parse_loadavg(s);
    let _ = parse_pid_stat(s.as_bytes());
    let _ = parse_pid_status(s);
    let _ = parse_procpulse_cpu(s);
    let _ = parse_procpulse_ram(s);
    let _ = parse_procpulse_procs(s);
    let _ = parse_procpulse_tasks(s);
    let _ = parse_pressure(s);
}

/// `base` with the value after one of its `:` replaced by another JSON value (mostly
/// still well-formed: wrong types, out-of-range numbers, nulls, nesting).
fn value_swapped(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    const VALUES: &[&str] = &[
        "null",
        "-1",
        "0",
        "1.5",
        "1e400",
        "18446744073709551616",
        "\"x\"",
        "\"\"",
        "[]",
        "{}",
        "true",
        "\"2026-13-01T00:00:00Z\"",
        "{\"a\":1}",
        "[1,2]",
        "NaN",
    ];
    let colons: Vec<usize> = base.match_indices(':').map(|(i, _)| i).collect();
    (
        proptest::sample::select(colons),
        proptest::sample::select(VALUES),
    )
        .prop_map(move |(at, value)| {
            let rest = &base[at + 1..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            format!("{}:{value}{}", &base[..at], &rest[end..]).into_bytes()
        })
}

/// A captured text with one region replaced by arbitrary bytes, then cut.
fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    (
        0..=base.len(),
        0..=base.len(),
        proptest::collection::vec(any::<u8>(), 0..8),
        0..=base.len() + 8,
    )
        .prop_map(move |(a, b, junk, cut)| {
            let (a, b) = (a.min(b), a.max(b));
            let mut v = base.as_bytes()[..a].to_vec();
            v.extend_from_slice(&junk);
            v.extend_from_slice(&base.as_bytes()[b..]);
            v.truncate(cut);
            v
        })
}

fn valid_snapshot() -> impl Strategy<Value = Snapshot> {
    let pct = || (0u32..=10_000).prop_map(|v| f64::from(v) / 100.0);
    let load = || (0u32..100_000).prop_map(|v| f64::from(v) / 100.0);
    let top = proptest::collection::vec(
        (
            any::<u32>(),
            any::<u32>(),
            "[ -~]{0,15}",
            "[RSDTtZXxIP]",
            any::<u32>(),
            0u32..1_000_000,
            proptest::option::of((
                any::<u32>(),
                "[a-z_][a-z0-9_-]{0,31}",
                1u32..10_000,
                -20i32..=19,
            )),
        )
            .prop_map(|(pid, ppid, comm, state, rss, cpu, v2)| TopProcess {
                uid: v2.as_ref().map(|v| v.0),
                user: v2.as_ref().map(|v| v.1.clone()),
                threads: v2.as_ref().map(|v| v.2),
                nice: v2.as_ref().map(|v| v.3),
                pid,
                ppid,
                comm,
                state,
                rss_kb: u64::from(rss),
                cpu_percent: f64::from(cpu) / 100.0,
            }),
        0..5,
    );
    let procs = proptest::collection::vec(0u64..1000, 9).prop_map(|c| {
        let mut p = Procs {
            running: c[0],
            sleeping: c[1],
            disk_sleep: c[2],
            stopped: c[3],
            traced: c[4],
            zombie: c[5],
            dead: c[6],
            idle: c[7],
            threads: c[8],
            total: 0,
        };
        p.total = p.category_sum();
        p
    });
    let ram = (
        1u64..1 << 40,
        0u64..=1000,
        0u64..=1000,
        0u64..=1000,
        0u64..1 << 40,
        0u64..=1000,
        pct(),
        proptest::option::of((0u64..=1000, 0u64..=1000)),
    )
        .prop_map(
            |(total, free, avail, cached, swap_total, swap_free, used_percent, v2)| {
                let available_kb = total * avail / 1000;
                let swap_free_kb = swap_total * swap_free / 1000;
                Ram {
                    buffers_kb: v2.map(|v| total * v.0 / 1000),
                    shared_kb: v2.map(|v| total * v.1 / 1000),
                    swap_used_kb: v2.map(|_| swap_total - swap_free_kb),
                    total_kb: total,
                    free_kb: total * free / 1000,
                    available_kb,
                    used_kb: total - available_kb,
                    cached_kb: total * cached / 1000,
                    swap_total_kb: swap_total,
                    swap_free_kb,
                    used_percent,
                }
            },
        );
    // Modes from random tick deltas through the agent's own computation.
    let modes = proptest::option::of(
        (
            proptest::collection::vec(0u64..1_000_000, 8),
            0u64..=1000,
            0u64..=1000,
        )
            .prop_map(|(d, g, gn)| {
                let now = CpuTimes {
                    user: d[0],
                    nice: d[1],
                    system: d[2],
                    idle: d[3],
                    iowait: d[4],
                    irq: d[5],
                    softirq: d[6],
                    steal: d[7] + 1,
                    guest: d[0] * g / 1000,
                    guest_nice: d[1] * gn / 1000,
                };
                now.modes_since(&CpuTimes::default())
            }),
    )
    .prop_map(Option::flatten);
    let per_cpu = proptest::collection::vec((1u32..4, pct()), 0..70).prop_map(|v| {
        let mut cpu = 0;
        v.into_iter()
            .map(|(step, usage_percent)| {
                cpu += step;
                CoreUsage {
                    cpu: cpu - 1,
                    usage_percent,
                }
            })
            .collect::<Vec<_>>()
    });
    let line = || {
        (pct(), pct(), pct(), 0..=i64::MAX as u64).prop_map(|(avg10, avg60, avg300, total_us)| {
            PressureLine {
                avg10,
                avg60,
                avg300,
                total_us,
            }
        })
    };
    let stall = move || {
        proptest::option::of(
            (line(), proptest::option::of(line()))
                .prop_map(|(some, full)| PressureStall { some, full }),
        )
    };
    let pressure = proptest::option::of(
        (stall(), stall(), stall()).prop_map(|(cpu, memory, io)| Pressure { cpu, memory, io }),
    );
    (
        "[A-Za-z0-9._-]{1,64}",
        "[!-~]{1,128}",
        0i64..4_000_000_000_000,
        any::<bool>(),
        (pct(), 1u32..1024, load(), load(), load()),
        ram,
        procs,
        top,
        (modes, per_cpu, pressure),
    )
        .prop_map(
            |(
                host,
                sample_id,
                ms,
                kmod,
                (usage, cores, l1, l5, l15),
                ram,
                procs,
                top,
                (modes, per_cpu, pressure),
            )| Snapshot {
                sample_id,
                host,
                collected_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                    .unwrap(),
                source: if kmod { Source::Kmod } else { Source::Procfs },
                cpu: Cpu {
                    usage_percent: usage,
                    cores,
                    load1: l1,
                    load5: l5,
                    load15: l15,
                    modes,
                    per_cpu,
                },
                ram,
                procs,
                top,
                pressure,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic_on_arbitrary_text(s in any::<String>()) {
        all_parsers(&s);
    }

    #[test]
    fn parsers_never_panic_on_mutated_captures(
        m in mutated(MEMINFO), st in mutated(STAT), p in mutated(PID_STAT),
        s in mutated(STATUS), t in mutated(TASKS), c in mutated(CPU),
    ) {
        for bytes in [&m, &st, &p, &s, &t, &c] {
            let _ = parse_pid_stat(bytes);
            all_parsers(&String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn validator_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), v in mutated(VALID)) {
        let now = OffsetDateTime::now_utc();
        let _ = decode_batch(&bytes, now);
        let _ = from_slice(&bytes);
        let _ = decode_batch(&v, now);
        let _ = from_slice(&v);
    }

    #[test]
    fn fast_and_checked_decoders_give_the_same_answer(
        body in prop_oneof![
            mutated(VALID),
            mutated(VALID_PAIR),
            mutated(V2),
            value_swapped(VALID),
            value_swapped(VALID_PAIR),
            value_swapped(V2),
        ]
    ) {
        // A minute after the fixture's collected_at, so unmutated bodies are valid.
        let now = OffsetDateTime::from_unix_timestamp(1_795_428_060).unwrap();
        prop_assert_eq!(decode_batch(&body, now), decode_batch_checked(&body, now));
    }

    #[test]
    fn valid_snapshots_round_trip_through_json(s in valid_snapshot()) {
        let now = OffsetDateTime::from_unix_timestamp(4_000_000_000).unwrap();
        prop_assert!(validate_at(&s, now).is_ok(), "{:?}", validate_at(&s, now));
        let json = serde_json::to_vec(&s).unwrap();
        let back = from_slice(&json).unwrap();
        prop_assert_eq!(&back, &s);
        let batch = decode_batch(&json, now).unwrap();
        prop_assert_eq!(&batch[0], &s);
    }
}

#[test]
fn parsed_module_files_make_valid_snapshots() {
    let cpu = parse_procpulse_cpu(CPU).unwrap().to_cpu();
    let ram = parse_meminfo(MEMINFO).unwrap().to_ram();
    let s = Snapshot {
        sample_id: "h-abcdef-000000001".into(),
        host: "h".into(),
        collected_at: OffsetDateTime::now_utc(),
        source: Source::Kmod,
        cpu,
        ram,
        procs: Procs::default(),
        top: vec![],
        pressure: None,
    };
    validate_at(&s, OffsetDateTime::now_utc()).unwrap();
}
