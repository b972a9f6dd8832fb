//! Runs a warp filter tree on an already-bound listener until [`Shutdown`] fires, then
//! stops accepting and waits for in-flight requests to finish.

use std::convert::Infallible;

use tokio::net::TcpListener;
use warp::{Filter, Reply};

use crate::Shutdown;

/// Serves `routes` on `listener` until `shutdown` fires and every connection has
/// drained. `routes` must end with `.recover(procpulse_service::recover)` so that every
/// rejection is answered in the JSON error shape (hence `Error = Infallible`).
pub async fn serve<F, R>(listener: TcpListener, routes: F, shutdown: Shutdown)
where
    F: Filter<Extract = (R,), Error = Infallible> + Clone + Send + Sync + 'static,
    R: Reply,
{
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "Listening");
    warp::serve(routes)
        .incoming(listener)
        .graceful(async move { shutdown.wait().await })
        .run()
        .await;
    tracing::info!(?addr, "Server drained");
}
