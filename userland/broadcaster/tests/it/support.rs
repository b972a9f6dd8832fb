//! Starts the broadcaster in-process and talks to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use procpulse_broadcaster::{Config, run};
use procpulse_model::{Cpu, Procs, Ram, Snapshot, Source, TopProcess};
use procpulse_service::Shutdown;
use procpulse_storage::row::NewSample;
use procpulse_storage::write::insert_samples;
use procpulse_storage::{Database, DatabaseUrl, PoolOptions};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A database the test owns: a fresh SQLite file or a fresh MariaDB database.
pub struct TestDb {
    pub url: String,
    pub db: Database,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        Self::open(url, Some(dir)).await
    }

    /// A fresh database on the MariaDB of `PROCPULSE_TEST_MYSQL_URL`; `None` (test
    /// skipped) when unset, a panic when unset under CI.
    pub async fn mysql() -> Option<TestDb> {
        let base = procpulse_storage::testing::test_mysql_url()?;
        let url = procpulse_storage::testing::fresh_mysql_database(&base)
            .await
            .unwrap();
        Some(Self::open(url, None).await)
    }

    async fn open(url: String, dir: Option<tempfile::TempDir>) -> TestDb {
        let parsed: DatabaseUrl = url.parse().unwrap();
        let db = Database::connect(&parsed, &PoolOptions::default())
            .await
            .unwrap();
        TestDb { url, db, _dir: dir }
    }

    /// Inserts samples through the storage write path (what ingest uses), one transaction.
    pub async fn insert(&self, samples: &[Snapshot], route: &str) {
        self.insert_received(samples, route, OffsetDateTime::now_utc())
            .await;
    }

    /// [`TestDb::insert`] with `received_at` set to `received`.
    pub async fn insert_received(
        &self,
        samples: &[Snapshot],
        route: &str,
        received: OffsetDateTime,
    ) {
        let rows = samples
            .iter()
            .map(|s| NewSample::from_snapshot(s, route, received))
            .collect();
        let report = insert_samples(&self.db, rows).await.unwrap();
        assert_eq!(report.accepted(), samples.len());
    }
}

/// A valid snapshot of `host` numbered `n`, collected `ago` before now.
pub fn snapshot(host: &str, n: u64, ago: Duration, top: usize) -> Snapshot {
    let tag = procpulse_storage::testing::random_tag();
    Snapshot {
        sample_id: format!("{host}-{tag}-{n}"),
        host: host.to_owned(),
        collected_at: OffsetDateTime::now_utc() - ago,
        source: Source::Procfs,
        cpu: Cpu {
            usage_percent: (n % 100) as f64,
            cores: 2,
            load1: 0.5,
            load5: 0.4,
            load15: 0.3,
            modes: None,
            per_cpu: Vec::new(),
        },
        ram: Ram {
            total_kb: 1_000_000,
            free_kb: 100_000,
            available_kb: 400_000,
            used_kb: 600_000,
            cached_kb: 200_000,
            swap_total_kb: 0,
            swap_free_kb: 0,
            used_percent: 60.0,
            buffers_kb: None,
            shared_kb: None,
            swap_used_kb: None,
        },
        procs: Procs {
            total: n,
            running: n,
            ..Procs::default()
        },
        top: (0..top)
            .map(|i| TopProcess {
                pid: i as u32 + 1,
                ppid: 1,
                comm: format!("worker ({i}) with a long name"),
                state: "S".to_owned(),
                rss_kb: 1000 + i as u64,
                cpu_percent: 1.5,
                uid: None,
                user: None,
                threads: None,
                nice: None,
            })
            .collect(),
        pressure: None,
    }
}

/// A running broadcaster.
pub struct Server {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub task: JoinHandle<()>,
    _web: tempfile::TempDir,
}

impl Server {
    pub async fn start(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Server {
        let web = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(web.path().join("assets")).unwrap();
        std::fs::write(
            web.path().join("index.html"),
            "<!doctype html><title>procpulse</title>",
        )
        .unwrap();
        std::fs::write(
            web.path().join("assets/index-BX3k2a9f.js"),
            "console.log(1)",
        )
        .unwrap();
        let mut config = Config {
            database_url: db.url.clone(),
            poll_interval: Duration::from_millis(100),
            web_dir: Some(PathBuf::from(web.path())),
            ..Config::default()
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let s = shutdown.clone();
        let task = tokio::spawn(async move { run(listener, config, s).await.unwrap() });
        let server = Server {
            addr,
            shutdown,
            task,
            _web: web,
        };
        server.wait_ready().await;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client.get(self.url("/readyz")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("broadcaster did not become ready");
    }

    /// Opens a WebSocket, optionally with an `Origin`.
    pub async fn connect(
        &self,
        origin: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut req = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req)
            .await
            .map(|(ws, _)| ws)
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("metric {name} missing in\n{text}"))
            .trim()
            .parse()
            .unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// The next JSON text frame (pings are answered by tungstenite), within `within`.
pub async fn next_json(ws: &mut Ws, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame in time")
            .expect("socket closed")
            .expect("socket error");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads the `hello`, `history` and `routes` frames that open every connection.
pub async fn opening(ws: &mut Ws) -> (Value, Value, Value) {
    let hello = next_json(ws, Duration::from_secs(5)).await;
    assert_eq!(hello["type"], "hello", "{hello}");
    let history = next_json(ws, Duration::from_secs(5)).await;
    assert_eq!(history["type"], "history", "{history}");
    let routes = next_json(ws, Duration::from_secs(5)).await;
    assert_eq!(routes["type"], "routes", "{routes}");
    (hello, history, routes)
}

/// Collects row ids from `samples` frames until `count` rows arrived.
pub async fn collect_ids(ws: &mut Ws, count: usize, within: Duration) -> Vec<i64> {
    let deadline = tokio::time::Instant::now() + within;
    let mut ids = Vec::new();
    while ids.len() < count {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let v = next_json(ws, left).await;
        if v["type"] == "samples" {
            ids.extend(
                v["samples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_i64().unwrap()),
            );
        }
    }
    ids
}

pub fn ids(v: &Value) -> Vec<i64> {
    v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

pub async fn close(mut ws: Ws) {
    let _ = ws.send(Message::Close(None)).await;
}
