//! A client that gives up mid-request never leaves an open transaction on a pooled
//! connection, and never half a request stored.

use crate::common::{self, Server, snapshot};
use procpulse_ingest::client::Conn;
use std::time::Duration;

#[tokio::test]
async fn cancelled_requests_commit_or_roll_back_whole() {
    for (kind, mode) in common::matrix() {
        let s = Server::start(kind, mode).await;
        let ctx = format!("{kind:?}/{mode:?}");
        // 10 requests of 500 snapshots each, abandoned after a few milliseconds.
        for r in 0..10 {
            let arr: Vec<_> = (0..500)
                .map(|i| snapshot(&format!("cx-{r}-{i}"), &format!("h{r}")))
                .collect();
            let body = serde_json::to_vec(&arr).unwrap();
            let mut c = Conn::connect(s.addr).await.unwrap();
            let _ = tokio::time::timeout(
                Duration::from_millis(3),
                c.post_json("/api/v1/metrics", body),
            )
            .await;
            drop(c);
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Each request is stored whole or not at all.
        let st = s.conn().await.get("/api/v1/stats").await.unwrap().json();
        for h in st["hosts"].as_array().unwrap() {
            assert_eq!(h["rows"], 500, "{ctx}: {st}");
        }
        // Every pooled connection is back and usable: as many concurrent writes as the
        // pool has connections all succeed promptly.
        let mut tasks = Vec::new();
        for i in 0..16 {
            let mut c = s.conn().await;
            tasks.push(tokio::spawn(async move {
                let b = serde_json::to_vec(&snapshot(&format!("after-{i}"), "after")).unwrap();
                c.post_json("/api/v1/metrics", b).await.unwrap().status
            }));
        }
        for t in tasks {
            let status = tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(status, 200, "{ctx}");
        }
        if kind == common::Kind::Mysql {
            // A rollback of an abandoned write may still be finishing: allow it 3 s.
            let mut open = open_mysql_transactions(s.db()).await;
            for _ in 0..30 {
                if open == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                open = open_mysql_transactions(s.db()).await;
            }
            assert_eq!(open, 0, "{ctx}: transactions left open");
        }
        s.stop().await;
    }
}

/// Open InnoDB transactions on this test's own database (other tests share the server,
/// each with a database of its own), not counting the connection that asks.
async fn open_mysql_transactions(db: &procpulse_storage::Database) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use procpulse_storage::{StorageError, with_conn};
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: N = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(diesel::sql_query(
            "SELECT COUNT(*) AS n FROM information_schema.innodb_trx t \
             JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id \
             WHERE p.db = DATABASE() AND t.trx_mysql_thread_id <> CONNECTION_ID()",
        )
        .get_result::<N>(c)
        .await?)
    })
    .unwrap();
    n.n
}
