//! The HTTP surface: the MetaDefender Cluster API routes, header decoding, the listener's
//! connection limits, and the one place where errors become status codes and `{"err":...}`
//! bodies. The only crate that knows HTTP.

mod auth;
pub mod decode;

mod error;
mod listener;
mod openapi;
mod responses;
mod routes;
mod tls;

use std::future::Future;

use palisade_service::Service;
use tokio::net::TcpListener;

pub use auth::Authenticated;
pub use error::ApiError;
pub use listener::HttpLimits;
pub use routes::{health_router, metrics_router, router};
pub use tls::{Tls, TlsSettings};

/// Serves the API on `listener` under `limits` until `shutdown` resolves, then finishes
/// in-flight requests.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    limits: HttpLimits,
    tls: Option<std::sync::Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve_router(listener, router(service), limits, tls, shutdown).await
}

/// Serves only `/readyz` and `/version` (for scanning nodes, which have no API of their own).
pub async fn serve_health(
    listener: TcpListener,
    service: Service,
    limits: HttpLimits,
    tls: Option<std::sync::Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve_router(listener, health_router(service), limits, tls, shutdown).await
}

/// Serves only `/metrics` (the listener `metrics.listen` gives it).
pub async fn serve_metrics(
    listener: TcpListener,
    service: Service,
    limits: HttpLimits,
    tls: Option<std::sync::Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve_router(listener, metrics_router(service), limits, tls, shutdown).await
}
