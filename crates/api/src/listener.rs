//! The HTTP/1.1 listener: connection limits and timeouts that keep hostile clients from
//! exhausting the server, and JSON bodies for the rejections hyper makes itself.
//!
//! Every connection has a slot in a registry. A slot is waiting (for its first request head, or
//! idle between keep-alive requests) or busy (a request is being handled and its response sent).
//! Waiting too long closes the connection: `header_timeout` for the first request head,
//! `idle_timeout` after a response. Over `max_connections`, the oldest waiting connection is
//! closed to make room, so clients that are being served keep being served and new clients get
//! in; only when every connection is busy is a new one shed with a 503. Request bodies must keep
//! up a minimum rate, so a trickled upload is cut off rather than held open.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

use crate::tls::Tls;

/// Limits of the HTTP listener. Every one has a safe default.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Connections open at once. Over it, the oldest waiting connection makes room.
    pub max_connections: usize,
    /// Time a new connection has to send its first complete request head.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may wait, after a response, for the next complete request head.
    pub idle_timeout: Duration,
    /// Slowest request body accepted once `body_grace` has passed, in bytes per second (0: no minimum).
    pub body_min_rate: u64,
    /// Time a body may take before the minimum rate applies.
    pub body_grace: Duration,
    /// Longest pause between two pieces of a request body.
    pub body_idle: Duration,
    /// Most header lines in a request.
    pub max_headers: usize,
    /// Most bytes of a request head (request line and headers).
    pub max_header_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_min_rate: 1024,
            body_grace: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
            max_headers: 512,
            max_header_bytes: 128 * 1024,
        }
    }
}

/// Serves `router` on `listener` under `limits` (over TLS when `tls` is given) until
/// `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Arc::new(limits);
    let registry = Arc::new(Registry::default());
    let (stop_sender, stop) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    if let Some(tls) = tls.clone() {
        // Certificate renewals are picked up without a restart.
        let mut stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(tls.reload_interval()) => {}
                    _ = stop.changed() => return,
                }
                let tls = tls.clone();
                let _ = tokio::task::spawn_blocking(move || tls.reload_if_changed()).await;
            }
        });
    }
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let (stream, address) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of file descriptors (or a passing network error): make room and go on.
                tracing::warn!(%error, "accepting a connection failed");
                registry.evict_oldest_waiting();
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(slot) = registry.admit(limits.max_connections) else {
            if tls.is_none() {
                shed(&stream);
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            address,
            router: router.clone(),
            limits: limits.clone(),
            slot,
            stop: stop.clone(),
        };
        let (registry, tls) = (registry.clone(), tls.clone());
        connections.spawn(async move {
            let id = connection.slot.id;
            match tls {
                None => connection.serve(stream).await,
                Some(tls) => {
                    if let Some(stream) = connection.handshake(&tls, stream).await {
                        connection.serve(stream).await;
                    }
                }
            }
            registry.remove(id);
        });
    }
    let _ = stop_sender.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// The answer to a connection over the cap when every open connection is busy.
fn shed(stream: &TcpStream) {
    let body = r#"{"err":"Server is too busy. Try again later."}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first request head since `since`.
    New,
    /// Waiting for the next request head since `since` (keep-alive).
    Idle,
    /// Handling requests (`busy` of them, with their response bodies).
    Busy,
}

struct SlotState {
    phase: Phase,
    since: Instant,
    busy: u32,
}

/// One open connection, as the registry and its own task see it.
struct Slot {
    id: u64,
    state: Mutex<SlotState>,
    evicted: AtomicBool,
    changed: tokio::sync::Notify,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin_request(self: &Arc<Self>) -> BusyGuard {
        let mut state = self.lock();
        state.busy += 1;
        state.phase = Phase::Busy;
        BusyGuard(self.clone())
    }

    /// When the connection has waited too long, or `None` while it is busy.
    fn deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        let state = self.lock();
        match state.phase {
            Phase::New => Some(state.since + limits.header_timeout),
            Phase::Idle => Some(state.since + limits.idle_timeout),
            Phase::Busy => None,
        }
    }

    fn waiting(&self) -> bool {
        self.lock().phase != Phase::Busy
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::SeqCst);
        self.changed.notify_one();
    }
}

/// Held while a request is handled and its response body sent; dropping it makes the connection
/// idle again when it was the last.
struct BusyGuard(Arc<Slot>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        {
            let mut state = self.0.lock();
            state.busy = state.busy.saturating_sub(1);
            if state.busy == 0 {
                state.phase = Phase::Idle;
                state.since = Instant::now();
            }
        }
        self.0.changed.notify_one();
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    slots: Mutex<BTreeMap<u64, Arc<Slot>>>,
}

