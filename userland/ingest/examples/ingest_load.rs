//! Load client for `ci/bench/ingest.sh`: N concurrent keep-alive clients each POST single
//! snapshots (fresh sample_ids) to ingest for a fixed time, and report acknowledged rows/s
//! and latency percentiles of acknowledged requests as one JSON line.
//!
//! `cargo run --release -p procpulse-ingest --example ingest_load -- \
//!     --target 127.0.0.1:8000 --clients 150 --seconds 10 [--snapshot v1|v2|v2-64]`
//!
//! `--snapshot` picks the body: `v1` (default, `snapshot_valid.json`), `v2` (the v2
//! fixture: 4 CPUs, modes, pressure, 3 top entries with v2 keys) or `v2-64` (the v2
//! fixture on a 64-CPU host).
//!
//! `--hosts N` (default 0: every body is the fixture's host, collected when the client
//! starts) spreads the bodies over N hosts `<prefix>-h<k>`, each collected at the moment
//! it is sent — a fleet of N hosts rather than one host posting thousands of samples of
//! one instant (what ci/bench/history.sh needs: the rollups see one minute per host and
//! minute, as in real use).

use procpulse_ingest::client::Conn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    target: SocketAddr,
    clients: usize,
    seconds: f64,
    prefix: String,
    snapshot: String,
    hosts: u64,
}

fn args() -> Args {
    let mut a = Args {
        target: "127.0.0.1:8000".parse().unwrap(),
        clients: 150,
        seconds: 10.0,
        prefix: format!("load-{}", std::process::id()),
        snapshot: "v1".to_owned(),
        hosts: 0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        let v = &argv[i + 1];
        match argv[i].as_str() {
            "--target" => a.target = v.parse().expect("--target host:port"),
            "--clients" => a.clients = v.parse().expect("--clients N"),
            "--seconds" => a.seconds = v.parse().expect("--seconds S"),
            "--prefix" => a.prefix = v.clone(),
            "--snapshot" => a.snapshot = v.clone(),
            "--hosts" => a.hosts = v.parse().expect("--hosts N"),
            other => panic!("unknown flag {other}"),
        }
        i += 2;
    }
    a
}

/// The body split around its sample_id; with `fleet`, `host` and `collected_at` are the
/// placeholders `@@HOST@@` and `@@AT@@` (filled per request).
fn template(kind: &str, fleet: bool) -> (String, String) {
    let text = match kind {
        "v1" => include_str!("../../model/tests/fixtures/snapshot_valid.json"),
        "v2" | "v2-64" => include_str!("../../model/tests/fixtures/snapshot_v2.json"),
        other => panic!("--snapshot {other}: expected v1, v2 or v2-64"),
    };
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    if kind == "v2-64" {
        v["cpu"]["cores"] = 64.into();
        v["cpu"]["per_cpu"] = (0..64u32)
            .map(|cpu| {
                serde_json::json!({"cpu": cpu, "usage_percent": f64::from(cpu * 1543 % 10_001) / 100.0})
            })
            .collect();
    }
    v["sample_id"] = "@@ID@@".into();
    v["collected_at"] = now_rfc3339().into();
    if fleet {
        v["host"] = "@@HOST@@".into();
        v["collected_at"] = "@@AT@@".into();
    }
    let text = serde_json::to_string(&v).unwrap();
    let (pre, post) = text.split_once("@@ID@@").unwrap();
    (pre.to_owned(), post.to_owned())
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::main]
async fn main() {
    let a = args();
    let (pre, post) = template(&a.snapshot, a.hosts > 0);
    let hosts = a.hosts;
    let (pre, post) = (Arc::new(pre), Arc::new(post));
    let errors = Arc::new(AtomicU64::new(0));
    let non_200 = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    let mut tasks = Vec::with_capacity(a.clients);
    for client in 0..a.clients {
        let (pre, post, errors, non_200) =
            (pre.clone(), post.clone(), errors.clone(), non_200.clone());
        let prefix = a.prefix.clone();
        let target = a.target;
        tasks.push(tokio::spawn(async move {
            let mut lat_us: Vec<u32> = Vec::with_capacity(4096);
            let mut conn: Option<Conn> = None;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match Conn::connect(target).await {
                        Ok(c) => conn.insert(c),
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    },
                };
                n += 1;
                let body = if hosts > 0 {
                    // Clients take turns over the hosts, each at its own offset.
                    let k = (client as u64 * 7_919 + n) % hosts;
                    format!("{pre}{prefix}-{client}-{n}{post}")
                        .replace("@@AT@@", &now_rfc3339())
                        .replace("@@HOST@@", &format!("{prefix}-h{k}"))
                } else {
                    format!("{pre}{prefix}-{client}-{n}{post}")
                };
                let t = Instant::now();
                match c.post_json("/api/v1/metrics", body).await {
                    Ok(ans) if ans.status == 200 => {
                        lat_us.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32)
                    }
                    Ok(_) => {
                        non_200.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        conn = None;
                    }
                }
            }
            lat_us
        }));
    }
    let mut all: Vec<u32> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i] as f64 / 1000.0
    };
    let mean = if all.is_empty() {
        0.0
    } else {
        all.iter().map(|&x| x as f64).sum::<f64>() / all.len() as f64 / 1000.0
    };
    println!(
        "{}",
        serde_json::json!({
            "clients": a.clients,
            "seconds": elapsed,
            "acknowledged": all.len(),
            "rows_per_second": all.len() as f64 / elapsed,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "mean_ms": mean,
            "non_200": non_200.load(Ordering::Relaxed),
            "errors": errors.load(Ordering::Relaxed),
            "cpu_seconds": own_cpu_seconds(),
        })
    );
}

/// utime + stime of this process from /proc/self/stat (clock ticks of 1/100 s, the
/// Linux x86 USER_HZ), so the benchmark can charge the client's CPU to the run.
fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" that ends comm: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(14) + ticks(15)) as f64 / 100.0
}
