//! Benchmark harness for `ci/bench/broadcaster.sh`: opens N WebSocket clients against a
//! running broadcaster, inserts rows into its database at a steady rate through the
//! storage write path (what ingest uses) and measures, at every client, the time from
//! just before the insert (an upper bound of commit time) to delivery. Also reads the
//! broadcaster's RSS before and after the clients connect.
//!
//! Prints `key value` lines for the script to turn into `RESULT` lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use procpulse_model::{Cpu, Procs, Ram, Snapshot, Source};
use procpulse_storage::row::NewSample;
use procpulse_storage::write::insert_samples;
use procpulse_storage::{Database, DatabaseUrl, PoolOptions};
use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Debug, Parser)]
struct Args {
    /// Broadcaster address (host:port).
    #[arg(long)]
    addr: std::net::SocketAddr,
    /// The broadcaster's database (rows are inserted here).
    #[arg(long)]
    database_url: String,
    /// The broadcaster's pid (its RSS is read from /proc).
    #[arg(long)]
    server_pid: u32,
    /// WebSocket clients.
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Local source addresses 127.0.0.2..: spread clients over this many (1 = default).
    #[arg(long, default_value_t = 1)]
    source_addrs: u8,
    /// Hosts inserting one row per second each (rows/s).
    #[arg(long, default_value_t = 10)]
    hosts: usize,
    /// Seconds of inserts.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Rows per host inserted before the clients connect (their history).
    #[arg(long, default_value_t = 6)]
    seed_per_host: usize,
    /// Seconds to wait after the last insert for its delivery (longer than one poll).
    #[arg(long, default_value_t = 3)]
    drain_seconds: u64,
    /// Seconds the server is left idle (no inserts), once before the clients connect and
    /// once with them connected, while its CPU time and polls are counted (0: skip).
    #[arg(long, default_value_t = 0)]
    idle_seconds: u64,
}

/// CPU time of every thread of `pid` so far, from `/proc/<pid>/task/*/schedstat` (its
/// first field, nanoseconds on a CPU; no clock-tick rounding).
fn cpu_ns(pid: u32) -> anyhow::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

/// The broadcaster's polls so far (each is one query while no page comes back full).
async fn polls(addr: std::net::SocketAddr) -> anyhow::Result<f64> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("procpulse_broadcaster_poll_duration_seconds_count "))
        .and_then(|v| v.trim().parse().ok())
        .context("no procpulse_broadcaster_poll_duration_seconds_count in /metrics")
}

/// Leaves the server idle for `seconds`; prints its CPU (% of one core) and polls/s as
/// `idle_<label>_cpu_percent` and `idle_<label>_polls_per_second`.
async fn idle(args: &Args, label: &str) -> anyhow::Result<()> {
    if args.idle_seconds == 0 {
        return Ok(());
    }
    let (c0, p0, t0) = (
        cpu_ns(args.server_pid)?,
        polls(args.addr).await?,
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let (c1, p1, secs) = (
        cpu_ns(args.server_pid)?,
        polls(args.addr).await?,
        t0.elapsed().as_secs_f64(),
    );
    println!(
        "idle_{label}_cpu_percent {:.3}",
        (c1 - c0) as f64 / 1e9 / secs * 100.0
    );
    println!("idle_{label}_polls_per_second {:.2}", (p1 - p0) / secs);
    Ok(())
}

fn rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(borrow, default)]
    samples: Vec<RowId<'a>>,
}

#[derive(serde::Deserialize)]
struct RowId<'a> {
    sample_id: &'a str,
}

/// Per-client result: latencies in µs, and rows received.
struct ClientResult {
    latencies_us: Vec<u32>,
    rows: usize,
}