impl Registry {
    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection; at the cap the oldest waiting connection is closed to make
    /// room. `None` when every connection is busy.
    fn admit(&self, cap: usize) -> Option<Arc<Slot>> {
        let mut slots = self.slots();
        let live = slots
            .values()
            .filter(|s| !s.evicted.load(Ordering::SeqCst))
            .count();
        if live >= cap.max(1) {
            let oldest = slots
                .values()
                .find(|s| !s.evicted.load(Ordering::SeqCst) && s.waiting())?;
            tracing::debug!(
                connection = oldest.id,
                "connection cap reached: closing the oldest waiting connection"
            );
            oldest.evict();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            id,
            state: Mutex::new(SlotState {
                phase: Phase::New,
                since: Instant::now(),
                busy: 0,
            }),
            evicted: AtomicBool::new(false),
            changed: tokio::sync::Notify::new(),
        });
        slots.insert(id, slot.clone());
        Some(slot)
    }

    fn evict_oldest_waiting(&self) {
        let slots = self.slots();
        if let Some(oldest) = slots
            .values()
            .find(|s| !s.evicted.load(Ordering::SeqCst) && s.waiting())
        {
            oldest.evict();
        }
    }

    fn remove(&self, id: u64) {
        self.slots().remove(&id);
    }
}

/// One accepted connection and what serving it needs.
struct Connection {
    address: SocketAddr,
    router: Router,
    limits: Arc<HttpLimits>,
    slot: Arc<Slot>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Connection {
    /// The TLS handshake, within the header timeout (it is part of sending a request head);
    /// `None` when it fails, times out or the connection is evicted meanwhile.
    async fn handshake(
        &self,
        tls: &Tls,
        stream: TcpStream,
    ) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
        let evicted = async {
            while !self.slot.evicted.load(Ordering::SeqCst) {
                self.slot.changed.notified().await;
            }
        };
        tokio::select! {
            result = tls.acceptor().accept(stream) => match result {
                Ok(stream) => Some(stream),
                Err(error) => {
                    tracing::debug!(%error, address = %self.address, "TLS handshake failed");
                    None
                }
            },
            () = tokio::time::sleep(self.limits.header_timeout) => None,
            () = evicted => None,
        }
    }

