//! The HTTP surface: the MetaDefender Cluster API routes, header decoding, the listener's
//! connection limits, and the one place where errors become status codes and `{"err":...}`
//! bodies. The only crate that knows HTTP.

mod auth;
mod console;
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

/// What a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// The whole API (`serve`, gateways).
    Api,
    /// `/readyz`, `/version` and `/metrics`: scanning nodes, which have no API of their own.
    Health,
    /// `/metrics` only, on the listener `metrics.listen` gives it.
    Metrics,
}

/// Serves `surface` on `listener` under `limits` until `shutdown` resolves, then finishes
/// in-flight requests.
pub async fn serve(
    listener: TcpListener,
    surface: Surface,
    service: Service,
    limits: HttpLimits,
    tls: Option<std::sync::Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let routes = match surface {
        Surface::Api => router(service),
        Surface::Health => health_router(service),
        Surface::Metrics => metrics_router(service),
    }
    .layer(axum::Extension(console::Https(tls.is_some())));
    listener::serve_router(listener, routes, limits, tls, shutdown).await
}
