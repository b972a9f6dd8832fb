//! Test harness: databases, an in-process server per (backend, write mode), snapshots.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use procpulse_ingest::client::Conn;
use procpulse_ingest::{Config, WriteMode};
use procpulse_service::Shutdown;
use procpulse_storage::schema::samples;
use procpulse_storage::{Database, DatabaseUrl, PoolOptions, StorageError, with_conn};
use std::net::SocketAddr;
use std::time::Duration;

/// A fresh database: a temp SQLite file, or a new database on the MySQL test server.
pub struct TestDb {
    pub url: DatabaseUrl,
    pub db: Database,
    pub _dir: Option<tempfile::TempDir>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Mysql,
}

/// The MySQL server URL; panics when `CI` is set and it is missing.
pub fn mysql_url() -> Option<String> {
    match std::env::var("PROCPULSE_TEST_MYSQL_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but PROCPULSE_TEST_MYSQL_URL is missing (run ci/mariadb.sh start)")
        }
        _ => {
            eprintln!(
                "PROCPULSE_TEST_MYSQL_URL unset: MySQL cases skipped (set CI to make this fatal)"
            );
            None
        }
    }
}

/// Backends available to this run (SQLite always).
pub fn kinds() -> Vec<Kind> {
    let mut v = vec![Kind::Sqlite];
    if mysql_url().is_some() {
        v.push(Kind::Mysql);
    }
    v
}

/// Every (backend, write mode) combination available.
pub fn matrix() -> Vec<(Kind, WriteMode)> {
    kinds()
        .into_iter()
        .flat_map(|k| [(k, WriteMode::Direct), (k, WriteMode::Batched)])
        .collect()
}

pub async fn fresh_db(kind: Kind) -> TestDb {
    let (url, dir) = match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("ingest.db").display());
            (url, Some(dir))
        }
        Kind::Mysql => {
            let base = mysql_url().expect("mysql url");
            let url = procpulse_storage::testing::fresh_mysql_database(&base)
                .await
                .expect("create test database");
            (url, None)
        }
    };
    let url: DatabaseUrl = url.parse().unwrap();
    let db = Database::connect(&url, &PoolOptions::default())
        .await
        .expect("connect");
    TestDb { url, db, _dir: dir }
}

/// Rows in the table.
pub async fn count(db: &Database) -> i64 {
    with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(samples::table.count().get_result::<i64>(c).await?)
    })
    .expect("count rows")
}

/// How many rows hold each of `ids` (checks "exactly once").
pub async fn copies_of(db: &Database, ids: &[String]) -> std::collections::HashMap<String, i64> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(1000) {
        let chunk: Vec<String> = chunk.to_vec();
        let rows: Vec<(String, i64)> = with_conn!(db.read_pool(), c => {
            Ok::<_, StorageError>(samples::table
                .filter(samples::sample_id.eq_any(chunk.clone()))
                .group_by(samples::sample_id)
                .select((samples::sample_id, diesel::dsl::count_star()))
                .load(c)
                .await?)
        })
        .expect("copies");
        out.extend(rows);
    }
    out
}

/// An in-process ingest server.
pub struct Server {
    pub addr: SocketAddr,
    pub tdb: TestDb,
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(kind: Kind, mode: WriteMode) -> Server {
        Self::start_with(kind, mode, |_| {}).await
    }

    pub async fn start_with(
        kind: Kind,
        mode: WriteMode,
        tweak: impl FnOnce(&mut Config),
    ) -> Server {
        let tdb = fresh_db(kind).await;
        let route = if mode == WriteMode::Direct { "a" } else { "b" };
        let mut config = Config::new(route, mode);
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let task = tokio::spawn({
            let (url, shutdown) = (tdb.url.clone(), shutdown.clone());
            async move {
                procpulse_ingest::run(listener, url, config, shutdown)
                    .await
                    .unwrap();
            }
        });
        let server = Server {
            addr,
            tdb,
            shutdown,
            task,
        };
        server.wait_ready().await;
        server
    }

    pub async fn wait_ready(&self) {
        let mut c = self.conn().await;
        for _ in 0..100 {
            if c.get("/readyz")
                .await
                .map(|a| a.status == 200)
                .unwrap_or(false)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server not ready");
    }

    pub async fn conn(&self) -> Conn {
        Conn::connect(self.addr).await.expect("connect")
    }

    pub fn db(&self) -> &Database {
        &self.tdb.db
    }

    pub async fn stop(self) {
        self.shutdown.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// A valid snapshot as JSON (collected now) with `id` and `host`.
pub fn snapshot(id: &str, host: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(include_str!(
        "../../../model/tests/fixtures/snapshot_valid.json"
    ))
    .unwrap();
    v["sample_id"] = id.into();
    v["host"] = host.into();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    v["collected_at"] = now.into();
    v
}

pub fn body(v: &serde_json::Value) -> bytes::Bytes {
    serde_json::to_vec(v).unwrap().into()
}
