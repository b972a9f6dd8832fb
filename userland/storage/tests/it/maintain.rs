//! The history maintainer on real databases: folding equals a from-scratch computation
//! (late rows included), two maintainers at once, the lease, retention.

use crate::common;
use crate::schema::snapshot;
use procpulse_storage::history::{self, RollupRow, Tier};
use procpulse_storage::maintain::{
    FoldStep, MaintainConfig, MaintainObserver, Maintainer, PassReport, lease,
};
use procpulse_storage::rollup;
use procpulse_storage::row::{from_db_time, to_db_time};
use procpulse_storage::write::insert_samples;
use procpulse_storage::{Database, NewSample, PoolOptions};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// A small deterministic generator (xorshift64*), seeded per test.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A raw row of `host` collected at `collected`, received at `received`, with metrics
/// drawn from `rng` (swap on about half the rows).
pub fn raw(
    rng: &mut Rng,
    id: &str,
    host: &str,
    collected: OffsetDateTime,
    received: OffsetDateTime,
) -> NewSample {
    let mut r = NewSample::from_snapshot(&snapshot(id), "a", received);
    r.host = host.to_owned();
    r.collected_at = to_db_time(collected);
    r.cpu_usage_percent = rng.below(10_000) as f64 / 100.0;
    r.ram_used_percent = rng.below(10_000) as f64 / 100.0;
    r.load1 = rng.below(800) as f64 / 100.0;
    r.procs_zombie = rng.below(4) as i64;
    r.procs_disk_sleep = rng.below(3) as i64;
    r.cpu_cores = 1 + rng.below(8) as i32;
    r.source = if rng.below(2) == 0 { "kmod" } else { "procfs" }.to_owned();
    if rng.below(2) == 0 {
        r.ram_swap_total_kb = 0;
        r.ram_swap_free_kb = 0;
    } else {
        r.ram_swap_total_kb = 1_000_000;
        r.ram_swap_free_kb = rng.below(1_000_000) as i64;
    }
    r
}

/// Every stored row of a rollup tier, by (host, bucket).
pub async fn stored(db: &Database, tier: Tier) -> Vec<RollupRow> {
    procpulse_storage::testing::stored_rollups(db, tier)
        .await
        .unwrap()
}

/// Asserts the rollup tables equal a from-scratch computation over every raw row.
pub async fn assert_rollups_from_scratch(db: &Database, ctx: &str) {
    if let Err(e) = procpulse_storage::testing::check_rollups_from_scratch(db).await {
        panic!("{ctx}: {e}");
    }
}

/// Settings for tests: no settle delay, small chunks, steps and batches, default
/// retention.
pub fn test_config(holder: &str) -> MaintainConfig {
    MaintainConfig {
        settle: Duration::ZERO,
        interval: Duration::from_millis(20),
        fold_chunk_rows: 7,
        fold_max_buckets: 5,
        delete_batch_rows: 7,
        delete_pause: Duration::ZERO,
        lease_ttl: Duration::from_secs(30),
        holder: holder.to_owned(),
        ..MaintainConfig::default()
    }
}

fn maintainer(db: &Database, config: MaintainConfig) -> Maintainer {
    Maintainer::new(db.url(), &PoolOptions::default(), config).unwrap()
}

async fn pass(m: &Maintainer) -> PassReport {
    m.pass(&AtomicBool::new(false)).await.unwrap()
}

