//! How long retention's delete batches hold the database while ingest-like writers
//! insert (issue 15: "deleted in bounded batches that never block ingest for more than a
//! few ms (measure it)").
//!
//! ```text
//! cargo run --release -p procpulse-storage --example retention_lock -- \
//!     [--url sqlite://path | mysql://user:pass@host:port/db] [--rows 100000] \
//!     [--batch 500] [--writers 4] [--per-insert 10] [--baseline-secs 3] [--own-pools] \
//!     [--pause-factor 9]
//! ```
//!
//! Without `--url`: a temp SQLite file. A `mysql://` URL gets a fresh database
//! `<db>_t<random>` on that server (the user needs CREATE on `<db>_%`, as
//! ci/mariadb.sh grants). The example stores `--rows` rows received eight days ago,
//! measures `--writers` tasks inserting `--per-insert` new rows per transaction for
//! `--baseline-secs`, folds the old rows (a pass that deletes nothing), then runs one
//! maintenance pass (default 7-day raw retention, so
//! every old row goes, in batches of `--batch`, each followed by a pause of at least
//! `--pause-factor` times the batch) while the same writers keep inserting,
//! and prints how long each batch held its lock (SQLite: the file's write lock from
//! `BEGIN IMMEDIATE` to the end of `COMMIT`; MySQL: the autocommit DELETE statement),
//! how long it waited for it, and the writers' insert latencies before and during the
//! deletes.

