//! Snapshot v2 through ingest: v2 and v1 bodies, single and batched, are stored and read
//! back equal to what was posted (v1 without any v2 key) on every backend and write mode.

use crate::common::{self, Server, body};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use procpulse_model::Snapshot;
use procpulse_storage::schema::samples;
use procpulse_storage::{SampleRow, StorageError, with_conn};
use serde_json::{Value, json};

/// A fixture body with `id`, collected now at millisecond precision (what the table
/// keeps), so the posted JSON and the stored snapshot's JSON are the same text.
fn fixture(text: &str, id: &str) -> Value {
    let mut v: Value = serde_json::from_str(text).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_millisecond(now.millisecond()).unwrap();
    v["sample_id"] = id.into();
    v["collected_at"] = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
        .into();
    v
}

fn v1(id: &str) -> Value {
    fixture(
        include_str!("../../../model/tests/fixtures/snapshot_valid.json"),
        id,
    )
}

fn v2(id: &str) -> Value {
    fixture(
        include_str!("../../../model/tests/fixtures/snapshot_v2.json"),
        id,
    )
}

#[tokio::test]
async fn v2_and_v1_snapshots_are_stored_and_read_back_as_posted() {
    for (kind, mode) in common::matrix() {
        let s = Server::start(kind, mode).await;
        let ctx = format!("{kind:?}/{mode:?}");
        let mut c = s.conn().await;
        let mut posted = Vec::new();
        // One at a time.
        for snap in [v2("v2-single"), v1("v1-single")] {
            let a = c.post_json("/api/v1/metrics", body(&snap)).await.unwrap();
            assert_eq!(a.status, 200, "{ctx}: {:?}", a.body);
            assert_eq!(a.json()["accepted"], 1, "{ctx}");
            posted.push(snap);
        }
        // Both shapes in one array, plus a v2 on 64 CPUs with a gap (CPU 5 offline).
        let mut big = v2("v2-64");
        big["cpu"]["cores"] = 63.into();
        big["cpu"]["per_cpu"] = (0..64)
            .filter(|cpu| *cpu != 5)
            .map(|cpu| json!({"cpu": cpu, "usage_percent": f64::from(cpu * 37 % 10_001) / 100.0}))
            .collect();
        let batch = vec![v1("v1-batch"), v2("v2-batch"), big];
        let a = c
            .post_json("/api/v1/metrics", body(&Value::Array(batch.clone())))
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{ctx}: {:?}", a.body);
        assert_eq!(a.json()["accepted"], 3, "{ctx}");
        posted.extend(batch);
        // A v2 replay is a duplicate like any other.
        let a = c
            .post_json("/api/v1/metrics", body(&v2("v2-single")))
            .await
            .unwrap();
        assert_eq!(a.json()["duplicates"], 1, "{ctx}");

        let rows: Vec<SampleRow> = with_conn!(s.db().read_pool(), conn => {
            Ok::<_, StorageError>(samples::table
                .order(samples::id)
                .select(SampleRow::as_select())
                .load(conn)
                .await?)
        })
        .unwrap();
        assert_eq!(rows.len(), posted.len(), "{ctx}");
        for (row, want) in rows.iter().zip(&posted) {
            let id = want["sample_id"].as_str().unwrap();
            assert_eq!(row.sample_id, id, "{ctx}");
            let back = row.to_snapshot().unwrap();
            let want_snap: Snapshot = serde_json::from_value(want.clone()).unwrap();
            assert_eq!(back, want_snap, "{ctx}: {id}");
            // Same JSON as posted: every v2 key back for v2, none added for v1.
            assert_eq!(&serde_json::to_value(&back).unwrap(), want, "{ctx}: {id}");
            let is_v2 = id.starts_with("v2");
            assert_eq!(row.cpu_per_cpu.is_some(), is_v2, "{ctx}: {id}");
            assert_eq!(row.pressure.is_some(), is_v2, "{ctx}: {id}");
            assert_eq!(row.ram_buffers_kb.is_some(), is_v2, "{ctx}: {id}");
        }
        let big = rows.iter().find(|r| r.sample_id == "v2-64").unwrap();
        assert!(
            big.cpu_per_cpu.as_deref().unwrap().contains(",6:"),
            "{ctx}: the gap is written as cpu:usage"
        );
        s.stop().await;
    }
}
