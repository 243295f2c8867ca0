//! Bounds on every request body, whatever the route: at most `MAX_BODY` bytes, read within
//! `BODY_READ_TIMEOUT` of the request's head.
//!
//! * **Size.** axum's own extractors (`Bytes`, used by the pages' forms and the passkey
//!   JSON) take `DefaultBodyLimit`, 2 MB unless told otherwise: a form was buffered whole up
//!   to that before its handler refused it as too large. With the limit at `MAX_BODY` they
//!   stop reading past 64 KiB and answer 413; the OAuth endpoints read with the same bound
//!   themselves and answer `invalid_request` (`extract::OAuthForm`).
//! * **Time.** A client that sends its headers and then trickles or withholds the body held
//!   the request until the 30 s handler timeout, which answers 503: a client's stall counted
//!   as the server's failure (in the metrics, and for a gateway that retries or marks nodes
//!   down on 503). The body now has `BODY_READ_TIMEOUT` from the moment the route sees the
//!   request; past it the answer is 408 Request Timeout and, over HTTP/1, the connection is
//!   closed (the rest of the body was never read). The 30 s timeout stays for the server's
//!   own slowness.
//!
//! A request without a body (a GET) passes untouched; one with a body costs two small
//! allocations (the wrapper and a shared flag), and a timer only when the body is not there
//! when asked for.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// How long a client may take to send a request's body once its head has arrived.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline half: wraps each request body; `axum::extract::DefaultBodyLimit` is the
/// size half (`super::with_common_layers` adds both).
#[derive(Clone)]
pub struct DeadlineLayer {
    timeout: Duration,
}

impl DeadlineLayer {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            timeout: self.timeout,
        }
    }
}

#[derive(Clone)]
pub struct Deadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Request> for Deadline<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.body().is_end_stream() {
            return DeadlineFuture {
                inner: self.inner.call(req),
                late: None,
            };
        }
        let late = Arc::new(AtomicBool::new(false));
        let close = req.version() <= Version::HTTP_11;
        let deadline = Instant::now() + self.timeout;
        let flag = late.clone();
        let req = req.map(|body| {
            Body::new(DeadlineBody {
                inner: body,
                deadline,
                sleep: None,
                late: flag,
            })
        });
        DeadlineFuture {
            inner: self.inner.call(req),
            late: Some(Late { flag: late, close }),
        }
    }
}

/// Set when the body ran out of time; `close`: whether to close the connection (HTTP/1).
struct Late {
    flag: Arc<AtomicBool>,
    close: bool,
}

pin_project_lite::pin_project! {
    /// The route's answer, replaced by 408 when the body ran out of time while it was read.
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        late: Option<Late>,
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let resp = ready!(this.inner.poll(cx))?;
        Poll::Ready(Ok(match this.late {
            Some(late) if late.flag.load(Ordering::Acquire) => too_late(late.close),
            _ => resp,
        }))
    }
}

fn too_late(close: bool) -> Response {
    let mut resp = (
        StatusCode::REQUEST_TIMEOUT,
        "the request body did not arrive in time\n",
    )
        .into_response();
    if close {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A request body that fails once its deadline has passed without the next part arriving.
struct DeadlineBody {
    inner: Body,
    deadline: Instant,
    /// Made the first time the body is not ready when asked: most bodies arrive with their
    /// head and never need one.
    sleep: Option<Pin<Box<Sleep>>>,
    late: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        this.late.store(true, Ordering::Release);
        Poll::Ready(Some(Err(axum::Error::new(
            "the request body did not arrive in time",
        ))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// A route that reads the whole body, answering 200 with its length or 400 when the body
    /// fails (as the extractors do).
    async fn read_all(req: Request) -> Result<Response, std::convert::Infallible> {
        Ok(
            match axum::body::to_bytes(req.into_body(), usize::MAX).await {
                Ok(b) => (StatusCode::OK, b.len().to_string()).into_response(),
                Err(_) => StatusCode::BAD_REQUEST.into_response(),
            },
        )
    }

    fn service() -> Deadline<ReadAllService> {
        DeadlineLayer::new(TEST_TIMEOUT)
            .layer(tower::service_fn(|req| Box::pin(read_all(req)) as ReadAll))
    }

    const TEST_TIMEOUT: Duration = Duration::from_millis(50);

    type ReadAllService = tower::util::ServiceFn<fn(Request) -> ReadAll>;

    type ReadAll = Pin<Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send>>;

    fn request(body: Body) -> Request {
        Request::builder()
            .method("POST")
            .uri("/token")
            .body(body)
            .unwrap()
    }

    #[tokio::test]
    async fn a_body_that_arrives_is_read_as_before() {
        let resp = service()
            .oneshot(request(Body::from("grant_type=x")))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = service().oneshot(request(Body::empty())).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_body_that_stalls_is_408_with_the_connection_closed() {
        let started = Instant::now();
        let resp = service()
            .oneshot(request(Body::new(Stalling(Some(Bytes::from_static(
                b"grant_",
            ))))))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(resp.headers()[header::CONNECTION], "close");
        assert!(started.elapsed() >= TEST_TIMEOUT);
    }

    /// A body that sends its first part and then nothing more, as a stalled client does.
    struct Stalling(Option<Bytes>);

    impl HttpBody for Stalling {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.0.take() {
                Some(first) => Poll::Ready(Some(Ok(Frame::data(first)))),
                None => Poll::Pending,
            }
        }
    }
}
