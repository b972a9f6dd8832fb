//! Reads never fail on a stored row (issue 14, class 1): rows no validated snapshot could
//! make, inserted with plain SQL behind ingest's back, are skipped (with a warning) by
//! `GET /api/v1/stats`, `GET /api/v1/averages` and the row reads the broadcaster uses
//! (`SampleRow` + `to_snapshot`), which still answer with every good row.

use crate::common::{self, Kind, Server, body, snapshot};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use procpulse_ingest::WriteMode;
use procpulse_storage::schema::samples;
use procpulse_storage::{SampleRow, StorageError, with_conn};

/// Every column but `id`, in table order.
const COLUMNS: &str = "sample_id, host, source, route, collected_at, received_at, \
    cpu_usage_percent, cpu_cores, load1, load5, load15, ram_total_kb, ram_free_kb, \
    ram_available_kb, ram_used_kb, ram_cached_kb, ram_swap_total_kb, ram_swap_free_kb, \
    ram_used_percent, procs_total, procs_running, procs_sleeping, procs_disk_sleep, \
    procs_stopped, procs_traced, procs_zombie, procs_dead, procs_idle, procs_threads, top_json";

/// A copy of the stored row `good-1` with `sample_id` = `id` and some columns replaced
/// (`column` → SQL expression).
fn poison_sql(id: &str, replace: &[(&str, &str)]) -> String {
    let select: Vec<String> = COLUMNS
        .split(',')
        .map(str::trim)
        .map(|c| match c {
            "sample_id" => format!("'{id}'"),
            c => replace
                .iter()
                .find(|(k, _)| *k == c)
                .map_or_else(|| c.to_owned(), |(_, v)| (*v).to_owned()),
        })
        .collect();
    format!(
        "INSERT INTO samples ({COLUMNS}) SELECT {} FROM samples WHERE sample_id = 'good-1'",
        select.join(", ")
    )
}

/// The poison rows each backend can hold.
fn poisons(kind: Kind) -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let mut v = vec![
        ("p-source", vec![("source", "'bogus'")]),
        (
            "p-year-1000",
            vec![("collected_at", "'1000-01-01 00:00:00'")],
        ),
        ("p-negative", vec![("ram_total_kb", "-5")]),
        ("p-cores", vec![("cpu_cores", "0")]),
        ("p-top", vec![("top_json", "'[not json'")]),
    ];
    if kind == Kind::Sqlite {
        // SQLite keeps any text: year -1 (what `0000-01-01T00:30:00+01:00` was in UTC),
        // and text that is no date at all.
        v.push((
            "p-year-minus-1",
            vec![("collected_at", "'-0001-12-31 23:30:00.000'")],
        ));
        v.push((
            "p-garbage-time",
            vec![("collected_at", "'2026-13-45 99:99'")],
        ));
        v.push(("p-garbage-received", vec![("received_at", "'yesterday'")]));
    }
    v
}

#[tokio::test]
async fn poison_rows_are_skipped_by_every_read() {
    for kind in common::kinds() {
        let s = Server::start(kind, WriteMode::Direct).await;
        let mut c = s.conn().await;
        let good = serde_json::json!([
            snapshot("good-1", "h1"),
            snapshot("good-2", "h1"),
            snapshot("good-3", "h2")
        ]);
        let a = c.post_json("/api/v1/metrics", body(&good)).await.unwrap();
        assert_eq!(a.status, 200, "{kind:?}");
        let before = c.get("/api/v1/stats").await.unwrap().json();

        let poisons = poisons(kind);
        for (id, replace) in &poisons {
            let sql = poison_sql(id, replace);
            let n = with_conn!(s.db().write_pool(), conn => {
                Ok::<_, StorageError>(diesel::sql_query(sql.clone()).execute(conn).await?)
            })
            .unwrap_or_else(|e| panic!("{kind:?} {id}: {e}"));
            assert_eq!(n, 1, "{kind:?} {id}");
        }
        let total = 3 + poisons.len() as i64;
        assert_eq!(common::count(s.db()).await, total, "{kind:?}");

        // Stats: 200, every good row per host, every stored row in the total.
        let st = c.get("/api/v1/stats").await.unwrap();
        assert_eq!(st.status, 200, "{kind:?}: {:?}", st.body);
        let st = st.json();
        assert_eq!(st["total_rows"], total, "{kind:?}: {st}");
        let hosts = st["hosts"].as_array().unwrap();
        assert_eq!(hosts.len(), 2, "{kind:?}: {st}");
        assert_eq!(hosts[1], before["hosts"][1], "{kind:?}: {st}");
        assert_eq!(
            hosts[0]["first_collected_at"], before["hosts"][0]["first_collected_at"],
            "{kind:?}: {st}"
        );
        // h1 holds good-1, good-2 and every poison copy whose collected_at renders.
        assert!(hosts[0]["rows"].as_i64().unwrap() >= 2, "{kind:?}: {st}");

        // Averages: 200, both hosts.
        for path in ["/api/v1/averages", "/api/v1/averages?window=1d"] {
            let av = c.get(path).await.unwrap();
            assert_eq!(av.status, 200, "{kind:?} {path}: {:?}", av.body);
            let text = String::from_utf8_lossy(&av.body).into_owned();
            assert!(
                text.contains("\"h1\"") && text.contains("\"h2\""),
                "{kind:?}: {text}"
            );
        }

        // The broadcaster's read: every row loads, and only the poison ones fail to
        // convert.
        let rows: Vec<SampleRow> = with_conn!(s.db().read_pool(), conn => {
            Ok::<_, StorageError>(samples::table
                .order(samples::id.asc())
                .select(SampleRow::as_select())
                .load(conn)
                .await?)
        })
        .unwrap_or_else(|e| panic!("{kind:?}: a poison row failed the whole load: {e}"));
        assert_eq!(rows.len() as i64, total, "{kind:?}");
        for r in &rows {
            let snap = r.to_snapshot();
            if r.sample_id.starts_with("good-") {
                let snap = snap.unwrap_or_else(|e| panic!("{kind:?} {}: {e}", r.sample_id));
                serde_json::to_string(&snap).unwrap();
            } else if r.sample_id == "p-top" {
                // A damaged top drops the top table only.
                assert!(snap.unwrap().top.is_empty(), "{kind:?}");
            } else {
                assert!(snap.is_err(), "{kind:?} {}: {snap:?}", r.sample_id);
            }
        }
        s.stop().await;
    }
}
