//! Migrations apply (twice, idempotently) and a row round-trips to the snapshot.

use crate::common;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use procpulse_model::Snapshot;
use procpulse_storage::schema::samples;
use procpulse_storage::{NewSample, SampleRow, StorageError, with_conn};

pub fn snapshot(id: &str) -> Snapshot {
    let text = include_str!("../../../model/tests/fixtures/snapshot_valid.json");
    let mut s: Snapshot = serde_json::from_str(text).unwrap();
    s.sample_id = id.to_owned();
    s
}

#[tokio::test]
async fn migrations_are_idempotent_and_rows_round_trip() {
    for t in common::all().await {
        let db = &t.db;
        db.migrate().await.expect("second migrate is a no-op");
        let snap = snapshot("rt-1");
        let now = time::OffsetDateTime::now_utc();
        let row = NewSample::from_snapshot(&snap, "a", now);
        let n: usize = with_conn!(db.write_pool(), conn => {
            diesel::insert_into(samples::table).values(&row).execute(conn).await.map_err(StorageError::from)
        })
        .unwrap();
        assert_eq!(n, 1, "{:?}", db.backend());
        let back: Vec<SampleRow> = with_conn!(db.read_pool(), conn => {
            samples::table.select(SampleRow::as_select()).load(conn).await.map_err(StorageError::from)
        })
        .unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].route, "a");
        assert_eq!(back[0].received_at, procpulse_storage::row::to_db_time(now));
        let mut expected = snap.clone();
        expected.collected_at = procpulse_storage::row::from_db_time(
            procpulse_storage::row::to_db_time(snap.collected_at),
        );
        assert_eq!(
            back[0].to_snapshot().unwrap(),
            expected,
            "{:?}",
            db.backend()
        );
        assert!(db.ping().await.is_ok());
    }
}

/// The v2 fixture (every v2 field present) with sample_id `id`.
pub fn snapshot_v2(id: &str) -> Snapshot {
    let text = include_str!("../../../model/tests/fixtures/snapshot_v2.json");
    let mut s: Snapshot = serde_json::from_str(text).unwrap();
    s.sample_id = id.to_owned();
    s
}

/// `s` as it reads back: `collected_at` at the table's millisecond precision.
fn stored(s: &Snapshot) -> Snapshot {
    let mut s = s.clone();
    s.collected_at =
        procpulse_storage::row::from_db_time(procpulse_storage::row::to_db_time(s.collected_at));
    s
}

async fn all_rows(db: &procpulse_storage::Database) -> Vec<SampleRow> {
    with_conn!(db.read_pool(), conn => {
        samples::table.order(samples::id).select(SampleRow::as_select()).load(conn).await.map_err(StorageError::from)
    })
    .unwrap()
}

#[tokio::test]
async fn v1_and_v2_rows_read_back_as_posted() {
    use procpulse_storage::write::insert_samples;
    for t in common::all().await {
        let db = &t.db;
        let v1 = snapshot("v1-1");
        let v2 = snapshot_v2("v2-1");
        // v2 with a CPU gap, a pressure object without resources and some fields absent.
        let mut sparse = snapshot_v2("v2-2");
        sparse.cpu.per_cpu.remove(1);
        sparse.cpu.modes = None;
        sparse.ram.shared_kb = None;
        sparse.pressure = Some(procpulse_model::Pressure::default());
        sparse.top[0].user = None;
        let now = time::OffsetDateTime::now_utc();
        let rows: Vec<NewSample> = [&v1, &v2, &sparse]
            .iter()
            .map(|s| NewSample::from_snapshot(s, "a", now))
            .collect();
        assert_eq!(rows[0].cpu_modes, None);
        assert_eq!(rows[1].cpu_per_cpu.as_deref(), Some("80.5,5.25,0,8.05"));
        assert_eq!(rows[2].cpu_per_cpu.as_deref(), Some("80.5,2:0,8.05"));
        assert_eq!(rows[2].pressure.as_deref(), Some(";;"));
        insert_samples(db, rows).await.unwrap();
        let back = all_rows(db).await;
        let ctx = format!("{:?}", db.backend());
        assert_eq!(back.len(), 3, "{ctx}");
        for (row, want) in back.iter().zip([&v1, &v2, &sparse]) {
            assert_eq!(row.to_snapshot().unwrap(), stored(want), "{ctx}");
        }
        // The v1 row has NULL in every v2 column and serializes with no v2 key.
        let r = &back[0];
        assert_eq!(
            (
                r.ram_buffers_kb,
                r.ram_shared_kb,
                r.ram_swap_used_kb,
                &r.cpu_modes,
                &r.cpu_per_cpu,
                &r.pressure
            ),
            (None, None, None, &None, &None, &None),
            "{ctx}"
        );
        let json = serde_json::to_value(r.to_snapshot().unwrap()).unwrap();
        let posted = serde_json::to_value(stored(&v1)).unwrap();
        assert_eq!(json, posted, "{ctx}");
        for key in ["modes", "per_cpu"] {
            assert!(json["cpu"].get(key).is_none(), "{ctx}: {key}");
        }
        assert!(json.get("pressure").is_none());
        assert!(json["ram"].get("buffers_kb").is_none());
        assert!(json["top"][0].get("uid").is_none());
        // The v2 row's JSON is the posted fixture's.
        let json = serde_json::to_value(back[1].to_snapshot().unwrap()).unwrap();
        assert_eq!(json, serde_json::to_value(stored(&v2)).unwrap(), "{ctx}");
        assert_eq!(json["cpu"]["per_cpu"][3]["usage_percent"], 8.05);
        assert_eq!(json["top"][2]["nice"], -5);
    }
}

