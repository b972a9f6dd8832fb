//! Bytes per stored row on SQLite for v1 and v2 snapshots (the numbers in README.md).
//!
//! `cargo run -p procpulse-storage --example row_bytes` — a few seconds: stores 5,000 rows
//! of each shape in a temp SQLite file and reads the table's payload from `dbstat` and
//! its page count, plus the length of each v2 column.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};
use diesel_async::RunQueryDsl;
use procpulse_model::{CoreUsage, Snapshot};
use procpulse_storage::write::insert_samples;
use procpulse_storage::{Database, DatabaseUrl, NewSample, PoolOptions, StorageError, with_conn};

const ROWS: usize = 5_000;

#[derive(QueryableByName, Debug)]
struct Sizes {
    #[diesel(sql_type = BigInt)]
    payload: i64,
    #[diesel(sql_type = BigInt)]
    pages: i64,
    #[diesel(sql_type = Double)]
    modes: f64,
    #[diesel(sql_type = Double)]
    per_cpu: f64,
    #[diesel(sql_type = Double)]
    pressure: f64,
    #[diesel(sql_type = Double)]
    top: f64,
}

fn fixture(text: &str) -> Snapshot {
    serde_json::from_str(text).expect("fixture")
}

/// The v2 fixture on a 64-CPU host: usages with two decimals, as the agent rounds them.
fn cpus64() -> Snapshot {
    let mut s = fixture(include_str!("../../model/tests/fixtures/snapshot_v2.json"));
    s.cpu.cores = 64;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    s.cpu.per_cpu = (0..64)
        .map(|cpu| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            CoreUsage {
                cpu,
                usage_percent: (x % 10_001) as f64 / 100.0,
            }
        })
        .collect();
    s
}

async fn measure(name: &str, snap: &Snapshot) -> Result<(), StorageError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("b.db").display())
        .parse()
        .expect("url");
    let db = Database::connect(&url, &PoolOptions::default()).await?;
    let now = time::OffsetDateTime::now_utc();
    let rows: Vec<NewSample> = (0..ROWS)
        .map(|i| {
            let mut s = snap.clone();
            // A realistic id: host-bootid-sequence.
            s.sample_id = format!("{}-8f3c2a-{i:09}", s.host);
            NewSample::from_snapshot(&s, "a", now)
        })
        .collect();
    insert_samples(&db, rows).await?;
    let sizes: Sizes = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(diesel::sql_query(
            "SELECT (SELECT sum(payload) FROM dbstat WHERE name = 'samples') AS payload, \
             (SELECT count(*) FROM dbstat WHERE name = 'samples') AS pages, \
             coalesce(avg(length(cpu_modes)), 0.0) AS modes, \
             coalesce(avg(length(cpu_per_cpu)), 0.0) AS per_cpu, \
             coalesce(avg(length(pressure)), 0.0) AS pressure, \
             coalesce(avg(length(top_json)), 0.0) AS top FROM samples",
        )
        .get_result(c)
        .await?)
    })?;
    println!(
        "{name:<28} record {:>6.0} B/row, {:>6.0} B/row with pages (4 KiB) | cpu_modes {:>4.0}, cpu_per_cpu {:>4.0}, pressure {:>4.0}, top_json {:>4.0} B",
        sizes.payload as f64 / ROWS as f64,
        (sizes.pages * 4096) as f64 / ROWS as f64,
        sizes.modes,
        sizes.per_cpu,
        sizes.pressure,
        sizes.top,
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), StorageError> {
    let v1 = fixture(include_str!(
        "../../model/tests/fixtures/snapshot_valid.json"
    ));
    let v2 = fixture(include_str!("../../model/tests/fixtures/snapshot_v2.json"));
    // The v2 fixture with its top table in v1 form: what the v2 columns alone add.
    let mut v2_top_v1 = v2.clone();
    v2_top_v1.top = v1.top.clone();
    let mut v2_64_top_v1 = cpus64();
    v2_64_top_v1.top = v1.top.clone();
    measure("v1 (snapshot_valid.json)", &v1).await?;
    measure("v2, 4 CPUs, v1 top", &v2_top_v1).await?;
    measure("v2, 64 CPUs, v1 top", &v2_64_top_v1).await?;
    measure("v2 fixture (4 CPUs, 3 top)", &v2).await?;
    measure("v2, 64 CPUs, 3 top", &cpus64()).await?;
    Ok(())
}
