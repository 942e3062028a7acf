//! Errors as `application/problem+json` (RFC 9457), each with a stable `code`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use tel_core::ports::{PayloadError, StoreError};
use tel_engine::ApplyError;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable, for programs: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`, …
    pub code: &'static str,
    /// Field errors, each with a JSON `pointer` into the submitted document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!(
                "https://tel.dev/problems/{}",
                code.to_lowercase().replace('_', "-")
            ),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            errors: None,
        }
    }

    pub fn with_errors(mut self, errors: Value) -> Self {
        self.errors = Some(errors);
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", detail)
    }

    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", detail)
    }

    /// A 503 for `error`, which goes to the log whole: the caller is told
    /// only that it may try again, never which table, bucket, queue or key
    /// failed (names of tel's storage are not theirs to learn).
    pub fn unavailable_because(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut reason = error.to_string();
        let mut cause = error.source();
        while let Some(e) = cause {
            reason.push_str(": ");
            reason.push_str(&e.to_string());
            cause = e.source();
        }
        tracing::error!(error = %reason, "answering 503");
        Self::unavailable("a service tel depends on is unavailable; try again shortly")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/problem+json".parse().expect("valid header"),
        );
        response
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => Self::conflict(format!("{e}; read the task again")),
            StoreError::VersionExists { .. } => Self::conflict(e.to_string()),
            StoreError::InvalidCursor => Self::bad_request(e.to_string()),
            StoreError::TooLarge { .. } => Self::too_large(e.to_string()),
            other => Self::unavailable_because(&other),
        }
    }
}

impl From<PayloadError> for Problem {
    fn from(e: PayloadError) -> Self {
        match e {
            PayloadError::TooLarge { .. } => Self::too_large(e.to_string()),
            PayloadError::Refused { reason } => Self::invalid("VALIDATION_ERROR", reason),
            other => Self::unavailable_because(&other),
        }
    }
}

impl From<ApplyError> for Problem {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Illegal(illegal) => Self::conflict(illegal.to_string()),
            ApplyError::Store(store) => store.into(),
            ApplyError::Queue(queue) => Self::unavailable_because(&queue),
            not_now @ ApplyError::NotAdmitted(_) => Self::unavailable_because(&not_now),
            ApplyError::Payload(payload) => payload.into(),
            // The definition's record is not what the task was created from:
            // the stored data must be put right; trying again will not help.
            missing @ ApplyError::NoManualSettings(_) => {
                tracing::error!(error = %missing, "task and definition disagree");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "DEFINITION_MISMATCH",
                    "the task's definition no longer matches it; an operator must look at it",
                )
            }
        }
    }
}