/// Rows arrive in rounds, each round followed by a pass: fresh rows spread over three
/// hours and three hosts, late rows (received now, collected in minutes already
/// folded), two rows of one host collected at the same millisecond, and a live host's
/// rows collected in order up to now. After every pass the
/// rollup tables equal a from-scratch computation. Chunks of 7 rows make every pass
/// several fold steps, cutting through rows received in the same millisecond. Run with
/// the maintainer's memory off (every bucket recomputed from the database), at its
/// default (the live host's minutes extended from memory), and holding everything
/// (late rows into remembered minutes and settled hours), and at its default on the
/// handle the rows are written through, so that every round after the first takes its
/// rows from the fold tap (the first round's rows were written before the tap was on);
/// the maintainer is replaced (memory lost) before round 3.
#[tokio::test]
async fn folding_equals_a_from_scratch_computation_with_late_rows() {
    let default = MaintainConfig::default().fold_memory;
    let runs = [
        (Duration::ZERO, false),
        (default, false),
        (Duration::from_secs(86_400), false),
        (default, true),
    ];
    for (memory, tap) in runs {
        for t in common::all().await {
            let db = &t.db;
            let ctx = format!("{:?}, memory {memory:?}, tap {tap}", db.backend());
            let mut cfg = test_config("solo");
            cfg.fold_memory = memory;
            let make = |cfg: MaintainConfig| {
                if tap {
                    Maintainer::on(db.clone(), cfg)
                } else {
                    maintainer(db, cfg)
                }
            };
            let mut m = make(cfg.clone());
            let mut rng = Rng::new(15);
            let now = OffsetDateTime::now_utc();
            let start = now - time::Duration::hours(3);
            let (mut n, mut minutes, mut read) = (0, 0, 0);
            for round in 0..5 {
                if round == 3 {
                    m = make(cfg.clone());
                }
                let mut batch = Vec::new();
                let mut previous = None;
                for i in 0..50 {
                    n += 1;
                    let (host, collected) = if i == 35 {
                        // Collected at the same millisecond as the row before (in the
                        // batch before), with other values: rows of one time.
                        previous.clone().expect("row 34")
                    } else if i >= 40 {
                        // Live: in order, a second apart, ending before now.
                        let s = (5 - round) * 60 - (i - 40) * 6;
                        ("live".to_owned(), now - time::Duration::seconds(s as i64))
                    } else if round > 0 && rng.below(3) == 0 {
                        // Late: into the first round's time span.
                        let c = start + time::Duration::seconds(rng.below(3600) as i64);
                        (format!("vm-{}", rng.below(3)), c)
                    } else {
                        let c = start + time::Duration::seconds(rng.below(3 * 3600) as i64);
                        (format!("vm-{}", rng.below(3)), c)
                    };
                    previous = Some((host.clone(), collected));
                    batch.push(raw(
                        &mut rng,
                        &format!("r{n}"),
                        &host,
                        collected,
                        OffsetDateTime::now_utc(),
                    ));
                    if batch.len() == 5 {
                        insert_samples(db, std::mem::take(&mut batch))
                            .await
                            .unwrap();
                    }
                }
                let r = pass(&m).await;
                assert!(r.held && r.caught_up, "{ctx}: {r:?}");
                assert!(r.steps > 1, "{ctx}: {r:?}");
                assert_eq!(r.folded_rows, 50, "{ctx}: round {round}: {r:?}");
                let tapped = if tap && round > 0 { 50 } else { 0 };
                assert_eq!(r.tapped_rows, tapped, "{ctx}: round {round}: {r:?}");
                assert_rollups_from_scratch(db, &format!("{ctx} round {round}")).await;
                minutes += r.minutes + r.hours;
                read += r.minutes_read + r.hours_read;
            }
            if memory.is_zero() {
                assert_eq!(read, minutes, "{ctx}: all from the database");
            } else {
                // Late rows, and the row of an already-folded millisecond that sorts
                // before it in half the cases, are read back on purpose; the live host
                // and most fresh rows are not.
                assert!(
                    read * 3 < minutes * 2,
                    "{ctx}: memory unused: {read} of {minutes}"
                );
            }
            // A pass with nothing new writes nothing and changes nothing.
            let before = stored(db, Tier::Minute).await;
            let r = pass(&m).await;
            assert_eq!((r.folded_rows, r.minutes), (0, 0), "{ctx}");
            assert_eq!(stored(db, Tier::Minute).await, before);
        }
    }
}

