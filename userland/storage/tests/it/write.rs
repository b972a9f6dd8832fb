//! Idempotent writes: replays, in-batch duplicates, big batches, concurrent writers.

use crate::common;
use crate::schema::snapshot;
use procpulse_storage::write::{MYSQL_ROWS_PER_STATEMENT, insert_samples};
use procpulse_storage::{NewSample, read};
use time::OffsetDateTime;

fn rows(prefix: &str, n: usize) -> Vec<NewSample> {
    let now = OffsetDateTime::now_utc();
    (0..n)
        .map(|i| NewSample::from_snapshot(&snapshot(&format!("{prefix}-{i}")), "b", now))
        .collect()
}

#[tokio::test]
async fn replays_and_in_batch_duplicates_are_counted_not_stored() {
    for t in common::all().await {
        let db = &t.db;
        let first = insert_samples(db, rows("x", 3)).await.unwrap();
        assert_eq!((first.accepted(), first.duplicates()), (3, 0));
        let mut batch = rows("x", 5); // x-0..x-2 stored already, x-3, x-4 new
        batch.push(batch[4].clone()); // x-4 twice in one batch
        let second = insert_samples(db, batch).await.unwrap();
        assert_eq!(second.stored, [false, false, false, true, true, false]);
        let stats = read::stats(db).await.unwrap();
        assert_eq!(stats.total_rows, 5, "{:?}", db.backend());
    }
}

#[tokio::test]
async fn a_batch_beyond_one_statement_is_one_transaction() {
    for t in common::all().await {
        let db = &t.db;
        let n = MYSQL_ROWS_PER_STATEMENT + 300;
        let r = insert_samples(db, rows("big", n)).await.unwrap();
        assert_eq!(r.accepted(), n);
        assert!(r.statements >= 2, "{:?}: {}", db.backend(), r.statements);
        assert_eq!(read::stats(db).await.unwrap().total_rows, n as i64);
    }
}

#[tokio::test]
async fn concurrent_writers_of_the_same_ids_store_each_once() {
    for t in common::all().await {
        let db = t.db.clone();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { insert_samples(&db, rows("race", 200)).await })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            accepted += task.await.unwrap().unwrap().accepted();
        }
        assert_eq!(accepted, 200, "{:?}", db.backend());
        assert_eq!(read::stats(&db).await.unwrap().total_rows, 200);
    }
}

#[tokio::test]
async fn the_write_path_stores_every_value_exactly() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use procpulse_storage::schema::samples;
    use procpulse_storage::{SampleRow, StorageError, with_conn};
    for t in common::all().await {
        let db = &t.db;
        let mut s = snapshot("exact-'\\\"-1");
        s.host = "h.x_y-z".into();
        s.cpu.usage_percent = 0.1 + 0.2; // 0.30000000000000004
        s.cpu.load1 = 1e-9;
        s.cpu.load15 = 123456789.125;
        s.ram.total_kb = i64::MAX as u64;
        s.top[0].comm = "we'ird \\ \"comm\" é\n(x)".into();
        s.top[0].cpu_percent = 33.333333333333336;
        let mut empty_top = snapshot("exact-2");
        empty_top.top.clear();
        let mut v2 = crate::schema::snapshot_v2("exact-v2-'\\\"");
        v2.ram.buffers_kb = Some(i64::MAX as u64);
        v2.cpu.per_cpu[1].usage_percent = 0.1 + 0.2;
        v2.cpu.per_cpu[3].cpu = 1023;
        v2.pressure
            .as_mut()
            .unwrap()
            .io
            .as_mut()
            .unwrap()
            .some
            .total_us = i64::MAX as u64;
        v2.top[1].user = Some("ü'\\x \"y\"".into());
        let now = OffsetDateTime::now_utc();
        let rows = vec![
            NewSample::from_snapshot(&s, "a", now),
            NewSample::from_snapshot(&empty_top, "b", now),
            NewSample::from_snapshot(&v2, "a", now),
        ];
        insert_samples(db, rows.clone()).await.unwrap();
        let back: Vec<SampleRow> = with_conn!(db.read_pool(), c => {
            Ok::<_, StorageError>(samples::table.order(samples::id).select(SampleRow::as_select()).load(c).await?)
        })
        .unwrap();
        assert_eq!(back.len(), 3);
        for (r, n) in back.iter().zip(&rows) {
            let mut as_new = NewSample::from_snapshot(
                &r.to_snapshot().unwrap(),
                &r.route,
                procpulse_storage::row::from_db_time(r.received_at),
            );
            as_new.top_json = r.top_json.clone();
            assert_eq!(&as_new, n, "{:?}", db.backend());
        }
        assert_eq!(back[0].to_snapshot().unwrap().top, s.top);
        assert_eq!(back[1].top_json, None);
        let mut want = v2.clone();
        want.collected_at = procpulse_storage::row::from_db_time(
            procpulse_storage::row::to_db_time(v2.collected_at),
        );
        assert_eq!(back[2].to_snapshot().unwrap(), want, "{:?}", db.backend());
    }
}

#[tokio::test]
async fn a_full_request_is_one_transaction_of_few_statements() {
    for t in common::all().await {
        let r = insert_samples(&t.db, rows("one", procpulse_model::validate::MAX_BATCH))
            .await
            .unwrap();
        // SQLite binds every value: 36 columns × 1,000 rows is over its 32,766 variables,
        // so two statements (in the one transaction); MySQL's literal statement is one.
        let statements = match t.db.backend() {
            procpulse_storage::Backend::Sqlite => 2,
            procpulse_storage::Backend::Mysql => 1,
        };
        assert_eq!(
            (r.accepted(), r.statements),
            (1000, statements),
            "{:?}",
            t.db.backend()
        );
    }
}

#[tokio::test]
async fn a_batch_of_distinct_ids_some_already_stored_stores_only_the_new_ones() {
    // Distinct ids within the batch take MySQL's one-statement fast path first, which
    // fails whole on the stored id; the exact path must then store just the new rows.
    for t in common::all().await {
        let db = &t.db;
        insert_samples(db, rows("d", 3)).await.unwrap();
        let mut batch = rows("d", 6); // d-0..d-2 stored, d-3..d-5 new
        batch.swap(0, 4);
        let report = insert_samples(db, batch).await.unwrap();
        assert_eq!(
            report.stored,
            [true, false, false, true, false, true],
            "{:?}",
            db.backend()
        );
        assert_eq!(read::stats(db).await.unwrap().total_rows, 6);
    }
}
