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

/// The MySQL server URL ([`procpulse_storage::testing::test_mysql_url`]).
pub fn mysql_url() -> Option<String> {
    procpulse_storage::testing::test_mysql_url()
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

/// The real `procpulse-ingest` binary, started on a free loopback port.
pub struct Proc {
    pub child: std::process::Child,
    pub addr: SocketAddr,
}

impl Proc {
    pub async fn spawn(url: &DatabaseUrl, mode: WriteMode, extra: &[&str]) -> Proc {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let route = if mode == WriteMode::Direct { "a" } else { "b" };
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_procpulse-ingest"))
            .args([
                "--listen",
                &addr.to_string(),
                "--route",
                route,
                "--write-mode",
                mode.as_str(),
            ])
            .arg("--database-url")
            .arg(url_string(url))
            .args(extra)
            .env("RUST_LOG", "error")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn procpulse-ingest");
        let p = Proc { child, addr };
        for _ in 0..200 {
            if let Ok(mut c) = Conn::connect(addr).await
                && c.get("/readyz")
                    .await
                    .map(|a| a.status == 200)
                    .unwrap_or(false)
            {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("procpulse-ingest did not become ready on {addr}");
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, sig).expect("kill");
    }

    /// Waits up to `limit` for the process to exit; returns its status.
    pub async fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = std::time::Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                start.elapsed() < limit,
                "process did not exit within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The full URL (with password) a child process needs: `DatabaseUrl`'s Display hides it.
pub fn url_string(url: &DatabaseUrl) -> String {
    match url.backend() {
        procpulse_storage::Backend::Sqlite => format!("sqlite://{}", url.target()),
        procpulse_storage::Backend::Mysql => url.target().to_owned(),
    }
}

/// What a load run saw.
#[derive(Debug, Default)]
pub struct LoadLog {
    /// sample_ids acknowledged with 200.
    pub acked: Vec<String>,
    /// Answers by status code.
    pub statuses: std::collections::BTreeMap<u16, u64>,
    /// 503 answers without a Retry-After header.
    pub unavailable_without_retry_after: u64,
    /// Client-side failures (connection refused/reset).
    pub transport_errors: u64,
    /// When each 200 arrived.
    pub ok_times: Vec<std::time::Instant>,
}

/// `clients` tasks post snapshots with fresh ids (`tag-client-n`, every 4th client posts
/// arrays of 10) to whatever address `target()` returns, until `stop` is set. Transport
/// errors make a client reconnect after a short pause.
pub fn load(
    target: std::sync::Arc<std::sync::Mutex<SocketAddr>>,
    clients: usize,
    tag: &str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<LoadLog> {
    use std::sync::atomic::Ordering;
    let tag = tag.to_owned();
    tokio::spawn(async move {
        let mut tasks = Vec::new();
        for client in 0..clients {
            let (target, stop, tag) = (target.clone(), stop.clone(), tag.clone());
            tasks.push(tokio::spawn(async move {
                let mut log = LoadLog::default();
                let mut conn: Option<Conn> = None;
                let mut n = 0u64;
                while !std::sync::atomic::AtomicBool::load(&stop, Ordering::Relaxed) {
                    let addr = *target.lock().unwrap();
                    let c = match conn.as_mut() {
                        Some(c) => c,
                        None => match Conn::connect(addr).await {
                            Ok(c) => conn.insert(c),
                            Err(_) => {
                                log.transport_errors += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                continue;
                            }
                        },
                    };
                    let per = if client % 4 == 0 { 10 } else { 1 };
                    let ids: Vec<String> = (0..per)
                        .map(|_| {
                            n += 1;
                            format!("{tag}-{client}-{n}")
                        })
                        .collect();
                    let b = if per == 1 {
                        body(&snapshot(&ids[0], "load"))
                    } else {
                        let arr: Vec<_> = ids.iter().map(|id| snapshot(id, "load")).collect();
                        body(&serde_json::Value::Array(arr))
                    };
                    match c.post_json("/api/v1/metrics", b).await {
                        Ok(a) => {
                            *log.statuses.entry(a.status.as_u16()).or_default() += 1;
                            if a.status == 200 {
                                log.acked.extend(ids);
                                log.ok_times.push(std::time::Instant::now());
                            } else if a.status == 503 {
                                if !a.headers.contains_key("retry-after") {
                                    log.unavailable_without_retry_after += 1;
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                        Err(_) => {
                            log.transport_errors += 1;
                            conn = None;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                log
            }));
        }
        let mut all = LoadLog::default();
        for t in tasks {
            let l = t.await.unwrap();
            all.acked.extend(l.acked);
            for (k, v) in l.statuses {
                *all.statuses.entry(k).or_default() += v;
            }
            all.unavailable_without_retry_after += l.unavailable_without_retry_after;
            all.transport_errors += l.transport_errors;
            all.ok_times.extend(l.ok_times);
        }
        all.ok_times.sort();
        all
    })
}

/// Asserts every id in `acked` is stored exactly once.
pub async fn assert_all_stored_once(db: &Database, acked: &[String], ctx: &str) {
    let copies = copies_of(db, acked).await;
    let missing: Vec<&String> = acked
        .iter()
        .filter(|id| !copies.contains_key(*id))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "{ctx}: acknowledged but missing, e.g. {missing:?}"
    );
    assert!(
        copies.values().all(|&n| n == 1),
        "{ctx}: a sample stored twice"
    );
}
