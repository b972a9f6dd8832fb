//! Synthetic history for `ci/bench/history.sh` (issue 15), written directly into a
//! database: N hosts sampled at 1 Hz for D days, of which the last R days are stored as
//! raw `samples` rows and every minute and hour of the D days as `rollup_1m` /
//! `rollup_1h` rows, with the `raw` tier's `rolled_up_to` watermark set to the newest
//! row and its `deleted_before` to the first raw row's minute — the state a maintainer
//! that had run all along would leave.
//!
//! ```text
//! cargo run --release -p procpulse-storage --example gen_history -- \
//!     --database-url sqlite:///tmp/h.db [--hosts 10] [--days 30] [--raw-days 7] \
//!     [--seed 1] [--end 2026-12-01T12:00:00Z] [--host-prefix bench-]
//! ```
//!
//! The rows: the v2 fixture (`model/tests/fixtures/snapshot_v2.json`: 4 CPUs, modes,
//! pressure, 3 top entries — the shape ingest's benchmark posts with `--snapshot v2`)
//! with per-host random walks for CPU (around a daily cycle), RAM, swap (every second
//! host has none) and load, D-state counts and occasional episodes of zombies.
//! Rollups are computed by the storage crate's own aggregation
//! ([`procpulse_storage::rollup::aggregate`] for minutes from raw rows,
//! [`procpulse_storage::rollup::merge`] for hours from minutes), so the benchmark reads
//! the rows the maintainer would have written. Raw rows go through the write path
//! ingest uses ([`insert_samples`], multi-row INSERTs, one transaction per batch; on
//! SQLite with `synchronous=OFF` on the writer connection — generation is not what is
//! measured), rollups through [`replace_rollups`]. Generation of the next batch overlaps
//! the write of the previous one.
//!
//! Ends with one JSON line on stdout: `end` (RFC 3339, exclusive end of the data),
//! `rolled_up_to`, row counts and seconds.

use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use procpulse_model::Snapshot;
use procpulse_storage::history::{RollupRow, Tier, replace_rollups};
use procpulse_storage::rollup::{RawPoint, aggregate, bucket_start, merge};
use procpulse_storage::row::{from_db_time, to_db_time};
use procpulse_storage::schema::history_tiers;
use procpulse_storage::write::insert_samples;
use procpulse_storage::{
    Backend, Database, DatabaseUrl, NewSample, PoolOptions, StorageError, with_conn,
};
use std::time::{Duration as StdDuration, Instant};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};
use tokio::sync::mpsc;

/// Raw rows per [`insert_samples`] call (one transaction).
const RAW_BATCH: usize = 6_000;
/// Rollup rows per [`replace_rollups`] call (one transaction).
const ROLLUP_BATCH: usize = 20_000;

