//! Issue 14 edges of the storage layer: byte-exact sample_ids on both backends, the
//! session settings every pooled MySQL connection runs with, the durability check, and
//! a row the database refuses being a permanent (not retryable) error.

use crate::common;
use crate::schema::snapshot;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use procpulse_storage::pool::MYSQL_SQL_MODE;
use procpulse_storage::write::insert_samples;
use procpulse_storage::{NewSample, StorageError, read, with_conn};
use time::OffsetDateTime;

fn row(id: &str) -> NewSample {
    NewSample::from_snapshot(&snapshot(id), "b", OffsetDateTime::now_utc())
}

/// `x`, `x ` and `x\t` are three ids on both backends (MySQL's old PAD SPACE column made
/// `x` and `x ` one key), a replay of `x ` is a duplicate of `x ` only, and the stored
/// ids read back byte for byte. Also through the batched (several ids per call) path.
#[tokio::test]
async fn sample_ids_that_differ_only_by_trailing_space_are_distinct() {
    for t in common::all().await {
        let db = &t.db;
        let b = db.backend();
        for id in ["x", "x ", "x\t"] {
            let r = insert_samples(db, vec![row(id)]).await.unwrap();
            assert_eq!(r.stored, [true], "{b:?} {id:?}");
        }
        let r = insert_samples(db, vec![row("x "), row("x  ")])
            .await
            .unwrap();
        assert_eq!(
            r.stored,
            [false, true],
            "{b:?} replay of 'x ' and a new 'x  '"
        );
        let r = insert_samples(db, vec![row("y"), row("y "), row("y")])
            .await
            .unwrap();
        assert_eq!(r.stored, [true, true, false], "{b:?} one batch");
        assert_eq!(read::stats(db).await.unwrap().total_rows, 6, "{b:?}");
        let mut ids: Vec<String> = with_conn!(db.read_pool(), c => {
            use procpulse_storage::schema::samples::dsl;
            use diesel::QueryDsl;
            Ok::<_, StorageError>(dsl::samples.select(dsl::sample_id).load::<String>(c).await?)
        })
        .unwrap();
        ids.sort();
        assert_eq!(ids, ["x", "x\t", "x ", "x  ", "y", "y "], "{b:?}");
    }
}

#[derive(diesel::QueryableByName)]
struct Session {
    #[diesel(sql_type = BigInt)]
    autocommit: i64,
    #[diesel(sql_type = Text)]
    sql_mode: String,
    #[diesel(sql_type = Text)]
    time_zone: String,
}

/// Every pooled MySQL connection runs with autocommit on, the strict sql_mode and UTC,
/// whatever the server's defaults; a value the column cannot hold is then an error that
/// the storage layer calls a refusal (permanent), not a clamped row.
#[tokio::test]
async fn pooled_mysql_connections_run_with_the_write_paths_settings() {
    let Some(t) = common::mysql().await else {
        return;
    };
    let db = &t.db;
    for _ in 0..3 {
        let s: Session = with_conn!(db.write_pool(), c => {
            // A session that changed them must not leak them to the next checkout's
            // assumptions: new connections are set up, and this one is checked as is.
            Ok::<_, StorageError>(diesel::sql_query(
                "SELECT CAST(@@SESSION.autocommit AS SIGNED) AS autocommit, \
                 CAST(@@SESSION.sql_mode AS CHAR) AS sql_mode, \
                 CAST(@@SESSION.time_zone AS CHAR) AS time_zone",
            )
            .get_result(c)
            .await?)
        })
        .unwrap();
        assert_eq!(s.autocommit, 1);
        for m in MYSQL_SQL_MODE.split(',') {
            assert!(
                s.sql_mode.split(',').any(|x| x == m),
                "{m} not in {}",
                s.sql_mode
            );
        }
        assert_eq!(s.time_zone, "+00:00");
    }
    // Strict mode: an out-of-range INT is refused, not clamped.
    let e = with_conn!(db.write_pool(), c => {
        c.batch_execute("CREATE TEMPORARY TABLE t (v INT NOT NULL)").await?;
        c.batch_execute("INSERT INTO t VALUES (4294967296)").await?;
        Ok::<_, StorageError>(())
    })
    .unwrap_err();
    assert!(e.is_rejected() && !e.is_unavailable(), "{e}");
}

/// A CHECK constraint that refuses one sample_id is a refusal on both backends
/// (SQLite: CheckViolation; MariaDB: error 4025, known by its message): permanent, not
/// "database unavailable", and nothing of the batch is stored.
#[tokio::test]
async fn a_row_the_database_refuses_is_a_permanent_error() {
    for t in common::all().await {
        let db = &t.db;
        let b = db.backend();
        let ddl = match b {
            procpulse_storage::Backend::Sqlite => {
                // SQLite cannot add a CHECK to an existing table: a trigger writes the
                // poison id into a table whose CHECK refuses it (SQLITE_CONSTRAINT_CHECK).
                "CREATE TABLE poison_guard (v TEXT CHECK (v <> 'poison')); \
                 CREATE TRIGGER poison BEFORE INSERT ON samples WHEN NEW.sample_id = 'poison' \
                 BEGIN INSERT INTO poison_guard VALUES (NEW.sample_id); END"
            }
            procpulse_storage::Backend::Mysql => {
                "ALTER TABLE samples ADD CONSTRAINT poison CHECK (sample_id <> 'poison')"
            }
        };
        with_conn!(db.write_pool(), c => Ok::<_, StorageError>(c.batch_execute(ddl).await?))
            .unwrap();
        let e = insert_samples(db, vec![row("ok-1"), row("poison")])
            .await
            .unwrap_err();
        assert!(e.is_rejected(), "{b:?}: {e}");
        assert!(!e.is_unavailable(), "{b:?}: {e}");
        assert_eq!(read::stats(db).await.unwrap().total_rows, 0, "{b:?}");
        insert_samples(db, vec![row("ok-1")]).await.unwrap();
    }
}

/// The durability check: 1 (this test server's setting) gives no warning; SQLite none.
#[tokio::test]
async fn the_durability_check_reads_the_servers_flush_setting() {
    for t in common::all().await {
        let w = t.db.durability_warning().await.unwrap();
        assert_eq!(w, None, "{:?}", t.db.backend());
    }
}
