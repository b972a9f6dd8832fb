//! Shutdown closes every WebSocket with Going Away and `run` returns.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::*;

#[tokio::test]
async fn shutdown_sends_going_away_and_returns() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |_| {}).await;
    let mut a = server.connect(None).await.unwrap();
    let mut b = server.connect(None).await.unwrap();
    opening(&mut a).await;
    opening(&mut b).await;
    server.shutdown.trigger();
    for ws in [&mut a, &mut b] {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .unwrap();
            match msg {
                Some(Ok(Message::Close(Some(frame)))) => {
                    assert_eq!(frame.code, CloseCode::Away);
                    break;
                }
                Some(Ok(Message::Ping(_))) => continue,
                other => panic!("expected a Going Away close, got {other:?}"),
            }
        }
    }
    tokio::time::timeout(Duration::from_secs(10), server.task)
        .await
        .unwrap()
        .unwrap();
}
