//! A client that never reads, or reads late, never delays another client; queues are
//! bounded (lagging clients skip to the newest state; silent ones are dropped).

use std::time::{Duration, Instant};

use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::*;

/// A WebSocket whose socket receive buffer is tiny, so that not reading stalls the
/// server's writes quickly.
async fn small_buffer_client(server: &Server) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let req = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    ws
}

#[tokio::test]
async fn a_never_reading_client_does_not_delay_another_and_is_dropped() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |c| {
        c.poll_interval = Duration::from_millis(50);
        c.ping_interval = Duration::from_millis(500);
        c.idle_timeout = Duration::from_secs(3);
    })
    .await;
    let silent = small_buffer_client(&server).await; // never read from
    let mut reader = server.connect(None).await.unwrap();
    opening(&mut reader).await;
    assert_eq!(server.metric("procpulse_broadcaster_clients").await, 2.0);
    assert_eq!(
        server
            .metric("procpulse_broadcaster_queue_capacity_frames")
            .await,
        8.0
    );

    // ~40 batches of 50 rows with a 50-entry top table: ≈ 10 MB, far more than the
    // silent client's socket buffers hold.
    let mut expected = 0;
    let mut worst = Duration::ZERO;
    for batch in 0..40u64 {
        let rows: Vec<_> = (0..50)
            .map(|i| snapshot("vm-1", batch * 50 + i, Duration::ZERO, 50))
            .collect();
        let t = Instant::now();
        db.insert(&rows, "a").await;
        let got = collect_ids(&mut reader, 50, Duration::from_secs(5)).await;
        worst = worst.max(t.elapsed());
        assert_eq!(
            got,
            ((expected + 1)..=(expected + 50)).collect::<Vec<i64>>()
        );
        expected += 50;
    }
    assert!(
        worst < Duration::from_secs(2),
        "a batch took {worst:?} to reach the reading client"
    );

    // The silent client stops answering pings and is dropped after the idle timeout.
    let deadline = Instant::now() + Duration::from_secs(15);
    while server
        .metric("procpulse_broadcaster_dropped_clients_total")
        .await
        < 1.0
    {
        assert!(
            Instant::now() < deadline,
            "the silent client was never dropped"
        );
        // keep the reader answering pings
        let _ = tokio::time::timeout(
            Duration::from_millis(200),
            next_json(&mut reader, Duration::from_secs(1)),
        )
        .await;
    }
    assert_eq!(server.metric("procpulse_broadcaster_clients").await, 1.0);
    drop(silent);
    server.stop().await;
}

#[tokio::test]
async fn a_late_reader_skips_to_the_newest_state() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |c| c.poll_interval = Duration::from_millis(30)).await;
    let mut late = small_buffer_client(&server).await;
    opening(&mut late).await;

    // While it does not read, 60 polls' worth of big frames are published: ≈ 13 MB, over
    // three times what the kernel buffers of one loopback socket hold (tcp_wmem max 4 MiB
    // plus the client's 4 KiB receive buffer), so the server's queue must overrun.
    let mut last = 0;
    for batch in 0..60u64 {
        let rows: Vec<_> = (0..50)
            .map(|i| {
                snapshot(
                    if i % 2 == 0 { "vm-1" } else { "vm-2" },
                    batch * 50 + i,
                    Duration::ZERO,
                    50,
                )
            })
            .collect();
        db.insert(&rows, "b").await;
        last += 50;
        tokio::time::sleep(Duration::from_millis(35)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Now it reads: some frames are gone, it gets the newest state, and it reaches the
    // newest row without receiving every intermediate one.
    let mut received = 0;
    let mut newest = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while newest < last {
        assert!(
            Instant::now() < deadline,
            "never caught up (newest {newest} of {last})"
        );
        let v = next_json(&mut late, Duration::from_secs(5)).await;
        if v["type"] == "samples" {
            let f = ids(&v);
            received += f.len();
            newest = newest.max(*f.iter().max().unwrap_or(&0));
        }
    }
    assert!(
        received < last as usize,
        "received all {received} rows: nothing was skipped"
    );
    assert!(server.metric("procpulse_broadcaster_lagged_total").await >= 1.0);
    assert!(
        server
            .metric("procpulse_broadcaster_frames_skipped_total")
            .await
            >= 1.0
    );
    server.stop().await;
}
