//! Helpers: the binaries, free ports, child processes that are stopped on drop, a tiny
//! HTTP/1.0 GET, and running the loadgen with a deadline.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The loadgen binary cargo built for these tests.
pub fn loadgen_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_procpulse-loadgen"))
}

/// A sibling binary of the workspace (`procpulse-agent`, `procpulse-ingest`).
pub fn workspace_bin(name: &str) -> PathBuf {
    let path = loadgen_bin().with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p {name}); ci/test-loadgen.sh does",
        path.display()
    );
    path
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process stopped with SIGTERM (then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    pub child: Child,
    pub log: PathBuf,
}

impl Service {
    /// Starts `bin args...`, logging to `<dir>/<name>.log`.
    pub fn start(name: &'static str, bin: &Path, args: &[&str], dir: &Path) -> Service {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        Service { name, child, log }
    }

    /// Waits until `GET path` answers 200, or panics with the service's log.
    pub fn wait_ready(&mut self, port: u16, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http_get(port, path) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}:\n{}", self.name, self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready on port {port}:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal (`INT`, `TERM`) to a process with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// `GET path` on 127.0.0.1:port over HTTP/1.0: (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// What one loadgen run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the loadgen in `dir` with `args`; kills it after `limit`.
pub fn run_loadgen(dir: &Path, args: &[&str], limit: Duration) -> Run {
    let mut child = spawn_loadgen(dir, args);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "loadgen {args:?} did not finish within {limit:?}:\n{}",
                std::fs::read_to_string(dir.join("loadgen.out")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    finish(dir, status)
}

/// Starts the loadgen in `dir` (stdout/stderr to `loadgen.out`/`loadgen.err`).
pub fn spawn_loadgen(dir: &Path, args: &[&str]) -> Child {
    let out = std::fs::File::create(dir.join("loadgen.out")).expect("out");
    let err = std::fs::File::create(dir.join("loadgen.err")).expect("err");
    Command::new(loadgen_bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn loadgen")
}

/// Collects a finished run's output.
pub fn finish(dir: &Path, status: ExitStatus) -> Run {
    Run {
        status,
        stdout: std::fs::read_to_string(dir.join("loadgen.out")).unwrap_or_default(),
        stderr: std::fs::read_to_string(dir.join("loadgen.err")).unwrap_or_default(),
    }
}
