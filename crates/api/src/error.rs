//! Errors as the client sees them: a status code and `{"err":"<message>"}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use palisade_service::ServiceError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        let status = match &error {
            // The document allows only 200, 403 and 500 for /login, so throttling is a 403 too.
            ServiceError::AccessDenied
            | ServiceError::BadCredentials
            | ServiceError::LoginThrottled(_) => StatusCode::FORBIDDEN,
            ServiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::LengthRequired => StatusCode::LENGTH_REQUIRED,
            ServiceError::EmptyFile => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::TooLarge | ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ServiceError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(crate::responses::ErrorAnswer { err: &self.message }),
        )
            .into_response()
    }
}
