//! `procpulse_service::serve` on real loopback sockets: deadlines (head, body, idle),
//! the connection cap, a panicking handler answered 500 JSON, and slowloris.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use procpulse_service::{HttpLimits, Shutdown, recover};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use warp::Filter;

fn routes() -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible>
+ Clone
+ Send
+ Sync
+ 'static {
    use warp::Reply;
    let ok = warp::path!("ok")
        .and(warp::get())
        .map(|| "ok".into_response());
    let panic = warp::path!("panic")
        .and(warp::get())
        .map(|| -> warp::reply::Response { panic!("deliberate test panic") });
    let echo = warp::path!("echo")
        .and(warp::post())
        .and(warp::body::bytes())
        .map(|b: bytes::Bytes| b.len().to_string().into_response());
    ok.or(panic)
        .unify()
        .or(echo)
        .unify()
        .recover(recover)
        .unify()
}

fn limits(ms: u64, max: usize) -> HttpLimits {
    HttpLimits {
        header_timeout_ms: ms,
        body_timeout_ms: ms,
        idle_timeout_ms: ms,
        max_connections: max,
    }
}

async fn start(limits: HttpLimits) -> (SocketAddr, Shutdown, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    let task = tokio::spawn(async move {
        procpulse_service::serve(listener, routes(), s, &limits).await;
    });
    (addr, shutdown, task)
}

/// Reads one response (head + content-length body) from `s`; returns (status, body).
async fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed before a full response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                return (status, text[end + 4..end + 4 + len].to_owned());
            }
        }
    }
}

/// Waits until the server closes `s` (EOF or reset); returns how long that took.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + limit).into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("socket still open after {limit:?}"),
        }
    }
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_response(&mut s).await
}