/// An INSERT of the columns the first migration created (what the pre-v2 code wrote).
fn v1_insert_sql(s: &Snapshot) -> String {
    let r = NewSample::from_snapshot(s, "b", time::macros::datetime!(2026-11-23 10:00:01 UTC));
    let top = r.top_json.clone().unwrap();
    assert!(!top.contains('\''));
    format!(
        "INSERT INTO samples (sample_id, host, source, route, collected_at, received_at, \
         cpu_usage_percent, cpu_cores, load1, load5, load15, ram_total_kb, ram_free_kb, \
         ram_available_kb, ram_used_kb, ram_cached_kb, ram_swap_total_kb, ram_swap_free_kb, \
         ram_used_percent, procs_total, procs_running, procs_sleeping, procs_disk_sleep, \
         procs_stopped, procs_traced, procs_zombie, procs_dead, procs_idle, procs_threads, \
         top_json) VALUES ('{}', '{}', '{}', 'b', '2026-11-23 10:00:00.123', \
         '2026-11-23 10:00:01.000', {:?}, {}, {:?}, {:?}, {:?}, {}, {}, {}, {}, {}, {}, {}, \
         {:?}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, '{top}')",
        r.sample_id,
        r.host,
        r.source,
        r.cpu_usage_percent,
        r.cpu_cores,
        r.load1,
        r.load5,
        r.load15,
        r.ram_total_kb,
        r.ram_free_kb,
        r.ram_available_kb,
        r.ram_used_kb,
        r.ram_cached_kb,
        r.ram_swap_total_kb,
        r.ram_swap_free_kb,
        r.ram_used_percent,
        r.procs_total,
        r.procs_running,
        r.procs_sleeping,
        r.procs_disk_sleep,
        r.procs_stopped,
        r.procs_traced,
        r.procs_zombie,
        r.procs_dead,
        r.procs_idle,
        r.procs_threads,
    )
}

/// Applies only the first migration (the pre-v2 schema) and stores `sql` in it.
fn old_schema_with_row<C, DB>(
    conn: &mut C,
    migrations: diesel_migrations::EmbeddedMigrations,
    sql: &str,
) where
    DB: diesel::backend::Backend,
    C: diesel_migrations::MigrationHarness<DB>
        + diesel::connection::SimpleConnection
        + diesel::migration::MigrationConnection,
    diesel_migrations::EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    use diesel::migration::MigrationSource;
    let all = MigrationSource::<DB>::migrations(&migrations).unwrap();
    let first = all
        .iter()
        .find(|m| m.name().to_string().ends_with("create_samples"))
        .expect("the first migration");
    conn.setup().unwrap(); // __diesel_schema_migrations, as run_pending_migrations makes it
    conn.run_migration(first.as_ref()).unwrap();
    assert!(conn.has_pending_migration(migrations).unwrap());
    conn.batch_execute(sql).unwrap();
}