fn snapshot(host: usize, seq: usize) -> Snapshot {
    Snapshot {
        sample_id: format!("bench-{seq}"),
        host: format!("bench-{host}"),
        collected_at: time::OffsetDateTime::now_utc(),
        source: Source::Procfs,
        cpu: Cpu {
            usage_percent: (seq % 100) as f64,
            cores: 2,
            load1: 0.5,
            load5: 0.4,
            load15: 0.3,
            modes: None,
            per_cpu: Vec::new(),
        },
        ram: Ram {
            total_kb: 24_000_000,
            free_kb: 10_000_000,
            available_kb: 20_000_000,
            used_kb: 4_000_000,
            cached_kb: 8_000_000,
            swap_total_kb: 0,
            swap_free_kb: 0,
            used_percent: 16.7,
            buffers_kb: None,
            shared_kb: None,
            swap_used_kb: None,
        },
        procs: Procs {
            total: 300,
            sleeping: 298,
            running: 2,
            threads: 900,
            ..Procs::default()
        },
        top: Vec::new(),
        pressure: None,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url: DatabaseUrl = args.database_url.parse()?;
    let db = Database::connect(&url, &PoolOptions::default()).await?;
    // History every client receives on connect: `seed_per_host` rows per host, 1 s apart.
    let seed: Vec<NewSample> = (0..args.hosts * args.seed_per_host)
        .map(|i| {
            let mut s = snapshot(i % args.hosts, 0);
            s.sample_id = format!("seed-{i}-{}", procpulse_storage::testing::random_tag());
            s.collected_at -= time::Duration::seconds((args.seed_per_host - i / args.hosts) as i64);
            NewSample::from_snapshot(&s, "a", time::OffsetDateTime::now_utc())
        })
        .collect();
    insert_samples(&db, seed).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_kb(args.server_pid)?;
    idle(&args, "0_clients").await?;

    // Commit-time table: ns since t0 of the instant just before each row's insert.
    let t0 = Instant::now();
    let max_rows = args.hosts * args.seconds as usize + args.hosts;
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..max_rows).map(|_| AtomicU64::new(0)).collect());
    let ready = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(args.concurrency));

    let connect_start = Instant::now();
    let mut tasks = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let gate = Arc::clone(&gate);
        let ready = Arc::clone(&ready);
        let sent_at = Arc::clone(&sent_at);
        let mut stop = stop_rx.clone();
        let addr = args.addr;
        let src = (args.source_addrs > 1).then(|| {
            std::net::Ipv4Addr::new(127, 0, 0, 2 + (i % args.source_addrs as usize) as u8)
        });
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.ok();
            let mut ws = None;
            for _attempt in 0..5 {
                let socket = TcpSocket::new_v4()?;
                if let Some(ip) = src {
                    socket.bind((ip, 0).into())?;
                }
                let Ok(stream) = socket.connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let req = format!("ws://{addr}/ws").into_client_request()?;
                // A small read buffer, as a browser's: tungstenite's default (128 KiB)
                // is zeroed on every read, which made memset the harness's largest cost
                // and took the 2 cores' time from the server under test.
                let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
                match tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await {
                    Ok((s, _)) => {
                        ws = Some(s);
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
            let mut ws = ws.context("could not connect")?;
            let mut opened = 0;
            let mut result = ClientResult {
                latencies_us: Vec::new(),
                rows: 0,
            };
            let mut permit = permit;
            loop {
                let msg = tokio::select! {
                    _ = stop.changed() => break,
                    m = ws.next() => m,
                };
                let Some(Ok(msg)) = msg else {
                    bail!("socket closed early")
                };
                let Message::Text(text) = msg else { continue };
                if opened < 3 {
                    // hello, history, routes
                    opened += 1;
                    if opened == 3 {
                        permit.take();
                        ready.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                if !text.starts_with(r#"{"type":"samples""#) {
                    continue;
                }
                let now = t0.elapsed().as_nanos() as u64;
                let frame: Frame<'_> = serde_json::from_str(&text)?;
                for row in frame.samples {
                    let Some(seq) = row
                        .sample_id
                        .strip_prefix("bench-")
                        .and_then(|s| s.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let Some(slot) = sent_at.get(seq) else {
                        continue;
                    };
                    let sent = slot.load(Ordering::Acquire);
                    if sent > 0 {
                        result
                            .latencies_us
                            .push(((now.saturating_sub(sent)) / 1000) as u32);
                    }
                    result.rows += 1;
                }
            }
            Ok::<_, anyhow::Error>(result)
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while ready.load(Ordering::Relaxed) < args.clients {
        if Instant::now() > deadline {
            bail!(
                "only {} of {} clients connected",
                ready.load(Ordering::Relaxed),
                args.clients
            );
        }
        if tasks.iter().any(|t| t.is_finished()) {
            bail!("a client failed while connecting");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connect_seconds = connect_start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_connected = rss_kb(args.server_pid)?;
    idle(&args, "all_clients").await?;

    // Steady inserts: `hosts` rows per second, one transaction each, spread evenly.
    let interval = Duration::from_secs_f64(1.0 / args.hosts as f64);
    let mut tick = tokio::time::interval(interval);
    let mut seq = 0usize;
    let run_until = Instant::now() + Duration::from_secs(args.seconds);
    let mut insert_ms = Vec::new();
    while Instant::now() < run_until {
        tick.tick().await;
        let s = snapshot(seq % args.hosts, seq);
        let row = NewSample::from_snapshot(
            &s,
            if seq % 2 == 0 { "a" } else { "b" },
            time::OffsetDateTime::now_utc(),
        );
        sent_at[seq].store(t0.elapsed().as_nanos() as u64, Ordering::Release);
        let t = Instant::now();
        insert_samples(&db, vec![row]).await?;
        insert_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        seq += 1;
    }
    tokio::time::sleep(Duration::from_secs(args.drain_seconds)).await;
    let rss_end = rss_kb(args.server_pid)?;
    stop_tx.send(true)?;

    let mut all = Vec::new();
    let mut min_rows = usize::MAX;
    let mut failed = 0;
    for t in tasks {
        match t.await? {
            Ok(r) => {
                min_rows = min_rows.min(r.rows);
                all.extend(r.latencies_us);
            }
            Err(_) => failed += 1,
        }
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[i] as f64 / 1000.0
    };
    insert_ms.sort_by(f64::total_cmp);
    let clients = args.clients as f64;
    println!("clients {}", args.clients);
    println!("clients_failed {failed}");
    println!("connect_seconds {connect_seconds:.2}");
    println!("rows_inserted {seq}");
    println!("min_rows_per_client {min_rows}");
    println!("deliveries {}", all.len());
    println!("rss_before_kb {rss_before}");
    println!("rss_connected_kb {rss_connected}");
    println!("rss_end_kb {rss_end}");
    println!(
        "kib_per_client {:.2}",
        (rss_end.max(rss_connected) - rss_before) as f64 / clients
    );
    println!("latency_p50_ms {:.1}", pct(0.50));
    println!("latency_p99_ms {:.1}", pct(0.99));
    println!("latency_max_ms {:.1}", pct(1.0));
    println!(
        "insert_p50_ms {:.2}",
        insert_ms
            .get(insert_ms.len() / 2)
            .copied()
            .unwrap_or(f64::NAN)
    );
    Ok(())
}
