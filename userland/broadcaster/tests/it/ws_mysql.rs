//! WebSocket over MariaDB (a fresh database per test on PROCPULSE_TEST_MYSQL_URL).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn mysql_hello_history_backfill_and_routes() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    crate::ws_sqlite::backfill(&db).await;
}

#[tokio::test]
async fn mysql_new_rows_are_delivered_once_in_id_order() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    crate::ws_sqlite::live_delivery(&db).await;
}

/// Two writers commit concurrently (ids may become visible out of order): every row is
/// still delivered exactly once, and each frame is in id order.
#[tokio::test]
async fn mysql_concurrent_writers_lose_no_row() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let db = std::sync::Arc::new(db);
    let server = Server::start(&db, |c| c.poll_interval = Duration::from_millis(20)).await;
    let mut ws = server.connect(None).await.unwrap();
    opening(&mut ws).await;
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let db = std::sync::Arc::clone(&db);
        writers.push(tokio::spawn(async move {
            for batch in 0..25u64 {
                let rows: Vec<_> = (0..4)
                    .map(|i| snapshot(&format!("vm-{w}"), batch * 4 + i, Duration::ZERO, 0))
                    .collect();
                db.insert(&rows, if w % 2 == 0 { "a" } else { "b" }).await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut seen = BTreeSet::new();
    while seen.len() < 400 {
        let v = next_json(&mut ws, Duration::from_secs(10)).await;
        if v["type"] == "samples" {
            let frame = ids(&v);
            assert!(
                frame.windows(2).all(|w| w[0] < w[1]),
                "frame not in id order: {frame:?}"
            );
            for id in frame {
                assert!(seen.insert(id), "row {id} delivered twice");
            }
        }
    }
    let stored: BTreeSet<i64> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use procpulse_storage::schema::samples;
        let load = async {
            procpulse_storage::with_conn!(db.db.read_pool(), conn => {
                Ok::<_, procpulse_storage::StorageError>(
                    samples::table.select(samples::id).load::<i64>(conn).await?,
                )
            })
        };
        load.await.unwrap().into_iter().collect()
    };
    assert_eq!(seen, stored);
    server.stop().await;
}