    async fn serve<S>(mut self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (slot, limits, address) = (self.slot.clone(), self.limits.clone(), self.address);
        let service = {
            let slot = slot.clone();
            let limits = limits.clone();
            let router = self.router.clone();
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let guard = slot.begin_request();
                let mut router = router.clone();
                let limits = limits.clone();
                async move {
                    let mut request = request.map(|body| Body::new(PacedBody::new(body, &limits)));
                    request.extensions_mut().insert(ConnectInfo(address));
                    let response = tower_service::Service::call(&mut router, request)
                        .await
                        .unwrap_or_else(|never: Infallible| match never {});
                    Ok::<_, Infallible>(response.map(|body| TrackedBody {
                        body,
                        _guard: guard,
                    }))
                }
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            // Our own deadlines cover waiting for request heads (see `Slot::deadline`).
            .header_read_timeout(None)
            .max_headers(limits.max_headers)
            .max_header_size(limits.max_header_bytes);
        let connection =
            builder.serve_connection(TokioIo::new(JsonRejections::new(stream)), service);
        tokio::pin!(connection);
        let mut draining = false;
        loop {
            let deadline = slot.deadline(&limits);
            let expiry = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %address, "connection ended with an error");
                    }
                    break;
                }
                () = expiry => {
                    if slot.deadline(&limits).is_some_and(|at| at <= Instant::now()) {
                        tracing::debug!(%address, "closing a connection that waited too long");
                        break;
                    }
                }
                () = slot.changed.notified() => {
                    if slot.evicted.load(Ordering::SeqCst) {
                        break;
                    }
                }
                _ = self.stop.changed(), if !draining => {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A response body that keeps its connection busy until it has been sent (or dropped).
struct TrackedBody {
    body: Body,
    _guard: BusyGuard,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that must keep up a minimum rate: after `body_grace`, at least `body_min_rate`
/// bytes per second on average, and never a pause longer than `body_idle`. A body that falls
/// behind ends with an error, so the upload is refused and nothing is stored.
struct PacedBody {
    body: Incoming,
    start: Instant,
    received: u64,
    grace: Duration,
    min_rate: u64,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
}

impl PacedBody {
    fn new(body: Incoming, limits: &HttpLimits) -> Self {
        let start = Instant::now();
        let mut paced = Self {
            body,
            start,
            received: 0,
            grace: limits.body_grace,
            min_rate: limits.body_min_rate,
            idle: limits.body_idle,
            timer: Box::pin(tokio::time::sleep_until(start)),
        };
        let deadline = paced.deadline(start);
        paced.timer.as_mut().reset(deadline);
        paced
    }

    /// When the next bytes must have arrived, given what arrived by `now`.
    fn deadline(&self, now: Instant) -> Instant {
        let by_pause = now + self.idle;
        if self.min_rate == 0 {
            return by_pause;
        }
        let earned = Duration::from_secs_f64((self.received + 1) as f64 / self.min_rate as f64);
        by_pause.min(self.start + self.grace + earned)
    }
}

impl HttpBody for PacedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    let deadline = self.deadline(Instant::now());
                    self.timer.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(std::io::Error::other(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let elapsed = self.start.elapsed().as_secs();
                    Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "the request body stalled: {} bytes in {elapsed} s, below the minimum \
                             of {} bytes per second (after {} s) or paused for {} s",
                            self.received,
                            self.min_rate,
                            self.grace.as_secs(),
                            self.idle.as_secs()
                        ),
                    ))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The connection's stream. Hyper answers requests it cannot parse (malformed head, URI or
/// headers too large) itself, with an empty body; this replaces such an answer with the same
/// status and a `{"err":...}` body, so every rejection is JSON. Palisade's own error responses
/// always have a body, so an error status with `content-length: 0` is always hyper's.
struct JsonRejections<S> {
    stream: S,
    /// The replacement being written, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<S> JsonRejections<S> {
    fn new(stream: S) -> Self {
        Self {
            stream,
            replacement: None,
        }
    }
}

/// The replacement for hyper's own error answer in `head`, if it is one.
fn json_rejection(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head.get(..head.len().min(512))?).ok()?;
    let status: u16 = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    if status < 400
        || !text
            .to_ascii_lowercase()
            .contains("\r\ncontent-length: 0\r\n")
    {
        return None;
    }
    let message = match status {
        400 => {
            "Bad request: the request line or a header is malformed (for example an invalid Content-Length, or a control character in a header)"
        }
        414 => "URI too long: the request line is over 64 KiB",
        431 => "Request headers too large: too many header lines or too many bytes of headers",
        505 => "HTTP version not supported: use HTTP/1.1",
        _ => "Bad request",
    };
    let body =
        serde_json::to_string(&crate::responses::ErrorAnswer { err: message }).unwrap_or_default();
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonRejections<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> JsonRejections<S> {
    /// Writes the rest of the replacement, if there is one: `None` when there is none.
    fn drive_replacement(&mut self, cx: &mut Context<'_>) -> Option<Poll<std::io::Result<()>>> {
        let (bytes, written) = self.replacement.as_mut()?;
        while *written < bytes.len() {
            match Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => {
                    return Some(Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())));
                }
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(error)) => return Some(Poll::Ready(Err(error))),
                Poll::Pending => return Some(Poll::Pending),
            }
        }
        Some(Poll::Ready(Ok(())))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonRejections<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_none() {
            this.replacement = json_rejection(buf).map(|bytes| (bytes, 0));
        }
        match this.drive_replacement(cx) {
            // Hyper's own bytes are dropped: it closes the connection after an error answer.
            Some(done) => done.map_ok(|()| buf.len()),
            None => Pin::new(&mut this.stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_none()
            && let Some(first) = bufs.iter().find(|b| !b.is_empty())
        {
            this.replacement = json_rejection(first).map(|bytes| (bytes, 0));
        }
        match this.drive_replacement(cx) {
            Some(done) => done.map_ok(|()| bufs.iter().map(|b| b.len()).sum()),
            None => Pin::new(&mut this.stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::json_rejection;

    #[test]
    fn only_empty_error_answers_are_replaced() {
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let replaced = String::from_utf8(json_rejection(hyper_431).unwrap()).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(replaced.contains("content-type: application/json"));
        assert!(replaced.ends_with("}"), "{replaced}");
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 31\r\n\r\n";
        assert!(json_rejection(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(json_rejection(ok).is_none());
        assert!(json_rejection(b"{\"data_id\":\"x\"}").is_none());
    }
}
