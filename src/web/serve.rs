//! The HTTP server loop, on hyper directly rather than `axum::serve`, for the limits a server
//! facing the network needs: a deadline for reading request headers (a client that trickles
//! or never sends them is cut off instead of holding a connection forever), and a graceful
//! shutdown that lets requests in flight finish, within a bound.
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a client may take to send the request line and headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a connection buffers while it reads a request's line and headers (hyper's
/// default is ~400 KiB). Browsers and gateways send far less (nginx's default is 32 KiB in
/// all); a longer head is answered 431. It bounds what a client holding many connections
/// half-sent can make the server keep. HTTP/2 gets the same bound on a request's header
/// list (RFC 9113 section 6.5.2; hyper's default there is 16 KiB), so that a request a
/// gateway relays over HTTP/2 is accepted exactly when it would be over HTTP/1.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, do not exit.
                    tracing::warn!(error = %e, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer address, for `ClientAddr`; added per connection, not per route.
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        ));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the shutdown grace period were dropped");
    }
}
