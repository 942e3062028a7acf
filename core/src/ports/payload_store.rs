use std::time::Duration;

use async_trait::async_trait;

use super::AwsError;
use super::task_store::configuration_error;
use crate::domain::task_error::{CONFIGURATION_ERROR, PAYLOAD_TOO_LARGE};
use crate::domain::{PayloadRef, TaskError};

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("no payload object {key}")]
    NotFound { bucket: String, key: String },
    /// A reference the sender may not use (another bucket, a key outside
    /// the request prefix, an upload of someone else's).
    #[error("{reason}")]
    Refused { reason: String },
    #[error("the payload takes {bytes} bytes; the limit is {limit}")]
    TooLarge { bytes: u64, limit: u64 },
    /// Read back, it is not what was stored (size or SHA-256), or not JSON.
    #[error("the payload object s3://{bucket}/{key} is unreadable: {reason}")]
    Unreadable {
        bucket: String,
        key: String,
        reason: String,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl PayloadError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Aws(e) if e.is_transient())
    }

    /// The error a task ends with when its payload cannot be stored or read;
    /// `None` when trying again may work.
    pub fn task_error(&self) -> Option<TaskError> {
        match self {
            Self::TooLarge { bytes, limit } => Some(
                TaskError::new(PAYLOAD_TOO_LARGE, self.to_string())
                    .with_details(serde_json::json!({ "bytes": bytes, "limitBytes": limit })),
            ),
            Self::NotFound { .. } | Self::Unreadable { .. } | Self::Refused { .. } => {
                Some(TaskError::new(CONFIGURATION_ERROR, self.to_string()))
            }
            Self::Aws(e) if !e.is_transient() => Some(configuration_error(e)),
            Self::Aws(_) => None,
        }
    }
}

/// Where payloads too large to keep in a task's record live (the stack's S3
/// bucket). Keys are chosen by the caller; digests are checked by it too.
#[async_trait]
pub trait PayloadStore: Send + Sync {
    /// The bucket payloads are written to (and the only one read from).
    fn bucket(&self) -> &str;

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PayloadError>;

    /// An object's bytes, refusing more than `max_bytes`.
    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>, PayloadError>;

    /// A URL that reads the payload without credentials, for `valid_for`.
    async fn presign(&self, at: &PayloadRef, valid_for: Duration) -> Result<String, PayloadError>;

    /// A URL that writes the object `key` of the bucket with a `PUT` (JSON),
    /// without credentials, for `valid_for`.
    async fn presign_upload(&self, key: &str, valid_for: Duration) -> Result<String, PayloadError>;
}
