//! Pooled MySQL connections: checkouts skip the ping for recently used connections, so a
//! connection the server killed must be closed after its first failure, not pooled again.

use crate::common;
use crate::schema::snapshot;
use diesel::sql_types::BigInt;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use procpulse_storage::write::insert_samples;
use procpulse_storage::{NewSample, StorageError, with_conn};
use time::OffsetDateTime;

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[tokio::test]
async fn a_connection_killed_by_the_server_fails_once_and_is_replaced() {
    let Some(t) = common::mysql().await else {
        return;
    };
    let db = &t.db;
    // Make every pooled connection's id known, then kill them all from a fresh connection.
    let mut ids = Vec::new();
    for _ in 0..4 {
        let id: Result<i64, StorageError> = with_conn!(db.read_pool(), c => {
            Ok(diesel::sql_query("SELECT CONNECTION_ID() AS id")
                .get_result::<Id>(c)
                .await?
                .id)
        });
        ids.push(id.unwrap());
    }
    let killer = common::mysql().await.unwrap();
    for id in &ids {
        let killed: Result<(), StorageError> = with_conn!(killer.db.read_pool(), c => {
            // Already gone (or never a distinct connection) is fine: the point is that none
            // of them survives.
            let _ = c.batch_execute(&format!("KILL {id}")).await;
            Ok(())
        });
        killed.unwrap();
    }
    // Each call below may land on a dead connection once; none may fail twice in a row
    // forever: within a few calls every dead connection has been closed and replaced.
    let mut failures = 0;
    let mut ok_in_a_row = 0;
    for i in 0..40 {
        let row = NewSample::from_snapshot(
            &snapshot(&format!("after-kill-{i}")),
            "a",
            OffsetDateTime::now_utc(),
        );
        match insert_samples(db, vec![row]).await {
            Ok(r) => {
                assert_eq!(r.accepted(), 1);
                ok_in_a_row += 1;
            }
            Err(_) => {
                failures += 1;
                ok_in_a_row = 0;
            }
        }
    }
    assert!(
        failures <= ids.len(),
        "{failures} failures after killing {} connections",
        ids.len()
    );
    assert!(
        ok_in_a_row >= 30,
        "the pool did not recover: {ok_in_a_row} successes at the end"
    );
    let alive: Result<(), StorageError> = db.ping().await.map(|_| ());
    alive.expect("ping after recovery");
}
