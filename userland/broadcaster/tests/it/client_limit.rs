//! `--max-clients`: admission takes one of a fixed number of slots (a semaphore permit
//! that the connection holds until it ends), so a burst of upgrades never admits more
//! than the limit (the check-then-increment on the clients gauge could), a client over
//! the limit is answered 503, and a slot comes back when its client leaves.

use std::time::Duration;

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::*;

fn status(e: &tungstenite::Error) -> Option<u16> {
    match e {
        tungstenite::Error::Http(res) => Some(res.status().as_u16()),
        _ => None,
    }
}

#[tokio::test]
async fn a_burst_of_upgrades_never_admits_more_than_max_clients() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |c| c.max_clients = 5).await;
    let attempts = (0..40).map(|_| server.connect(None));
    let results = futures_util::future::join_all(attempts).await;
    let (ok, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!(ok.len(), 5, "exactly the limit admitted");
    assert!(
        refused
            .iter()
            .all(|r| status(r.as_ref().unwrap_err()) == Some(503)),
        "the rest answered 503"
    );
    assert_eq!(server.metric("procpulse_broadcaster_clients").await, 5.0);

    // One leaves: its slot comes back once the server has seen it go.
    let mut clients: Vec<Ws> = ok.into_iter().map(Result::unwrap).collect();
    let mut gone = clients.pop().unwrap();
    gone.send(Message::Close(None)).await.unwrap();
    drop(gone);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.metric("procpulse_broadcaster_clients").await > 4.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the closed client was never released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back = server
        .connect(None)
        .await
        .expect("a freed slot admits a new client");
    let over = server.connect(None).await.unwrap_err();
    assert_eq!(status(&over), Some(503));
    drop((back, clients));
    server.stop().await;
}
