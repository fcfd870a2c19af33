//! The web console: server-rendered pages over the service, for the people who run Palisade.
//!
//! A login form opens a session (the same sessions as `POST /login`) kept in the
//! [`SESSION_COOKIE`] cookie: HttpOnly, SameSite=Strict, and Secure when the listener serves TLS.
//! Every form that changes something carries the session's CSRF token, and a cross-site form
//! post is refused by its `Origin`/`Sec-Fetch-Site` headers as well. Uploads go to the API's own
//! `POST /file` from the page's script, with the token in the `oms-csrf-token` header. Pages and
//! assets are compiled into the binary; pages work without script except the upload.

mod pages;
mod views;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use palisade_service::{CookieSession, Service, ServiceError};

use crate::auth::{SESSION_COOKIE, cookie};

/// Whether the listener serves TLS (then the session cookie is `Secure`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Https(pub bool);

/// The console's routes, under `/console` (and `/` leads there).
pub(crate) fn router() -> Router<Service> {
    let pages = Router::new()
        .route("/console", get(pages::home))
        .route("/console/", get(pages::home))
        .route("/console/login", get(pages::login_form).post(pages::login))
        .route("/console/logout", post(pages::logout))
        .route("/console/submissions", get(pages::submissions))
        .route("/console/files/{data_id}", get(pages::report))
        .route("/console/files/{data_id}/cancel", post(pages::cancel))
        .route("/console/upload", get(pages::upload))
        .route("/console/batches", get(pages::batches))
        .route("/console/batches/{batch_id}", get(pages::batch))
        .route(
            "/console/batches/{batch_id}/close",
            post(pages::close_batch),
        )
        .route(
            "/console/batches/{batch_id}/cancel",
            post(pages::cancel_batch),
        )
        .route("/console/engines", get(pages::engines))
        .route("/console/cluster", get(pages::cluster))
        .layer(axum::middleware::map_response(page_headers));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console/assets/{name}", get(asset))
        .merge(pages)
}

/// Pages are never cached, framed, or given scripts from elsewhere.
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The style sheet and the script, embedded.
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (
            include_str!("../../assets/console.css"),
            "text/css; charset=utf-8",
        ),
        "console.js" => (
            include_str!("../../assets/console.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => {
            return crate::ApiError::new(StatusCode::NOT_FOUND, "Endpoint not found")
                .into_response();
        }
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// A logged-in person: the session its cookie names. Without one, a page answers with a
/// redirect to the login form; a request that changes something must also come from the
/// console's own pages (see [`same_origin`]).
pub(crate) struct Viewer {
    pub session: CookieSession,
    /// The cookie's session id (logging out ends it).
    pub session_id: String,
}

impl FromRequestParts<Service> for Viewer {
    type Rejection = pages::Detour;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Service,
    ) -> Result<Self, pages::Detour> {
        if parts.method != Method::GET && !same_origin(&parts.headers) {
            return Err(pages::refusal(
                StatusCode::FORBIDDEN,
                "Cross-site request refused",
            ));
        }
        let Some(session_id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/console/login").into_response().into());
        };
        match service.cookie_session(session_id).await {
            Ok(session) => Ok(Self {
                session,
                session_id: session_id.to_string(),
            }),
            Err(ServiceError::AccessDenied) => {
                Err(Redirect::to("/console/login").into_response().into())
            }
            Err(error) => Err(pages::service_failure(error)),
        }
    }
}

impl Viewer {
    /// Refuses a form without the session's CSRF token.
    pub(crate) fn check_token(&self, offered: &str) -> Result<(), pages::Detour> {
        if Service::csrf_matches(&self.session, Some(offered)) {
            Ok(())
        } else {
            Err(pages::refusal(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or wrong. Reload the page and try again.",
            ))
        }
    }
}

/// Whether a state-changing request comes from a page of this origin, as far as the browser
/// says: `Sec-Fetch-Site` when sent, else `Origin` against `Host`. Clients that send neither
/// (not browsers) are let through; the CSRF token still applies.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = text("origin") else {
        return true;
    };
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    text("host").is_some_and(|host| host.eq_ignore_ascii_case(origin_host))
}

/// The `Set-Cookie` value that holds `session_id` (empty and expired: the one that removes it).
fn session_cookie(session_id: Option<&str>, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    match session_id {
        Some(id) => format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn only_same_origin_browser_posts_pass() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&headers(&[
            ("origin", "http://127.0.0.1:8008"),
            ("host", "127.0.0.1:8008")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8008")
        ])));
        assert!(!same_origin(&headers(&[("origin", "null"), ("host", "a")])));
        assert!(same_origin(&headers(&[("host", "a")])));
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_over_tls() {
        let plain = session_cookie(Some("abc"), false);
        assert_eq!(
            plain,
            "palisade_session=abc; Path=/; HttpOnly; SameSite=Strict"
        );
        assert!(session_cookie(Some("abc"), true).ends_with("; Secure"));
        assert!(session_cookie(None, false).contains("Max-Age=0"));
    }
}
