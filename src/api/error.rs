//! The one place errors become HTTP: every API error is `{"error": "..."}` with its status.

use warp::http::StatusCode;
use warp::reject::Rejection;
use warp::reply::{Reply, Response};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Per-field problems for validation errors: `{"field": "message"}`.
    pub fields: Vec<(String, String)>,
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found")
    }
    pub fn not_found_msg(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body too large (limit {limit} bytes)"),
        )
    }
    pub fn reject(self) -> Rejection {
        warp::reject::custom(self)
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if !self.fields.is_empty() {
            body["fields"] = serde_json::Value::Object(
                self.fields
                    .into_iter()
                    .map(|(k, v)| (k, v.into()))
                    .collect(),
            );
        }
        warp::reply::with_status(warp::reply::json(&body), self.status).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::internal("Storage error")
    }
}

/// Maps every rejection to a JSON error. Unmatched API paths are 404, a known path with the
/// wrong method is 405, and anything unexpected is a logged 500 that leaks no detail.
pub async fn recover(r: Rejection) -> Result<Response, std::convert::Infallible> {
    let e = if let Some(e) = r.find::<ApiError>() {
        e.clone()
    } else if r.is_not_found() {
        ApiError::not_found()
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
    } else if let Some(q) = r.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(format!("Invalid query string: {q}"))
    } else if r.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type")
    } else if let Some(h) = r.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_request(format!("Invalid header {}", h.name()))
    } else if let Some(h) = r.find::<warp::reject::MissingHeader>() {
        ApiError::bad_request(format!("Missing header {}", h.name()))
    } else {
        tracing::error!(rejection = ?r, "unhandled rejection");
        ApiError::internal("An unexpected error occurred")
    };
    Ok(e.into_response())
}
