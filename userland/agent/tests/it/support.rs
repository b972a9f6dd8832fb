//! Starting an agent in-process and talking to it.

use procpulse_agent::{Agent, Config, SourceMode};
use procpulse_service::Shutdown;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc")
        .join(name)
}

/// A running agent; dropping it fires shutdown.
pub struct Running {
    pub addr: SocketAddr,
    pub agent: Arc<Agent>,
    pub shutdown: Shutdown,
    pub handle: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Fires shutdown and waits for the server (and push) to finish.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), h)
                .await
                .expect("agent stops within 15 s")
                .unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub fn config(root: &Path, source: SourceMode) -> Config {
    let mut c = Config::new(root);
    c.source = source;
    c.hostname = Some("test-host".into());
    // One sample for the whole test unless a test says otherwise.
    c.sample_interval = Duration::from_secs(3600);
    c.module_check_interval = Duration::from_secs(3600);
    // Fixed names for the fixtures' uids (0 root, 1000 alice); live tests use /etc/passwd.
    c.passwd_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/passwd");
    c
}

pub async fn start(config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let (agent, handle) = procpulse_agent::spawn(config, listener, shutdown.clone())
        .await
        .unwrap();
    Running {
        addr,
        agent,
        shutdown,
        handle: Some(handle),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let res = client().get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.bytes().await.unwrap();
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, v)
}

/// A copy of a fixture tree in a fresh temp dir (removed on drop).
pub struct TempTree(pub PathBuf);

impl TempTree {
    pub fn copy_of(name: &str) -> Self {
        let dst = std::env::temp_dir().join(format!(
            "procpulse-agent-{}-{}-{}",
            name,
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        copy_dir(&fixture(name), &dst);
        TempTree(dst)
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks the sample id shape `<host>-<6 hex>-<9 digits>` and returns the sequence.
pub fn id_seq(id: &str, host: &str) -> u64 {
    let rest = id
        .strip_prefix(host)
        .and_then(|r| r.strip_prefix('-'))
        .unwrap_or_else(|| panic!("{id} does not start with {host}-"));
    let (tag, seq) = rest.split_once('-').unwrap();
    assert_eq!(tag.len(), 6, "{id}");
    assert!(tag.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert!(
        seq.len() >= 9 && seq.chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    seq.parse().unwrap()
}
