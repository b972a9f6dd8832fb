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
