//! Request inputs too large for a request body: the API hands its caller a
//! presigned upload URL for an object under a prefix of their own, and an
//! `inputRef` submitted through the API may name only such an object. So a
//! caller cannot name another caller's upload, nor (the engine refuses it
//! for every sender) a task's stored payload.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::auth::Caller;
use super::problem::Problem;
use tel_core::domain::ObjectLocation;
use tel_engine::REQUEST_PAYLOAD_PREFIX;

/// How long an upload URL works.
const UPLOAD_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The caller's own prefix, `requests/api/<digest of their subject>/`: a
/// digest, as a subject may hold characters a key should not.
pub fn caller_prefix(caller: &Caller) -> String {
    let digest = hex::encode(Sha256::digest(caller.user.as_bytes()));
    format!("{REQUEST_PAYLOAD_PREFIX}api/{}/", &digest[..32])
}

/// `POST /payloads`: where to `PUT` one request input, and the `inputRef`
/// that names it.
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<impl IntoResponse, Problem> {
    let store = state
        .engine
        .payloads()
        .ok_or_else(|| Problem::unavailable("this deployment has no payload bucket"))?;
    let key = format!("{}{}.json", caller_prefix(&caller), uuid::Uuid::new_v4());
    let url = store.presign_upload(&key, UPLOAD_VALID_FOR).await?;
    let expires_at = state.engine.clock().now()
        + chrono::Duration::from_std(UPLOAD_VALID_FOR).expect("fifteen minutes fit");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "inputRef": { "bucket": store.bucket(), "key": key },
            "uploadUrl": url,
            "method": "PUT",
            "headers": { "Content-Type": "application/json" },
            "expiresAt": expires_at,
        })),
    ))
}

/// An `inputRef` from an API caller: one of their own uploads. The answer
/// names neither the bucket nor anyone else's key.
pub fn check_input_ref(caller: &Caller, at: &ObjectLocation) -> Result<(), Problem> {
    if at.key.starts_with(&caller_prefix(caller)) {
        return Ok(());
    }
    Err(Problem::invalid(
        "VALIDATION_ERROR",
        "inputRef must name an object you uploaded with POST /payloads",
    ))
}