#[tokio::test]
async fn a_panicking_handler_answers_500_json_and_the_connection_keeps_serving() {
    let (addr, shutdown, task) = start(HttpLimits::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    for _ in 0..3 {
        s.write_all(b"GET /panic HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let (status, body) = read_response(&mut s).await;
        assert_eq!(status, 500);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal", "{body}");
        // Same connection, next request.
        s.write_all(b"GET /ok HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut s).await, (200, "ok".to_owned()));
    }
    assert_eq!(get(addr, "/ok").await.0, 200);
    shutdown.trigger();
    task.await.unwrap();
}

#[tokio::test]
async fn a_head_that_never_ends_is_closed_at_the_header_timeout() {
    let (addr, shutdown, task) = start(limits(500, 100)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /ok HTTP/1.1\r\nhost").await.unwrap();
    let took = closed_within(&mut s, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(400), "{took:?}");
    // A silent new connection too.
    let mut s = TcpStream::connect(addr).await.unwrap();
    closed_within(&mut s, Duration::from_secs(3)).await;
    shutdown.trigger();
    task.await.unwrap();
}

#[tokio::test]
async fn a_trickled_body_is_closed_at_the_body_timeout() {
    let (addr, shutdown, task) = start(limits(800, 100)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let mut closed = false;
    let mut buf = [0u8; 1024];
    // One byte every 200 ms: each read makes progress, but the body never completes.
    while start.elapsed() < Duration::from_secs(4) {
        if s.write_all(b"x").await.is_err() {
            closed = true;
            break;
        }
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            // An error answer (e.g. 400/408) before closing is fine; keep reading.
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    assert!(
        closed,
        "trickled body still open after {:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
    // A whole body in time is answered.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc")
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await, (200, "3".to_owned()));
    shutdown.trigger();
    task.await.unwrap();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let l = HttpLimits {
        idle_timeout_ms: 700,
        ..limits(5_000, 100)
    };
    let (addr, shutdown, task) = start(l).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /ok HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.0, 200);
    let took = closed_within(&mut s, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
    shutdown.trigger();
    task.await.unwrap();
}

#[tokio::test]
async fn connections_over_the_cap_are_answered_503_and_closed_at_once() {
    let (addr, shutdown, task) = start(limits(5_000, 2)).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /ok HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut s).await.0, 200);
        held.push(s);
    }
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut all)).await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains(r#""code":"unavailable""#), "{text}");
    // A slot freed is a slot usable again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(get(addr, "/ok").await.0, 200);
    shutdown.trigger();
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_drains_an_in_flight_request() {
    let (addr, shutdown, task) = start(HttpLimits::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"cd").await.unwrap();
    assert_eq!(read_response(&mut s).await, (200, "4".to_owned()));
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}

/// 1,000 sockets each send one byte of a head every second; with a 2 s header timeout
/// each is closed within 2 s (+ slack), while a normal client's p99 stays under 50 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_sockets_are_closed_on_time_and_normal_clients_stay_fast() {
    const SLOW: usize = 1_000;
    let fds = procpulse_service::limits::raise_fd_limit().unwrap_or(0);
    assert!(
        fds >= 2 * SLOW as u64 + 200,
        "RLIMIT_NOFILE {fds} too low for this test"
    );
    let header = Duration::from_secs(2);
    let (addr, shutdown, task) = start(HttpLimits {
        header_timeout_ms: header.as_millis() as u64,
        max_connections: SLOW + 100,
        ..HttpLimits::default()
    })
    .await;
    // The slow clients run on their own runtime (an attacker is another machine); the
    // server and the normal client share the test's runtime.
    let (connected_tx, connected_rx) = tokio::sync::oneshot::channel();
    let attacker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut sockets = Vec::with_capacity(SLOW);
            for _ in 0..SLOW {
                sockets.push((TcpStream::connect(addr).await.unwrap(), Instant::now()));
            }
            let _ = connected_tx.send(());
            let tasks: Vec<_> = sockets
                .into_iter()
                .map(|(mut s, opened)| {
                    tokio::spawn(async move {
                        let head = b"GET /ok HTTP/1.1\r\nhost: slow\r\nx-pad: aaaaaaaaaaaaaaaaaaaa";
                        let mut buf = [0u8; 256];
                        for byte in head.iter().cycle() {
                            if s.write_all(&[*byte]).await.is_err() {
                                return opened.elapsed();
                            }
                            match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf))
                                .await
                            {
                                Ok(Ok(0)) | Ok(Err(_)) => return opened.elapsed(),
                                Ok(Ok(_)) | Err(_) => {}
                            }
                            assert!(opened.elapsed() < Duration::from_secs(20), "never closed");
                        }
                        unreachable!()
                    })
                })
                .collect();
            let mut worst = Duration::ZERO;
            for t in tasks {
                worst = worst.max(t.await.unwrap());
            }
            worst
        })
    });
    connected_rx.await.unwrap();
    let begin = Instant::now();
    // A normal client, one request per fresh connection, while the slow ones hang on.
    let mut took = Vec::new();
    while begin.elapsed() < header {
        let t = Instant::now();
        let (status, body) = get(addr, "/ok").await;
        took.push(t.elapsed());
        assert_eq!((status, body.as_str()), (200, "ok"));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    took.sort();
    let p99 = took[took.len() * 99 / 100];
    assert!(took.len() >= 50, "only {} requests", took.len());
    assert!(
        p99 < Duration::from_millis(50),
        "p99 {p99:?} over {} requests",
        took.len()
    );
    let worst = tokio::task::spawn_blocking(move || attacker.join().unwrap())
        .await
        .unwrap();
    // Closed at the deadline after accept, noticed by the client within its 1 s read
    // poll; the rest is accept lag of a 1,000-connect burst on a loaded 2-core runner
    // (the client's clock starts at connect, the server's at accept): up to 3.1 s seen
    // while the other tests of this binary ran beside it. A deadline that each byte
    // renewed would never close them (the 20 s check above): the bound still tells
    // the two apart.
    assert!(worst <= header + Duration::from_secs(5), "worst {worst:?}");
    assert!(begin.elapsed() < Duration::from_secs(30));
    shutdown.trigger();
    task.await.unwrap();
}