use procpulse_storage::history::Tier;
use procpulse_storage::maintain::config::DELETE_PAUSE_PER_HELD;
use procpulse_storage::maintain::retention::BatchTiming;
use procpulse_storage::maintain::{MaintainConfig, MaintainObserver, Maintainer};
use procpulse_storage::write::insert_samples;
use procpulse_storage::{Database, DatabaseUrl, NewSample, PoolOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Lock hold and wait time of every raw delete batch.
#[derive(Debug, Default)]
struct Batches(Mutex<(Vec<Duration>, Vec<Duration>)>);
impl MaintainObserver for Batches {
    fn delete_batch(&self, tier: Tier, rows: usize, t: BatchTiming) {
        if tier == Tier::Raw && rows > 0 {
            let mut v = self.0.lock().unwrap();
            v.0.push(t.held);
            v.1.push(t.waited);
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: cannot parse {v:?}"))
        })
        .unwrap_or(default)
}

fn snapshot() -> procpulse_model::Snapshot {
    serde_json::from_str(include_str!(
        "../../model/tests/fixtures/snapshot_valid.json"
    ))
    .expect("fixture")
}

fn row(id: String, host: String, at: OffsetDateTime) -> NewSample {
    let mut s = snapshot();
    s.sample_id = id;
    s.host = host;
    s.collected_at = at;
    NewSample::from_snapshot(&s, "a", at)
}

/// p50, p99 and max, in milliseconds.
fn summary(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    format!(
        "n={} p50={:.2}ms p99={:.2}ms max={:.2}ms",
        v.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Writers inserting fresh rows until `stop`; returns every insert's latency.
fn writers(
    db: &Database,
    n: usize,
    per: usize,
    tag: &'static str,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Duration>>> {
    (0..n)
        .map(|w| {
            let (db, stop) = (db.clone(), stop.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let now = OffsetDateTime::now_utc();
                    let rows = (0..per)
                        .map(|_| {
                            i += 1;
                            row(format!("{tag}-{w}-{i}"), format!("live-{w}"), now)
                        })
                        .collect();
                    let t = Instant::now();
                    insert_samples(&db, rows).await.expect("insert");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect()
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>) -> Vec<Duration> {
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("writer"));
    }
    all
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = arg(&args, "--rows", 100_000);
    let batch: usize = arg(&args, "--batch", 500);
    let n_writers: usize = arg(&args, "--writers", 4);
    let per: usize = arg(&args, "--per-insert", 10);
    let baseline = Duration::from_secs(arg(&args, "--baseline-secs", 3));
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match args.iter().position(|a| a == "--url") {
        Some(i) if args[i + 1].starts_with("mysql://") => {
            procpulse_storage::testing::fresh_mysql_database(&args[i + 1])
                .await
                .expect("create database")
        }
        Some(i) => args[i + 1].clone(),
        None => format!("sqlite://{}", dir.path().join("ret.db").display()),
    };
    let url: DatabaseUrl = url.parse().expect("url");
    let db = Database::connect(&url, &PoolOptions::default())
        .await
        .expect("connect");
    println!(
        "backend {:?}, {rows} old rows, batches of {batch}, {n_writers} writers × {per} rows/insert",
        db.backend()
    );

    let old = OffsetDateTime::now_utc() - time::Duration::days(8);
    let t = Instant::now();
    for start in (0..rows).step_by(1000) {
        let chunk = (start..(start + 1000).min(rows))
            .map(|i| {
                row(
                    format!("old-{i}"),
                    format!("old-{}", i % 10),
                    old + time::Duration::milliseconds(i as i64),
                )
            })
            .collect();
        insert_samples(&db, chunk).await.expect("populate");
    }
    println!("populated in {:.1}s", t.elapsed().as_secs_f64());

    let stop = Arc::new(AtomicBool::new(false));
    let tasks = writers(&db, n_writers, per, "base", stop.clone());
    tokio::time::sleep(baseline).await;
    stop.store(true, Ordering::Relaxed);
    let base = collect(tasks).await;
    println!(
        "inserts without deletes: {} ({:.0} rows/s)",
        summary(base.clone()),
        (base.len() * per) as f64 / baseline.as_secs_f64()
    );

    // Fold the old rows first (a pass that keeps everything), so the measured pass
    // only deletes: the fold of a backlog is a cost of its own, paid once.
    let fold_only = MaintainConfig {
        keep_raw: Duration::ZERO,
        keep_1m: Duration::ZERO,
        keep_1h: Duration::ZERO,
        ..MaintainConfig::default()
    };
    let t = Instant::now();
    let holder = fold_only.holder.clone();
    let folded = Maintainer::on(db.clone(), fold_only)
        .pass(&AtomicBool::new(false))
        .await
        .expect("fold pass");
    println!(
        "folded {} rows first in {:.1}s",
        folded.folded_rows,
        t.elapsed().as_secs_f64()
    );

    let config = MaintainConfig {
        delete_batch_rows: batch,
        delete_pause_per_held: arg(&args, "--pause-factor", DELETE_PAUSE_PER_HELD),
        // The same holder: the fold pass holds the lease.
        holder,
        ..MaintainConfig::default()
    };
    let batches = Arc::new(Batches::default());
    // --own-pools: the maintainer on connections of its own (on SQLite a second writer
    // connection, competing for the file lock); default: on the writers' pools.
    let m = if args.iter().any(|a| a == "--own-pools") {
        Maintainer::new(&url, &PoolOptions::default(), config).expect("maintainer")
    } else {
        Maintainer::on(db.clone(), config)
    }
    .with_observer(batches.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = writers(&db, n_writers, per, "during", stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    let report = m.pass(&AtomicBool::new(false)).await.expect("pass");
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during = collect(tasks).await;
    println!(
        "pass: {} raw rows deleted in {} batches, {:.2}s (fold scanned {} rows)",
        report.deleted[0].rows,
        report.deleted[0].batches,
        took.as_secs_f64(),
        report.folded_rows
    );
    let (held, waited) = batches.0.lock().unwrap().clone();
    println!("delete batches, lock held: {}", summary(held));
    println!("delete batches, waiting for the lock: {}", summary(waited));
    println!(
        "inserts during deletes: {} ({:.0} rows/s)",
        summary(during.clone()),
        (during.len() * per) as f64 / (took + Duration::from_millis(200)).as_secs_f64()
    );
}