#[tokio::test]
async fn a_pre_v2_database_upgrades_and_still_reads_its_rows() {
    use diesel::Connection;
    use procpulse_storage::migrate::{MYSQL_MIGRATIONS, SQLITE_MIGRATIONS};
    use procpulse_storage::{Database, DatabaseUrl, PoolOptions};
    let old = {
        let mut s = snapshot("old-1");
        s.collected_at = time::macros::datetime!(2026-11-23 10:00:00.123 UTC);
        s
    };
    let sql = v1_insert_sql(&old);
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite://{}", dir.path().join("old.db").display())];
    if let Some(base) = common::mysql_url() {
        urls.push(
            procpulse_storage::testing::fresh_mysql_database(&base)
                .await
                .unwrap(),
        );
    }
    for url in urls {
        let url: DatabaseUrl = url.parse().unwrap();
        let (u, sql) = (url.clone(), sql.clone());
        tokio::task::spawn_blocking(move || match u.backend() {
            procpulse_storage::Backend::Sqlite => {
                let mut c = diesel::SqliteConnection::establish(u.target()).unwrap();
                old_schema_with_row(&mut c, SQLITE_MIGRATIONS, &sql);
            }
            procpulse_storage::Backend::Mysql => {
                let mut c: diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
                    diesel_async::AsyncMysqlConnection,
                > = diesel_async::async_connection_wrapper::AsyncConnectionWrapper::establish(
                    u.target(),
                )
                .unwrap();
                old_schema_with_row(&mut c, MYSQL_MIGRATIONS, &sql);
            }
        })
        .await
        .unwrap();
        // Start-up migrates the old table in place; the old row reads back as before.
        let db = Database::connect(&url, &PoolOptions::default())
            .await
            .unwrap();
        let ctx = format!("{:?}", db.backend());
        let v2 = snapshot_v2("new-1");
        procpulse_storage::write::insert_samples(
            &db,
            vec![NewSample::from_snapshot(
                &v2,
                "a",
                time::OffsetDateTime::now_utc(),
            )],
        )
        .await
        .unwrap();
        let back = all_rows(&db).await;
        assert_eq!(back.len(), 2, "{ctx}");
        assert_eq!(back[0].sample_id, "old-1");
        assert_eq!(back[0].route, "b");
        assert_eq!(back[0].to_snapshot().unwrap(), old, "{ctx}");
        assert_eq!(
            serde_json::to_value(back[0].to_snapshot().unwrap()).unwrap(),
            serde_json::to_value(&old).unwrap(),
            "{ctx}"
        );
        assert_eq!(back[1].to_snapshot().unwrap(), stored(&v2), "{ctx}");

        // down.sql works too: reverting v2 keeps the v1 columns and rows, and the upgrade
        // runs again.
        let u = url.clone();
        tokio::task::spawn_blocking(move || {
            use diesel_migrations::MigrationHarness;
            match u.backend() {
                procpulse_storage::Backend::Sqlite => {
                    let mut c = diesel::SqliteConnection::establish(u.target()).unwrap();
                    // Newest first: the history tables, then v2.
                    while c
                        .revert_last_migration(SQLITE_MIGRATIONS)
                        .unwrap()
                        .to_string()
                        != "20261130000000"
                    {}
                }
                procpulse_storage::Backend::Mysql => {
                    let mut c: diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
                        diesel_async::AsyncMysqlConnection,
                    > = diesel_async::async_connection_wrapper::AsyncConnectionWrapper::establish(
                        u.target(),
                    )
                    .unwrap();
                    // Newest first: the history tables, the byte-exact sample_id migration,
                    // then v2.
                    while c
                        .revert_last_migration(MYSQL_MIGRATIONS)
                        .unwrap()
                        .to_string()
                        != "20261130000000"
                    {}
                }
            }
        })
        .await
        .unwrap();
        db.migrate().await.unwrap();
        let back = all_rows(&db).await;
        assert_eq!(back[0].to_snapshot().unwrap(), old, "{ctx}");
        // The reverted v2 columns are gone: the v2 row is now its v1 part.
        let mut v1_part = stored(&v2);
        v1_part.cpu.modes = None;
        v1_part.cpu.per_cpu.clear();
        v1_part.pressure = None;
        v1_part.ram.buffers_kb = None;
        v1_part.ram.shared_kb = None;
        v1_part.ram.swap_used_kb = None;
        assert_eq!(back[1].to_snapshot().unwrap(), v1_part, "{ctx}");
    }
}

/// The migrations' SQLite connection waits for another connection's lock as long as the
/// configured busy timeout — not a fixed 5 s (it used to): with the file locked, a
/// 200 ms timeout gives up in well under 5 s, and a 3 s timeout outlasts a lock held
/// for 1 s.
#[tokio::test]
async fn sqlite_migrations_wait_for_the_configured_busy_timeout() {
    use diesel::connection::SimpleConnection;
    use procpulse_storage::{Database, DatabaseUrl, PoolOptions};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let url: DatabaseUrl = format!("sqlite://{}", path.display()).parse().unwrap();
    let lock = |held: Option<Duration>| {
        let path = path.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let mut c = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
            c.batch_execute("BEGIN EXCLUSIVE").unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(held.unwrap_or(Duration::from_secs(4)));
            c.batch_execute("ROLLBACK").unwrap();
        });
        rx.recv().unwrap();
        t
    };
    let opts = |busy: Duration| PoolOptions {
        sqlite_busy_timeout: busy,
        ..PoolOptions::default()
    };

    let holder = lock(None);
    let db = Database::new(&url, &opts(Duration::from_millis(200))).unwrap();
    let start = Instant::now();
    let r = db.migrate().await;
    let took = start.elapsed();
    assert!(r.is_err(), "the file is locked: {r:?}");
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
    holder.join().unwrap();

    let holder = lock(Some(Duration::from_secs(1)));
    let db = Database::new(&url, &opts(Duration::from_secs(3))).unwrap();
    db.migrate().await.expect("waits for the lock");
    holder.join().unwrap();
}