/// The lease: one holder at a time, renewable (also twice within a millisecond),
/// released on request, and taken over after it expires — by the database's clock.
#[tokio::test]
async fn the_lease_has_one_holder_and_expires() {
    for t in common::all().await {
        let db = &t.db;
        let ctx = format!("{:?}", db.backend());
        let long = Duration::from_secs(30);
        let name = lease::HISTORY_LEASE;
        // The database's clock, in UTC (the fold's settle bound is taken from it).
        let skew = lease::database_now(db).await.unwrap() - OffsetDateTime::now_utc();
        assert!(skew.abs() < time::Duration::seconds(5), "{ctx}: {skew}");
        assert_eq!(lease::current_holder(db, name).await.unwrap(), None);
        assert!(lease::acquire(db, name, "a", long).await.unwrap(), "{ctx}");
        assert!(!lease::acquire(db, name, "b", long).await.unwrap(), "{ctx}");
        assert!(lease::acquire(db, name, "a", long).await.unwrap(), "{ctx}");
        assert!(lease::acquire(db, name, "a", long).await.unwrap(), "{ctx}");
        assert_eq!(
            lease::current_holder(db, name).await.unwrap().as_deref(),
            Some("a")
        );
        lease::release(db, name, "b").await.unwrap(); // not b's: no effect
        assert!(!lease::acquire(db, name, "b", long).await.unwrap(), "{ctx}");
        lease::release(db, name, "a").await.unwrap();
        assert!(
            lease::acquire(db, name, "b", Duration::from_millis(100))
                .await
                .unwrap()
        );
        assert!(!lease::acquire(db, name, "a", long).await.unwrap(), "{ctx}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            lease::current_holder(db, name).await.unwrap(),
            None,
            "{ctx}"
        );
        assert!(lease::acquire(db, name, "a", long).await.unwrap(), "{ctx}");
    }
}

