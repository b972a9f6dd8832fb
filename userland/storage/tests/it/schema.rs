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