struct Args {
    url: String,
    hosts: usize,
    days: i64,
    raw_days: i64,
    seed: u64,
    end: Option<OffsetDateTime>,
    host_prefix: String,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        url: String::new(),
        hosts: 10,
        days: 30,
        raw_days: 7,
        seed: 1,
        end: None,
        host_prefix: "bench-".to_owned(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let [flag, v] = pair else {
            return Err(format!("{} needs a value", pair[0]));
        };
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {v:?}: {e}");
        match flag.as_str() {
            "--database-url" => a.url = v.clone(),
            "--hosts" => a.hosts = v.parse().map_err(|e| bad(&e))?,
            "--days" => a.days = v.parse().map_err(|e| bad(&e))?,
            "--raw-days" => a.raw_days = v.parse().map_err(|e| bad(&e))?,
            "--seed" => a.seed = v.parse().map_err(|e| bad(&e))?,
            "--end" => a.end = Some(OffsetDateTime::parse(v, &Rfc3339).map_err(|e| bad(&e))?),
            "--host-prefix" => a.host_prefix = v.clone(),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.url.is_empty() {
        return Err("--database-url is required".into());
    }
    if a.hosts == 0 || a.days < 1 || !(0..=a.days).contains(&a.raw_days) {
        return Err("need --hosts ≥ 1, --days ≥ 1 and 0 ≤ --raw-days ≤ --days".into());
    }
    Ok(a)
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly standard normal (Irwin–Hall of 4, rescaled).
    fn normal(&mut self) -> f64 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 3f64.sqrt()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One host's random walk.
struct Host {
    name: String,
    boot: u64,
    seq: u64,
    rng: Rng,
    /// Mean CPU % at the daily peak.
    cpu_base: f64,
    ram_base: f64,
    has_swap: bool,
    cpu: f64,
    ram: f64,
    swap_used: f64,
    load1: f64,
    load5: f64,
    load15: f64,
    zombies: i64,
    zombie_seconds_left: i64,
    /// Sub-second offset of this host's sampling clock, milliseconds.
    phase_ms: i64,
}

/// One sample's varying values.
struct Values {
    cpu: f64,
    ram: f64,
    swap_free_kb: i64,
    load1: f64,
    load5: f64,
    load15: f64,
    zombies: i64,
    disk_sleep: i64,
    running: i64,
}

const SWAP_TOTAL_KB: i64 = 2_097_148;

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Host {
    fn new(i: usize, hosts: usize, prefix: &str, seed: u64) -> Host {
        let share = (i as f64 + 0.5) / hosts as f64;
        // Never 0 (xorshift would stay there).
        let mut rng = Rng((seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((i as u64 + 1) << 20)) | 1);
        let boot = rng.next() & 0xff_ffff;
        Host {
            name: format!("{prefix}{:02}", i + 1),
            boot,
            seq: 0,
            cpu_base: 10.0 + 70.0 * share,
            ram_base: 25.0 + 50.0 * share,
            has_swap: i % 2 == 0,
            cpu: 10.0 + 30.0 * share,
            ram: 25.0 + 50.0 * share,
            swap_used: 0.1,
            load1: 1.0,
            load5: 1.0,
            load15: 1.0,
            zombies: 0,
            zombie_seconds_left: 0,
            phase_ms: (i as i64 * 137) % 1000,
            rng,
        }
    }

    /// The next second's values at `t` (seconds since the epoch, for the daily cycle).
    fn step(&mut self, t: i64, cores: f64) -> Values {
        let r = &mut self.rng;
        let day = (t % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU;
        let target = self.cpu_base * (0.65 + 0.35 * day.sin());
        self.cpu = (self.cpu + 0.1 * (target - self.cpu) + 2.0 * r.normal()).clamp(0.0, 100.0);
        self.ram =
            (self.ram + 0.01 * (self.ram_base - self.ram) + 0.3 * r.normal()).clamp(2.0, 98.0);
        self.swap_used = (self.swap_used + 0.002 * r.normal()).clamp(0.0, 0.6);
        let busy = self.cpu / 100.0 * cores + 0.3 * r.normal().abs();
        let ease = |avg: f64, secs: f64| avg + (busy - avg) * (1.0 - (-1.0 / secs).exp());
        self.load1 = ease(self.load1, 60.0);
        self.load5 = ease(self.load5, 300.0);
        self.load15 = ease(self.load15, 900.0);
        if self.zombie_seconds_left > 0 {
            self.zombie_seconds_left -= 1;
            if self.zombie_seconds_left == 0 {
                self.zombies = 0;
            }
        } else if r.below(20_000) == 0 {
            // About one episode a host every 5–6 hours, 1–5 zombies for 1–30 minutes.
            self.zombies = 1 + r.below(5) as i64;
            self.zombie_seconds_left = 60 + r.below(1_740) as i64;
        }
        let disk_sleep = if r.below(50) == 0 {
            1 + r.below(3) as i64
        } else {
            0
        };
        Values {
            cpu: round2(self.cpu),
            ram: round2(self.ram),
            swap_free_kb: if self.has_swap {
                SWAP_TOTAL_KB - (self.swap_used * SWAP_TOTAL_KB as f64) as i64
            } else {
                0
            },
            load1: round2(self.load1),
            load5: round2(self.load5),
            load15: round2(self.load15),
            zombies: self.zombies,
            disk_sleep,
            running: 1 + (self.cpu / 100.0 * cores).round() as i64,
        }
    }
}

/// The raw row of `v` for `host` from the template row.
fn new_sample(
    template: &NewSample,
    host: &mut Host,
    collected: PrimitiveDateTime,
    received: PrimitiveDateTime,
    v: &Values,
) -> NewSample {
    host.seq += 1;
    let total = template.ram_total_kb;
    let used = (v.ram / 100.0 * total as f64) as i64;
    let available = total - used;
    let swap_total = if host.has_swap { SWAP_TOTAL_KB } else { 0 };
    let mut s = template.clone();
    s.sample_id = format!("{}-{:06x}-{:09}", host.name, host.boot, host.seq);
    s.host = host.name.clone();
    s.collected_at = collected;
    s.received_at = received;
    s.cpu_usage_percent = v.cpu;
    s.load1 = v.load1;
    s.load5 = v.load5;
    s.load15 = v.load15;
    s.ram_used_kb = used;
    s.ram_available_kb = available;
    s.ram_free_kb = (available - template.ram_cached_kb).max(0);
    s.ram_used_percent = v.ram;
    s.ram_swap_total_kb = swap_total;
    s.ram_swap_free_kb = v.swap_free_kb;
    s.ram_swap_used_kb = Some(swap_total - v.swap_free_kb);
    s.procs_running = v.running;
    s.procs_disk_sleep = v.disk_sleep;
    s.procs_zombie = v.zombies;
    s.procs_total = v.running
        + template.procs_sleeping
        + v.disk_sleep
        + template.procs_stopped
        + template.procs_traced
        + v.zombies
        + template.procs_dead
        + template.procs_idle;
    s
}

/// Work for the writer task.
enum Batch {
    Raw(Vec<NewSample>),
    Rollups(Tier, Vec<RollupRow>),
}

#[derive(Default)]
struct Written {
    raw: usize,
    minute: usize,
    hour: usize,
    seconds: f64,
}

async fn writer(db: Database, mut rx: mpsc::Receiver<Batch>) -> Result<Written, StorageError> {
    let mut w = Written::default();
    while let Some(batch) = rx.recv().await {
        let t = Instant::now();
        match batch {
            Batch::Raw(rows) => {
                let n = rows.len();
                let report = insert_samples(&db, rows).await?;
                if report.accepted() != n {
                    return Err(StorageError::InvalidArgument(format!(
                        "{} of {n} generated rows were duplicates (is the database empty?)",
                        report.duplicates()
                    )));
                }
                w.raw += n;
            }
            Batch::Rollups(tier, rows) => {
                replace_rollups(&db, tier, &rows).await?;
                match tier {
                    Tier::Hour => w.hour += rows.len(),
                    _ => w.minute += rows.len(),
                }
            }
        }
        w.seconds += t.elapsed().as_secs_f64();
    }
    Ok(w)
}

/// Hands `b` to the writer; `false` when it has stopped (on an error, which its result
/// names).
async fn send(tx: &mpsc::Sender<Batch>, b: Batch) -> bool {
    tx.send(b).await.is_ok()
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("gen_history: {e}");
    std::process::exit(1)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args().unwrap_or_else(|e| fail(e));
    let started = Instant::now();
    let url: DatabaseUrl = a.url.parse().unwrap_or_else(|e| fail(e));
    let opts = PoolOptions {
        timeout: StdDuration::from_secs(60),
        ..PoolOptions::default()
    };
    let db = Database::connect(&url, &opts)
        .await
        .unwrap_or_else(|e| fail(e));
    if db.backend() == Backend::Sqlite {
        // The single writer connection keeps this setting for the whole run.
        with_conn!(db.write_pool(), c => {
            c.batch_execute("PRAGMA synchronous=OFF").await?;
            Ok::<_, StorageError>(())
        })
        .unwrap_or_else(|e| fail(e));
    }

    let snap: Snapshot =
        serde_json::from_str(include_str!("../../model/tests/fixtures/snapshot_v2.json"))
            .unwrap_or_else(|e| fail(e));
    let cores = snap.cpu.cores as f64;
    let template = NewSample::from_snapshot(&snap, "a", snap.collected_at);

    let now = OffsetDateTime::now_utc();
    let end = a.end.unwrap_or(now);
    // Whole minutes: the last bucket is complete, and the 15-minute query ends on one.
    let end = end
        .replace_nanosecond(0)
        .and_then(|t| t.replace_second(0))
        .unwrap_or(end);
    let start = end - Duration::days(a.days);
    let raw_from = end - Duration::days(a.raw_days);
    let minutes = a.days * 1440;

    let mut hosts: Vec<Host> = (0..a.hosts)
        .map(|i| Host::new(i, a.hosts, &a.host_prefix, a.seed))
        .collect();
    let (tx, rx) = mpsc::channel::<Batch>(2);
    let write = tokio::spawn(writer(db.clone(), rx));

    let mut raw: Vec<NewSample> = Vec::with_capacity(RAW_BATCH + a.hosts * 60);
    let mut minute_rows: Vec<RollupRow> = Vec::with_capacity(ROLLUP_BATCH + a.hosts);
    let mut hour_rows: Vec<RollupRow> = Vec::new();
    let mut hour_acc: Vec<Vec<RollupRow>> = vec![Vec::with_capacity(60); a.hosts];
    let mut points: Vec<RawPoint> = Vec::with_capacity(60);
    let mut newest_received = to_db_time(start);
    let mut ok = true;
    let progress_every = (minutes / 10).max(1);
    for m in 0..minutes {
        let bucket_t = start + Duration::minutes(m);
        let bucket = to_db_time(bucket_t);
        let keep_raw = bucket_t >= raw_from;
        let hour_ends = m + 1 == minutes || (bucket_t + Duration::minutes(1)).minute() == 0;
        for (h, host) in hosts.iter_mut().enumerate() {
            points.clear();
            for s in 0..60 {
                let t = bucket_t + Duration::seconds(s) + Duration::milliseconds(host.phase_ms);
                let v = host.step(t.unix_timestamp(), cores);
                let collected = to_db_time(t);
                let received =
                    to_db_time(t + Duration::milliseconds(15 + host.rng.below(40) as i64));
                if keep_raw {
                    raw.push(new_sample(&template, host, collected, received, &v));
                    newest_received = newest_received.max(received);
                }
                points.push(RawPoint {
                    host: host.name.clone(),
                    collected_at: collected,
                    cpu: v.cpu,
                    ram: v.ram,
                    swap_total_kb: if host.has_swap { SWAP_TOTAL_KB } else { 0 },
                    swap_free_kb: v.swap_free_kb,
                    load1: v.load1,
                    zombies: v.zombies,
                    disk_sleep: v.disk_sleep,
                    cores: template.cpu_cores,
                    source: template.source.clone(),
                });
            }
            let row = aggregate(&host.name, bucket, &points)
                .unwrap_or_else(|| fail("a minute of 60 rows aggregated to nothing"));
            hour_acc[h].push(row.clone());
            minute_rows.push(row);
            if hour_ends {
                let hour = bucket_start(to_db_time(hour_acc[h][0].bucket), Tier::Hour);
                if let Some(r) = merge(&host.name, hour, &hour_acc[h]) {
                    hour_rows.push(r);
                }
                hour_acc[h].clear();
            }
        }
        if raw.len() >= RAW_BATCH {
            ok &= send(&tx, Batch::Raw(std::mem::take(&mut raw))).await;
        }
        if minute_rows.len() >= ROLLUP_BATCH {
            ok &= send(
                &tx,
                Batch::Rollups(Tier::Minute, std::mem::take(&mut minute_rows)),
            )
            .await;
        }
        if hour_rows.len() >= ROLLUP_BATCH {
            ok &= send(
                &tx,
                Batch::Rollups(Tier::Hour, std::mem::take(&mut hour_rows)),
            )
            .await;
        }
        if !ok {
            break;
        }
        if (m + 1) % progress_every == 0 {
            eprintln!(
                "gen_history: {}% ({:.0} s)",
                (m + 1) * 100 / minutes,
                started.elapsed().as_secs_f64()
            );
        }
    }
    if ok && !raw.is_empty() {
        ok &= send(&tx, Batch::Raw(raw)).await;
    }
    if ok && !minute_rows.is_empty() {
        ok &= send(&tx, Batch::Rollups(Tier::Minute, minute_rows)).await;
    }
    if ok && !hour_rows.is_empty() {
        send(&tx, Batch::Rollups(Tier::Hour, hour_rows)).await;
    }
    drop(tx);
    let written = match write.await {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => fail(e),
        Err(e) => fail(e),
    };

    // What a maintainer that had run all along would have recorded: everything is
    // folded (the watermark is the newest raw row's received_at), the raw tier keeps
    // what was generated raw, and raw rows before that were deleted.
    let keep_raw_seconds = a.raw_days * 86_400;
    let deleted_before = to_db_time(raw_from);
    with_conn!(db.write_pool(), c => {
        use history_tiers::dsl;
        diesel::update(dsl::history_tiers.filter(dsl::tier.eq(Tier::Raw.as_str())))
            .set((
                dsl::rolled_up_to.eq(Some(newest_received)),
                dsl::keep_seconds.eq(keep_raw_seconds),
                dsl::deleted_before.eq(Some(deleted_before)),
            ))
            .execute(c)
            .await?;
        Ok::<_, StorageError>(())
    })
    .unwrap_or_else(|e| fail(e));

    let time = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "end": time(end),
            "start": time(start),
            "rolled_up_to": time(from_db_time(newest_received)),
            "hosts": a.hosts,
            "raw_rows": written.raw,
            "rollup_1m_rows": written.minute,
            "rollup_1h_rows": written.hour,
            "write_seconds": written.seconds,
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
}