/// Records when each maintainer held the lease through a pass.
#[derive(Debug, Default)]
struct Held(Mutex<Vec<bool>>, std::sync::atomic::AtomicUsize);
impl MaintainObserver for Held {
    fn pass(&self, r: &PassReport) {
        self.0.lock().unwrap().push(r.held);
    }
    fn fold_step(&self, s: &FoldStep) {
        if s.conflict {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Two maintainers run at once (as two ingest replicas do) while rows arrive: only one
/// of them ever holds the lease while it keeps renewing it, and the tables equal a
/// from-scratch computation. With the lease made useless (a zero ttl, so both work at
/// once) the compare-and-set watermark still keeps the result exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_maintainers_at_once_give_the_same_tables_as_one() {
    for t in common::all().await {
        for ttl in [Duration::from_secs(30), Duration::ZERO] {
            let db = &t.db;
            let ctx = format!("{:?} ttl {ttl:?}", db.backend());
            let observers = [Arc::new(Held::default()), Arc::new(Held::default())];
            let stops = [
                Arc::new(tokio::sync::Notify::new()),
                Arc::new(tokio::sync::Notify::new()),
            ];
            let mut tasks = Vec::new();
            for (i, o) in observers.iter().enumerate() {
                let mut cfg = test_config(&format!("m{i}-{}", ttl.as_millis()));
                cfg.lease_ttl = ttl;
                cfg.interval = Duration::from_millis(5);
                // Rows are inserted meanwhile: a row's received_at is taken before its
                // insert commits, which the settle delay has to cover.
                cfg.settle = Duration::from_millis(200);
                let m = maintainer(db, cfg).with_observer(o.clone());
                let stop = stops[i].clone();
                tasks.push(Some(tokio::spawn(async move {
                    m.run(async move { stop.notified().await }).await
                })));
            }
            let mut rng = Rng::new(7 + ttl.as_millis() as u64);
            let start = OffsetDateTime::now_utc() - time::Duration::hours(2);
            for i in 0..60 {
                let rows = (0..4)
                    .map(|j| {
                        let collected = start + time::Duration::seconds(rng.below(7200) as i64);
                        let host = format!("h{}", rng.below(4));
                        raw(
                            &mut rng,
                            &format!("two-{}-{i}-{j}", ttl.as_millis()),
                            &host,
                            collected,
                            OffsetDateTime::now_utc(),
                        )
                    })
                    .collect();
                insert_samples(db, rows).await.unwrap();
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            // Stop the one not holding the lease first: the holder gives it up when it
            // stops, and the other could take it over then.
            let first = usize::from(observers[0].0.lock().unwrap().iter().any(|h| *h));
            for i in [first, 1 - first] {
                stops[i].notify_one();
                tokio::time::timeout(Duration::from_secs(10), tasks[i].take().unwrap())
                    .await
                    .expect("maintainer stops")
                    .unwrap();
            }
            let held: Vec<Vec<bool>> = observers
                .iter()
                .map(|o| o.0.lock().unwrap().clone())
                .collect();
            let holders = held.iter().filter(|h| h.iter().any(|x| *x)).count();
            if ttl > Duration::ZERO {
                assert_eq!(holders, 1, "{ctx}: {held:?}");
            } else {
                // Both worked, at the same time as often as not.
                assert_eq!(holders, 2, "{ctx}: {held:?}");
            }
            let conflicts: usize = observers
                .iter()
                .map(|o| {
                    std::sync::atomic::AtomicUsize::load(&o.1, std::sync::atomic::Ordering::Relaxed)
                })
                .sum();
            eprintln!("{ctx}: fold steps that lost the compare-and-set: {conflicts}");
            // The last pass may have run before the last rows settled: one more.
            let holder = format!("final-{}", ttl.as_millis());
            let last = pass(&maintainer(db, test_config(&holder))).await;
            assert!(last.held && last.caught_up, "{ctx}: {last:?}");
            lease::release(db, lease::HISTORY_LEASE, &holder)
                .await
                .unwrap();
            assert_rollups_from_scratch(db, &ctx).await;
        }
    }
}

/// Records every retention batch.
#[derive(Debug, Default)]
struct Batches(Mutex<Vec<(Tier, usize)>>);
impl MaintainObserver for Batches {
    fn delete_batch(
        &self,
        tier: Tier,
        rows: usize,
        _t: procpulse_storage::maintain::retention::BatchTiming,
    ) {
        self.0.lock().unwrap().push((tier, rows));
    }
}

/// Retention deletes exactly the rows past their keep, in batches of the configured
/// size, and never a raw row the watermark has not passed. Rows collected at the raw
/// retention edge are left unfolded (their minute's other rows may be gone).
#[tokio::test]
async fn retention_deletes_only_what_is_old_and_folded_in_batches() {
    for t in common::all().await {
        let db = &t.db;
        let ctx = format!("{:?}", db.backend());
        let now = OffsetDateTime::now_utc();
        let mut rng = Rng::new(3);
        let ago = |m: i64| now - time::Duration::minutes(m);
        // 30 rows received 2 h ago (past a 1 h keep), 10 received 10 minutes ago.
        let old: Vec<_> = (0..30)
            .map(|i| raw(&mut rng, &format!("old-{i}"), "vm-1", ago(121), ago(120)))
            .collect();
        let new: Vec<_> = (0..10)
            .map(|i| raw(&mut rng, &format!("new-{i}"), "vm-1", ago(11), ago(10)))
            .collect();
        insert_samples(db, old).await.unwrap();
        insert_samples(db, new).await.unwrap();
        // Rollup rows on both sides of 1-day (1m) and 2-day (1h) keeps.
        let r = |b| crate::history::rollup("vm-1", b, 1.0, false);
        let day = time::Duration::days(1);
        let minute0 = from_db_time(rollup::bucket_start(
            to_db_time(now - 3 * day),
            Tier::Minute,
        ));
        let old_minutes: Vec<_> = (0..9)
            .map(|i| r(minute0 + time::Duration::minutes(i)))
            .collect();
        history::replace_rollups(db, Tier::Minute, &old_minutes)
            .await
            .unwrap();
        let hour0 = from_db_time(rollup::bucket_start(to_db_time(now - 5 * day), Tier::Hour));
        let old_hours: Vec<_> = (0..3)
            .map(|i| r(hour0 + time::Duration::hours(i)))
            .collect();
        history::replace_rollups(db, Tier::Hour, &old_hours)
            .await
            .unwrap();

        let mut cfg = test_config("ret");
        cfg.keep_raw = Duration::from_secs(3600);
        cfg.keep_1m = Duration::from_secs(86_400);
        cfg.keep_1h = Duration::from_secs(2 * 86_400);
        // First with a settle delay longer than the rows' age: nothing is folded, so no
        // raw row may be deleted; the rollup tiers are trimmed all the same.
        cfg.settle = Duration::from_secs(3 * 3600);
        let batches = Arc::new(Batches::default());
        let m = maintainer(db, cfg.clone()).with_observer(batches.clone());
        let p = pass(&m).await;
        assert_eq!(p.folded_rows, 0, "{ctx}: {p:?}");
        assert_eq!(
            p.deleted[0].rows, 0,
            "{ctx}: raw deleted before folding: {p:?}"
        );
        assert_eq!(
            (p.deleted[1].rows, p.deleted[2].rows),
            (9, 3),
            "{ctx}: {p:?}"
        );
        assert_eq!(
            procpulse_storage::read::stats(db).await.unwrap().total_rows,
            40,
            "{ctx}"
        );
        let tiers = history::tiers(db).await.unwrap();
        assert_eq!(tiers[0].keep_seconds, 3600, "{ctx}: retention written");
        assert!(stored(db, Tier::Hour).await.is_empty(), "{ctx}");
        assert!(stored(db, Tier::Minute).await.is_empty(), "{ctx}");

        // Now fold everything: the 30 old raw rows go, in batches of 7; the 10 new stay.
        cfg.settle = Duration::ZERO;
        let m = maintainer(db, cfg).with_observer(batches.clone());
        let p = pass(&m).await;
        assert_eq!(p.folded_rows, 40, "{ctx}: {p:?}");
        assert_eq!(p.deleted[0].rows, 30, "{ctx}: {p:?}");
        assert_eq!(p.deleted[0].batches, 5, "{ctx}: 7+7+7+7+2: {p:?}");
        assert_eq!(
            procpulse_storage::read::stats(db).await.unwrap().total_rows,
            10,
            "{ctx}"
        );
        let raw_batches: Vec<usize> = batches
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| *t == Tier::Raw)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(raw_batches, [0, 7, 7, 7, 7, 2], "{ctx}");
        // Both minutes were folded before the old rows went: nothing had been deleted
        // yet, so the old minute was complete.
        let minutes = stored(db, Tier::Minute).await;
        let counts: Vec<i64> = minutes.iter().map(|m| m.samples).collect();
        assert_eq!(counts, [30, 10], "{ctx}: {minutes:?}");
        // A late row in the old minute, now past the recorded delete cutoff (+ margin):
        // left unfolded — a recompute from what is left would replace 30 with 1.
        let late = raw(
            &mut rng,
            "late-old",
            "vm-1",
            ago(121),
            OffsetDateTime::now_utc(),
        );
        insert_samples(db, vec![late]).await.unwrap();
        let p = pass(&m).await;
        assert_eq!(p.folded_rows, 1, "{ctx}: {p:?}");
        assert_eq!(p.minutes, 0, "{ctx}: {p:?}");
        let counts: Vec<i64> = stored(db, Tier::Minute)
            .await
            .iter()
            .map(|m| m.samples)
            .collect();
        assert_eq!(counts, [30, 10], "{ctx}");
    }
}

/// A minute a fold skipped at the raw retention edge is never later taken for new (and
/// computed from a step's rows alone) when the keep shrinks: a maintainer with a 6 h raw
/// keep (an hour's margin past the delete cutoff D) skips a late row collected 30 min
/// past D; with a 1 h keep (a 15 min margin) a second late row of that minute comes, and
/// the minute must count both.
#[tokio::test]
async fn a_shorter_keep_does_not_take_a_skipped_minute_for_new() {
    for t in common::all().await {
        let db = &t.db;
        let ctx = format!("{:?}", db.backend());
        let now = OffsetDateTime::now_utc();
        let mut rng = Rng::new(33);
        let ago = |m: i64| now - time::Duration::minutes(m);
        let old: Vec<_> = (0..3)
            .map(|i| raw(&mut rng, &format!("old-{i}"), "vm-1", ago(421), ago(420)))
            .collect();
        insert_samples(db, old).await.unwrap();
        let mut cfg = test_config("keeper");
        cfg.keep_raw = Duration::from_secs(6 * 3600);
        let p = pass(&maintainer(db, cfg.clone())).await;
        assert_eq!(p.deleted[0].rows, 3, "{ctx}: D = now − 6 h: {p:?}");
        let minute = from_db_time(rollup::bucket_start(to_db_time(ago(330)), Tier::Minute));
        let late = |rng: &mut Rng, id: &str, s: i64| {
            let c = minute + time::Duration::seconds(s);
            raw(rng, id, "vm-2", c, OffsetDateTime::now_utc())
        };
        insert_samples(db, vec![late(&mut rng, "late-x", 10)])
            .await
            .unwrap();
        let p = pass(&maintainer(db, cfg.clone())).await;
        assert_eq!((p.folded_rows, p.minutes), (1, 0), "{ctx}: skipped: {p:?}");

        cfg.keep_raw = Duration::from_secs(3600);
        insert_samples(db, vec![late(&mut rng, "late-y", 20)])
            .await
            .unwrap();
        let p = pass(&maintainer(db, cfg.clone())).await;
        assert_eq!((p.folded_rows, p.minutes), (1, 1), "{ctx}: {p:?}");
        assert_eq!(p.minutes_read, 1, "{ctx}: from the database: {p:?}");
        let vm2: Vec<i64> = stored(db, Tier::Minute)
            .await
            .iter()
            .filter(|m| m.host == "vm-2")
            .map(|m| m.samples)
            .collect();
        assert_eq!(vm2, [2], "{ctx}: the skipped row and the new one");
    }
}

/// A retention backlog larger than a pass's budget is deleted over several passes, each
/// of which folds first: rollups keep up while a backlog of old rows goes (a pass that
/// had deleted all of a large backlog before its next fold held them back for as long).
#[tokio::test]
async fn a_retention_backlog_leaves_room_for_the_fold() {
    for t in common::all().await {
        let db = &t.db;
        let ctx = format!("{:?}", db.backend());
        let now = OffsetDateTime::now_utc();
        let mut rng = Rng::new(41);
        let two_h = now - time::Duration::hours(2);
        let old: Vec<_> = (0..30)
            .map(|i| raw(&mut rng, &format!("old-{i}"), "vm-1", two_h, two_h))
            .collect();
        insert_samples(db, old).await.unwrap();
        let mut cfg = test_config("budget");
        cfg.keep_raw = Duration::from_secs(3600);
        cfg.retention_budget = Duration::ZERO;
        let m = maintainer(db, cfg);
        let p = pass(&m).await;
        assert_eq!(p.folded_rows, 30, "{ctx}: {p:?}");
        let raw_deleted = |p: &PassReport| (p.deleted[0].rows, p.deleted[0].unfinished);
        assert_eq!(raw_deleted(&p), (7, true), "{ctx}: one batch: {p:?}");
        let mut seen = Vec::new();
        for i in 0..4 {
            let new = raw(
                &mut rng,
                &format!("new-{i}"),
                "vm-2",
                now,
                OffsetDateTime::now_utc(),
            );
            insert_samples(db, vec![new]).await.unwrap();
            let p = pass(&m).await;
            assert_eq!(p.folded_rows, 1, "{ctx}: folded before deleting: {p:?}");
            seen.push(raw_deleted(&p));
        }
        assert_eq!(
            seen,
            [(7, true), (7, true), (7, true), (2, false)],
            "{ctx}: 30 = 7 + 7 + 7 + 7 + 2"
        );
        let minutes: Vec<(String, i64)> = stored(db, Tier::Minute)
            .await
            .into_iter()
            .map(|m| (m.host, m.samples))
            .collect();
        assert_eq!(
            minutes,
            [("vm-1".to_owned(), 30), ("vm-2".to_owned(), 4)],
            "{ctx}"
        );
    }
}

/// An upgrade (review item 1): raw rows older than the raw keep that were never deleted
/// — stored before the maintainer first ran, or during an outage longer than the keep —
/// are folded into minutes and hours before retention deletes them. Rows 100 days old
/// (past the 90-day minute keep) still leave their hour.
#[tokio::test]
async fn an_upgrade_folds_old_raw_rows_before_deleting_them() {
    for t in common::all().await {
        let db = &t.db;
        let ctx = format!("{:?}", db.backend());
        let now = OffsetDateTime::now_utc();
        let mut rng = Rng::new(21);
        let mut rows = Vec::new();
        for (days, n) in [(100, 4), (10, 6), (0, 3)] {
            // Mid-hour, so that all of a group's rows share one minute and one hour.
            let at = from_db_time(rollup::bucket_start(
                to_db_time(now - time::Duration::days(days) - time::Duration::hours(2)),
                Tier::Hour,
            )) + time::Duration::minutes(30);
            for i in 0..n {
                let c = at + time::Duration::seconds(i);
                rows.push(raw(&mut rng, &format!("up-{days}-{i}"), "vm-1", c, c));
            }
        }
        insert_samples(db, rows).await.unwrap();
        assert_eq!(history::tiers(db).await.unwrap()[0].rolled_up_to, None);
        let m = maintainer(db, test_config("upgrade"));
        let p = pass(&m).await;
        assert!(p.caught_up, "{ctx}: {p:?}");
        assert_eq!(p.folded_rows, 13, "{ctx}: {p:?}");
        assert_eq!(p.deleted[0].rows, 10, "{ctx}: raw older than 7 d: {p:?}");
        assert_eq!(
            p.deleted[1].rows, 1,
            "{ctx}: the minute older than 90 d: {p:?}"
        );
        let samples = |rows: Vec<RollupRow>| rows.iter().map(|r| r.samples).collect::<Vec<_>>();
        assert_eq!(samples(stored(db, Tier::Minute).await), [6, 3], "{ctx}");
        assert_eq!(samples(stored(db, Tier::Hour).await), [4, 6, 3], "{ctx}");
        assert_eq!(
            procpulse_storage::read::stats(db).await.unwrap().total_rows,
            3,
            "{ctx}"
        );
    }
}

/// Durations past what dates can hold are "no bound", never a panic (review item 3): a
/// maintainer configured in code beyond `HumanDuration::MAX` keeps rows forever and
/// writes the keep it can (`i64::MAX` seconds) into `history_tiers`, where a reader sees
/// "forever"; a settle delay longer than all dates folds nothing.
#[tokio::test]
async fn huge_durations_mean_no_bound_and_never_panic() {
    for t in common::all().await {
        let db = &t.db;
        let ctx = format!("{:?}", db.backend());
        let now = OffsetDateTime::now_utc();
        let ago = now - time::Duration::hours(2);
        let row = raw(&mut Rng::new(9), "huge-1", "vm-1", ago, ago);
        insert_samples(db, vec![row]).await.unwrap();
        let mut cfg = test_config("huge");
        cfg.keep_raw = Duration::MAX;
        cfg.keep_1m = Duration::from_secs(u64::MAX / 2);
        cfg.keep_1h = Duration::from_secs(i64::MAX as u64);
        let p = pass(&maintainer(db, cfg.clone())).await;
        assert_eq!(p.folded_rows, 1, "{ctx}: {p:?}");
        assert!(p.deleted.iter().all(|d| d.rows == 0), "{ctx}: {p:?}");
        for info in history::tiers(db).await.unwrap() {
            assert_eq!(info.keep_seconds, i64::MAX, "{ctx}");
            assert_eq!(info.oldest_kept(now), None, "{ctx}: {info:?}");
        }
        cfg.settle = Duration::MAX;
        let late = raw(&mut Rng::new(10), "huge-2", "vm-1", ago, now);
        insert_samples(db, vec![late]).await.unwrap();
        let p = pass(&maintainer(db, cfg)).await;
        assert_eq!(p.folded_rows, 0, "{ctx}: {p:?}");
        assert_eq!(stored(db, Tier::Minute).await[0].samples, 1, "{ctx}");
    }
}

/// Replicas with different retention flags are noticed (review item 13): every pass
/// compares `history_tiers` with the maintainer's own keeps and reports (and logs, once
/// per difference) the tiers that differ — in the replica without the lease too.
#[tokio::test]
async fn replicas_with_other_retention_flags_are_reported() {
    for t in common::all().await {
        let db = &t.db;
        let ctx = format!("{:?}", db.backend());
        let mut a_cfg = test_config("flags-a");
        a_cfg.keep_raw = Duration::from_secs(3600);
        let a = maintainer(db, a_cfg);
        let mut b_cfg = test_config("flags-b");
        b_cfg.keep_1h = Duration::ZERO;
        let b = maintainer(db, b_cfg);
        let pa = pass(&a).await;
        assert!(pa.held, "{ctx}");
        // A's first pass finds the migration's defaults: raw differs, then is written.
        assert_eq!(pa.retention_differs, [Tier::Raw], "{ctx}");
        let pb = pass(&b).await;
        assert!(!pb.held, "{ctx}");
        assert_eq!(pb.retention_differs, [Tier::Raw, Tier::Hour], "{ctx}");
        assert!(pass(&a).await.retention_differs.is_empty(), "{ctx}");
        let stored = history::tiers(db).await.unwrap();
        assert_eq!(
            procpulse_storage::maintain::retention_differences(&stored, a.config()),
            [],
            "{ctx}"
        );
    }
}

/// The fold tap is a shortcut the database's count must confirm: rows written through
/// another handle (another replica) in the step's range make the step scan, and so do
/// rows dropped when the tap was full; either way the rollups equal a from-scratch
/// computation. Rows all written through the maintainer's handle come from the tap.
#[tokio::test]
async fn the_fold_tap_is_used_only_when_it_holds_every_row_of_the_range() {
    for t in common::all().await {
        let db = &t.db;
        let ctx = format!("{:?}", db.backend());
        let other = Database::new(db.url(), &PoolOptions::default()).unwrap();
        let mut cfg = test_config("tap");
        // One step a pass: the counts are per range.
        cfg.fold_max_buckets = 10_000;
        cfg.fold_chunk_rows = 10_000;
        cfg.fold_tap_rows = 30;
        let m = Maintainer::on(db.clone(), cfg);
        let mut rng = Rng::new(16);
        let now = OffsetDateTime::now_utc();
        let mut n = 0;
        let mut write = async |through: &Database, rows: usize, rng: &mut Rng| {
            let mut batch = Vec::new();
            for _ in 0..rows {
                n += 1;
                let c = now - time::Duration::seconds(rng.below(3600) as i64);
                let host = format!("vm-{}", rng.below(3));
                let received = OffsetDateTime::now_utc();
                batch.push(raw(rng, &format!("t{n}"), &host, c, received));
            }
            insert_samples(through, batch).await.unwrap();
        };
        // The first pass turns the tap on: rows written before are scanned.
        write(db, 10, &mut rng).await;
        let r = pass(&m).await;
        assert_eq!((r.folded_rows, r.tapped_rows), (10, 0), "{ctx}: {r:?}");
        assert!(db.fold_tap().is_on(), "{ctx}");
        // All through the maintainer's handle: from the tap.
        write(db, 20, &mut rng).await;
        let r = pass(&m).await;
        assert_eq!((r.folded_rows, r.tapped_rows), (20, 20), "{ctx}: {r:?}");
        assert_rollups_from_scratch(db, &format!("{ctx}, tapped")).await;
        // Another writer's rows in the range: the counts differ, the step scans.
        write(db, 20, &mut rng).await;
        write(&other, 3, &mut rng).await;
        let r = pass(&m).await;
        assert_eq!((r.folded_rows, r.tapped_rows), (23, 0), "{ctx}: {r:?}");
        assert_rollups_from_scratch(db, &format!("{ctx}, another writer")).await;
        assert!(db.fold_tap().is_empty(), "{ctx}: taken");
        // More rows than the tap holds: it starts over, losing rows; the step scans.
        write(db, 25, &mut rng).await;
        write(db, 10, &mut rng).await;
        assert_eq!(db.fold_tap().len(), 10, "{ctx}: started over");
        let r = pass(&m).await;
        assert_eq!((r.folded_rows, r.tapped_rows), (35, 0), "{ctx}: {r:?}");
        assert_rollups_from_scratch(db, &format!("{ctx}, tap full")).await;
        // And it covers the next range again.
        write(db, 5, &mut rng).await;
        let r = pass(&m).await;
        assert_eq!((r.folded_rows, r.tapped_rows), (5, 5), "{ctx}: {r:?}");
        assert_rollups_from_scratch(db, &format!("{ctx}, tapped again")).await;
        // A replica that does not hold the lease does not record.
        let stranger = Maintainer::on(other.clone(), test_config("stranger"));
        let r = pass(&stranger).await;
        assert!(!r.held, "{ctx}");
        assert!(!other.fold_tap().is_on(), "{ctx}");
    }
}
